import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { SlipwayError, isErrno } from '../errors.js';
import { ConfinedDir, unsafePath } from '../fs/confined-dir.js';

/** As Linux's MAXSYMLINKS: a path that needs more links than this is ELOOP. */
const MAX_SYMLINKS = 40;

/** /etc/passwd and /etc/group of an image are small; a bigger one is not read into memory. */
const MAX_ROOT_FILE = 4 << 20;

/** A path of an image's root, resolved as the container will see it. */
export interface RootEntry {
  /** Relative to the root, no symlink in it ('' for the root itself); what a no-follow open takes. */
  rel: string;
  /** The host path (the root joined with `rel`). */
  host: string;
  /** lstat of `host` when it exists (never a symlink: those were resolved). */
  stat?: Stats;
}

/**
 * Resolves `path` inside `root` the way the container will see it: symlinks in the
 * image are followed as if `root` were `/`, a ".." never climbs above `root` (neither
 * in `path` nor in a link's target), so an absolute link or a ".." can never lead to a
 * file of the host. More than 40 links on the way is UNSAFE_PATH naming the path: the
 * rest is never joined unresolved (that is how `loop -> loop` plus "../.." once led out).
 *
 * The image is not running yet, so nothing swaps a component between the lstat here and
 * the host's use of the result; a host read still opens `rel` with no-follow (readRootFile).
 */
export function lookupInRoot(root: string, path: string): RootEntry {
  if (path.includes('\0'))
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `the path "${path.replaceAll('\0', '\\0')}" in the image contains a NUL byte`,
      { detail: { path } },
    );
  const pending = parts(path);
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop(); // at the root, ".." is the root
      continue;
    }
    const host = join(root, ...resolved, part);
    if (!lstatIn(host, path)?.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) {
      throw unsafePath(
        path,
        `resolving it in the image's root met more than ${MAX_SYMLINKS} symlinks (ELOOP, at /${[...resolved, part].join('/')})`,
      );
    }
    const target = readlinkSync(host);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...parts(target));
  }
  const rel = resolved.join('/');
  const entry: RootEntry = { rel, host: rel === '' ? root : join(root, rel) };
  const stat = lstatIn(entry.host, path);
  if (stat) entry.stat = stat;
  return entry;
}

/** lookupInRoot's host path (which may not exist). */
export function resolveInRoot(root: string, path: string): string {
  return lookupInRoot(root, path).host;
}

/**
 * A text file of the image, or undefined when it is absent or not a regular file. It is
 * resolved in the root, then opened with no-follow on every component (never a host
 * file, even were a component swapped for a link), capped in size, and a FIFO never blocks.
 */
export function readRootFile(root: string, path: string): string | undefined {
  const found = lookupInRoot(root, path);
  if (!found.stat?.isFile()) return undefined;
  return ConfinedDir.with(root, (dir) => dir.readText(found.rel, MAX_ROOT_FILE));
}

function parts(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

/** lstat, undefined when the path (or a parent, as a non-directory) is not there. */
function lstatIn(host: string, path: string): Stats | undefined {
  try {
    return lstatSync(host);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
    throw new SlipwayError('IO_ERROR', `cannot resolve "${path}" in the image: ${(err as Error).message}`, {
      cause: err,
      detail: { path },
    });
  }
}
