import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { escapeId } from '../buildpack/cnb/buildpack-descriptor.js';
import { readLayerToml } from '../buildpack/cnb/layer-files.js';
import { toToml } from '../buildpack/cnb/toml.js';
import type { Digest } from '../oci/digest.js';
import type { BuiltBuildpack } from './builder.js';
import type { KnownLayer } from './layer-output.js';

/**
 * The build cache of one app: the cache=true layers of its last build, kept as
 * directories in the local store's home (`build-cache/<repository>`), keyed by the
 * image repository (not a tag), like the lifecycle's volume cache. Restoring is a
 * rename, not an extraction. It also remembers which blob holds each diffID it
 * exported, so an unchanged layer is never compressed twice.
 */
export class BuildCache {
  readonly dir: string;

  constructor(storeHome: string, repository: string) {
    const hash = createHash('sha256').update(repository).digest('hex').slice(0, 12);
    this.dir = join(storeHome, 'build-cache', `${repository.replace(/[^A-Za-z0-9._-]+/g, '_')}-${hash}`);
  }

  get #committed(): string {
    return join(this.dir, 'committed');
  }

  clear(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Cached layer names of a buildpack. */
  layers(buildpackId: string): string[] {
    const dir = join(this.#committed, escapeId(buildpackId));
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter((f) => f.endsWith('.toml')).map((f) => f.slice(0, -5)).sort();
  }

  /** Moves a cached layer (toml metadata only, and its directory) into `target`; false when absent. */
  take(buildpackId: string, name: string, target: string, user: { uid: number; gid: number }): { metadata: Record<string, unknown> } | undefined {
    const from = join(this.#committed, escapeId(buildpackId));
    const toml = join(from, `${name}.toml`);
    if (!existsSync(toml)) return undefined;
    const { metadata } = readLayerToml(toml);
    mkdirSync(target, { recursive: true });
    if (existsSync(join(from, name))) renameSync(join(from, name), join(target, name));
    // The layer's SBOM comes back with it (buildpack.md restoration: `<layer>.sbom.<ext>` of cache layers).
    for (const f of sbomFiles(from, name)) {
      renameSync(join(from, f), join(target, f));
      chownSync(join(target, f), user.uid, user.gid);
    }
    writeFileSync(join(target, `${name}.toml`), toToml({ metadata }));
    chownSync(join(target, `${name}.toml`), user.uid, user.gid);
    return { metadata };
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
   * Replaces the cache with the cache=true layers the build left in `layersDir`
   * (moved, not copied) and records the known blobs. A crash leaves the old cache or
   * none, which only costs a slower next build.
   */
  commit(layersDir: string, built: BuiltBuildpack[], known: KnownLayer[]): void {
    const next = join(this.dir, 'committed.new');
    rmSync(next, { recursive: true, force: true });
    mkdirSync(next, { recursive: true });
    for (const b of built) {
      const esc = escapeId(b.buildpack.id);
      for (const l of b.layers.filter((x) => x.types.cache && x.hasContents)) {
        mkdirSync(join(next, esc), { recursive: true });
        renameSync(join(layersDir, esc, l.name), join(next, esc, l.name));
        for (const f of sbomFiles(join(layersDir, esc), l.name)) renameSync(join(layersDir, esc, f), join(next, esc, f));
        writeFileSync(join(next, esc, `${l.name}.toml`), toToml({ types: { launch: l.types.launch, build: l.types.build, cache: true }, metadata: l.types.metadata }));
      }
    }
    const old = join(this.dir, 'committed.old');
    rmSync(old, { recursive: true, force: true });
    if (existsSync(this.#committed)) renameSync(this.#committed, old);
    renameSync(next, this.#committed);
    rmSync(old, { recursive: true, force: true });
    const all = new Map([...this.knownLayers(), ...known.map((k) => [k.diffId, k] as const)]);
    writeFileSync(join(this.dir, 'known-layers.json'), JSON.stringify([...all.values()]));
  }
}

/** `<layer>.sbom.<ext>` files of a layer in a directory. */
function sbomFiles(dir: string, layer: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.startsWith(`${layer}.sbom.`) && f.endsWith('.json'));
}
