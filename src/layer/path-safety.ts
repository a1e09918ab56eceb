import { lstatSync, mkdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { SlipwayError } from '../errors.js';

/**
 * Keeping every write of an extraction inside its target directory.
 *
 * Archive paths are checked lexically (no absolute paths, no `..`), then resolved
 * one component at a time with lstat, so that a symlink planted by an earlier entry
 * or a lower layer (`evil -> /etc`, then `evil/passwd`) is refused instead of
 * followed. We never resolve symlinks "inside the root" the way a container runtime
 * would: a layer that writes through a symlink is treated as hostile.
 *
 * The calls are synchronous on purpose: entries are applied one after the other, so
 * async calls buy no concurrency, and a threadpool round trip per lstat made the
 * extraction of a /usr/share tar several times slower.
 */

/** The error for an entry we refuse to apply; `why` finishes the sentence "... because". */
export function unsafeEntry(entry: string, why: string): SlipwayError {
  return new SlipwayError('UNSAFE_ARCHIVE_ENTRY', `unsafe archive entry "${entry}": ${why}`, {
    detail: { entry, reason: why },
  });
}

/** A "./" start, "//", "/./", a trailing "/" or "/.", or just ".". */
const NEEDS_NORMALIZING = /^\.(\/|$)|\/\/|\/\.(\/|$)|\/$/;

/**
 * Normalises a tar member name: drops leading "./", empty and "." components and the
 * trailing "/". A leading "/" and ".." components are kept on purpose so that the
 * extractor sees them and refuses the entry. The archive root ("./" or ".") becomes "".
 */
export function normalizeTarPath(name: string): string {
  if (!NEEDS_NORMALIZING.test(name)) return name; // the common case, without allocating
  const absolute = name.startsWith('/');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  return (absolute ? '/' : '') + parts.join('/');
}

/**
 * The components of an archive path, or an UNSAFE_ARCHIVE_ENTRY error when the path
 * is absolute, climbs with "..", or holds a NUL byte. `entry` names the entry in the
 * error (for a hardlink, `path` is its target). The root is [].
 */
export function safeComponents(path: string, entry: string = path, what = 'its path'): string[] {
  if (path.includes('\0')) throw unsafeEntry(entry, `${what} contains a NUL byte`);
  if (path.startsWith('/')) throw unsafeEntry(entry, `${what} "${path}" is absolute`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw unsafeEntry(entry, `${what} "${path}" has a ".." component`);
  return parts;
}

/**
 * A target directory whose descendants we resolve without ever following a symlink.
 * Directories already proven to be real directories are cached; whoever replaces or
 * removes a path must call `forget` so a directory later swapped for a symlink is
 * checked again.
 */
export class SafeRoot {
  readonly dir: string;
  readonly #knownDirs = new Set<string>(['']);

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Absolute path of a relative, already validated path. */
  abs(rel: string): string {
    return rel === '' ? this.dir : join(this.dir, rel);
  }

  /**
   * Makes sure every component of `dirParts` is a real directory (creating missing
   * ones with mode 0755 when `create`), and returns its absolute path. Throws
   * UNSAFE_ARCHIVE_ENTRY naming `entry` when a component is a symlink. Returns
   * undefined when a component is missing and `create` is false.
   */
  directory(dirParts: readonly string[], entry: string, create: boolean): string | undefined {
    const whole = dirParts.join('/');
    if (this.#knownDirs.has(whole)) return this.abs(whole); // the common case: a sibling was just written
    let rel = '';
    for (const part of dirParts) {
      rel = rel === '' ? part : `${rel}/${part}`;
      if (this.#knownDirs.has(rel)) continue;
      const ok = this.#ensureDirectory(rel, entry, create);
      if (!ok) return undefined;
    }
    return this.abs(rel);
  }

  /** Records that `rel` is a real directory we just created or checked. */
  remember(rel: string): void {
    this.#knownDirs.add(rel);
  }

  /** Drops `rel` and everything below it from the cache (it was removed or replaced). */
  forget(rel: string): void {
    if (rel === '') return;
    this.#knownDirs.delete(rel);
    const prefix = `${rel}/`;
    for (const known of this.#knownDirs) if (known.startsWith(prefix)) this.#knownDirs.delete(known);
  }

  #ensureDirectory(rel: string, entry: string, create: boolean): boolean {
    const abs = this.abs(rel);
    const st = lstatOrUndefined(abs);
    if (st === undefined) {
      if (!create) return false;
      // Another entry of the same layer may not have created it yet: tar allows files before their directory.
      mkdirSync(abs, { mode: 0o755 });
    } else if (st.isSymbolicLink()) {
      throw unsafeEntry(
        entry,
        `"${rel}" on its path is a symlink, and going through it could leave the target directory`,
      );
    } else if (!st.isDirectory()) {
      throw new SlipwayError(
        'INVALID_ARCHIVE',
        `archive entry "${entry}" needs "${rel}" to be a directory, but it is not`,
        {
          detail: { entry, parent: rel },
        },
      );
    }
    this.#knownDirs.add(rel);
    return true;
  }
}

/** lstat, or undefined when nothing is there (without the cost of throwing ENOENT). */
export function lstatOrUndefined(abs: string): Stats | undefined {
  return lstatSync(abs, { throwIfNoEntry: false });
}
