import { MediaType } from '../../oci/media-types.js';
import type { Descriptor, ImageIndex } from '../../oci/types.js';
import type { ManifestRecord } from '../../store/types.js';

/**
 * The referrers API's answer (spec.md "Listing Referrers"): an OCI index of the
 * manifests whose subject is the digest asked about, each with its artifactType (the
 * manifest's own, else an image manifest's config media type, as the store records
 * it) and its annotations; optionally only those of one artifactType.
 */
export function referrersIndex(records: ManifestRecord[], artifactType?: string): ImageIndex {
  const manifests = records
    .filter((r) => artifactType === undefined || r.artifactType === artifactType)
    .map(referrerDescriptor);
  return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests };
}

function referrerDescriptor(record: ManifestRecord): Descriptor {
  const desc: Descriptor = { mediaType: record.mediaType, digest: record.digest, size: record.size };
  if (record.artifactType !== undefined) desc.artifactType = record.artifactType;
  if (record.annotations !== undefined) desc.annotations = record.annotations;
  return desc;
}
