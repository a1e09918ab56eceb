import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';

/**
 * Where a content-addressed image's bytes come from: the local store, an OCI
 * layout directory, later a registry. Every image and layer read from such a place
 * is built on these two calls.
 */
export interface BlobSource {
  /** A fresh stream of the blob's bytes, verified against `digest` as they pass. */
  open(digest: Digest, size?: number): Promise<Readable>;
  /** A whole small blob (manifest, config), verified. */
  read(digest: Digest, maxSize?: number): Promise<Buffer>;
}

/** Documents above this size are refused (the distribution spec's manifest limit). */
export const MAX_DOCUMENT_SIZE = 4 * 1024 * 1024;
