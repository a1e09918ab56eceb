import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';

/**
 * Where a content-addressed image's bytes come from: the local store, an OCI
 * layout directory, later a registry. Every image and layer read from such a place
 * is built on these two calls.
 */
/** How a blob is opened. */
export interface OpenOptions {
  /**
   * Skip the source's own digest check because the consumer hashes every byte and
   * refuses a mismatch itself before anything becomes visible (a content-addressed
   * destination: the store, an OCI layout, a registry's upload). Saves one sha256
   * pass per byte copied.
   */
  consumerVerifies?: boolean;
}

export interface BlobSource {
  /** A fresh stream of the blob's bytes, verified against `digest` as they pass (unless the consumer verifies). */
  open(digest: Digest, size?: number, options?: OpenOptions): Promise<Readable>;
  /** A whole small blob (manifest, config), verified. */
  read(digest: Digest, maxSize?: number): Promise<Buffer>;
}

/** Documents above this size are refused (the distribution spec's manifest limit). */
export const MAX_DOCUMENT_SIZE = 4 * 1024 * 1024;
