import type { Digest } from '../oci/digest.js';
import { artifactFromBlobs } from '../image/blob-image.js';
import type { LocalStore } from '../store/local-store.js';
import { storeBlobSource } from '../transport/local.js';

/** One line of `slipway images --json`: a stable interface (fields are added, never renamed). */
export interface ImageSummary {
  name: string;
  tag: string;
  digest: Digest;
  mediaType: string;
  /** Manifest + config + layers, as stored; for an index, the index and every manifest and blob it holds. */
  size: number;
  /** The image config's `created` (for an index: when the tag was set). */
  created: string;
}

/** Every tagged image in the local store, sorted by name and tag. */
export async function listImages(store: LocalStore): Promise<ImageSummary[]> {
  const tagged = await store.meta.listTagged();
  const source = storeBlobSource(store);
  const out: ImageSummary[] = [];
  for (const t of tagged) {
    const record = await store.meta.getManifest(t.repository, t.digest);
    if (!record) continue;
    const artifact = await artifactFromBlobs(source, { digest: t.digest, mediaType: record.mediaType });
    let size = record.size;
    let created = t.updated;
    if (artifact.kind === 'image') {
      size = await artifact.image.size();
      created = (await artifact.image.config()).created ?? created;
    } else {
      for (const m of (await artifact.index.index()).manifests) size += m.size;
    }
    out.push({ name: t.repository, tag: t.tag, digest: t.digest, mediaType: record.mediaType, size, created });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.tag.localeCompare(b.tag));
}
