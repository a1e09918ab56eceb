import { open, rename, stat, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { isErrno } from '../errors.js';

/** Flushes a directory's entries (a rename or create inside it) to disk. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** stat, or undefined when the path does not exist. */
export async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
    throw err;
  }
}

/**
 * Replaces a small file atomically (temp + rename): a reader sees the old content or
 * the new, never a torn write. Not fsynced: used for ingest metadata, which a crash may lose.
 */
export async function writeSmallFileAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}
