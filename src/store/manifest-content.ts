import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/types.js';
import { parseManifestOrIndex } from '../oci/validate.js';

/** What the store needs to know of a manifest or index to record it. */
export interface ManifestContent {
  kind: 'manifest' | 'index';
  mediaType: string;
  /** Blobs it needs: config and layers (empty for an index). */
  blobs: Descriptor[];
  /** Child manifests it needs (empty for an image manifest). */
  children: Descriptor[];
  subject?: Digest;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/**
 * Validates manifest or index bytes and lists what they reference. `artifactType`
 * follows the referrers API: the document's own, else an image manifest's config media type.
 */
export function manifestContent(bytes: Uint8Array, mediaType: string): ManifestContent {
  const parsed = parseManifestOrIndex(bytes, mediaType);
  const doc = parsed.document;
  const content: ManifestContent =
    parsed.kind === 'manifest'
      ? {
          kind: 'manifest',
          mediaType: parsed.mediaType,
          blobs: [parsed.document.config, ...parsed.document.layers],
          children: [],
        }
      : { kind: 'index', mediaType: parsed.mediaType, blobs: [], children: parsed.document.manifests };
  const artifactType = doc.artifactType ?? (parsed.kind === 'manifest' ? parsed.document.config.mediaType : undefined);
  if (artifactType !== undefined) content.artifactType = artifactType;
  if (doc.subject !== undefined) content.subject = doc.subject.digest;
  if (doc.annotations !== undefined) content.annotations = doc.annotations;
  return content;
}
