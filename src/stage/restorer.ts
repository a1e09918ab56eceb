import { chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildpackDescriptor } from '../buildpack/cnb/buildpack-descriptor.js';
import { toToml } from '../buildpack/cnb/toml.js';
import type { BuildCache } from './build-cache.js';
import type { LayersMetadata } from './metadata-labels.js';
import type { StagingDirs } from './paths.js';

export interface RestoreReport {
  /** "<buildpack>:<layer>" restored with contents from the cache. */
  fromCache: string[];
  /** "<buildpack>:<layer>" whose metadata alone came from the previous image. */
  metadataOnly: string[];
}

/**
 * The restore phase (platform.md "restorer"), with buildpack.md's restoration matrix:
 * cache=true layers come back from the build cache with their contents; launch=true,
 * cache=false, build=false layers get their `<layer>.toml` metadata from the previous
 * image (the buildpack then decides whether to keep the layer as it is); store.toml
 * comes back from the previous image. `[types]` are never restored.
 */
export function restoreLayers(group: BuildpackDescriptor[], dirs: StagingDirs, user: { uid: number; gid: number }, previous: LayersMetadata | undefined, cache: BuildCache | undefined): RestoreReport {
  const report: RestoreReport = { fromCache: [], metadataOnly: [] };
  for (const bp of group) {
    const target = dirs.buildpackLayers(bp);
    mkdirSync(target, { recursive: true });
    chownSync(target, user.uid, user.gid);
    const cached = new Set<string>();
    for (const name of cache?.layers(bp.id) ?? []) {
      if (cache!.take(bp.id, name, target, user)) {
        cached.add(name);
        report.fromCache.push(`${bp.id}:${name}`);
      }
    }
    const record = previous?.buildpacks.find((b) => b.key === bp.id);
    for (const [name, layer] of Object.entries(record?.layers ?? {})) {
      if (cached.has(name) || !layer.launch || layer.build || layer.cache) continue;
      const file = join(target, `${name}.toml`);
      writeFileSync(file, toToml({ metadata: layer.data ?? {} }));
      chownSync(file, user.uid, user.gid);
      report.metadataOnly.push(`${bp.id}:${name}`);
    }
    if (record?.store && !existsSync(join(target, 'store.toml'))) {
      writeFileSync(join(target, 'store.toml'), toToml({ metadata: record.store.metadata }));
      chownSync(join(target, 'store.toml'), user.uid, user.gid);
    }
  }
  return report;
}
