import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from '../layer/entry.js';
import { readTar } from '../layer/tar-reader.js';
import type { Layer } from '../image/types.js';

/** A file of an app layer that hides a file the rebase changes underneath it. */
export interface Shadow {
  path: string;
  /** How the base changed it: `changed` (content, mode, owner or link), `added` by the new base, `removed` by it. */
  change: 'changed' | 'added' | 'removed';
  /** The app layer (index in the image, from 0) whose entry shadows it. */
  appLayer: number;
}

/** What one path is in a merged filesystem: its kind, mode, owner, link target and content hash. */
type Fingerprint = string;

/**
 * The apt-layer hazard: files that app layers carry (a library a buildpack installed,
 * a config it rewrote) and that the rebase changes in the base below. After the rebase
 * the app still sees its own copy, not the patched one. Reads the tar listings of the
 * old and new base layers (merged, whiteouts applied) and of the app layers.
 *
 * @example
 *   const shadows = await shadowedFiles(image.layers().slice(0, n), newBase.layers(), image.layers().slice(n));
 */
export async function shadowedFiles(oldBase: Layer[], newBase: Layer[], appLayers: Layer[]): Promise<Shadow[]> {
  const [before, after] = await Promise.all([mergedFingerprints(oldBase), mergedFingerprints(newBase)]);
  const changes = new Map<string, Shadow['change']>();
  for (const [path, fp] of after) {
    const old = before.get(path);
    if (old === undefined) changes.set(path, 'added');
    else if (old !== fp) changes.set(path, 'changed');
  }
  for (const path of before.keys()) if (!after.has(path)) changes.set(path, 'removed');
  if (changes.size === 0) return [];

  const out = new Map<string, Shadow>();
  for (let i = 0; i < appLayers.length; i++) {
    for await (const { entry } of readTar(await appLayers[i]!.uncompressed())) {
      if (entry.type === 'directory') continue;
      const path = clean(entry.path);
      const base = posix.basename(path);
      // A whiteout hides the base's file too: deleting a file the base patched is a shadow as well.
      const hidden =
        base === OPAQUE_WHITEOUT
          ? undefined
          : base.startsWith(WHITEOUT_PREFIX)
            ? posix.join(posix.dirname(path), base.slice(WHITEOUT_PREFIX.length))
            : path;
      if (hidden === undefined) continue;
      const change = changes.get(hidden);
      if (change && !out.has(hidden)) out.set(hidden, { path: `/${hidden}`, change, appLayer: i });
    }
  }
  return [...out.values()].sort((a, b) => a.path.localeCompare(b.path));
}

/** Path -> fingerprint of the filesystem the layers make, base first (directories left out). */
async function mergedFingerprints(layers: Layer[]): Promise<Map<string, Fingerprint>> {
  const files = new Map<string, Fingerprint>();
  for (const layer of layers) {
    for await (const { entry, content } of readTar(await layer.uncompressed())) {
      const path = clean(entry.path);
      const base = posix.basename(path);
      const dir = posix.dirname(path);
      if (base === OPAQUE_WHITEOUT) {
        for (const f of [...files.keys()]) if (f.startsWith(`${dir}/`)) files.delete(f);
        continue;
      }
      if (base.startsWith(WHITEOUT_PREFIX)) {
        const gone = posix.join(dir, base.slice(WHITEOUT_PREFIX.length));
        for (const f of [...files.keys()]) if (f === gone || f.startsWith(`${gone}/`)) files.delete(f);
        continue;
      }
      if (entry.type === 'directory') continue;
      let hash = '';
      if (entry.type === 'file') {
        const h = createHash('sha256');
        for await (const chunk of content) h.update(chunk as Buffer);
        hash = h.digest('hex');
      }
      files.set(
        path,
        `${entry.type}:${entry.mode.toString(8)}:${entry.uid}:${entry.gid}:${entry.linkname ?? ''}:${hash}`,
      );
    }
  }
  return files;
}

function clean(path: string): string {
  return path.replace(/^\/+/, '').replace(/^\.\//, '');
}
