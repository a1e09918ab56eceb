import { MediaType } from '../../oci/media-types.js';

// The types a client must name in Accept to be served them, as Distribution decides:
// a client that lists manifest types but not OCI ones cannot parse OCI documents.
// Docker schema 2 types are served to anyone (older clients send no Accept for them).
const NEEDS_ACCEPT: ReadonlySet<string> = new Set([MediaType.OciManifest, MediaType.OciIndex]);

/**
 * True when a client with these Accept headers may be served a manifest of `mediaType`.
 * The stored bytes are always served as they are, never converted. Where Distribution
 * answers 404 to a request without Accept, we serve: curl and other generic clients
 * send none, and the bytes are what was pushed.
 *
 * @example accepts(['application/vnd.docker.distribution.manifest.v2+json'], MediaType.OciIndex) // false
 */
export function accepts(acceptHeaders: string | null, mediaType: string): boolean {
  if (!acceptHeaders || !NEEDS_ACCEPT.has(mediaType)) return true;
  let namesManifests = false;
  for (const item of acceptHeaders.split(',')) {
    const type = item.split(';')[0]!.trim().toLowerCase();
    if (type === mediaType || type === '*/*' || type === 'application/*') return true;
    if (type.startsWith('application/vnd.oci.') || type.startsWith('application/vnd.docker.')) namesManifests = true;
  }
  // Accept lists only unrelated types (e.g. application/json): not a manifest-aware client; serve.
  return !namesManifests;
}
