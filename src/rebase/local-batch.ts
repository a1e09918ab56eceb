import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/types.js';
import type { Image } from '../image/types.js';
import type { LocalStore } from '../store/local-store.js';
import type { TransferCounts } from './write-rebased.js';

/** Tag moves committed together (the "e.g. 500 per transaction"; SQLite's group commit holds as many). */
export const BATCH_SIZE = 500;

interface Pending {
  repository: string;
  tag: string;
  /** The image's documents, serialised before it is queued (one that cannot be fails alone). */
  config: Buffer;
  configDigest: Digest;
  manifest: Buffer;
  mediaType: string;
  resolve: (d: Descriptor) => void;
  reject: (err: unknown) => void;
}

/**
 * The writes of a fleet rebase in the local store, in batches: the images are read and
 * rebased (in memory) at the fleet's concurrency, and every `size` of them are written
 * at once under one lease: their new configs, then their manifests (a few at a time
 * each), then all their tag moves in one group commit (one transaction and one fsync).
 * One image at a time cost a lease, a transaction per blob it checked and an fsync per
 * manifest. A batch is written while the next one is read; at most two wait, so memory
 * stays bounded whatever the fleet's size. Each image still moves alone: after a crash
 * its tag is on its old digest or on its new one.
 */
export class LocalBatch {
  readonly #store: LocalStore;
  readonly #size: number;
  readonly #parallel: number;
  #pending: Pending[] = [];
  /** Batches being written, oldest first. */
  readonly #writing: Promise<void>[] = [];
  #chain: Promise<void> = Promise.resolve();

  constructor(store: LocalStore, options: { size?: number; parallel?: number } = {}) {
    this.#store = store;
    this.#size = Math.max(1, options.size ?? BATCH_SIZE);
    this.#parallel = Math.max(1, options.parallel ?? 16);
  }

  /**
   * Queues `image` (already rebased, its base layers in the store) for
   * `repository:tag`; resolves once it is queued, with the promise of its commit. Waits
   * while two batches are being written (back-pressure on the readers).
   */
  async add(
    repository: string,
    tag: string,
    image: Image,
    counts: TransferCounts,
  ): Promise<{ committed: Promise<Descriptor> }> {
    while (this.#writing.length >= 2) await this.#writing[0];
    const [config, configDigest, manifest, mediaType] = await Promise.all([
      image.rawConfig(),
      image.configDigest(),
      image.rawManifest(),
      image.mediaType(),
    ]);
    const committed = new Promise<Descriptor>((resolve, reject) =>
      this.#pending.push({ repository, tag, config, configDigest, manifest, mediaType, resolve, reject }),
    );
    // The caller may look at the outcome only later: never an unhandled rejection meanwhile.
    committed.catch(() => undefined);
    counts.blobsSent++;
    counts.bytesSent += config.length;
    counts.manifestsWritten++;
    if (this.#pending.length >= this.#size) this.#startBatch();
    return { committed };
  }

  /** Writes what is queued and waits for every batch. */
  async flush(): Promise<void> {
    if (this.#pending.length > 0) this.#startBatch();
    await this.#chain;
  }

  #startBatch(): void {
    const batch = this.#pending;
    this.#pending = [];
    // One batch at a time: the next one's reads go on meanwhile.
    const done = this.#chain.then(() => this.#write(batch));
    this.#chain = done;
    this.#writing.push(done);
    void done.finally(() => this.#writing.splice(this.#writing.indexOf(done), 1));
  }

  async #write(batch: Pending[]): Promise<void> {
    try {
      await this.#store.withLease(async (lease) => {
        // Configs before manifests: a manifest is recorded only once its blobs are in.
        const configs = await lease.putManyBytes(
          batch.map((p) => ({ data: p.config, expected: { digest: p.configDigest, size: p.config.length } })),
          this.#parallel,
        );
        const keep: number[] = [];
        configs.forEach((c, i) => {
          if (c.status === 'fulfilled') keep.push(i);
          else batch[i]!.reject(c.reason);
        });
        const manifests = await this.#store.putManifestBatch(
          keep.map((i) => {
            const p = batch[i]!;
            return { repository: p.repository, bytes: p.manifest, mediaType: p.mediaType, tags: [p.tag] };
          }),
          lease,
          this.#parallel,
        );
        keep.forEach((i, k) => {
          const m = manifests[k]!;
          if (m.status === 'fulfilled') batch[i]!.resolve(m.value);
          else batch[i]!.reject(m.reason);
        });
      });
    } catch (err) {
      // The lease itself: none of the batch is recorded.
      for (const p of batch) p.reject(err);
    }
  }
}
