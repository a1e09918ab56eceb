import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SlipwayError } from '../../errors.js';
import { unpackBuildpackArchive } from './buildpack-archive.js';
import { readBuildpackDescriptor, type BuildpackDescriptor, type GroupEntry } from './buildpack-descriptor.js';

/**
 * The buildpacks a build can use, by id and version: those found under some
 * directories (the built-in ones, a builder's) plus those named on the command line
 * as a directory or a .tgz. Lookup by id alone takes the highest version.
 */
export class BuildpackSet {
  readonly #all: BuildpackDescriptor[] = [];
  readonly #explicit = new Set<BuildpackDescriptor>();

  get all(): readonly BuildpackDescriptor[] {
    return this.#all;
  }

  /** Adds every buildpack directory (holding buildpack.toml) at most `depth` levels under `root`. */
  async addTree(root: string, depth = 3): Promise<void> {
    if (!existsSync(root)) return;
    if (existsSync(join(root, 'buildpack.toml'))) {
      this.#add(await readBuildpackDescriptor(root));
      return;
    }
    if (depth === 0) return;
    for (const name of readdirSync(root).sort()) {
      const path = join(root, name);
      if (statSync(path).isDirectory()) await this.addTree(path, depth - 1);
    }
  }

  /**
   * Adds one buildpack: a directory, or a .tgz/.tar.gz/.tar of one, unpacked once per
   * content under `archiveCache` (the buildpack download cache, `<home>/buildpacks/downloads`).
   */
  async addPath(path: string, archiveCache: string): Promise<BuildpackDescriptor> {
    const full = resolve(path);
    if (!existsSync(full))
      throw new SlipwayError('NOT_FOUND', `buildpack ${path} does not exist`, { detail: { path } });
    const dir = statSync(full).isFile() ? await unpackBuildpackArchive(full, archiveCache, { name: path }) : full;
    const bp = await readBuildpackDescriptor(dir);
    this.#add(bp, true);
    return bp;
  }

  /** The buildpack `entry` names; NOT_FOUND listing what there is. */
  find(entry: GroupEntry): BuildpackDescriptor {
    const candidates = this.#all.filter((b) => b.id === entry.id);
    const newest = [...candidates].sort((a, b) => compareVersions(b.version, a.version))[0];
    const found =
      entry.version === undefined
        ? (candidates.find((b) => this.#explicit.has(b)) ?? newest)
        : candidates.find((b) => b.version === entry.version);
    if (!found) {
      const have = candidates.map((b) => b.version);
      const what = entry.version === undefined ? entry.id : `${entry.id}@${entry.version}`;
      throw new SlipwayError(
        'NOT_FOUND',
        `buildpack ${what} is not available${have.length ? ` (versions here: ${have.join(', ')})` : ''}; give it with --buildpack DIR or TGZ`,
        {
          detail: { id: entry.id, version: entry.version, available: have },
        },
      );
    }
    return found;
  }

  #add(bp: BuildpackDescriptor, first = false): void {
    const i = this.#all.findIndex((b) => b.id === bp.id && b.version === bp.version);
    if (i >= 0) this.#all.splice(i, 1);
    this.#all.push(bp);
    // A buildpack named by path wins over a built-in of the same id.
    if (first) this.#explicit.add(bp);
  }
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split('.').map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++)
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}
