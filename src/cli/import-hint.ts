import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SlipwayError } from '../errors.js';

/** What an existing file or directory given where an image reference was expected looks like. */
export type LocalSourceKind =
  | 'oci-layout'
  | 'oci-archive'
  | 'docker-archive'
  | 'droplet'
  | 'rootfs-dir'
  | 'rootfs-tarball'
  | 'compressed-tarball'
  | 'directory'
  | 'file';

const MAX_ENTRIES = 100_000;

/**
 * Looks at `path` (an existing file or directory) as `slipway import` might take it: an
 * OCI layout (`oci-layout` file), a root filesystem directory (bin/, etc/ or usr/), a tar
 * holding `manifest.json` (docker save), `oci-layout` and `index.json` (an OCI
 * archive), `staging_info.yml` (a droplet), or else files (a rootfs tarball); a gzip or
 * zstd file is a compressed tarball (a rootfs or a droplet, by its name).
 */
export function describeLocalSource(path: string): LocalSourceKind {
  const st = statSync(path);
  if (st.isDirectory()) {
    if (existsSync(join(path, 'oci-layout'))) return 'oci-layout';
    if (['bin', 'etc', 'usr'].some((d) => existsSync(join(path, d)))) return 'rootfs-dir';
    return 'directory';
  }
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(512);
    const n = readSync(fd, head, 0, 512, 0);
    if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'compressed-tarball';
    if (n >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'compressed-tarball';
    if (n < 512 || head.toString('latin1', 257, 262) !== 'ustar') return 'file';
    const names = new Set<string>();
    let offset = 0;
    for (let i = 0; i < MAX_ENTRIES; i++) {
      const h = Buffer.alloc(512);
      if (readSync(fd, h, 0, 512, offset) < 512 || h.every((b) => b === 0)) break;
      const name = cString(h, 0, 100);
      const prefix = h.toString('latin1', 257, 262) === 'ustar' ? cString(h, 345, 155) : '';
      names.add((prefix ? `${prefix}/${name}` : name).replace(/^\.\//, '').replace(/\/$/, ''));
      offset += 512 + Math.ceil(entrySize(h) / 512) * 512;
    }
    if (names.has('oci-layout') && names.has('index.json')) return 'oci-archive';
    if (names.has('manifest.json')) return 'docker-archive';
    if (names.has('staging_info.yml')) return 'droplet';
    return 'rootfs-tarball';
  } finally {
    closeSync(fd);
  }
}

function cString(b: Buffer, start: number, length: number): string {
  const s = b.subarray(start, start + length);
  const nul = s.indexOf(0);
  return s.toString('utf8', 0, nul === -1 ? length : nul);
}

/** A tar header's size field: octal, or base-256 when its high bit is set. */
function entrySize(h: Buffer): number {
  if ((h[124]! & 0x80) !== 0) {
    let v = 0;
    for (let i = 125; i < 136; i++) v = v * 256 + h[i]!;
    return v;
  }
  return Number.parseInt(cString(h, 124, 12).trim() || '0', 8) || 0;
}

/**
 * The error for `slipway import PATH [NAME]` where PATH is an existing file or
 * directory given with no transport: what it looks like and the command to use.
 *
 * @example importHint('/tmp/deb.tar', 'x:1') // "... /tmp/deb.tar is a docker archive (docker save, podman save): slipway import docker-archive:/tmp/deb.tar x:1"
 */
export function importHint(path: string, name: string | undefined): SlipwayError {
  const kind = describeLocalSource(path);
  const as = name ?? 'NAME[:TAG]';
  const tail = name ? ` ${name}` : '';
  const [what, command] = ((): [string, string] => {
    switch (kind) {
      case 'oci-layout':
        return ['an OCI image layout directory', `slipway import oci:${path}${tail}`];
      case 'oci-archive':
        return ['an OCI archive (a tar of an OCI layout)', `slipway import oci-archive:${path}${tail}`];
      case 'docker-archive':
        return ['a docker archive (docker save, podman save)', `slipway import docker-archive:${path}${tail}`];
      case 'droplet':
        return ['a Cloud Foundry droplet', `slipway droplet import ${path} ${as}`];
      case 'rootfs-dir':
        return ['a root filesystem directory', `slipway import --rootfs ${path} ${as}`];
      case 'rootfs-tarball':
        return ['a tarball of files (a root filesystem)', `slipway import --rootfs ${path} ${as}`];
      case 'compressed-tarball':
        return [
          'a compressed file (a root filesystem tarball, if it is a tar)',
          `slipway import --rootfs ${path} ${as}`,
        ];
      case 'directory':
        return [
          'a directory, but neither an OCI layout (no oci-layout file) nor a root filesystem (no bin/, etc/ or usr/)',
          `slipway import --rootfs ${path} ${as}, or slipway build ${as} --path ${path} for an app`,
        ];
      case 'file':
        return [
          'a file, but not a tar archive',
          `slipway import REFERENCE${tail} with an image reference (docker://, oci:DIR, oci-archive:FILE, docker-archive:FILE), or slipway import --rootfs DIR|TARBALL ${as}`,
        ];
    }
  })();
  return new SlipwayError(
    'INVALID_ARGUMENT',
    `import: ${path} is ${what}; import it with: ${command} (see slipway import --help)`,
    { detail: { path, looksLike: kind } },
  );
}

/** True when `src` names no transport (oci:, docker://, ...) and is an existing file or directory. */
export function isBarePath(src: string): boolean {
  if (/^(oci|oci-archive|docker-archive|droplet):/.test(src) || src.startsWith('docker://')) return false;
  return existsSync(src);
}
