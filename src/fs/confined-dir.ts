import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmdirSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { SlipwayError, isErrno } from '../errors.js';

/**
 * Host I/O below a directory that a container can write.
 *
 * A container may plant a symlink anywhere it can write (`layers/bp/x -> /etc`), and
 * swap a directory for one between two host calls. So nothing here resolves a path
 * from the root of the host: every operation starts at the descriptor of a trusted
 * directory (one the host made and no container can replace, such as a bind mount's
 * source) and opens one component at a time with O_NOFOLLOW, through
 * `/proc/self/fd/N/NAME` (openat(2) without a native addon). A symlink on the way is
 * refused with UNSAFE_PATH naming it; what was opened is checked with fstat.
 *
 * Writes go to a temporary name beside the target and are renamed over it, so an
 * existing name (a symlink, a hard link the container made) is replaced, never
 * written through. Ownership and modes are set on the descriptor.
 */

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
/** O_NONBLOCK: a FIFO planted where a file is expected must not block the host. */
const FILE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Default cap on a file read into memory (tomls, env files, process lists): 16 MiB. */
export const DEFAULT_MAX_READ = 16 << 20;

export interface Ownership {
  mode?: number;
  uid?: number;
  gid?: number;
}

/** The error for a path a container made into something the host will not follow. */
export function unsafePath(path: string, why: string): SlipwayError {
  return new SlipwayError('UNSAFE_PATH', `refused "${path}": ${why}`, { detail: { path, reason: why } });
}

export class ConfinedDir {
  readonly #fd: number;
  /** The host path it was opened at (for messages and for tools that need a path once the container is gone). */
  readonly path: string;

  private constructor(fd: number, path: string) {
    this.#fd = fd;
    this.path = path;
  }

  /**
   * Opens a trusted directory as the anchor. `path` itself must be one no container can
   * replace (the host made it, and it is not inside a directory a container writes);
   * it is opened without following a final symlink all the same.
   */
  static open(path: string): ConfinedDir {
    try {
      return new ConfinedDir(openSync(path, DIR_FLAGS), path);
    } catch (err) {
      throw ioError(err, path, 'open directory');
    }
  }

  /** `fn` with the anchor at `path`, closed afterwards. */
  static with<T>(path: string, fn: (dir: ConfinedDir) => T): T {
    const dir = ConfinedDir.open(path);
    try {
      return fn(dir);
    } finally {
      dir.close();
    }
  }

  close(): void {
    closeSync(this.#fd);
  }

  /** A sub-directory as an anchor of its own (the walk to it follows no symlink). Close it. */
  openDir(rel: string): ConfinedDir {
    const parts = components(rel, this.path);
    return new ConfinedDir(
      parts.length === 0 ? openSync(`/proc/self/fd/${this.#fd}/.`, DIR_FLAGS) : this.#openDir(parts),
      this.#display(rel),
    );
  }

  /** lstat of `rel` (a symlink is reported as one), or undefined when it does not exist. */
  lstat(rel: string): Stats | undefined {
    const parts = components(rel, this.path);
    if (parts.length === 0) return fstatSync(this.#fd);
    return this.#inParent(
      parts,
      false,
      (dirFd, name) => lstatSync(`/proc/self/fd/${dirFd}/${name}`, { throwIfNoEntry: false }),
      () => undefined,
    );
  }

  isDirectory(rel: string): boolean {
    return this.lstat(rel)?.isDirectory() ?? false;
  }

  isFile(rel: string): boolean {
    return this.lstat(rel)?.isFile() ?? false;
  }

  /**
   * The bytes of a regular file, or undefined when nothing is there. A symlink, a
   * directory or a device is UNSAFE_PATH; a file over `maxBytes` is TOO_LARGE.
   */
  readFile(rel: string, maxBytes = DEFAULT_MAX_READ): Buffer | undefined {
    const fd = this.#openFile(rel);
    if (fd === undefined) return undefined;
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw unsafePath(this.#display(rel), 'it is not a regular file');
      if (st.size > maxBytes) {
        throw new SlipwayError(
          'TOO_LARGE',
          `"${this.#display(rel)}" has ${st.size} bytes; at most ${maxBytes} are read`,
          { detail: { path: this.#display(rel), size: st.size, max: maxBytes } },
        );
      }
      const buf = Buffer.alloc(st.size);
      let off = 0;
      while (off < buf.length) {
        const n = readSync(fd, buf, off, buf.length - off, off);
        if (n === 0) break;
        off += n;
      }
      return buf.subarray(0, off);
    } finally {
      closeSync(fd);
    }
  }

  /** readFile as UTF-8 text. */
  readText(rel: string, maxBytes = DEFAULT_MAX_READ): string | undefined {
    return this.readFile(rel, maxBytes)?.toString('utf8');
  }

  /** The names in a directory, sorted by code unit; undefined when it does not exist. A symlink is UNSAFE_PATH. */
  readdir(rel: string): string[] | undefined {
    const parts = components(rel, this.path);
    let fd: number;
    try {
      fd = parts.length === 0 ? openSync(`/proc/self/fd/${this.#fd}/.`, DIR_FLAGS) : this.#openDir(parts);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
    try {
      return readdirSync(`/proc/self/fd/${fd}`).sort();
    } finally {
      closeSync(fd);
    }
  }

  /** Makes `rel` and any missing parents (real directories, never through a symlink), owned as asked. */
  mkdir(rel: string, own: Ownership = {}): void {
    const parts = components(rel, this.path);
    let fd = openSync(`/proc/self/fd/${this.#fd}/.`, DIR_FLAGS);
    try {
      for (let i = 0; i < parts.length; i++) {
        const at = `/proc/self/fd/${fd}/${parts[i]}`;
        let created = false;
        try {
          mkdirSync(at, { mode: own.mode ?? 0o755 });
          created = true;
        } catch (err) {
          if (!isErrno(err, 'EEXIST'))
            throw ioError(err, this.#display(parts.slice(0, i + 1).join('/')), 'make directory');
        }
        const next = this.#step(fd, parts, i);
        closeSync(fd);
        fd = next;
        if (created || i === parts.length - 1) applyOwnership(fd, own);
      }
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Writes a file: the bytes go to a new temporary file beside it (O_EXCL|O_NOFOLLOW),
   * which is then renamed over `rel`. Whatever was at `rel` is replaced, not written through.
   */
  writeFile(rel: string, data: string | Uint8Array, own: Ownership = {}): void {
    const parts = components(rel, this.path);
    if (parts.length === 0) throw unsafePath(this.path, 'a file cannot be written over the directory itself');
    this.#inParent(parts, true, (dirFd, name) => {
      const tmp = `.slipway-${randomBytes(6).toString('hex')}`;
      const fd = openSync(`/proc/self/fd/${dirFd}/${tmp}`, CREATE_FLAGS, own.mode ?? 0o644);
      try {
        const bytes = typeof data === 'string' ? Buffer.from(data) : data;
        for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
        applyOwnership(fd, own);
      } catch (err) {
        closeSync(fd);
        unlinkSync(`/proc/self/fd/${dirFd}/${tmp}`);
        throw err;
      }
      closeSync(fd);
      renameSync(`/proc/self/fd/${dirFd}/${tmp}`, `/proc/self/fd/${dirFd}/${name}`);
    });
  }

  /**
   * Creates a new, empty file (O_EXCL: something already there is an error) and returns
   * its descriptor, which the caller reads or writes and closes. The host keeps the
   * inode it made whatever the container later does with the name.
   */
  createFile(rel: string, own: Ownership = {}, flags = constants.O_RDWR): number {
    const parts = components(rel, this.path);
    return this.#inParent(parts, false, (dirFd, name) => {
      let fd: number;
      try {
        fd = openSync(
          `/proc/self/fd/${dirFd}/${name}`,
          flags | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
          own.mode ?? 0o600,
        );
      } catch (err) {
        if (isErrno(err, 'EEXIST')) throw unsafePath(this.#display(rel), 'something is already there');
        throw err;
      }
      applyOwnership(fd, own);
      return fd;
    });
  }

  /** Renames `from` to `to` (both below this anchor, or `to` below `target`); neither is followed. */
  rename(from: string, to: string, target: ConfinedDir = this): void {
    const src = components(from, this.path);
    const dst = components(to, target.path);
    if (src.length === 0 || dst.length === 0) throw unsafePath(this.path, 'cannot rename the anchor itself');
    this.#inParent(src, false, (srcFd, srcName) =>
      target.#inParent(dst, true, (dstFd, dstName) => {
        renameSync(`/proc/self/fd/${srcFd}/${srcName}`, `/proc/self/fd/${dstFd}/${dstName}`);
      }),
    );
  }

  /** Removes `rel` and everything below it, following no symlink (links are unlinked). Quiet when absent. */
  remove(rel: string): void {
    const parts = components(rel, this.path);
    if (parts.length === 0) throw unsafePath(this.path, 'cannot remove the anchor itself');
    this.#inParent(
      parts,
      false,
      (dirFd, name) => removeAt(dirFd, name),
      () => undefined,
    );
  }

  /** lchown of `rel` (the node itself, never what a symlink names). */
  chown(rel: string, uid: number, gid: number): void {
    const parts = components(rel, this.path);
    if (parts.length === 0) {
      fchownSync(this.#fd, uid, gid);
      return;
    }
    const st = this.lstat(rel);
    if (!st)
      throw new SlipwayError('NOT_FOUND', `"${this.#display(rel)}" does not exist`, {
        detail: { path: this.#display(rel) },
      });
    if (st.isSymbolicLink()) throw unsafePath(this.#display(rel), 'it is a symlink');
    const fd = st.isDirectory() ? this.#openDir(parts) : this.#openFile(rel)!;
    try {
      fchownSync(fd, uid, gid);
    } finally {
      closeSync(fd);
    }
  }

  /** Opens a regular file's descriptor for reading (O_NOFOLLOW on every component), or undefined when absent. */
  #openFile(rel: string): number | undefined {
    const parts = components(rel, this.path);
    if (parts.length === 0) throw unsafePath(this.path, 'it is a directory, not a file');
    return this.#inParent(
      parts,
      false,
      (dirFd, name) => {
        try {
          return openSync(`/proc/self/fd/${dirFd}/${name}`, FILE_FLAGS);
        } catch (err) {
          if (isErrno(err, 'ENOENT')) return undefined;
          if (isErrno(err, 'ELOOP')) throw unsafePath(this.#display(rel), 'it is a symlink');
          throw ioError(err, this.#display(rel), 'open');
        }
      },
      () => undefined,
    );
  }

  /** Opens the directory `parts` (each component a real directory). */
  #openDir(parts: readonly string[]): number {
    let fd = openSync(`/proc/self/fd/${this.#fd}/.`, DIR_FLAGS);
    try {
      for (let i = 0; i < parts.length; i++) {
        const next = this.#step(fd, parts, i);
        closeSync(fd);
        fd = next;
      }
      return fd;
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Opens component i of `parts` below the directory `fd`, as a directory, refusing a symlink. */
  #step(fd: number, parts: readonly string[], i: number): number {
    try {
      return openSync(`/proc/self/fd/${fd}/${parts[i]}`, DIR_FLAGS);
    } catch (err) {
      const shown = this.#display(parts.slice(0, i + 1).join('/'));
      if (isErrno(err, 'ENOTDIR', 'ELOOP')) {
        const st = lstatSync(`/proc/self/fd/${fd}/${parts[i]}`, { throwIfNoEntry: false });
        throw unsafePath(
          shown,
          st?.isSymbolicLink()
            ? 'it is a symlink, and the host follows none a container could have made'
            : 'it is not a directory',
        );
      }
      if (isErrno(err, 'ENOENT')) throw err;
      throw ioError(err, shown, 'open directory');
    }
  }

  /**
   * Runs `fn` with the descriptor of the parent of `parts` and the last name. A parent
   * that does not exist is made when `create`, else `missing()` answers.
   */
  #inParent<T>(
    parts: readonly string[],
    create: boolean,
    fn: (dirFd: number, name: string) => T,
    missing?: () => T,
  ): T {
    const parent = parts.slice(0, -1);
    if (create && parent.length > 0) this.mkdir(parent.join('/'));
    let fd: number;
    try {
      fd = parent.length === 0 ? openSync(`/proc/self/fd/${this.#fd}/.`, DIR_FLAGS) : this.#openDir(parent);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) {
        if (missing) return missing();
        throw new SlipwayError('NOT_FOUND', `"${this.#display(parent.join('/'))}" does not exist`, {
          cause: err,
          detail: { path: this.#display(parent.join('/')) },
        });
      }
      throw err;
    }
    try {
      return fn(fd, parts[parts.length - 1]!);
    } finally {
      closeSync(fd);
    }
  }

  #display(rel: string): string {
    return rel === '' || rel === '.' ? this.path : `${this.path}/${rel}`;
  }
}

/** The components of a relative path; absolute paths, "..", NUL bytes are refused. */
function components(rel: string, anchor: string): string[] {
  if (rel.includes('\0')) throw unsafePath(`${anchor}/${rel}`, 'the path contains a NUL byte');
  if (rel.startsWith('/')) throw unsafePath(rel, `the path must be relative to ${anchor}`);
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw unsafePath(`${anchor}/${rel}`, 'the path has a ".." component');
  return parts;
}

function applyOwnership(fd: number, own: Ownership): void {
  if (own.uid !== undefined || own.gid !== undefined) fchownSync(fd, own.uid ?? -1, own.gid ?? -1);
  if (own.mode !== undefined) fchmodSync(fd, own.mode);
}

/** rm -r of `name` in the directory `dirFd`, one descriptor per level, no symlink followed. */
function removeAt(dirFd: number, name: string): void {
  const at = `/proc/self/fd/${dirFd}/${name}`;
  const st = lstatSync(at, { throwIfNoEntry: false });
  if (!st) return;
  if (!st.isDirectory()) {
    unlinkSync(at);
    return;
  }
  let fd: number;
  try {
    fd = openSync(at, DIR_FLAGS);
  } catch (err) {
    if (isErrno(err, 'ENOTDIR', 'ELOOP')) {
      unlinkSync(at); // swapped for a link since the lstat: remove the link itself
      return;
    }
    throw err;
  }
  try {
    for (const child of readdirSync(`/proc/self/fd/${fd}`)) removeAt(fd, child);
  } finally {
    closeSync(fd);
  }
  rmdirSync(at);
}

function ioError(err: unknown, path: string, what: string): SlipwayError {
  if (err instanceof SlipwayError) return err;
  const code = isErrno(err, 'ENOENT') ? 'NOT_FOUND' : 'IO_ERROR';
  return new SlipwayError(code, `cannot ${what} "${path}": ${(err as Error).message}`, {
    cause: err,
    detail: { path },
  });
}
