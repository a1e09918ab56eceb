import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SlipwayError } from '../errors.js';
import type { StoreLease } from '../store/local-store.js';
import type { WrittenLayer } from '../copy/import-rootfs.js';
import { silentProgress, type Progress } from '../progress.js';
import { cacheKey, type LayerCache } from './layer-cache.js';
import { mmdebstrapArgs, mountsUnder, runMmdebstrap } from './mmdebstrap.js';
import type { StackUser } from './request.js';
import { readRootfsFacts, type RootfsFacts } from './rootfs-facts.js';
import { writeRootfsLayer } from './rootfs-layer.js';

/** Everything one Debian rootfs layer depends on. */
export interface DebianLayerSpec {
  suite: string;
  mirror: string;
  arch: string;
  include: string[];
  user: StackUser;
  sourceDateEpoch: number;
  /** sha256 of the suite's InRelease: the mirror state. */
  mirrorState: string;
  mmdebstrapVersion: string;
}

export interface MadeLayer {
  layer: WrittenLayer;
  facts: RootfsFacts;
  /** True when the layer came from the cache (no bootstrap ran). */
  cached: boolean;
  key: string;
}

/** Bumped when what goes into the layer changes for the same spec (hooks, excludes, writer). */
const LAYER_FORMAT = 2;

export function debianLayerKey(spec: DebianLayerSpec): string {
  return cacheKey({ ...spec, format: LAYER_FORMAT, args: mmdebstrapArgs({ ...spec, target: 'TARGET' }) });
}

/**
 * The layer of a Debian root filesystem with `spec.include` installed, in the store
 * under `lease`: from the cache when this exact spec (mirror state included) was
 * bootstrapped before, else made with mmdebstrap and then cached. The temporary
 * rootfs is removed whatever happens.
 */
export async function debianLayer(
  lease: StoreLease,
  cache: LayerCache,
  spec: DebianLayerSpec,
  options: { refresh?: boolean; label: string; progress?: Progress; signal?: AbortSignal },
): Promise<MadeLayer> {
  const progress = options.progress ?? silentProgress;
  const key = debianLayerKey(spec);
  const hit = options.refresh ? undefined : await cache.get(key);
  if (hit) {
    await cache.importInto(lease, key, hit);
    progress.log(`${options.label}: cached (${spec.include.length} packages asked, mirror state unchanged)`);
    return { layer: hit.layer, facts: hit.facts, cached: true, key };
  }
  const work = await mkdtemp(join(process.env['SLIPWAY_STACK_TMPDIR'] ?? tmpdir(), 'slipway-stack-'));
  const target = join(work, 'rootfs');
  try {
    progress.log(`${options.label}: mmdebstrap ${spec.suite} with ${spec.include.join(', ') || 'minbase only'}`);
    await runMmdebstrap({
      ...spec,
      target,
      label: options.label,
      progress,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const facts = await readRootfsFacts(target, spec.arch);
    const entry = await cache.entryWriter(key);
    try {
      progress.start(options.label, `${options.label} layer`);
      const layer = await writeRootfsLayer(lease, target, { also: entry, progress, task: options.label });
      progress.done(options.label, layer.digest.slice(0, 19));
      await entry.commit({ layer, facts, made: new Date().toISOString() });
      return { layer, facts, cached: false, key };
    } catch (err) {
      await entry.abort();
      throw err;
    }
  } finally {
    await removeWorkDir(work);
  }
}

/** Removes a bootstrap directory, refusing while anything is still mounted under it (rm -rf through a bind mount of /dev would hurt). */
async function removeWorkDir(dir: string): Promise<void> {
  const mounted = await mountsUnder(dir);
  if (mounted.length) {
    throw new SlipwayError(
      'IO_ERROR',
      `not removing ${dir}: ${mounted.join(', ')} still mounted (mmdebstrap was stopped hard); umount them, then rm -rf ${dir}`,
    );
  }
  await rm(dir, { recursive: true, force: true });
}
