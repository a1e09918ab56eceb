import { join } from 'node:path';
import { ConfinedDir, unsafePath } from '../fs/confined-dir.js';

/** The trees of a droplet directory that become layers of their own. */
export interface DropletTrees {
  /** deps/IDX names that are directories, sorted. */
  deps: string[];
  /** Whether app/ is there. */
  app: boolean;
}

/**
 * The app and deps/IDX trees of a droplet directory, found without following a link.
 *
 * `dir` is the host's (made by the importer, or classic staging's `contents`); what is
 * below it came from a tarball or a build container. A symlinked app, deps or deps/IDX
 * is refused with UNSAFE_PATH naming it: walked, it would have packed the host's tree it
 * names into a layer (`app -> /root` once did, 2.5 GB of it). Inside those trees links
 * stay links (walkTree never follows one).
 */
export function dropletTrees(dir: string): DropletTrees {
  return ConfinedDir.with(dir, (root) => {
    const app = root.lstat('app');
    if (app?.isSymbolicLink()) throw linked(dir, 'app');
    if (app && !app.isDirectory()) throw unsafePath(join(dir, 'app'), "a droplet's app must be a directory");
    const depsStat = root.lstat('deps');
    if (depsStat?.isSymbolicLink()) throw linked(dir, 'deps');
    const deps: string[] = [];
    // readdir opens deps with no-follow: it cannot have been swapped for a link since the lstat.
    for (const name of depsStat ? (root.readdir('deps') ?? []) : []) {
      const st = root.lstat(`deps/${name}`);
      if (st?.isSymbolicLink()) throw linked(dir, `deps/${name}`);
      if (st?.isDirectory()) deps.push(name); // as CF: only directories are buildpacks' deps
    }
    return { deps, app: app !== undefined };
  });
}

function linked(dir: string, rel: string) {
  return unsafePath(
    join(dir, rel),
    `a droplet's ${rel.startsWith('deps/') ? 'deps/IDX' : rel} is a symlink, and the host follows no link a droplet or a build made`,
  );
}
