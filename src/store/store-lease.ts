import { SlipwayError } from '../errors.js';
import { coalesce } from '../streams.js';
import { digestAlgorithm, digestOf, type Digest } from '../oci/digest.js';
import type { BlobInfo, BlobStore, BlobWriter, Expected, MetadataStore, WriterOptions } from './types.js';

/**
 * One operation's hold on the blobs it writes or reuses: until `release`, GC keeps
 * them, so an import can write layers first and tag the manifest last. A crashed
 * owner's lease is dropped by the next GC.
 *
 * @example
 * await store.withLease(async (lease) => {
 *   const layer = await lease.putBlob(createReadStream('layer.tar.gz'));
 *   ...
 * });
 */
export class StoreLease {
  readonly id: string;
  readonly #blobs: BlobStore;
  readonly #meta: MetadataStore;
  #released = false;

  constructor(id: string, blobs: BlobStore, meta: MetadataStore) {
    this.id = id;
    this.#blobs = blobs;
    this.#meta = meta;
  }

  /** A blob writer whose commit puts the blob in this lease before it becomes visible. */
  async writer(options: WriterOptions = {}): Promise<BlobWriter> {
    return new LeasedWriter(await this.#blobs.writer(options), (digest) => this.#meta.addToLease(this.id, digest));
  }

  /** Streams a blob in, verified against `expected` (digest algorithm included) before it is visible. */
  async putBlob(stream: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, expected: Expected = {}): Promise<BlobInfo> {
    const writer = await this.writer(expected.digest ? { algorithm: digestAlgorithm(expected.digest) } : {});
    try {
      for await (const chunk of coalesce(stream)) await writer.write(chunk);
      return await writer.commit(expected);
    } catch (err) {
      await writer.abort().catch(() => undefined);
      throw err;
    }
  }

  /** Stores bytes already in memory (documents); skips the write when the blob is there. */
  async putBytes(data: Uint8Array, expected: Expected = {}): Promise<BlobInfo> {
    const digest = digestOf(data, expected.digest ? digestAlgorithm(expected.digest) : 'sha256');
    checkExpected(digest, data.length, expected);
    if (await this.ensureBlob(digest)) return { digest, size: data.length };
    const info = { digest, size: data.length };
    // ensureBlob put it in the lease already: nothing more to record before it appears.
    if (this.#blobs.putSmall) await this.#blobs.putSmall(data, info);
    else return this.putBlob([data], info);
    return info;
  }

  /**
   * Writes bytes whose digest this lease holds already (ensureBlobs found them absent):
   * no lease write of its own. `info` must be the bytes' digest and size, checked.
   */
  async putHeldBytes(data: Uint8Array, info: BlobInfo): Promise<void> {
    this.#checkOpen();
    if (this.#blobs.putSmall) await this.#blobs.putSmall(data, info);
    else await this.putBlob([data], info);
  }

  /**
   * putBytes for many documents at once (a fleet's new configs or manifests): one
   * lease transaction for all of them, then the absent ones written with at most
   * `parallel` at a time. Each one's outcome, in order: one that fails (a digest that
   * does not match, the disk) fails alone.
   */
  async putManyBytes(
    items: readonly { data: Uint8Array; expected?: Expected }[],
    parallel = 16,
  ): Promise<PromiseSettledResult<BlobInfo>[]> {
    this.#checkOpen();
    const outcomes: Promise<BlobInfo>[] = [];
    const checked: { data: Uint8Array; info: BlobInfo; at: number }[] = [];
    items.forEach(({ data, expected = {} }, at) => {
      const digest = digestOf(data, expected.digest ? digestAlgorithm(expected.digest) : 'sha256');
      try {
        checkExpected(digest, data.length, expected);
        checked.push({ data, info: { digest, size: data.length }, at });
      } catch (err) {
        outcomes[at] = Promise.reject(err);
      }
    });
    const unique = [...new Set(checked.map((c) => c.info.digest))];
    const flags = await this.ensureBlobs(unique);
    const present = new Map(unique.map((d, i) => [d, flags[i]!]));
    // One write per digest, however many items share it; ensureBlobs put them all in the lease already.
    const writes = new Map<Digest, { data: Uint8Array; info: BlobInfo; done?: Promise<BlobInfo> }>();
    for (const c of checked)
      if (!present.get(c.info.digest) && !writes.has(c.info.digest)) writes.set(c.info.digest, c);
    const queue = [...writes.values()];
    await Promise.all(
      Array.from({ length: Math.min(parallel, queue.length) }, async () => {
        for (let w = queue.shift(); w; w = queue.shift()) {
          const { data, info } = w;
          w.done = (this.#blobs.putSmall ? this.#blobs.putSmall(data, info) : this.putBlob([data], info)).then(
            () => info,
          );
          await w.done.catch(() => undefined);
        }
      }),
    );
    for (const c of checked) outcomes[c.at] = writes.get(c.info.digest)?.done ?? Promise.resolve(c.info);
    return Promise.allSettled(outcomes);
  }

  /**
   * True when the blob is in the store, now protected by this lease. The lease entry
   * comes first: once it is committed no GC can take the blob, so if the check then
   * finds it, it stays. (Checking first could see a blob a running GC is about to delete.)
   */
  async ensureBlob(digest: Digest): Promise<boolean> {
    this.#checkOpen();
    await this.#meta.addToLease(this.id, digest);
    return (await this.#blobs.stat(digest)) !== undefined;
  }

  /**
   * ensureBlob for several blobs: one lease transaction for all, then the checks at
   * once (a manifest's layers and config, which a push checked one by one before).
   */
  async ensureBlobs(digests: readonly Digest[]): Promise<boolean[]> {
    this.#checkOpen();
    await this.#meta.addManyToLease(this.id, digests);
    return Promise.all(digests.map(async (d) => (await this.#blobs.stat(d)) !== undefined));
  }

  /** Ends the lease; what it protected is left to manifests, tags and links. Idempotent. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await this.#meta.releaseLease(this.id);
  }

  #checkOpen(): void {
    if (this.#released) throw new SlipwayError('CONFLICT', `lease ${this.id} is already released`);
  }
}

/** Verifies bytes in memory against an expectation, with the writer's error codes. */
export function checkExpected(digest: Digest, size: number, expected: Expected): void {
  if (expected.size !== undefined && expected.size !== size) {
    throw new SlipwayError(
      'SIZE_MISMATCH',
      `content has ${size} bytes, expected ${expected.size}${expected.digest ? ` for ${expected.digest}` : ''}`,
      {
        detail: { digest: expected.digest, expected: expected.size, actual: size },
      },
    );
  }
  if (expected.digest !== undefined && expected.digest !== digest) {
    throw new SlipwayError('DIGEST_MISMATCH', `content has digest ${digest}, expected ${expected.digest}`, {
      detail: { expected: expected.digest, actual: digest },
    });
  }
}

/** A writer whose commit adds the digest to a lease before anything else sees the blob. */
class LeasedWriter implements BlobWriter {
  readonly #inner: BlobWriter;
  readonly #lease: (digest: Digest) => Promise<void>;

  constructor(inner: BlobWriter, lease: (digest: Digest) => Promise<void>) {
    this.#inner = inner;
    this.#lease = lease;
  }

  get id(): string {
    return this.#inner.id;
  }

  get size(): number {
    return this.#inner.size;
  }

  get labels(): Readonly<Record<string, string>> {
    return this.#inner.labels;
  }

  write(chunk: Uint8Array): Promise<void> {
    return this.#inner.write(chunk);
  }

  commit(expected?: Expected, beforeVisible?: (info: BlobInfo) => Promise<void>): Promise<BlobInfo> {
    return this.#inner.commit(expected, async (info) => {
      await this.#lease(info.digest);
      await beforeVisible?.(info);
    });
  }

  abort(): Promise<void> {
    return this.#inner.abort();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
