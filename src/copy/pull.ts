import { SlipwayError } from '../errors.js';
import { DEFAULT_DOMAIN, parseLocalName, parseReference, type LocalName } from '../oci/reference.js';
import { formatTransport, type TransportRef } from '../oci/transport.js';
import type { LocalStore } from '../store/local-store.js';
import { copy, type CopyOptions, type CopyReport } from './copy.js';

/**
 * Copies an image from any transport (a registry above all) into the local store,
 * under `name`, or else under the name the source carries without its registry host
 * (`registry.example/team/app:v1` -> `team/app:v1`, `docker.io/library/debian` -> `debian`).
 *
 * @example
 * await pull(parseTransport('docker://127.0.0.1:5000/team/app:v1'), undefined, openStore);
 */
export function pull(
  src: TransportRef,
  name: LocalName | undefined,
  store: () => Promise<LocalStore>,
  options: CopyOptions = {},
): Promise<CopyReport> {
  return copy(src, name ? { transport: 'local', ...name } : (names) => localNameFor(src, names), store, options);
}

/** The local name an image is stored under when none is given. */
export function localNameFor(source: TransportRef, names: string[]): TransportRef {
  for (const n of names) {
    if (n.startsWith('@')) continue;
    try {
      return { transport: 'local', ...parseLocalName(withoutRegistryHost(n)) };
    } catch {
      // not usable as a local name: try the next one
    }
  }
  throw new SlipwayError(
    'INVALID_ARGUMENT',
    `${formatTransport(source)} carries no name usable in the local store; give one, e.g. myapp:v1`,
  );
}

function withoutRegistryHost(name: string): string {
  let ref: ReturnType<typeof parseReference>;
  try {
    ref = parseReference(name);
  } catch {
    return name;
  }
  const path =
    ref.domain === DEFAULT_DOMAIN || ref.domain === 'localhost' ? ref.path.replace(/^library\//, '') : ref.path;
  return `${path}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}
