import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

const MAX_SYMLINKS = 40;

/**
 * Resolves `path` inside `root` the way the container will see it: symlinks in the
 * image are followed as if `root` were `/`, so an absolute link or a ".." can never
 * lead to a file of the host. Returns the host path (which may not exist).
 */
export function resolveInRoot(root: string, path: string): string {
  const pending = path.split('/').filter((p) => p !== '' && p !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const host = join(root, ...resolved, part);
    let isLink = false;
    try {
      isLink = lstatSync(host).isSymbolicLink();
    } catch {
      // A missing component: the rest cannot be links either.
    }
    if (!isLink) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) return join(root, ...resolved, part, ...pending);
    const target = readlinkSync(host);
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
  }
  return join(root, ...resolved);
}

/** A text file of the image, read through resolveInRoot; undefined when it is absent or not a regular file. */
export function readRootFile(root: string, path: string): string | undefined {
  const host = resolveInRoot(root, path);
  try {
    if (!lstatSync(host).isFile()) return undefined;
    return readFileSync(host, 'utf8');
  } catch {
    return undefined;
  }
}
