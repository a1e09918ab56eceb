import type { Readable } from 'node:stream';
import { SlipwayError, isSlipwayError } from '../../errors.js';
import { MAX_DOCUMENT_SIZE, type BlobSource, type OpenOptions } from '../../image/blob-source.js';
import type { Digest } from '../../oci/digest.js';
import type { Descriptor } from '../../oci/types.js';
import type { RegistryClient } from './client.js';

/** Every manifest and index media type a puller accepts. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
] as const;

/**
 * A BlobSource over one repository of a registry, so `artifactFromBlobs` reads a
 * remote image lazily: layers are streamed (and verified) only when opened.
 * Manifests live under /manifests/ rather than /blobs/: `read` serves those it has
 * resolved, and falls back to the manifest endpoint for a digest the blob endpoint
 * does not know (children of an index).
 *
 * @example
 * const source = new RemoteBlobSource(client, 'team/app');
 * const artifact = await artifactFromBlobs(source, await source.resolve('v1'));
 */
export class RemoteBlobSource implements BlobSource {
  readonly #manifests = new Map<Digest, Buffer>();

  constructor(
    readonly client: RegistryClient,
    readonly repo: string,
  ) {}

  /** Fetches the manifest a tag or digest names and returns its descriptor (its bytes are kept for `read`). */
  async resolve(ref: string): Promise<Descriptor> {
    const m = await this.client.getManifest(this.repo, ref, MANIFEST_ACCEPT);
    this.#manifests.set(m.digest, m.bytes);
    return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
  }

  open(digest: Digest, size?: number, options: OpenOptions = {}): Promise<Readable> {
    return this.client.openBlob(this.repo, digest, size, { verify: !options.consumerVerifies });
  }

  async read(digest: Digest, maxSize = MAX_DOCUMENT_SIZE): Promise<Buffer> {
    const known = this.#manifests.get(digest);
    if (known) return known;
    try {
      return await this.client.readBlob(this.repo, digest, maxSize);
    } catch (err) {
      if (!isSlipwayError(err, 'BLOB_UNKNOWN') && !isSlipwayError(err, 'NOT_FOUND')) throw err;
      try {
        const m = await this.client.getManifest(this.repo, digest, MANIFEST_ACCEPT);
        if (m.bytes.length > maxSize)
          throw new SlipwayError('TOO_LARGE', `manifest ${this.repo}@${digest} is larger than ${maxSize} bytes`);
        this.#manifests.set(digest, m.bytes);
        return m.bytes;
      } catch (err2) {
        if (isSlipwayError(err2, 'MANIFEST_UNKNOWN') || isSlipwayError(err2, 'NOT_FOUND')) throw err;
        throw err2;
      }
    }
  }
}
