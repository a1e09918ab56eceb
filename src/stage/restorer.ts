import { chownSync, createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { escapeId, type BuildpackDescriptor } from '../buildpack/cnb/buildpack-descriptor.js';
import { readTar } from '../layer/tar-reader.js';
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

/**
 * Layer SBOMs from the previous image's SBOM layer back next to their layers, as the
 * lifecycle does (analyzer RestoreFromPrevious, then SBOMRestorer.RestoreToBuildpackLayers):
 * `layers/sbom/launch/<bp>/<layer>/sbom.<ext>` becomes `<layers>/<bp>/<layer>.sbom.<ext>` for
 * a buildpack of the group, so a layer kept by its metadata alone keeps its SBOM. A
 * buildpack-level `launch.sbom` is not restored: it is written anew by every build.
 */
export async function restoreLaunchSboms(tar: Readable, group: BuildpackDescriptor[], dirs: StagingDirs, user: { uid: number; gid: number }): Promise<string[]> {
  const ids = new Set(group.map((b) => escapeId(b.id)));
  const restored: string[] = [];
  for await (const { entry, content } of readTar(tar)) {
    const m = /^\/?layers\/sbom\/launch\/([^/]+)\/([^/]+)\/(sbom\.[^/]+\.json)$/.exec(entry.path);
    const dest = m ? join(dirs.layers, m[1]!) : undefined;
    if (!m || entry.type !== 'file' || !ids.has(m[1]!) || !existsSync(dest!)) continue;
    const file = join(dest!, `${m[2]}.${m[3]}`);
    // A cache layer's SBOM restored from the cache is at least as new: keep it.
    if (existsSync(file)) continue;
    await pipeline(content, createWriteStream(file, { mode: 0o644 }));
    chownSync(file, user.uid, user.gid);
    restored.push(`${m[1]}/${m[2]}.${m[3]}`);
  }
  return restored;
}
