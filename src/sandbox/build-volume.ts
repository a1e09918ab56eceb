import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  rmdirSync,
  statSync,
  statfsSync,
  writeSync,
} from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { SlipwayError, isErrno } from '../errors.js';
import { isMountPoint } from '../runtime/overlay-mount.js';
import { runTool } from '../runtime/host-tools.js';
import { isOwnerAlive, ownerString } from '../store/owner.js';
import { holdTermination } from '../runtime/termination.js';

/**
 * The disk a build may write, as a volume of its own: an ext4 filesystem in a sparse
 * file of exactly the disk limit, loop-mounted (nodev, nosuid) for the build. Everything
 * a build writes lives there: the app's copy, the layers, the build cache, the
 * container's writable root. A build that writes past the limit gets ENOSPC in its
 * own volume and is stopped; the host's filesystem and store never see a byte of it.
 *
 * One volume per app (by cache key), kept between builds, holds the app's build cache,
 * so restoring the cache stays a rename. A second build of the same app while the
 * first runs gets a fresh volume of its own, without the cache.
 *
 *   build-volumes/<key>.ext4    the filesystem (sparse: only what is used takes space)
 *   build-volumes/<key>.lock    who has it mounted (owner string, stale when dead)
 *   build-volumes/<key>.mnt/    its mount point while a build runs
 */
export class BuildVolume {
  readonly #release: () => void;

  /** Use BuildVolume.open. */
  constructor(
    readonly mountPoint: string,
    private readonly image: string,
    private readonly lock: string,
    /** True when this is the app's own volume (its build cache is here); false for a one-off. */
    readonly persistent: boolean,
  ) {
    // A build that is killed must not leave its volume mounted: the work unwinds and closes it, or this does.
    this.#release = holdTermination({
      signals: true,
      cleanup: () => this.close(),
    });
  }

  /**
   * Mounts the app's volume (made or remade when missing, damaged or of another size),
   * or a one-off volume when another build holds the app's.
   */
  static async open(home: string, cacheKey: string, sizeBytes: number): Promise<BuildVolume> {
    const dir = join(home, 'build-volumes');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const key = `${cacheKey.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80)}-${createHash('sha256').update(cacheKey).digest('hex').slice(0, 12)}`;
    const lock = join(dir, `${key}.lock`);
    if (takeLock(lock)) {
      try {
        return await mountVolume(join(dir, `${key}.ext4`), join(dir, `${key}.mnt`), sizeBytes, lock, true);
      } catch (err) {
        rmSync(lock, { force: true });
        throw err;
      }
    }
    const once = `once-${randomBytes(6).toString('hex')}`;
    // A one-off has a lock too: it says whose it is, so a sweep knows when its owner is gone.
    const onceLock = join(dir, `${once}.lock`);
    takeLock(onceLock);
    try {
      return await mountVolume(join(dir, `${once}.ext4`), join(dir, `${once}.mnt`), sizeBytes, onceLock, false);
    } catch (err) {
      rmSync(onceLock, { force: true });
      throw err;
    }
  }

  /**
   * Unmounts and clears the volumes whose build is gone (its process was killed): what a
   * build wrote there goes, the app's build cache stays, one-off volumes are deleted.
   * Answers how many were swept.
   */
  static async sweep(home: string): Promise<number> {
    const dir = join(home, 'build-volumes');
    if (!existsSync(dir)) return 0;
    let swept = 0;
    for (const name of readdirSync(dir)) {
      if (!name.endsWith('.mnt')) continue;
      const key = name.slice(0, -'.mnt'.length);
      const lock = join(dir, `${key}.lock`);
      let holder: string | undefined;
      try {
        holder = readFileSync(lock, 'utf8');
      } catch {
        // no lock: nobody's
      }
      if (holder !== undefined && isOwnerAlive(holder)) continue;
      const mountPoint = join(dir, name);
      if (isMountPoint(mountPoint)) {
        clearScratch(mountPoint);
        await unmount(mountPoint);
      }
      rmdirSync(mountPoint);
      if (key.startsWith('once-')) rmSync(join(dir, `${key}.ext4`), { force: true });
      rmSync(lock, { force: true });
      swept++;
    }
    return swept;
  }

  /** Bytes still free for the build. */
  freeBytes(): number {
    const s = statfsSync(this.mountPoint);
    return s.bavail * s.bsize;
  }

  /** True when the build has (about) filled its volume: what a failure then means. */
  isFull(): boolean {
    return this.freeBytes() < 4 << 20;
  }

  /**
   * Clears what this build wrote for itself, unmounts (and, for a one-off volume,
   * deletes) the volume, and releases the app's lock. The build that wrote the scratch
   * pays for deleting it, not the app's next build: after a cold build that is
   * thousands of files (node_modules), which would double a one-line rebuild's time.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.persistent) clearScratch(this.mountPoint);
      await unmount(this.mountPoint);
    } finally {
      this.#release();
      rmdirSync(this.mountPoint);
      if (!this.persistent) rmSync(this.image, { force: true });
      rmSync(this.lock, { force: true });
    }
  }

  #closed = false;
}

async function mountVolume(
  image: string,
  mountPoint: string,
  sizeBytes: number,
  lock: string,
  keep: boolean,
): Promise<BuildVolume> {
  if (isMountPoint(mountPoint)) await unmount(mountPoint); // left by a build that died
  mkdirSync(mountPoint, { recursive: true, mode: 0o755 });
  const fresh = !existsSync(image) || statSync(image).size !== sizeBytes;
  if (fresh) await makeFilesystem(image, sizeBytes);
  try {
    await mount(image, mountPoint);
  } catch (err) {
    if (fresh) throw err;
    // Damaged (a crash mid-build, no journal): start again; only the cache is lost.
    await makeFilesystem(image, sizeBytes);
    await mount(image, mountPoint);
  }
  // What a killed build of this app left (its workspace, its container's root) goes; the cache stays.
  // After a build that closed its volume there is nothing left to clear.
  clearScratch(mountPoint);
  return new BuildVolume(mountPoint, image, lock, keep);
}

/** Everything on a volume but the app's build cache: what one build wrote for itself. */
function clearScratch(mountPoint: string): void {
  for (const entry of readdirSync(mountPoint)) {
    if (entry === 'cache' || entry === 'lost+found') continue;
    rmSync(join(mountPoint, entry), { recursive: true, force: true });
  }
}

async function makeFilesystem(image: string, sizeBytes: number): Promise<void> {
  rmSync(image, { force: true });
  closeSync(openSync(image, 'wx', 0o600));
  await runTool('truncate', ['-s', String(sizeBytes), image]);
  // No journal: a volume is scratch space and a damaged one is remade. -m 0: no blocks kept for root.
  await runTool('mkfs.ext4', [
    '-q',
    '-F',
    '-O',
    '^has_journal',
    '-m',
    '0',
    '-i',
    '8192',
    '-E',
    'nodiscard',
    image,
  ]).catch((err: unknown) => {
    rmSync(image, { force: true });
    throw new SlipwayError(
      'TOOL_FAILED',
      `cannot make a build volume (the disk limit needs mkfs.ext4 from Debian's e2fsprogs): ${(err as Error).message}`,
      { cause: err },
    );
  });
}

async function mount(image: string, mountPoint: string): Promise<void> {
  try {
    // discard: what a build deletes is given back to the host (holes punched in the sparse file).
    await runTool('mount', ['-t', 'ext4', '-o', 'loop,nodev,nosuid,noatime,discard', image, mountPoint]);
  } catch (err) {
    throw new SlipwayError(
      'TOOL_FAILED',
      `cannot mount the build volume ${image} (it needs loop devices: modprobe loop): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

async function unmount(mountPoint: string): Promise<void> {
  if (!isMountPoint(mountPoint)) return;
  try {
    await runTool('umount', [mountPoint]);
  } catch {
    await runTool('umount', ['--lazy', mountPoint]);
  }
}

/** Creates the lock file for this process; false when a live process holds it. A dead holder's lock is taken over. */
function takeLock(file: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, ownerString());
      closeSync(fd);
      return true;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
      let holder: string;
      try {
        holder = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      if (isOwnerAlive(holder)) return false;
      rmSync(file, { force: true });
    }
  }
  return false;
}
