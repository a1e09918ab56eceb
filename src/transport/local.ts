import type { Readable } from 'node:stream';
import { DigestStream, isDigest, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/types.js';
import { artifactFromBlobs } from '../image/blob-image.js';
import { chain } from '../streams.js';
import type { BlobSource, OpenOptions } from '../image/blob-source.js';
import type { Artifact } from '../image/types.js';
import type { LocalStore } from '../store/local-store.js';
import type { ContentDestination } from './destination.js';

/** Blobs up to this size, digest known, are written from memory (StoreLease.putBytes). */
const SMALL_BLOB = 1024 * 1024;

/** The local store as a BlobSource: every byte read is verified against its digest. */
export function storeBlobSource(store: LocalStore): BlobSource {
  return {
    async open(digest: Digest, size?: number, options: OpenOptions = {}): Promise<Readable> {
      const stream = await store.blobs.open(digest);
      return options.consumerVerifies
        ? stream
        : chain(stream, new DigestStream({ expected: digest, ...(size === undefined ? {} : { expectedSize: size }) }));
    },
    read: (digest, maxSize) => store.blobs.read(digest, maxSize),
  };
}

/** The image or index that `repository:tagOrDigest` names in the store. */
export async function readLocal(
  store: LocalStore,
  repository: string,
  tagOrDigest: string,
): Promise<{ artifact: Artifact; descriptor: Descriptor }> {
  const descriptor = await store.resolve(repository, tagOrDigest);
  return { artifact: await artifactFromBlobs(storeBlobSource(store), descriptor), descriptor };
}

/**
 * A destination writing into the store under one lease: blobs are protected from a
 * concurrent GC from the moment they are written until the root manifest is tagged.
 */
export async function localDestination(
  store: LocalStore,
  repository: string,
  tag: string | undefined,
): Promise<ContentDestination> {
  const lease = await store.openLease();
  return {
    label: `${repository}${tag ? `:${tag}` : ''}`,
    hasBlob: (digest) => lease.ensureBlob(digest),
    async putBlob(stream, expected) {
      // A small blob of known digest (a rebase's new config, one per image of a fleet)
      // goes from memory, without an ingest: a fraction of the file operations.
      if (expected?.digest !== undefined && expected.size !== undefined && expected.size <= SMALL_BLOB) {
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        return lease.putBytes(Buffer.concat(chunks), expected);
      }
      return lease.putBlob(stream, expected);
    },
    async putManifest(raw, mediaType, root) {
      const tags = root && tag && !isDigest(tag) ? [tag] : [];
      return store.putManifest(repository, raw, mediaType, tags, lease);
    },
    close: () => lease.release(),
  };
}
