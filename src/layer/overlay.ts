import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { getAttributeSync } from '@napi-rs/xattr';
import { SlipwayError } from '../errors.js';
import { OPAQUE_WHITEOUT, type TarEntry, WHITEOUT_PREFIX } from './entry.js';
import { type ExtractCounts, type ExtractOptions, extractLayer } from './extract.js';
import { type LayerSink, type WriteLayerOptions, type WrittenLayer, writeLayer } from './layer-writer.js';
import { OVERLAY_OPAQUE_XATTR } from './node-writer.js';
import { type TransformResult, type WalkOptions, walkTree } from './tree-walk.js';

/**
 * Between overlayfs and OCI layers (kernel Documentation/filesystems/overlayfs.rst,
 * image-spec layer.md#whiteouts).
 *
 * An overlay upper directory records a deletion as a 0/0 character device and a
 * directory that replaced a lower one as a directory with `trusted.overlay.opaque=y`;
 * an OCI layer says the same with `.wh.NAME` and `DIR/.wh..wh..opq` files. Full-filesystem
 * staging turns an upper directory into a layer; the runtime's layer cache turns a
 * layer back into the overlay form to use it as a lowerdir.
 */

/** Walk options for an upper directory; the tree goes at the archive root, as the mount saw it. */
export type UpperWalkOptions = Pick<WalkOptions, 'mtime' | 'owner' | 'beneath'>;

/**
 * The layer entries of an overlay upper directory (of an unmounted, or at least quiet,
 * overlay), in walkTree's sorted order: whiteout devices become empty `.wh.NAME`
 * files, an opaque directory is followed by its `.wh..wh..opq` marker, everything
 * else is as walkTree gives it.
 * Throws UNSUPPORTED for a redirected directory or a metacopy file (mount options
 * redirect_dir=on / metacopy=on), whose content lives in the lower layers.
 *
 * @example
 * for await (const entry of overlayUpperEntries('/var/slipway/stage/upper')) console.log(entry.path);
 */
export function overlayUpperEntries(upperDir: string, options: UpperWalkOptions = {}): AsyncIterable<TarEntry> {
  return walkTree(upperDir, { ...options, transform: (entry, stat) => toLayerEntries(upperDir, entry, stat) });
}

/**
 * Writes the layer of an overlay upper directory (see overlayUpperEntries) to `sink`.
 *
 * @example
 * const layer = await writeOverlayDiffLayer(upper, sink, { compression: 'gzip', owner: { kind: 'keep' } });
 */
export function writeOverlayDiffLayer(
  upperDir: string,
  sink: LayerSink,
  options: WriteLayerOptions & UpperWalkOptions,
): Promise<WrittenLayer> {
  const walk: UpperWalkOptions = {};
  if (options.mtime !== undefined) walk.mtime = options.mtime;
  if (options.owner !== undefined) walk.owner = options.owner;
  return writeLayer(overlayUpperEntries(upperDir, walk), sink, { compression: options.compression });
}

function toLayerEntries(upperDir: string, entry: TarEntry, stat: Stats): TransformResult {
  if (entry.type === 'char-device' && stat.rdev === 0)
    return marker(entry, sibling(entry.path, `${WHITEOUT_PREFIX}${basename(entry.path)}`));
  const abs = join(upperDir, entry.path);
  if (entry.type === 'directory') {
    refuseIf(abs, entry, 'trusted.overlay.redirect', 'a renamed directory (redirect_dir=on)');
    if (getAttributeSync(abs, OVERLAY_OPAQUE_XATTR)?.toString() === 'y')
      return [entry, marker(entry, `${entry.path}/${OPAQUE_WHITEOUT}`)];
  }
  if (entry.type === 'file') refuseIf(abs, entry, 'trusted.overlay.metacopy', 'a metadata-only copy (metacopy=on)');
  return entry;
}

/** An empty regular file standing for a whiteout: mode 0644, owner and mtime as walkTree normalised them. */
function marker(from: TarEntry, path: string): TarEntry {
  return { path, type: 'file', mode: 0o644, uid: from.uid, gid: from.gid, mtime: from.mtime, size: 0 };
}

function refuseIf(abs: string, entry: TarEntry, xattr: string, what: string): void {
  if (getAttributeSync(abs, xattr) === null) return;
  throw new SlipwayError(
    'UNSUPPORTED',
    `"${entry.path}" in the overlay upper directory is ${what}; its content is in a lower layer`,
    {
      detail: { path: entry.path, xattr },
    },
  );
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function sibling(path: string, name: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? name : `${path.slice(0, slash)}/${name}`;
}

/**
 * Extracts a layer in overlayfs form into an empty `dir`, ready to be a lowerdir:
 * whiteouts become 0/0 character devices and opaque markers the opaque xattr.
 * Needs root (or a kernel that lets users create whiteout devices).
 *
 * @example
 * await layerToOverlay(await decompressing(blob), cacheDirFor(diffId));
 */
export function layerToOverlay(
  tar: Readable | AsyncIterable<Uint8Array>,
  dir: string,
  options: Omit<ExtractOptions, 'whiteouts'> = {},
): Promise<ExtractCounts> {
  return extractLayer(tar, dir, { ...options, whiteouts: 'overlay' });
}
