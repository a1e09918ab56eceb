import type { Stats } from 'node:fs';

/**
 * Read access to a directory a buildpack wrote (its layers, env dirs, tomls), by paths
 * relative to it. The stage passes a ConfinedDir (src/fs), which reads what a
 * container wrote without following a link out of it; the parsers here never open a
 * host path themselves.
 */
export interface TreeReader {
  /** Names in a directory, sorted; undefined when it does not exist. */
  readdir(rel: string): string[] | undefined;
  /** A regular file's text; undefined when it does not exist. */
  readText(rel: string): string | undefined;
  /** The node itself (a symlink is one); undefined when absent. */
  lstat(rel: string): Stats | undefined;
}
