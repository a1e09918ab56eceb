import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { SlipwayError } from '../errors.js';

/**
 * The tar containers of oci-archive and docker-archive. These hold only plain
 * files and directories, so tar-stream reads and writes them; layer tars go through
 * src/layer instead.
 */

/** A fixed mtime for archive members so the same content gives the same archive. */
const ARCHIVE_MTIME = new Date(315532801 * 1000);

/** Makes a temporary directory and removes it after `fn`, whatever happens. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(process.env.SLIPWAY_TMPDIR ?? tmpdir(), `slipway-${prefix}-`));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Unpacks an archive's files into `dir`, refusing any member that would land outside it. */
export async function unpackArchive(file: string, dir: string): Promise<void> {
  const root = resolve(dir);
  const extract = tar.extract();
  const source = createReadStream(file);
  source.on('error', (err) =>
    extract.destroy(new SlipwayError('NOT_FOUND', `cannot read archive ${file}: ${err.message}`, { cause: err })),
  );
  source.pipe(extract);
  for await (const entry of extract) {
    const name = safeMemberPath(entry.header.name, file);
    const target = join(root, name);
    if (entry.header.type === 'directory') {
      await mkdir(target, { recursive: true });
      entry.resume();
    } else if (entry.header.type === 'file') {
      await mkdir(dirname(target), { recursive: true });
      await pipeline(entry, createWriteStream(target));
    } else {
      // Symlinks and devices have no place in an image archive; skipping them keeps the unpack contained.
      entry.resume();
    }
  }
}

function safeMemberPath(name: string, file: string): string {
  const norm = posix.normalize(name.replace(/^\.\//, ''));
  if (name.startsWith('/') || norm === '..' || norm.startsWith('../')) {
    throw new SlipwayError(
      'UNSAFE_ARCHIVE_ENTRY',
      `archive ${file} has a member "${name}" outside the archive root; refusing to unpack it`,
    );
  }
  return norm;
}

export interface ArchiveMember {
  name: string;
  size: number;
  /** Opens the content; called once, when the member is written. */
  open: () => Promise<Readable> | Readable;
}

/** Writes members, in the order given, as a tar archive at `file` (via a temp file, then renamed). */
export async function writeArchive(
  file: string,
  members: AsyncIterable<ArchiveMember> | Iterable<ArchiveMember>,
): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  const pack = tar.pack();
  const done = pipeline(pack, createWriteStream(tmp));
  try {
    const dirs = new Set<string>();
    for await (const m of members) {
      for (const d of parentDirs(m.name)) {
        if (dirs.has(d)) continue;
        dirs.add(d);
        pack.entry({ name: `${d}/`, type: 'directory', mode: 0o755, mtime: ARCHIVE_MTIME, uid: 0, gid: 0 });
      }
      const entry = pack.entry({ name: m.name, size: m.size, mode: 0o644, mtime: ARCHIVE_MTIME, uid: 0, gid: 0 });
      await pipeline(await m.open(), entry);
    }
    pack.finalize();
    await done;
    await rename(tmp, file);
  } catch (err) {
    pack.destroy();
    await done.catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}

function parentDirs(name: string): string[] {
  const parts = name.split('/').slice(0, -1);
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** Every file under `dir`, sorted, as archive members (for packing an OCI layout). */
export async function* directoryMembers(dir: string, prefix = ''): AsyncIterable<ArchiveMember> {
  const names = (await readdir(join(dir, prefix))).sort();
  for (const n of names) {
    const rel = prefix ? `${prefix}/${n}` : n;
    const st = await stat(join(dir, rel));
    if (st.isDirectory()) yield* directoryMembers(dir, rel);
    else yield { name: rel, size: st.size, open: () => createReadStream(join(dir, rel)) };
  }
}
