import { digestOf, type Digest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import type { Descriptor, ImageManifest } from '../oci/types.js';
import { canonicalJson } from '../image/json.js';
import type { LocalStore } from '../store/local-store.js';

/** The empty config of an artifact manifest (image-spec 1.1 "Guidelines for artifact usage"). */
const EMPTY = Buffer.from('{}');

/**
 * Stores a document as an OCI 1.1 referrer of `subject` in `repository`: an image
 * manifest with `artifactType`, the empty config, the document as its one layer and
 * `subject` pointing at the image. No tag: the store's referrers index finds it.
 * The same document and subject give the same manifest digest.
 */
export async function attachReferrer(
  store: LocalStore,
  repository: string,
  subject: Descriptor,
  document: { bytes: Buffer; mediaType: string; annotations?: Record<string, string> },
): Promise<Descriptor> {
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: document.mediaType,
    config: {
      mediaType: MediaType.OciEmpty,
      digest: digestOf(EMPTY),
      size: EMPTY.length,
      data: EMPTY.toString('base64'),
    },
    layers: [{ mediaType: document.mediaType, digest: digestOf(document.bytes), size: document.bytes.length }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(document.annotations ? { annotations: document.annotations } : {}),
  } as ImageManifest;
  return store.withLease(async (lease) => {
    await lease.putBytes(EMPTY);
    await lease.putBytes(document.bytes);
    return store.putManifest(repository, canonicalJson(manifest), MediaType.OciManifest, [], lease);
  });
}

/** The referrers of `digest` in `repository` with the given artifact type, newest digest order. */
export async function findReferrers(
  store: LocalStore,
  repository: string,
  digest: Digest,
  artifactType: string,
): Promise<Descriptor[]> {
  return (await store.meta.referrers(repository, digest))
    .filter((r) => r.artifactType === artifactType)
    .map((r) => ({ mediaType: r.mediaType, digest: r.digest, size: r.size }));
}
