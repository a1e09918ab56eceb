import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { isErrno } from '../errors.js';
import { digestHex, type Digest } from '../oci/digest.js';
import { silentProgress, type Progress } from '../progress.js';
import { fsyncDir } from '../store/fs-util.js';
import { isOwnerAlive, isProcessAlive, ownerString } from '../store/owner.js';
import { syncFilesystem } from './host-tools.js';
import type { RuntimePaths } from './paths.js';
import type { RuntimeState } from './state.js';

/** A layer the cache can unpack: its diffID and a fresh stream of its bytes (compressed or not). */
export interface CacheableLayer {
  diffId: Digest;
  /** Bytes of the stream `open` gives (for progress). */
  size: number;
  open(): Promise<Readable>;
}

export interface LayerCacheOptions {
  /** Layers unpacked at once (default 2). */
  concurrency?: number;
  /** How often a process waiting for another one's unpack looks again, in ms. */
  pollMs?: number;
}

export interface LayerGcReport {
  layersRemoved: number;
  layerBytesFreed: number;
  /** Unpacks a crash left behind, removed. */
  partialsRemoved: number;
}

const TEMP_PREFIX = '.tmp-';
const TRASH_PREFIX = '.trash-';

/**
 * The per-host layer cache: each layer unpacked once, in overlay form, into
 * `runtime/layers/<diffID hex>`, and shared read-only (as an overlay lowerdir) by
 * every container that uses it.
 *
 * - Unpack once: a process claims a layer in the state database (one write
 *   transaction) before unpacking it; another process that needs it meanwhile waits
 *   for that claim to end (or takes it over when its owner died).
 * - Never half: a layer is unpacked into a temporary directory, its tar is checked
 *   against the diffID, the filesystem is synced, and only then is it renamed into
 *   place. A directory named by a diffID is therefore always complete; a crash leaves
 *   only a `.tmp-` directory, which `gc` removes.
 * - References: containers record the layers they use; `gc` removes the layers no
 *   container references (renamed away inside the transaction, so a starting
 *   container either sees the layer and references it first, or unpacks it anew).
 */
export class LayerCache {
  readonly #paths: RuntimePaths;
  readonly #state: RuntimeState;
  readonly #concurrency: number;
  readonly #pollMs: number;
  readonly #owner = ownerString();

  constructor(paths: RuntimePaths, state: RuntimeState, options: LayerCacheOptions = {}) {
    this.#paths = paths;
    this.#state = state;
    this.#concurrency = Math.max(1, options.concurrency ?? 2);
    this.#pollMs = options.pollMs ?? 100;
  }

  /** The directory of a layer (which exists only once it is complete). */
  dir(diffId: Digest | string): string {
    return this.#paths.layer(digestHex(diffId as Digest));
  }

  /** True when the layer is unpacked and usable. */
  has(diffId: Digest | string): boolean {
    return existsSync(this.dir(diffId));
  }

  /**
   * Makes sure every layer is unpacked: claims the missing ones no live process is
   * unpacking, unpacks those (a few at a time, then one filesystem sync for the batch
   * before they are renamed into place), and waits for the ones others are unpacking.
   * Returns how many this call unpacked.
   */
  async ensure(layers: readonly CacheableLayer[], progress: Progress = silentProgress): Promise<number> {
    mkdirSync(this.#paths.layers, { recursive: true, mode: 0o700 });
    const unique = [...new Map(layers.map((l) => [l.diffId, l])).values()];
    let pending = unique.filter((l) => !this.has(l.diffId));
    let unpacked = 0;
    while (pending.length > 0) {
      const mine = pending.filter((l) => this.#claim(l.diffId) === 'mine');
      if (mine.length > 0) unpacked += await this.#unpackBatch(mine, progress);
      else await new Promise((r) => setTimeout(r, this.#pollMs));
      pending = pending.filter((l) => !this.has(l.diffId));
    }
    this.#state.touchLayers(unique.map((l) => l.diffId));
    return unpacked;
  }

  /** Decides, in one transaction, whether this process unpacks `diffId` now, finds it present, or waits for its unpacker. */
  #claim(diffId: Digest): 'present' | 'wait' | 'mine' {
    return this.#state.write(() => {
      const record = this.#state.layer(diffId);
      const unpackerAlive = record?.state === 'unpacking' && isOwnerAlive(record.owner ?? undefined);
      if (this.has(diffId)) {
        // Complete on disk (renamed in after a sync). Its unpacker records it, unless it died
        // between the rename and the record, or the record was lost.
        if (record?.state !== 'ready' && !unpackerAlive) this.#state.layerPresent(diffId);
        return 'present';
      }
      if (unpackerAlive && record?.owner !== this.#owner) return 'wait';
      this.#state.claimLayer(diffId, this.#owner);
      return 'mine';
    });
  }

  /** Unpacks claimed layers into temporary directories, syncs once, renames them into place. */
  async #unpackBatch(layers: readonly CacheableLayer[], progress: Progress): Promise<number> {
    const done: { layer: CacheableLayer; tmp: string; bytes: number }[] = [];
    const temps: string[] = [];
    try {
      // Loaded on demand: the tar and decompression code is not needed while every layer is cached.
      const { unpackLayer } = await import('./layer-unpack.js');
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < layers.length) {
          const layer = layers[next++]!;
          const hex = digestHex(layer.diffId);
          const tmp = join(this.#paths.layers, `${TEMP_PREFIX}${hex}-${process.pid}-${randomBytes(4).toString('hex')}`);
          temps.push(tmp);
          mkdirSync(tmp, { mode: 0o755 });
          const id = `layer ${hex.slice(0, 12)}`;
          progress.start(id, `Unpacking ${hex.slice(0, 12)}`, layer.size);
          const { bytes } = await unpackLayer(await layer.open(), tmp, layer.diffId, (n) => progress.advance(id, n));
          progress.done(id, 'unpacked');
          done.push({ layer, tmp, bytes });
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.#concurrency, layers.length) }, worker));
      // One syncfs for the batch: each one flushes the whole filesystem, whoever dirtied it.
      await syncFilesystem(this.#paths.layers);
      let renamed = 0;
      for (const { layer, tmp } of done) {
        try {
          renameSync(tmp, this.dir(layer.diffId));
          renamed++;
        } catch (err) {
          // Another unpack of this process got there first: same content, keep that one.
          if (!isErrno(err, 'ENOTEMPTY', 'EEXIST')) throw err;
          rmSync(tmp, { recursive: true, force: true });
        }
      }
      await fsyncDir(this.#paths.layers);
      this.#state.write(() => {
        for (const { layer, bytes } of done) this.#state.layerReady(layer.diffId, bytes);
      });
      return renamed;
    } catch (err) {
      for (const tmp of temps) rmSync(tmp, { recursive: true, force: true });
      this.#state.write(() => {
        for (const layer of layers) if (!this.has(layer.diffId)) this.#state.dropLayer(layer.diffId);
      });
      throw err;
    }
  }

  /**
   * Removes every cached layer no container references (but those in `keep`: a stack's
   * layers the next build needs), and what crashed unpacks and interrupted removals left behind.
   */
  gc(options: { keep?: ReadonlySet<string> } = {}): LayerGcReport {
    const report: LayerGcReport = { layersRemoved: 0, layerBytesFreed: 0, partialsRemoved: 0 };
    if (!existsSync(this.#paths.layers)) return report;
    const trash: string[] = [];
    this.#state.write(() => {
      for (const record of this.#state.layers()) {
        if (record.refs > 0) continue;
        if (record.state === 'ready' && options.keep?.has(record.diffId)) continue;
        if (record.state === 'unpacking' && isOwnerAlive(record.owner ?? undefined)) continue;
        const dir = this.dir(record.diffId);
        if (existsSync(dir)) {
          // Renamed away inside the transaction: once it commits, nobody can find the layer half removed.
          const away = join(
            this.#paths.layers,
            `${TRASH_PREFIX}${digestHex(record.diffId as Digest)}-${randomBytes(4).toString('hex')}`,
          );
          renameSync(dir, away);
          trash.push(away);
          report.layersRemoved++;
          report.layerBytesFreed += record.size;
        }
        this.#state.dropLayer(record.diffId);
      }
    });
    for (const dir of trash) rmSync(dir, { recursive: true, force: true });
    for (const name of readdirSync(this.#paths.layers)) {
      if (!isLeftover(name)) continue;
      rmSync(join(this.#paths.layers, name), { recursive: true, force: true });
      report.partialsRemoved++;
    }
    return report;
  }
}

/** A `.tmp-<hex>-<pid>-<rand>` whose process is gone, or a `.trash-` another gc did not finish. */
function isLeftover(name: string): boolean {
  if (name.startsWith(TRASH_PREFIX)) return true;
  if (!name.startsWith(TEMP_PREFIX)) return false;
  const pid = Number(name.slice(TEMP_PREFIX.length).split('-')[1]);
  return !Number.isInteger(pid) || !isProcessAlive(pid);
}
