import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  createReadStream,
  createWriteStream,
  existsSync,
  fchmodSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import yauzl from 'yauzl';
import { SlipwayError } from '../../errors.js';
import { safeComponents, SafeRoot, unsafeEntry } from '../../layer/path-safety.js';
import type { PackageBits, PushedResource } from '../workload-services.js';

/**
 * Pushed source, kept on the host (`$SLIPWAY_HOME/packages`):
 *
 *   packages/<guid>/files.json   every file of the package: path, mode, sha1, size
 *   resources/<aa>/<sha1>        the pool: each file once, by its sha1 (what resource
 *                                matching answers from: a second push sends only what changed)
 *
 * An upload's zip is untrusted: its entries are checked as the layer extractor checks
 * tar members (no absolute path, no "..", nothing through a link), written to the pool
 * as they stream, and never extracted anywhere else. Staging writes a package out into
 * its workspace from the pool (`extract`), again refusing any path that leaves it.
 */

/** The most files a package may have, and the most bytes one file may be (a zip bomb stops there). */
const MAX_FILES = 200_000;
const MAX_FILE_BYTES = 4 * 2 ** 30;
/** Package tars carry no times of their own (staging sets them): CNB's fixed 1980-01-01T00:00:01Z. */
const TAR_MTIME = new Date('1980-01-01T00:00:01Z');

interface PackageFile {
  path: string;
  mode: string;
  sha1: string;
  size: number;
}

export class PackageStore implements PackageBits {
  readonly #packages: string;
  readonly #pool: string;

  constructor(home: string) {
    this.#packages = join(home, 'packages');
    this.#pool = join(home, 'resources');
    mkdirSync(this.#packages, { recursive: true, mode: 0o700 });
    mkdirSync(this.#pool, { recursive: true, mode: 0o700 });
  }

  async matches(resources: PushedResource[]): Promise<PushedResource[]> {
    return resources.filter((r) => /^[0-9a-f]{40}$/.test(r.sha1) && this.#has(r.sha1, r.size));
  }

  async store(
    packageGuid: string,
    zip: Readable | undefined,
    matched: PushedResource[],
  ): Promise<{ checksum: string }> {
    const files = new Map<string, PackageFile>();
    for (const r of matched) {
      const path = checkedPath(r.path);
      if (!this.#has(r.sha1, r.size)) {
        throw new SlipwayError(
          'INVALID_ARGUMENT',
          `resource ${r.path} (sha1 ${r.sha1}) is not on the platform: send it in the package bits`,
          { detail: { path: r.path } },
        );
      }
      files.set(path, { path, mode: checkedMode(r.mode), sha1: r.sha1, size: r.size });
    }
    if (zip) for (const f of await this.#readZip(zip)) files.set(f.path, f);
    const list = [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const dir = join(this.#packages, packageGuid);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeAtomic(join(dir, 'files.json'), JSON.stringify(list));
    const checksum = createHash('sha256')
      .update(list.map((f) => `${f.path}\0${f.mode}\0${f.sha1}\n`).join(''))
      .digest('hex');
    return { checksum };
  }

  async extract(packageGuid: string, dir: string): Promise<void> {
    const list = this.#files(packageGuid);
    const root = new SafeRoot(dir);
    for (const f of list) {
      const parts = safeComponents(f.path, f.path);
      const parent = root.directory(parts.slice(0, -1), f.path, true)!;
      const target = join(parent, parts[parts.length - 1]!);
      // A fresh name in a directory proven real: written O_EXCL|O_NOFOLLOW, so nothing is written through a link.
      const fd = openSync(
        target,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        Number.parseInt(f.mode, 8) & 0o777,
      );
      await pipeline(createReadStream(this.#poolPath(f.sha1)), createWriteStream('', { fd }));
    }
  }

  /**
   * The package's files as a tar stream (for a build worker on another host): regular
   * files only, with their modes, in the list's order; no directories, no links. The
   * list is read, and every path checked, before the first byte, so an unknown package
   * throws NOT_FOUND here rather than failing the stream.
   */
  tar(packageGuid: string): Readable {
    const list = this.#files(packageGuid);
    for (const f of list) checkedPath(f.path);
    const pack = tarStream.pack();
    const fill = async () => {
      for (const f of list) {
        const entry = pack.entry({
          name: f.path,
          type: 'file',
          size: f.size,
          mode: Number.parseInt(f.mode, 8) & 0o777,
          mtime: TAR_MTIME,
          uid: 0,
          gid: 0,
        });
        // tar-stream refuses content whose length differs from the header: a pool file that changed fails the stream.
        await pipeline(createReadStream(this.#poolPath(f.sha1)), entry);
      }
      pack.finalize();
    };
    fill().catch((err: unknown) => pack.destroy(err as Error));
    // tar-stream's streams are streamx ones: a Node Readable over it for the HTTP face.
    return Readable.from(pack, { objectMode: false });
  }

  async drop(packageGuid: string): Promise<void> {
    rmSync(join(this.#packages, packageGuid), { recursive: true, force: true });
  }

  #files(packageGuid: string): PackageFile[] {
    const file = join(this.#packages, packageGuid, 'files.json');
    if (!/^[0-9a-zA-Z-]+$/.test(packageGuid) || !existsSync(file))
      throw new SlipwayError('NOT_FOUND', `package ${packageGuid} has no bits (it was never uploaded)`, {
        detail: { package: packageGuid },
      });
    return JSON.parse(readFileSync(file, 'utf8')) as PackageFile[];
  }

  #has(sha1: string, size?: number): boolean {
    if (!/^[0-9a-f]{40}$/.test(sha1)) return false;
    try {
      const st = statSync(this.#poolPath(sha1));
      return size === undefined || st.size === size;
    } catch {
      return false;
    }
  }

  #poolPath(sha1: string): string {
    return join(this.#pool, sha1.slice(0, 2), sha1);
  }

  /** Every file entry of the zip into the pool (by its sha1, as it streams); the list of its files. */
  async #readZip(input: Readable): Promise<PackageFile[]> {
    const tmp = join(this.#pool, `.upload-${randomBytes(8).toString('hex')}.zip`);
    try {
      // yauzl reads a zip from its central directory at the end: the stream goes to a file first.
      await pipeline(input, createWriteStream(tmp, { mode: 0o600 }));
      return await this.#entries(tmp);
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  #entries(zipFile: string): Promise<PackageFile[]> {
    return new Promise((resolve, reject) => {
      yauzl.open(
        zipFile,
        { lazyEntries: true, autoClose: true, strictFileNames: true, validateEntrySizes: true },
        (err, zip) => {
          if (err || !zip) return reject(invalidZip(err));
          const files: PackageFile[] = [];
          const fail = (e: unknown) => {
            zip.close();
            reject(e instanceof SlipwayError ? e : invalidZip(e));
          };
          zip.on('error', fail);
          zip.on('end', () => resolve(files));
          zip.on('entry', (entry: yauzl.Entry) => {
            try {
              if (files.length >= MAX_FILES)
                throw new SlipwayError('TOO_LARGE', `the package has more than ${MAX_FILES} files`);
              const unixMode = (entry.externalFileAttributes >>> 16) & 0xffff;
              const type = unixMode & 0o170000;
              const name = entry.fileName;
              if (name.endsWith('/') || type === 0o040000) {
                checkedPath(name);
                zip.readEntry();
                return;
              }
              // Links in a pushed app are refused: the cf CLI sends their targets' contents, and a link could lead staging out of its workspace.
              if (type === 0o120000) throw unsafeEntry(name, 'it is a symbolic link');
              if (type !== 0 && type !== 0o100000) throw unsafeEntry(name, 'it is not a regular file');
              if (entry.uncompressedSize > MAX_FILE_BYTES)
                throw new SlipwayError('TOO_LARGE', `${name} is larger than ${MAX_FILE_BYTES} bytes`);
              const path = checkedPath(name);
              const mode = (unixMode & 0o777 || 0o644).toString(8);
              zip.openReadStream(entry, (e, stream) => {
                if (e || !stream) return fail(e);
                this.#intoPool(stream, entry.uncompressedSize)
                  .then(({ sha1, size }) => {
                    files.push({ path, mode, sha1, size });
                    zip.readEntry();
                  })
                  .catch(fail);
              });
            } catch (e) {
              fail(e);
            }
          });
          zip.readEntry();
        },
      );
    });
  }

  /** One file into the pool, named by the sha1 of what streamed (kept only if new). */
  async #intoPool(stream: Readable, expected: number): Promise<{ sha1: string; size: number }> {
    const tmp = join(this.#pool, `.in-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha1');
    let size = 0;
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      for await (const chunk of stream) {
        const b = chunk as Buffer;
        size += b.length;
        if (size > expected) throw new SlipwayError('INVALID_ARCHIVE', 'a zip entry is larger than its header says');
        hash.update(b);
        for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
      }
      fchmodSync(fd, 0o600);
    } catch (err) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw err;
    }
    closeSync(fd);
    const sha1 = hash.digest('hex');
    const target = this.#poolPath(sha1);
    mkdirSync(join(this.#pool, sha1.slice(0, 2)), { recursive: true, mode: 0o700 });
    if (this.#has(sha1)) rmSync(tmp);
    else renameSync(tmp, target);
    return { sha1, size };
  }
}

function checkedPath(name: string): string {
  const parts = safeComponents(name.replace(/\/+$/, ''), name);
  if (parts.length === 0) throw unsafeEntry(name, 'it names the package root');
  return parts.join('/');
}

function checkedMode(mode: string): string {
  if (!/^[0-7]{3,6}$/.test(mode))
    throw new SlipwayError('INVALID_ARGUMENT', `resource mode "${mode}" is not an octal mode such as 644`);
  return (Number.parseInt(mode, 8) & 0o777).toString(8);
}

function invalidZip(err: unknown): SlipwayError {
  return new SlipwayError(
    'INVALID_ARCHIVE',
    `the package bits are not a zip that can be read: ${(err as Error | undefined)?.message ?? 'unknown error'}`,
    { cause: err },
  );
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}
