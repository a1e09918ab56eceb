import { parseTransport, type TransportRef } from '../oci/transport.js';
import { formatLocalName } from '../oci/reference.js';
import type { Digest } from '../oci/digest.js';

/**
 * Run image names as labels record them: a registry reference (`host/stacks/run:1`),
 * a local store name (`default/run:latest`), or a digest reference. Comparisons are
 * by repository, because the tag of a run image moves with every stack version.
 */

/**
 * parseTransport, remembered for the few names a fleet rebase asks about for each of
 * its thousands of images (the recorded run image, its mirrors). Read-only results.
 */
const parsedNames = new Map<string, TransportRef>();

export function parseName(name: string): TransportRef {
  let ref = parsedNames.get(name);
  if (ref === undefined) {
    ref = parseTransport(name);
    if (parsedNames.size >= 256) parsedNames.clear();
    parsedNames.set(name, ref);
  }
  return ref;
}

/** The repository a name points at (`host/path` or the local name), without tag or digest; undefined if unreadable. */
export function repositoryKey(name: string): string | undefined {
  try {
    const ref = parseName(name);
    if (ref.transport === 'docker') return ref.reference.name;
    if (ref.transport === 'local') return `local/${ref.name}`;
    if (ref.transport === 'oci' || ref.transport === 'oci-archive')
      return `${ref.transport}:${ref.transport === 'oci' ? ref.dir : ref.file}`;
    return undefined;
  } catch {
    return undefined;
  }
}

export function sameRepository(a: string, b: string): boolean {
  const [x, y] = [repositoryKey(a), repositoryKey(b)];
  return x !== undefined && x === y;
}

/** The registry host a name lives on, or undefined for the local store and layouts. */
export function registryHost(name: string): string | undefined {
  try {
    const ref = parseName(name);
    return ref.transport === 'docker' ? ref.reference.domain : undefined;
  } catch {
    return undefined;
  }
}

/** The digest reference recorded as runImage.reference: `host/path@digest` or `name@digest`. */
export function digestReference(ref: TransportRef, digest: Digest): string {
  if (ref.transport === 'docker') return `${ref.reference.name}@${digest}`;
  if (ref.transport === 'local') return formatLocalName({ name: ref.name, digest });
  return digest;
}

/**
 * The order in which to try the recorded run image and its mirrors: names on the app
 * image's registry first (the spec's registry-preference rule), then the rest in order.
 */
export function preferredRunImages(
  recorded: { image?: string; mirrors: string[] },
  appHost: string | undefined,
): string[] {
  const all = [...(recorded.image ? [recorded.image] : []), ...recorded.mirrors];
  const near = all.filter((n) => registryHost(n) === appHost);
  return [...near, ...all.filter((n) => !near.includes(n))];
}
