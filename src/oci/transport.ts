import { SlipwayError } from '../errors.js';
import {
  formatLocalName,
  hasRegistryHost,
  parseLocalName,
  parseReference,
  type LocalName,
  type Reference,
} from './reference.js';

/**
 * Where an image is, written as skopeo writes it (containers-transports(5)):
 *
 *   NAME[:TAG][@DIGEST]             the local store (a name without a registry host)
 *   HOST/NAME[:TAG][@DIGEST]        a registry (a name with a registry host)
 *   docker://REFERENCE              a registry, docker.io by default
 *   oci:DIR[:REF]                   an OCI image layout directory
 *   oci-archive:FILE[:REF]          a tar of an OCI image layout
 *   docker-archive:FILE[:NAME:TAG | :@N]   a `docker save` tarball
 *
 * As in containers/image, DIR or FILE ends at the first ":" after the prefix, so it
 * cannot contain ":"; everything after that ":" is the REF.
 */
export type TransportRef =
  | ({ transport: 'local' } & LocalName)
  | { transport: 'oci'; dir: string; ref?: string }
  | { transport: 'oci-archive'; file: string; ref?: string }
  /** `ref` is a canonical `name:tag` (as skopeo writes RepoTags, e.g. docker.io/library/alpine:3.20) or `@N`, a zero-based image index. */
  | { transport: 'docker-archive'; file: string; ref?: string }
  | { transport: 'docker'; reference: Reference }
  /** A Cloud Foundry droplet tarball, read as an image on stack `stack` (default: the default stack); read-only. */
  | { transport: 'droplet'; file: string; stack?: string };

export type TransportName = TransportRef['transport'];

// The OCI ref.name grammar that containers/image checks (image-spec annotations.md).
const OCI_REF_COMPONENT = '[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*';
const OCI_REF_RE = new RegExp(`^${OCI_REF_COMPONENT}(?:/${OCI_REF_COMPONENT})*$`);
const SOURCE_INDEX_RE = /^@(\d+)$/;
/** Transports skopeo knows and Slipway does not read. */
const UNSUPPORTED_TRANSPORTS = ['containers-storage', 'docker-daemon', 'dir', 'ostree', 'sif', 'tarball'];

/**
 * Parses a transport string.
 *
 * @example
 *   parseTransport('myapp:v1')                 // { transport: 'local', name: 'myapp', tag: 'v1' }
 *   parseTransport('oci:./out:v1')             // { transport: 'oci', dir: './out', ref: 'v1' }
 *   parseTransport('docker-archive:a.tar:@1')  // { transport: 'docker-archive', file: 'a.tar', ref: '@1' }
 *   parseTransport('ghcr.io/org/app')          // { transport: 'docker', reference: ghcr.io/org/app:latest }
 *   parseTransport('droplet:web.tgz:cflinux')  // { transport: 'droplet', file: 'web.tgz', stack: 'cflinux' }
 */
export function parseTransport(input: string): TransportRef {
  if (input.startsWith('oci:')) {
    const { path, ref } = splitPathAndRef(input, 'oci', 'DIR');
    return withOptionalRef({ transport: 'oci', dir: path }, ref === undefined ? undefined : ociRef(input, ref));
  }
  if (input.startsWith('oci-archive:')) {
    const { path, ref } = splitPathAndRef(input, 'oci-archive', 'FILE');
    return withOptionalRef(
      { transport: 'oci-archive', file: path },
      ref === undefined ? undefined : ociRef(input, ref),
    );
  }
  if (input.startsWith('docker-archive:')) {
    const { path, ref } = splitPathAndRef(input, 'docker-archive', 'FILE');
    return withOptionalRef(
      { transport: 'docker-archive', file: path },
      ref === undefined ? undefined : dockerArchiveRef(input, ref),
    );
  }
  if (input.startsWith('docker://'))
    return { transport: 'docker', reference: parseReference(input.slice('docker://'.length)) };
  if (input.startsWith('droplet:')) {
    const { path, ref } = splitPathAndRef(input, 'droplet', 'FILE');
    return ref === undefined ? { transport: 'droplet', file: path } : { transport: 'droplet', file: path, stack: ref };
  }
  return parsePlainName(input);
}

/**
 * Parses a reference where a registry is meant by default (`pull`, `push`, `delete`):
 * a plain name is a registry reference, docker.io unless it names a host, as podman
 * reads `podman pull alpine`; transport prefixes still work.
 *
 * @example parseRegistryTransport('alpine')  // { transport: 'docker', reference: docker.io/library/alpine:latest }
 */
export function parseRegistryTransport(input: string): TransportRef {
  if (/^(oci|oci-archive|docker-archive):/.test(input) || input.startsWith('docker://')) return parseTransport(input);
  const prefix = /^([a-z-]+):/.exec(input)?.[1];
  if (prefix !== undefined && UNSUPPORTED_TRANSPORTS.includes(prefix)) throw unsupportedTransport(prefix, input);
  return { transport: 'docker', reference: parseReference(input) };
}

/**
 * Formats a transport reference so that `parseTransport` reads it back.
 *
 * @example
 *   formatTransport({ transport: 'oci', dir: 'out', ref: 'v1' })  // 'oci:out:v1'
 *   formatTransport({ transport: 'docker', reference: parseReference('alpine') })
 *   // 'docker://docker.io/library/alpine:latest'
 */
export function formatTransport(t: TransportRef): string {
  switch (t.transport) {
    case 'local':
      return formatLocalName(t);
    case 'oci':
    case 'oci-archive':
      return `${t.transport}:${t.transport === 'oci' ? t.dir : t.file}${t.ref === undefined ? '' : `:${t.ref}`}`;
    case 'docker-archive':
      return `docker-archive:${t.file}${t.ref === undefined ? '' : `:${t.ref}`}`;
    case 'docker':
      return `docker://${t.reference.toString()}`;
    case 'droplet':
      return `droplet:${t.file}${t.stack === undefined ? '' : `:${t.stack}`}`;
  }
}

/**
 * The zero-based image index of a docker-archive `@N` ref, or undefined for a name.
 *
 * @example dockerArchiveSourceIndex('@2')  // 2;  dockerArchiveSourceIndex('app:v1')  // undefined
 */
export function dockerArchiveSourceIndex(ref: string): number | undefined {
  const m = SOURCE_INDEX_RE.exec(ref);
  return m === null ? undefined : Number(m[1]);
}

// --- helpers -------------------------------------------------------------------

function fail(input: string, reason: string, example: string): never {
  throw new SlipwayError(
    'INVALID_REFERENCE',
    `invalid image location "${input}": ${reason} (a valid example: ${example})`,
    {
      detail: { input },
    },
  );
}

/** containers/image's SplitPathAndImage: the path ends at the first ":" after the prefix. */
function splitPathAndRef(input: string, transport: string, what: 'DIR' | 'FILE'): { path: string; ref?: string } {
  const rest = input.slice(transport.length + 1);
  const colon = rest.indexOf(':');
  const path = colon < 0 ? rest : rest.slice(0, colon);
  const example = what === 'DIR' ? `${transport}:./layout:v1` : `${transport}:./image.tar`;
  if (path === '') fail(input, `the ${what} after "${transport}:" is empty`, example);
  const ref = colon < 0 ? undefined : rest.slice(colon + 1);
  return ref === undefined || ref === '' ? { path } : { path, ref };
}

function withOptionalRef<T extends object>(base: T, ref: string | undefined): T & { ref?: string } {
  return ref === undefined ? base : { ...base, ref };
}

function ociRef(input: string, ref: string): string {
  if (!OCI_REF_RE.test(ref)) {
    fail(
      input,
      `"${ref}" is not an OCI ref name: letters and digits separated by one of - . _ : @ + or "--", in "/"-separated parts (note that a DIR cannot contain ":")`,
      'oci:./layout:v1.2',
    );
  }
  return ref;
}

/** A docker-archive REF: `@N`, or a docker reference with a tag (no digest), in canonical form as skopeo writes it. */
function dockerArchiveRef(input: string, ref: string): string {
  const example = 'docker-archive:./image.tar:myapp:v1';
  if (ref.startsWith('@')) {
    if (!SOURCE_INDEX_RE.test(ref))
      fail(
        input,
        `source index "${ref}" must be "@" followed by a number, e.g. @0 for the first image`,
        'docker-archive:./image.tar:@0',
      );
    return `@${Number(ref.slice(1))}`;
  }
  const reference = parseReference(ref);
  if (reference.digest !== undefined) fail(input, 'a docker archive names images by tag, not by digest', example);
  return reference.toString();
}

function unsupportedTransport(prefix: string, input: string, cause?: unknown): SlipwayError {
  return new SlipwayError(
    'UNSUPPORTED',
    `the ${prefix}: transport is not supported; copy the image out first, e.g. skopeo copy ${input} oci-archive:image.tar, then use oci-archive:image.tar`,
    cause === undefined ? {} : { cause },
  );
}

/** A name without transport: the local store unless it names a registry host. */
function parsePlainName(input: string): TransportRef {
  try {
    if (hasRegistryHost(input)) return { transport: 'docker', reference: parseReference(input) };
    return { transport: 'local', ...parseLocalName(input) };
  } catch (err) {
    const prefix = /^([a-z-]+):/.exec(input)?.[1];
    if (prefix === 'docker')
      fail(input, 'registry references are written docker://NAME', 'docker://docker.io/library/alpine:3.20');
    if (prefix !== undefined && UNSUPPORTED_TRANSPORTS.includes(prefix)) {
      throw unsupportedTransport(prefix, input, err);
    }
    throw err;
  }
}
