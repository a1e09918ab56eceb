import type { Readable } from 'node:stream';
import { escapeId, type BuildpackDescriptor } from '../../buildpack/cnb/buildpack-descriptor.js';
import { readTar } from '../../layer/tar-reader.js';
import { toToml } from '../../buildpack/cnb/toml.js';
import type { BuildCache } from './build-cache.js';
import type { LayersMetadata } from './metadata-labels.js';
import type { StagingDirs } from './paths.js';

/** An SBOM larger than this is not restored (it is held in memory on its way). */
const SBOM_MAX_BYTES = 64 << 20;

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
export function restoreLayers(
  group: BuildpackDescriptor[],
  dirs: StagingDirs,
  user: { uid: number; gid: number },
  previous: LayersMetadata | undefined,
  cache: BuildCache | undefined,
): RestoreReport {
  const report: RestoreReport = { fromCache: [], metadataOnly: [] };
  const tree = dirs.layersTree;
  const own = { uid: user.uid, gid: user.gid };
  for (const bp of group) {
    const esc = escapeId(bp.id);
    tree.mkdir(esc, own);
    const cached = new Set<string>();
    for (const name of cache?.layers(bp.id) ?? []) {
      if (cache!.take(bp.id, name, tree, user)) {
        cached.add(name);
        report.fromCache.push(`${bp.id}:${name}`);
      }
    }
    const record = previous?.buildpacks.find((b) => b.key === bp.id);
    for (const [name, layer] of Object.entries(record?.layers ?? {})) {
      if (cached.has(name) || !layer.launch || layer.build || layer.cache) continue;
      tree.writeFile(`${esc}/${name}.toml`, toToml({ metadata: layer.data ?? {} }), own);
      report.metadataOnly.push(`${bp.id}:${name}`);
    }
    if (record?.store && !tree.lstat(`${esc}/store.toml`))
      tree.writeFile(`${esc}/store.toml`, toToml({ metadata: record.store.metadata }), own);
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
export async function restoreLaunchSboms(
  tar: Readable,
  group: BuildpackDescriptor[],
  dirs: StagingDirs,
  user: { uid: number; gid: number },
): Promise<string[]> {
  const ids = new Set(group.map((b) => escapeId(b.id)));
  const tree = dirs.layersTree;
  const restored: string[] = [];
  for await (const { entry, content } of readTar(tar)) {
    const m = /^\/?layers\/sbom\/launch\/([^/]+)\/([^/]+)\/(sbom\.[^/]+\.json)$/.exec(entry.path);
    if (!m || entry.type !== 'file' || entry.size > SBOM_MAX_BYTES || !ids.has(m[1]!) || !tree.isDirectory(m[1]!))
      continue;
    const file = `${m[1]}/${m[2]}.${m[3]}`;
    // A cache layer's SBOM restored from the cache is at least as new: keep it.
    if (tree.lstat(file)) continue;
    const chunks: Buffer[] = [];
    for await (const chunk of content) chunks.push(chunk as Buffer);
    tree.writeFile(file, Buffer.concat(chunks), { mode: 0o644, uid: user.uid, gid: user.gid });
    restored.push(file);
  }
  return restored;
}
