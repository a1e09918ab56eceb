import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeId } from '../../buildpack/cnb/buildpack-descriptor.js';
import { readLayerToml } from '../../buildpack/cnb/layer-files.js';
import { toToml } from '../../buildpack/cnb/toml.js';
import type { Digest } from '../../oci/digest.js';
import type { BuildVolume } from '../../sandbox/build-volume.js';
import { ConfinedDir } from '../../fs/confined-dir.js';
import type { BuiltBuildpack } from './builder.js';
import type { KnownLayer } from '../layer-output.js';

/**
 * The build cache of one app: the cache=true layers of its last build, kept as
 * directories on the app's build volume (`cache/committed`), keyed by the image
 * repository (not a tag), like the lifecycle's volume cache. Restoring is a rename
 * within the volume, not an extraction. Its record of which blob holds each diffID
 * it exported (so an unchanged layer is never compressed twice) is the host's own,
 * in the store's home.
 *
 * What a build left there is the build's: every move in and out goes through
 * ConfinedDir (no link followed), and the tomls in the cache are written by the host.
 */
export class BuildCache {
  /** The host's record (known-layers.json): never on the volume a build writes. */
  readonly dir: string;
  readonly #committed: string | undefined;

  constructor(storeHome: string, repository: string, volume: BuildVolume | undefined) {
    const hash = createHash('sha256').update(repository).digest('hex').slice(0, 12);
    this.dir = join(storeHome, 'build-cache', `${repository.replace(/[^A-Za-z0-9._-]+/g, '_')}-${hash}`);
    // A one-off volume (another build of the app holds its own) has no cache to share.
    this.#committed = volume?.persistent ? join(volume.mountPoint, 'cache', 'committed') : undefined;
  }

  clear(): void {
    if (this.#committed) rmSync(join(this.#committed, '..'), { recursive: true, force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Cached layer names of a buildpack. */
  layers(buildpackId: string): string[] {
    if (!this.#committed) return [];
    const dir = join(this.#committed, escapeId(buildpackId));
    if (!existsSync(dir)) return [];
    return ConfinedDir.with(this.#committed, (c) =>
      (c.readdir(escapeId(buildpackId)) ?? []).filter((f) => f.endsWith('.toml')).map((f) => f.slice(0, -5)),
    );
  }

  /** Moves a cached layer (its directory and SBOMs; the toml keeps only the metadata) into the layers dir; undefined when absent. */
  take(
    buildpackId: string,
    name: string,
    layers: ConfinedDir,
    user: { uid: number; gid: number },
  ): { metadata: Record<string, unknown> } | undefined {
    if (!this.#committed) return undefined;
    const esc = escapeId(buildpackId);
    return ConfinedDir.with(this.#committed, (cache) => {
      if (!cache.lstat(`${esc}/${name}.toml`)) return undefined;
      const { metadata } = readLayerToml(cache, `${esc}/${name}.toml`);
      layers.mkdir(esc, { uid: user.uid, gid: user.gid });
      if (cache.lstat(`${esc}/${name}`)) cache.rename(`${esc}/${name}`, `${esc}/${name}`, layers);
      // The layer's SBOM comes back with it (buildpack.md restoration: `<layer>.sbom.<ext>` of cache layers).
      for (const f of sbomFiles(cache, esc, name)) cache.rename(`${esc}/${f}`, `${esc}/${f}`, layers);
      layers.writeFile(`${esc}/${name}.toml`, toToml({ metadata }), { uid: user.uid, gid: user.gid });
      return { metadata };
    });
  }

  /** Blobs of diffIDs exported before. */
  knownLayers(): Map<Digest, KnownLayer> {
    const file = join(this.dir, 'known-layers.json');
    if (!existsSync(file)) return new Map();
    try {
      return new Map((JSON.parse(readFileSync(file, 'utf8')) as KnownLayer[]).map((k) => [k.diffId, k]));
    } catch {
      return new Map();
    }
  }

  /**
   * Replaces the cache with the cache=true layers the build left in `layers` (moved,
   * not copied) and records the known blobs. Runs once the build container is gone.
   * A crash leaves the old cache or none, which only costs a slower next build.
   */
  commit(layers: ConfinedDir, built: BuiltBuildpack[], known: KnownLayer[]): void {
    if (this.#committed) {
      const next = `${this.#committed}.new`;
      rmSync(next, { recursive: true, force: true });
      mkdirSync(next, { recursive: true, mode: 0o700 });
      ConfinedDir.with(next, (to) => {
        for (const b of built) {
          const esc = escapeId(b.buildpack.id);
          for (const l of b.layers.filter((x) => x.types.cache && x.hasContents)) {
            to.mkdir(esc);
            layers.rename(`${esc}/${l.name}`, `${esc}/${l.name}`, to);
            for (const f of sbomFiles(layers, esc, l.name)) layers.rename(`${esc}/${f}`, `${esc}/${f}`, to);
            to.writeFile(
              `${esc}/${l.name}.toml`,
              toToml({
                types: { launch: l.types.launch, build: l.types.build, cache: true },
                metadata: l.types.metadata,
              }),
            );
          }
        }
      });
      const old = `${this.#committed}.old`;
      rmSync(old, { recursive: true, force: true });
      if (existsSync(this.#committed)) renameSync(this.#committed, old);
      renameSync(next, this.#committed);
      rmSync(old, { recursive: true, force: true });
    }
    mkdirSync(this.dir, { recursive: true });
    const all = new Map([...this.knownLayers(), ...known.map((k) => [k.diffId, k] as const)]);
    writeFileSync(join(this.dir, 'known-layers.json'), JSON.stringify([...all.values()]));
  }
}

/** `<layer>.sbom.<ext>` files of a layer in a buildpack's directory. */
function sbomFiles(tree: ConfinedDir, esc: string, layer: string): string[] {
  return (tree.readdir(esc) ?? []).filter((f) => f.startsWith(`${layer}.sbom.`) && f.endsWith('.json'));
}
