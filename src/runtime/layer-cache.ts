import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
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
  readonly #inFlight = new Map<string, Promise<boolean>>();

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
   * Makes sure every layer is unpacked, unpacking the missing ones (a few at a time)
   * and waiting for those another process is unpacking. Returns how many this call unpacked.
   */
  async ensure(layers: readonly CacheableLayer[], progress: Progress = silentProgress): Promise<number> {
    mkdirSync(this.#paths.layers, { recursive: true, mode: 0o700 });
    const unique = [...new Map(layers.map((l) => [l.diffId, l])).values()];
    const missing = unique.filter((l) => !this.has(l.diffId));
    let unpacked = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < missing.length) {
        const layer = missing[next++]!;
        // Claims are per process: two ensure() calls of this process share one unpack.
        let pending = this.#inFlight.get(layer.diffId);
        if (!pending) {
          pending = this.#ensureOne(layer, progress).finally(() => this.#inFlight.delete(layer.diffId));
          this.#inFlight.set(layer.diffId, pending);
        } else {
          await pending;
          continue;
        }
        if (await pending) unpacked++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, missing.length) }, worker));
    this.#state.touchLayers(unique.map((l) => l.diffId));
    return unpacked;
  }

  /** Unpacks `layer` unless it is (or becomes, while we wait for its owner) present; true when this call unpacked it. */
  async #ensureOne(layer: CacheableLayer, progress: Progress): Promise<boolean> {
    for (;;) {
      const decision = this.#state.write((): 'present' | 'wait' | 'mine' => {
        const record = this.#state.layer(layer.diffId);
        if (this.has(layer.diffId)) {
          // Complete on disk (renamed in after a sync). Its unpacker records it, unless it died
          // between the rename and the record, or the record was lost.
          const unpackerAlive = record?.state === 'unpacking' && isOwnerAlive(record.owner ?? undefined);
          if (record?.state !== 'ready' && !unpackerAlive) this.#state.layerPresent(layer.diffId);
          return 'present';
        }
        if (record?.state === 'unpacking' && record.owner !== this.#owner && isOwnerAlive(record.owner ?? undefined)) return 'wait';
        this.#state.claimLayer(layer.diffId, this.#owner);
        return 'mine';
      });
      if (decision === 'present') return false;
      if (decision === 'mine') {
        await this.#unpack(layer, progress);
        return true;
      }
      await new Promise((r) => setTimeout(r, this.#pollMs));
    }
  }

  async #unpack(layer: CacheableLayer, progress: Progress): Promise<void> {
    const hex = digestHex(layer.diffId);
    const tmp = join(this.#paths.layers, `${TEMP_PREFIX}${hex}-${process.pid}-${randomBytes(4).toString('hex')}`);
    const id = `layer ${hex.slice(0, 12)}`;
    mkdirSync(tmp, { mode: 0o755 });
    try {
      progress.start(id, `Unpacking ${hex.slice(0, 12)}`, layer.size);
      // Loaded on demand: the tar and decompression code is not needed while every layer is cached.
      const { unpackLayer } = await import('./layer-unpack.js');
      const { bytes } = await unpackLayer(await layer.open(), tmp, layer.diffId, (n) => progress.advance(id, n));
      await syncFilesystem(tmp);
      renameSync(tmp, this.dir(layer.diffId));
      await fsyncDir(this.#paths.layers);
      this.#state.write(() => this.#state.layerReady(layer.diffId, bytes));
      progress.done(id, 'unpacked');
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      this.#state.write(() => this.#state.dropLayer(layer.diffId));
      progress.done(id, 'failed');
      throw err;
    }
  }

  /**
   * Removes every cached layer no container references, and what crashed unpacks and
   * interrupted removals left behind.
   */
  gc(): LayerGcReport {
    const report: LayerGcReport = { layersRemoved: 0, layerBytesFreed: 0, partialsRemoved: 0 };
    if (!existsSync(this.#paths.layers)) return report;
    const trash: string[] = [];
    this.#state.write(() => {
      for (const record of this.#state.layers()) {
        if (record.refs > 0) continue;
        if (record.state === 'unpacking' && isOwnerAlive(record.owner ?? undefined)) continue;
        const dir = this.dir(record.diffId);
        if (existsSync(dir)) {
          // Renamed away inside the transaction: once it commits, nobody can find the layer half removed.
          const away = join(this.#paths.layers, `${TRASH_PREFIX}${digestHex(record.diffId as Digest)}-${randomBytes(4).toString('hex')}`);
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
