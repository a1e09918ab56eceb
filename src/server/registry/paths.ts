import { isDigest, parseDigest, type Digest } from '../../oci/digest.js';
import { MAX_NAME_LENGTH } from '../../oci/reference.js';
import { RegistryError } from './errors.js';

/**
 * The distribution API's paths. Repository names contain slashes, so a path is read
 * from its end: the last segments say what is addressed, everything before is the name.
 */
export type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: Reference }
  | { kind: 'blob'; name: string; digest: Digest }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; id: string }
  | { kind: 'referrers'; name: string; digest: Digest };

export type RouteKind = Route['kind'];

/**
 * A manifest reference: a tag or a digest, never both. The tag is as the path gave it,
 * not yet checked against the tag grammar: a pull of a tag that cannot exist is
 * MANIFEST_UNKNOWN (404), a push of one TAG_INVALID (400); the routes decide.
 */
export type Reference = { tag: string; digest?: undefined } | { digest: Digest; tag?: undefined };

// spec.md "Pulling manifests": the name and tag grammars, verbatim.
const NAME_RE = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/**
 * Parses the path of a request under /v2/ (the path as received, percent-encoded).
 * Returns undefined for a path that is no API endpoint; throws NAME_INVALID or
 * DIGEST_INVALID for one that is, with a bad part (tags: see Reference).
 *
 * @example parseRoute('/v2/team/app/manifests/v1') // { kind: 'manifest', name: 'team/app', reference: { tag: 'v1' } }
 */
export function parseRoute(path: string): Route | undefined {
  if (path === '/v2' || path === '/v2/') return { kind: 'base' };
  if (!path.startsWith('/v2/')) return undefined;
  if (path === '/v2/_catalog') return { kind: 'catalog' };
  const parts = path.slice(4).split('/').map(decodeSegment);
  const n = parts.length;
  const at = (i: number) => parts[n - i];
  if (n >= 3 && at(2) === 'tags' && at(1) === 'list') return { kind: 'tags', name: nameOf(parts, 2) };
  if (n >= 3 && at(2) === 'manifests')
    return { kind: 'manifest', name: nameOf(parts, 2), reference: parseReference(at(1)!) };
  if (n >= 3 && at(2) === 'referrers')
    return { kind: 'referrers', name: nameOf(parts, 2), digest: checkDigest(at(1)!) };
  if (n >= 4 && at(3) === 'blobs' && at(2) === 'uploads') {
    const id = at(1)!;
    return id === '' ? { kind: 'uploads', name: nameOf(parts, 3) } : { kind: 'upload', name: nameOf(parts, 3), id };
  }
  // `/blobs/uploads` without the trailing slash still starts an upload, as in Distribution.
  if (n >= 3 && at(2) === 'blobs' && at(1) === 'uploads') return { kind: 'uploads', name: nameOf(parts, 2) };
  if (n >= 3 && at(2) === 'blobs') return { kind: 'blob', name: nameOf(parts, 2), digest: checkDigest(at(1)!) };
  return undefined;
}

/** Throws NAME_INVALID unless `name` matches the spec's grammar and length. */
export function checkName(name: string): string {
  if (name.length > MAX_NAME_LENGTH || !NAME_RE.test(name)) {
    throw new RegistryError(
      'NAME_INVALID',
      `invalid repository name "${name}": lowercase path components separated by "/", at most ${MAX_NAME_LENGTH} characters`,
      {
        detail: { name },
      },
    );
  }
  return name;
}

/** True when `tag` matches the spec's tag grammar. */
export function isTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** Throws TAG_INVALID unless `tag` matches the spec's tag grammar. */
export function checkTag(tag: string): string {
  if (!isTag(tag)) {
    throw new RegistryError(
      'TAG_INVALID',
      `invalid tag "${tag}": 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"`,
      {
        detail: { tag },
      },
    );
  }
  return tag;
}

/** Throws DIGEST_INVALID unless `value` is a sha256 or sha512 digest. */
export function checkDigest(value: string): Digest {
  if (isDigest(value)) return value;
  try {
    return parseDigest(value);
  } catch (err) {
    throw new RegistryError('DIGEST_INVALID', (err as Error).message, { detail: { digest: value }, cause: err });
  }
}

function parseReference(value: string): Reference {
  // A tag has no ":", so anything with one must be a digest.
  return value.includes(':') ? { digest: checkDigest(value) } : { tag: value };
}

function nameOf(parts: string[], tail: number): string {
  return checkName(parts.slice(0, parts.length - tail).join('/'));
}

function decodeSegment(segment: string): string {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // malformed escapes fail the grammar checks instead
  }
}
