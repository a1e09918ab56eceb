import { randomBytes } from 'node:crypto';
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

const dirSyncs = new Map<string, { running: Promise<void> | undefined; queued: Promise<void> | undefined }>();

/**
 * fsyncDir shared by concurrent callers: one fsync covers every entry made in `dir`
 * before it began. A caller arriving while one runs (begun, perhaps, before its own
 * rename) waits for the next, which starts when that one ends and serves everyone
 * who came meanwhile. The blobs of a fleet rebase (a config and a manifest per image)
 * all land in one directory: one fsync per rename there was a large share of the
 * registry's work.
 */
export function fsyncDirShared(dir: string): Promise<void> {
  let state = dirSyncs.get(dir);
  if (state === undefined) dirSyncs.set(dir, (state = { running: undefined, queued: undefined }));
  const s = state;
  const start = (): Promise<void> => {
    const p: Promise<void> = fsyncDir(dir).finally(() => {
      if (s.running === p) s.running = undefined;
    });
    s.running = p;
    return p;
  };
  if (s.running === undefined) return start();
  s.queued ??= s.running
    .catch(() => undefined)
    .then(() => {
      s.queued = undefined;
      return start();
    });
  return s.queued;
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
  // A name of this write's own: two writers sharing one would rename each other's half-written file.
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}
