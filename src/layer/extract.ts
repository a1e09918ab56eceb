import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { SlipwayError } from '../errors.js';
import { decompressing } from './compress.js';
import type { TarEntry } from './entry.js';
import {
  clearPath,
  finishDirectory,
  makeDirectory,
  markOpaque,
  type NodeOptions,
  writeFile,
  writeHardlink,
  writeOverlayWhiteout,
  writeSpecial,
  writeSymlink,
} from './node-writer.js';
import { lstatOrUndefined, SafeRoot, safeComponents, unsafeEntry } from './path-safety.js';
import { readTar, type TarMember } from './tar-reader.js';
import { LayerPaths, parseWhiteout, removeLower, removeLowerChildren, type Whiteout } from './whiteout.js';

export interface ExtractOptions {
  /**
   * 'apply' (default): OCI semantics, whiteouts delete lower content already in the
   * target. 'overlay': whiteouts are written in overlayfs form (0/0 character device,
   * `trusted.overlay.opaque=y`), for a directory used as an overlay lowerdir.
   */
  whiteouts?: 'apply' | 'overlay';
  /** 'keep' (default) applies each entry's uid/gid when running as root; 'ignore' never does. */
  owner?: 'keep' | 'ignore';
  /** Called for each entry before it is applied (progress). */
  onEntry?: (entry: TarEntry) => void;
}

export interface ExtractCounts {
  entries: number;
  files: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
  devices: number;
  fifos: number;
  whiteouts: number;
  /** Bytes of regular file content written. */
  bytes: number;
  /** Device nodes not created because creating them needs root. */
  skippedDevices: number;
}

/**
 * Applies one OCI layer (tar, tar+gzip or tar+zstd: the first bytes tell) onto
 * `targetDir`, safely on hostile input:
 * an entry that would write outside the target (absolute path, "..", a symlink on
 * the way, a hardlink leaving the tree, a whiteout for "..") fails the whole
 * extraction with UNSAFE_ARCHIVE_ENTRY naming it, before anything is written for it.
 * Content is streamed to disk. Directories get their final mode and mtime at the end,
 * so read-only directories can still be filled and mtimes survive their children.
 *
 * @example
 * await extractLayer(createReadStream('base.tar'), rootfs);
 * await extractLayer(await blobs.open(appLayerDigest), rootfs); // gzip or zstd
 */
export async function extractLayer(
  tar: Readable | AsyncIterable<Uint8Array>,
  targetDir: string,
  options: ExtractOptions = {},
): Promise<ExtractCounts> {
  if (!(await stat(targetDir)).isDirectory()) {
    throw new SlipwayError('INVALID_ARGUMENT', `extraction target "${targetDir}" is not a directory`);
  }
  return extractMembers(readTar(await decompressing(tar)), targetDir, options);
}

/**
 * Applies tar members (e.g. a filtered or renamed subset of a layer's) onto
 * `targetDir`, with the same safety as `extractLayer`.
 */
export async function extractMembers(
  members: AsyncIterable<TarMember>,
  targetDir: string,
  options: ExtractOptions = {},
): Promise<ExtractCounts> {
  const extraction = new LayerExtraction(targetDir, options);
  for await (const { entry, content } of members) {
    options.onEntry?.(entry);
    await extraction.apply(entry, content);
  }
  extraction.finish();
  return extraction.counts;
}

/** The state of one layer being applied: what it wrote, which directories still need their attributes. */
class LayerExtraction {
  readonly counts: ExtractCounts = {
    entries: 0,
    files: 0,
    directories: 0,
    symlinks: 0,
    hardlinks: 0,
    devices: 0,
    fifos: 0,
    whiteouts: 0,
    bytes: 0,
    skippedDevices: 0,
  };
  readonly #root: SafeRoot;
  readonly #layer = new LayerPaths();
  /** Directory entries whose owner, mode and mtime are set by `finish`, by relative path. */
  readonly #pendingDirs = new Map<string, TarEntry>();
  /** Overlay form only: paths this layer turned into whiteout devices. */
  readonly #whitedOut = new Set<string>();
  readonly #overlay: boolean;
  readonly #node: NodeOptions;
  readonly #isRoot = process.getuid?.() === 0;

  constructor(targetDir: string, options: ExtractOptions) {
    this.#root = new SafeRoot(targetDir);
    this.#overlay = options.whiteouts === 'overlay';
    this.#node = { chown: options.owner !== 'ignore' && this.#isRoot };
  }

  async apply(entry: TarEntry, content: Readable): Promise<void> {
    this.counts.entries++;
    try {
      const parts = safeComponents(entry.path);
      const whiteout = parts.length > 0 ? parseWhiteout(parts, entry.path) : undefined;
      if (parts.length === 0) this.#archiveRoot(entry);
      else if (whiteout) await this.#whiteout(whiteout, entry);
      else await this.#create(parts, entry, content);
    } catch (err) {
      if (err instanceof SlipwayError) throw err;
      throw new SlipwayError('IO_ERROR', `cannot extract "${entry.path}": ${(err as Error).message}`, {
        cause: err,
        detail: { entry: entry.path },
      });
    }
  }

  /** Sets each directory's attributes, deepest first, now that its children exist. */
  finish(): void {
    const depth = (rel: string): number => (rel === '' ? 0 : rel.split('/').length);
    const rels = [...this.#pendingDirs.keys()].sort((a, b) => depth(b) - depth(a));
    for (const rel of rels) finishDirectory(this.#root.abs(rel), this.#pendingDirs.get(rel)!, this.#node);
  }

  /** "./" in the archive: the target directory's own attributes. */
  #archiveRoot(entry: TarEntry): void {
    if (entry.type !== 'directory') {
      throw new SlipwayError('INVALID_ARCHIVE', `the archive root entry is a ${entry.type}, not a directory`, {
        detail: { entry: entry.path },
      });
    }
    this.#pendingDirs.set('', entry);
  }

  async #create(parts: string[], entry: TarEntry, content: Readable): Promise<void> {
    const rel = parts.join('/');
    const parent = this.#root.directory(parts.slice(0, -1), entry.path, true);
    const abs = join(parent!, parts[parts.length - 1]!);
    switch (entry.type) {
      case 'directory':
        this.#directory(rel, abs, entry);
        break;
      case 'hardlink': {
        const target = this.#hardlinkTarget(rel, entry);
        this.#clear(rel, abs);
        writeHardlink(target, abs);
        this.counts.hardlinks++;
        break;
      }
      case 'file':
        this.#clear(rel, abs);
        this.counts.bytes += await writeFile(abs, entry, content, this.#node);
        this.counts.files++;
        break;
      case 'symlink':
        this.#clear(rel, abs);
        writeSymlink(abs, entry, this.#node);
        this.counts.symlinks++;
        break;
      default:
        if (!(await this.#special(rel, abs, entry))) return;
    }
    this.#layer.add(rel);
  }

  #directory(rel: string, abs: string, entry: TarEntry): void {
    // An existing directory is kept (its attributes are replaced by `finish`), so lower content merges.
    // Nothing below a replaced non-directory was cached, so there is nothing to forget here.
    if (clearPath(abs, true) !== 'kept-directory') makeDirectory(abs);
    this.#root.remember(rel);
    this.#pendingDirs.set(rel, entry);
    // overlay form: a directory that replaces a path its own layer whited out must hide the lower one.
    if (this.#whitedOut.has(rel)) markOpaque(abs);
    this.counts.directories++;
  }

  /** Device nodes and fifos; false when skipped (device nodes need root). */
  async #special(rel: string, abs: string, entry: TarEntry): Promise<boolean> {
    const device = entry.type !== 'fifo';
    if (device && !this.#isRoot) {
      this.counts.skippedDevices++;
      return false;
    }
    this.#clear(rel, abs);
    await writeSpecial(abs, entry, this.#node);
    if (device) this.counts.devices++;
    else this.counts.fifos++;
    return true;
  }

  /** Resolves a hardlink's target inside the tree, refusing anything that would leave it. */
  #hardlinkTarget(rel: string, entry: TarEntry): string {
    const linkname = entry.linkname ?? '';
    const parts = safeComponents(linkname, entry.path, 'its hardlink target');
    if (parts.length === 0) throw unsafeEntry(entry.path, 'its hardlink target is the root directory');
    if (parts.join('/') === rel) {
      throw new SlipwayError('INVALID_ARCHIVE', `archive entry "${entry.path}" is a hardlink to itself`, {
        detail: { entry: entry.path },
      });
    }
    const dir = this.#root.directory(parts.slice(0, -1), entry.path, false);
    const target = dir === undefined ? undefined : join(dir, parts[parts.length - 1]!);
    const st = target === undefined ? undefined : lstatOrUndefined(target);
    if (target === undefined || st === undefined)
      throw unsafeEntry(entry.path, `its hardlink target "${linkname}" does not exist in the target directory`);
    if (st.isDirectory()) throw unsafeEntry(entry.path, `its hardlink target "${linkname}" is a directory`);
    return target;
  }

  async #whiteout(whiteout: Whiteout, entry: TarEntry): Promise<void> {
    if (whiteout.kind === 'reserved') return;
    this.counts.whiteouts++;
    // Applying needs nothing when the directory is missing; the overlay form creates it to hold the marker.
    const dir = this.#root.directory(whiteout.dir, entry.path, this.#overlay);
    if (dir === undefined) return;
    const dirRel = whiteout.dir.join('/');
    const removed = (rel: string): void => this.#forget(rel);
    if (whiteout.kind === 'opaque') {
      if (this.#overlay) markOpaque(dir);
      else removeLowerChildren(this.#root, dirRel, this.#layer, removed);
      return;
    }
    const rel = dirRel === '' ? whiteout.name : `${dirRel}/${whiteout.name}`;
    if (this.#overlay) await this.#overlayWhiteout(rel, join(dir, whiteout.name));
    else removeLower(this.#root, rel, this.#layer, removed);
  }

  async #overlayWhiteout(rel: string, abs: string): Promise<void> {
    if (this.#layer.touches(rel)) {
      // This layer has its own `rel`: it stays, but must hide the lower one if it is a directory.
      if (lstatOrUndefined(abs)?.isDirectory()) markOpaque(abs);
      return;
    }
    this.#clear(rel, abs);
    await writeOverlayWhiteout(abs);
    this.#whitedOut.add(rel);
  }

  /** Removes whatever is at `abs` for a new non-directory node, dropping what we knew about it. */
  #clear(rel: string, abs: string): void {
    if (clearPath(abs, false) === 'removed-directory') this.#forget(rel);
  }

  /** `rel` was removed or replaced: forget it and everything below it. */
  #forget(rel: string): void {
    this.#root.forget(rel);
    const prefix = `${rel}/`;
    for (const dir of this.#pendingDirs.keys())
      if (dir === rel || dir.startsWith(prefix)) this.#pendingDirs.delete(dir);
  }
}
