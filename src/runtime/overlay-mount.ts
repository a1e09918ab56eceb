import { mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SlipwayError } from '../errors.js';
import { runTool } from './host-tools.js';

/**
 * A container's root filesystem: an overlay of the cached layers (lowerdirs) under a
 * fresh upper directory of its own, mounted at `<dir>/rootfs`.
 *
 * Mount data is one page (4096 bytes), and 150 lowerdirs named by their 64-hex
 * diffIDs would take ~10 kB. So, as Docker's overlay2 driver does, each lowerdir is
 * reached through a short symlink (`l/0`, `l/1`, ...) in the container directory and
 * `mount` runs with that directory as its working directory, so the option string
 * holds only relative names: `lowerdir=l/2:l/1:l/0,upperdir=upper,workdir=work`, about
 * five bytes a layer, which fits overlayfs' own limit of 500 layers.
 *
 * `redirect_dir`, `metacopy` and `index` are off whatever the module defaults: the
 * upper directory then holds whole files and plain whiteouts, which is what staging
 * turns into a layer (src/layer/overlay.ts).
 */

/** overlayfs refuses more lower layers than this (OVL_MAX_STACK). */
export const MAX_LOWER_LAYERS = 500;
const MOUNT_DATA_LIMIT = 4096;

export interface OverlayDirs {
  /** The mount point. */
  rootfs: string;
  upper: string;
  work: string;
}

export function overlayDirs(containerDir: string): OverlayDirs {
  return { rootfs: join(containerDir, 'rootfs'), upper: join(containerDir, 'upper'), work: join(containerDir, 'work') };
}

export interface OverlayOptions {
  /**
   * Mount with `volatile`: no sync of the upper directory, ever, not even at unmount
   * (which otherwise syncs the whole host filesystem holding it: 50-150 ms on a busy
   * host). For containers removed when they exit, whose writes nobody keeps; after a
   * host crash the kernel refuses to mount such an upper directory again.
   */
  volatile?: boolean;
  /** Put upper and work in this directory (a build's size-limited volume) instead of the container's. */
  scratchDir?: string;
}

/**
 * Mounts the overlay for a container whose directory is `containerDir`, with
 * `layerDirs` (base first) as its lower layers.
 */
export async function mountOverlay(
  containerDir: string,
  layerDirs: readonly string[],
  options: OverlayOptions = {},
): Promise<OverlayDirs> {
  const dirs =
    options.scratchDir === undefined
      ? overlayDirs(containerDir)
      : { ...overlayDirs(options.scratchDir), rootfs: overlayDirs(containerDir).rootfs };
  const lowers = withoutRepeats(layerDirs);
  if (lowers.length > MAX_LOWER_LAYERS) {
    throw new SlipwayError(
      'UNSUPPORTED',
      `the image has ${lowers.length} distinct layers; overlayfs stacks at most ${MAX_LOWER_LAYERS}: flatten it first`,
      {
        detail: { layers: lowers.length },
      },
    );
  }
  for (const d of [dirs.rootfs, dirs.upper, dirs.work]) mkdirSync(d, { recursive: true, mode: 0o755 });
  const links = join(containerDir, 'l');
  rmSync(links, { recursive: true, force: true });
  mkdirSync(links, { mode: 0o700 });
  const names: string[] = [];
  if (lowers.length === 0) {
    // overlayfs needs one lower layer: an image without layers gets an empty one.
    mkdirSync(join(links, 'empty'));
    names.push('l/empty');
  }
  lowers.forEach((dir, i) => {
    symlinkSync(resolve(dir), join(links, i.toString(36)));
    names.push(`l/${i.toString(36)}`);
  });
  // Topmost first, as overlayfs wants them.
  const [upper, work] = options.scratchDir === undefined ? ['upper', 'work'] : [dirs.upper, dirs.work];
  const data = `lowerdir=${names.reverse().join(':')},upperdir=${upper},workdir=${work},redirect_dir=off,metacopy=off,index=off${options.volatile ? ',volatile' : ''}`;
  if (data.length >= MOUNT_DATA_LIMIT) {
    throw new SlipwayError(
      'UNSUPPORTED',
      `overlay mount options for ${lowers.length} layers need ${data.length} bytes; the kernel takes ${MOUNT_DATA_LIMIT - 1}`,
    );
  }
  await runTool('mount', ['-t', 'overlay', 'overlay', '-o', data, 'rootfs'], { cwd: containerDir });
  return dirs;
}

/** Unmounts a container's rootfs if it is mounted (lazily when something still holds it). */
export async function unmountOverlay(containerDir: string): Promise<void> {
  const { rootfs } = overlayDirs(containerDir);
  if (!isMountPoint(rootfs)) return;
  try {
    await runTool('umount', [rootfs]);
  } catch {
    await runTool('umount', ['--lazy', rootfs]);
  }
}

/** True when `path` (absolute, no symlinks) is a mount point in this mount namespace. */
export function isMountPoint(path: string): boolean {
  const target = resolve(path);
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint !== undefined && unescapeMountinfo(mountPoint) === target) return true;
  }
  return false;
}

/** mountinfo writes space, tab, newline and backslash as octal escapes. */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * The layer directories with each one kept only at its topmost position. overlayfs
 * refuses the same lowerdir twice, and dropping the lower copy changes nothing: a
 * layer applied again on top re-sets every path it names (files, whiteouts, opaque
 * directories) to the same result, whatever the layers between did to those paths,
 * and leaves every other path as the layers between left it.
 */
export function withoutRepeats(layerDirs: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = layerDirs.length - 1; i >= 0; i--) {
    const d = layerDirs[i]!;
    if (seen.has(d)) continue;
    seen.add(d);
    out.push(d);
  }
  return out.reverse();
}
