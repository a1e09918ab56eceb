import type { Digest } from '../../oci/digest.js';

/**
 * Manifest bytes by digest, least recently used first out, bounded in bytes. Content
 * addressing makes it safe: bytes under a digest never change, and whether a
 * repository holds the manifest is still asked of the metadata on every request.
 * It saves the open/read/close and re-hash of a file on every manifest GET.
 */
export class ManifestCache {
  readonly #maxBytes: number;
  readonly #entries = new Map<Digest, Uint8Array>();
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get(digest: Digest): Uint8Array | undefined {
    const bytes = this.#entries.get(digest);
    if (bytes !== undefined) {
      // Map keeps insertion order: re-inserting marks the entry most recently used.
      this.#entries.delete(digest);
      this.#entries.set(digest, bytes);
    }
    return bytes;
  }

  set(digest: Digest, bytes: Uint8Array): void {
    if (bytes.length > this.#maxBytes / 4 || this.#entries.has(digest)) return;
    this.#entries.set(digest, bytes);
    this.#bytes += bytes.length;
    for (const [oldest, old] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= old.length;
    }
  }
}
