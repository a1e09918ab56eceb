import { execFile } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  openSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { setAttributeSync } from '@napi-rs/xattr';
import { SlipwayError, isErrno } from '../errors.js';
import type { TarEntry } from './entry.js';
import { lstatOrUndefined } from './path-safety.js';

/**
 * Creating one filesystem node from a tar entry at an absolute path whose parent is
 * already known to be a real directory inside the target. Nothing here opens, chmods
 * or chowns through a symlink: files are created O_EXCL|O_NOFOLLOW and changed via
 * their descriptor, links and nodes via the l* calls.
 *
 * The fs calls are synchronous on purpose (see path-safety.ts): a file costs about
 * eight of them, and as threadpool round trips they made extraction ~10x slower than
 * GNU tar on a tree of small files. Only content waits on the (async) tar stream.
 */

const run = promisify(execFile);

export const OVERLAY_XATTR_PREFIX = 'trusted.overlay.';
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

/** Marks a directory opaque for overlayfs: lower layers' content below it is hidden. */
export function markOpaque(abs: string): void {
  setAttributeSync(abs, OVERLAY_OPAQUE_XATTR, 'y');
}

export interface NodeOptions {
  /** Apply the entry's uid/gid (only meaningful as root). */
  chown: boolean;
}

/**
 * Clears the way for a new node at `abs` (image-spec layer.md "Changeset over
 * existing files"): an existing directory stays when the new entry is a directory
 * too, anything else is removed. Returns what was there.
 */
export function clearPath(
  abs: string,
  keepDirectory: boolean,
): 'nothing' | 'kept-directory' | 'removed-directory' | 'removed' {
  const st = lstatOrUndefined(abs);
  if (st === undefined) return 'nothing';
  if (st.isDirectory()) {
    if (keepDirectory) return 'kept-directory';
    rmSync(abs, { recursive: true, force: true }); // rm never follows symlinks below it
    return 'removed-directory';
  }
  unlinkSync(abs);
  return 'removed';
}

/** Streams a regular file to disk; returns the number of bytes written. */
export async function writeFile(
  abs: string,
  entry: TarEntry,
  content: Readable,
  options: NodeOptions,
): Promise<number> {
  const fd = openSync(abs, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  let bytes = 0;
  try {
    for await (const chunk of content as AsyncIterable<Buffer>) {
      // write(2) may write less than asked (a full disk, a signal): loop until it took all.
      for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at);
      bytes += chunk.length;
    }
    applyMetadata(fd, abs, entry, options);
  } finally {
    closeSync(fd);
  }
  return bytes;
}

export function writeSymlink(abs: string, entry: TarEntry, options: NodeOptions): void {
  // The target is data: it is stored, never resolved, so any value is harmless here.
  symlinkSync(entry.linkname ?? '', abs);
  finishNode(abs, entry, options);
}

/** Links `abs` to the existing `targetAbs`; link(2) does not follow a symlink target. */
export function writeHardlink(targetAbs: string, abs: string): void {
  linkSync(targetAbs, abs);
}

/** A directory made owner-writable for now; `finishDirectory` sets its real mode later. */
export function makeDirectory(abs: string): void {
  mkdirSync(abs, { mode: 0o700 });
}

/**
 * Sets a directory's owner, mode, xattrs and mtime once all its children are in
 * place. Opened O_NOFOLLOW|O_DIRECTORY, so a path replaced by a symlink in the
 * meantime is never followed: it is skipped (returns false).
 */
export function finishDirectory(abs: string, entry: TarEntry, options: NodeOptions): boolean {
  let fd: number;
  try {
    fd = openSync(abs, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    if (isErrno(err, 'ELOOP', 'ENOTDIR', 'ENOENT')) return false;
    throw err;
  }
  try {
    applyMetadata(fd, abs, entry, options);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Owner, mode, xattrs and mtime through an open descriptor, in the order that keeps them all. */
function applyMetadata(fd: number, abs: string, entry: TarEntry, options: NodeOptions): void {
  // chown clears setuid bits and security.capability, so it goes first, then mode, then xattrs.
  if (options.chown) fchownSync(fd, entry.uid, entry.gid);
  fchmodSync(fd, entry.mode);
  setXattrs(abs, entry);
  futimesSync(fd, entry.mtime, entry.mtime);
}

/** Device nodes and fifos: Node has no mknod(2), so coreutils does it. */
export async function writeSpecial(abs: string, entry: TarEntry, options: NodeOptions): Promise<void> {
  // mknod/mkfifo -m accept permission bits only; setuid and friends are added after.
  const mode = (entry.mode & 0o777).toString(8);
  if (entry.type === 'fifo') await tool('mkfifo', ['-m', mode, abs]);
  else {
    const kind = entry.type === 'char-device' ? 'c' : 'b';
    await tool('mknod', ['-m', mode, abs, kind, String(entry.devmajor ?? 0), String(entry.devminor ?? 0)]);
  }
  // The node was just created by us and is not a symlink, so chmod by path is safe.
  if (entry.mode & 0o7000) chmodSync(abs, entry.mode);
  finishNode(abs, entry, options);
}

/** An overlayfs whiteout: a 0/0 character device (kernel Documentation/filesystems/overlayfs.rst). */
export async function writeOverlayWhiteout(abs: string): Promise<void> {
  await tool('mknod', ['-m', '000', abs, 'c', '0', '0']);
}

function finishNode(abs: string, entry: TarEntry, options: NodeOptions): void {
  if (options.chown) lchownSync(abs, entry.uid, entry.gid);
  setXattrs(abs, entry);
  lutimesSync(abs, entry.mtime, entry.mtime);
}

/**
 * Sets the entry's xattrs on `abs` without following a symlink (the library uses
 * lsetxattr). `trusted.overlay.*` is never taken from an archive: those attributes
 * steer overlayfs (opaque, redirect, metacopy) when the directory becomes a lowerdir,
 * and only the whiteout logic may write them.
 */
export function setXattrs(abs: string, entry: TarEntry): void {
  for (const [name, value] of Object.entries(entry.xattrs ?? {})) {
    if (name.startsWith(OVERLAY_XATTR_PREFIX)) continue;
    try {
      setAttributeSync(abs, name, value);
    } catch (err) {
      throw new SlipwayError('IO_ERROR', `cannot set xattr ${name} on "${entry.path}": ${(err as Error).message}`, {
        cause: err,
        detail: { entry: entry.path, xattr: name },
      });
    }
  }
}

async function tool(command: string, args: string[]): Promise<void> {
  try {
    await run(command, args);
  } catch (err) {
    if (isErrno(err, 'ENOENT'))
      throw new SlipwayError('TOOL_MISSING', `${command} (coreutils) is needed to create device nodes and fifos`, {
        cause: err,
      });
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new SlipwayError('IO_ERROR', `${command} ${args.join(' ')} failed: ${stderr || (err as Error).message}`, {
      cause: err,
    });
  }
}
