import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { escapeId, type BuildpackDescriptor } from '../../buildpack/cnb/buildpack-descriptor.js';
import { ConfinedDir } from '../../fs/confined-dir.js';

/** Where the built-in buildpacks and the default builder live (the repository's buildpacks/). */
export const BUILTIN_BUILDPACKS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'buildpacks');

/** Paths in the build container (platform.md defaults) and their host sides. */
export const APP_DIR = '/workspace';
export const LAYERS_DIR = '/layers';
export const PLATFORM_DIR = '/platform';
export const BUILDPACKS_DIR = '/cnb/buildpacks';

/**
 * The host directories a staging works in, mounted into the build container. `root`
 * is the host's own (never mounted); the container writes in `workspace` and
 * `layers`, so the host reaches below those only through `layersTree` and
 * `workspaceTree` (no link followed).
 */
export class StagingDirs {
  #trees = new Map<string, ConfinedDir>();

  constructor(readonly root: string) {}

  /** The layers dir as an anchor for host I/O (opened on first use, closed by close()). */
  get layersTree(): ConfinedDir {
    return this.#tree(this.layers);
  }
  get workspaceTree(): ConfinedDir {
    return this.#tree(this.workspace);
  }
  get platformTree(): ConfinedDir {
    return this.#tree(this.platform);
  }

  close(): void {
    for (const t of this.#trees.values()) t.close();
    this.#trees.clear();
  }

  #tree(path: string): ConfinedDir {
    let t = this.#trees.get(path);
    if (!t) this.#trees.set(path, (t = ConfinedDir.open(path)));
    return t;
  }

  get workspace(): string {
    return join(this.root, 'workspace');
  }
  get layers(): string {
    return join(this.root, 'layers');
  }
  get platform(): string {
    return join(this.root, 'platform');
  }
  get control(): string {
    return join(this.root, 'control');
  }
  /** Host path of a buildpack's layers directory. */
  buildpackLayers(bp: BuildpackDescriptor): string {
    return join(this.layers, escapeId(bp.id));
  }
}

/** Where a buildpack is mounted in the build container. */
export function buildpackPath(bp: BuildpackDescriptor): string {
  return `${BUILDPACKS_DIR}/${escapeId(bp.id)}/${bp.version}`;
}
