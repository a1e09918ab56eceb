import { readdirSync, rmSync } from 'node:fs';
import { SlipwayError } from '../errors.js';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from './entry.js';
import { lstatOrUndefined, type SafeRoot, unsafeEntry } from './path-safety.js';

/**
 * OCI whiteouts (image-spec layer.md#whiteouts) as the extractor applies them.
 *
 * - `.wh.NAME` removes NAME of the lower layers; `DIR/.wh..wh..opq` removes all of
 *   DIR's lower children.
 * - A whiteout never hides what its own layer adds, whatever the order of entries.
 *   So the extractor records every path the layer writes (`LayerPaths`) and removal
 *   spares those paths and the directories on the way to them.
 */

const AUFS_META_PREFIX = `${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`;

/** What a whiteout entry asks for, in archive path components. */
export type Whiteout =
  | { kind: 'remove'; dir: string[]; name: string }
  | { kind: 'opaque'; dir: string[] }
  /** `.wh..wh.*` names other than the opaque marker are aufs bookkeeping (.wh..wh.plnk, ...): nothing to apply. */
  | { kind: 'reserved' };

/**
 * Classifies an entry by its validated path components; undefined when it is not a
 * whiteout. A whiteout's content, type and mode carry no meaning and are ignored.
 */
export function parseWhiteout(parts: readonly string[], entry: string): Whiteout | undefined {
  const base = parts[parts.length - 1];
  const dir = parts.slice(0, -1);
  // Old aufs-built layers keep hardlink stashes under .wh..wh.plnk/: bookkeeping, like the directory itself.
  if (dir.some((p) => p.startsWith(AUFS_META_PREFIX))) return { kind: 'reserved' };
  if (dir.some((p) => p.startsWith(WHITEOUT_PREFIX))) {
    // The spec makes ".wh." names impossible on a filesystem, so nothing can live below one.
    throw new SlipwayError(
      'INVALID_ARCHIVE',
      `archive entry "${entry}" lies below a whiteout name, which cannot be a directory`,
      {
        detail: { entry },
      },
    );
  }
  if (base === undefined || !base.startsWith(WHITEOUT_PREFIX)) return undefined;
  if (base === OPAQUE_WHITEOUT) return { kind: 'opaque', dir };
  if (base.startsWith(AUFS_META_PREFIX)) return { kind: 'reserved' };
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === '' || name === '.' || name === '..')
    throw unsafeEntry(entry, `it is a whiteout for "${name}", which names no entry of its directory`);
  return { kind: 'remove', dir, name };
}

/** The paths one layer has written so far, and every directory above them. */
export class LayerPaths {
  readonly #written = new Set<string>();
  readonly #ancestors = new Set<string>();

  add(rel: string): void {
    this.#written.add(rel);
    for (let slash = rel.lastIndexOf('/'); slash > 0; slash = rel.lastIndexOf('/', slash - 1)) {
      const dir = rel.slice(0, slash);
      if (this.#ancestors.has(dir)) break; // its own ancestors were added with it
      this.#ancestors.add(dir);
    }
  }

  /** True when this layer wrote `rel` itself. */
  has(rel: string): boolean {
    return this.#written.has(rel);
  }

  /** True when this layer wrote `rel` or something below it. */
  touches(rel: string): boolean {
    return this.#written.has(rel) || this.#ancestors.has(rel);
  }
}

/**
 * Removes `rel` (already known to sit below real directories) as far as it is lower
 * content: wholesale when this layer has not touched it, else child by child, so
 * what this layer wrote survives. Calls `removed` for each directory taken away, so
 * caches about it can be dropped. Returns how many paths were removed.
 */
export function removeLower(root: SafeRoot, rel: string, layer: LayerPaths, removed: (rel: string) => void): number {
  const st = lstatOrUndefined(root.abs(rel));
  if (st === undefined) return 0;
  if (!layer.touches(rel)) {
    // rm never follows symlinks while recursing, so a planted link cannot redirect it.
    rmSync(root.abs(rel), { recursive: true, force: true });
    if (st.isDirectory()) removed(rel);
    return 1;
  }
  if (!st.isDirectory()) return 0;
  return removeLowerChildren(root, rel, layer, removed);
}

/** Applies an opaque whiteout to `rel`: removes its lower children, keeps this layer's. */
export function removeLowerChildren(
  root: SafeRoot,
  rel: string,
  layer: LayerPaths,
  removed: (rel: string) => void,
): number {
  let count = 0;
  for (const name of readdirSync(root.abs(rel))) {
    count += removeLower(root, rel === '' ? name : `${rel}/${name}`, layer, removed);
  }
  return count;
}
