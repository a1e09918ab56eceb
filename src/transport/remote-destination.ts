import type { Readable } from 'node:stream';
import { digestOf, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/types.js';
import type { BlobInfo, Expected } from '../store/types.js';
import type { ContentDestination } from './destination.js';
import type { RegistryClient } from '../registry/client/client.js';

/**
 * A ContentDestination writing to a repository of a registry: blobs are checked with
 * HEAD, mounted from `mountFrom` (a repository of the same registry) when possible,
 * else uploaded streamed; manifests are pushed by digest, the root under `tag` (or
 * only by digest when there is none).
 */
export class RemoteDestination implements ContentDestination {
  readonly label: string;

  constructor(
    readonly client: RegistryClient,
    readonly repo: string,
    readonly tag: string | undefined,
    readonly mountFrom?: string,
  ) {
    this.label = `${client.host}/${repo}${tag ? `:${tag}` : ''}`;
  }

  hasBlob(digest: Digest): Promise<boolean> {
    return this.client.hasBlob(this.repo, digest);
  }

  async mountBlob(digest: Digest): Promise<boolean> {
    if (!this.mountFrom || this.mountFrom === this.repo) return false;
    return this.client.mountBlob(this.repo, digest, this.mountFrom);
  }

  prepareBlob(digest: Digest, size: number): void {
    // Only for streamed uploads: a small blob goes in one request, which a session opened ahead would make two.
    if (size >= this.client.chunkThreshold) this.client.openUpload(this.repo, digest);
  }

  putBlob(stream: Readable, expected: Expected = {}): Promise<BlobInfo> {
    return this.client.putBlob(this.repo, stream, {
      ...(expected.digest ? { digest: expected.digest } : {}),
      ...(expected.size === undefined ? {} : { size: expected.size }),
    });
  }

  async putManifest(raw: Buffer, mediaType: string, root: boolean): Promise<Descriptor> {
    const digest = digestOf(raw);
    await this.client.putManifest(this.repo, root && this.tag ? this.tag : digest, raw, mediaType);
    return { mediaType, digest, size: raw.length };
  }

  async close(_ok: boolean): Promise<void> {
    // nothing held open: each upload finished or was cancelled
  }
}
