import { lstat, readFile, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { isErrno } from '../errors.js';
import { parseOsRelease, type OsRelease } from './os-release.js';
import { parseDpkgStatus, type PackageSet } from './packages.js';

/** What a stack records about a root filesystem: its packages, its distro, its users. */
export interface RootfsFacts {
  packages: PackageSet;
  os: OsRelease;
  /** /etc/passwd and /etc/group, to check (or add) the stack user. */
  passwd: string;
  group: string;
}

export const DPKG_STATUS = 'var/lib/dpkg/status';
export const OS_RELEASE = ['etc/os-release', 'usr/lib/os-release'] as const;

/** Reads the facts from a root filesystem directory (symlinks resolved inside the rootfs, never on the host). */
export async function readRootfsFacts(root: string, nativeArch?: string): Promise<RootfsFacts> {
  const read = (rel: string) => readInRoot(root, rel);
  let osText: string | undefined;
  for (const p of OS_RELEASE) if ((osText = await read(p)) !== undefined) break;
  return factsFrom(
    {
      status: await read(DPKG_STATUS),
      osRelease: osText,
      passwd: await read('etc/passwd'),
      group: await read('etc/group'),
    },
    nativeArch,
  );
}

export function factsFrom(
  files: {
    status?: string | undefined;
    osRelease?: string | undefined;
    passwd?: string | undefined;
    group?: string | undefined;
  },
  nativeArch?: string,
): RootfsFacts {
  return {
    packages: files.status ? parseDpkgStatus(files.status, nativeArch) : {},
    os: files.osRelease ? parseOsRelease(files.osRelease) : {},
    passwd: files.passwd ?? '',
    group: files.group ?? '',
  };
}

/** The passwd entry of `name`, if any: [name, uid, gid, home]. */
export function passwdEntry(passwd: string, name: string): { uid: number; gid: number; home: string } | undefined {
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 7) return { uid: Number(f[2]), gid: Number(f[3]), home: f[5]! };
  }
  return undefined;
}

/** A file's text inside `root`, following symlinks as if `root` were `/`; undefined when absent. */
async function readInRoot(root: string, rel: string, hops = 0): Promise<string | undefined> {
  const abs = join(root, rel);
  try {
    const st = await lstat(abs);
    if (st.isSymbolicLink()) {
      if (hops > 8) return undefined;
      const target = await readlink(abs);
      const next = target.startsWith('/') ? target.slice(1) : posix.join(posix.dirname(rel), target);
      if (posix.normalize(next).startsWith('..')) return undefined;
      return readInRoot(root, posix.normalize(next), hops + 1);
    }
    if (!st.isFile()) return undefined;
    return await readFile(abs, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
    throw err;
  }
}
