import { createHash } from 'node:crypto';
import { constants, createReadStream, createWriteStream, existsSync, openSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tarStream from 'tar-stream';
import yauzl from 'yauzl';
import { SlipwayError } from '../../errors.js';
import { safeComponents, SafeRoot, unsafeEntry } from '../../layer/path-safety.js';
import { isDigest, type Digest } from '../../oci/digest.js';
import type { LocalStore } from '../../store/local-store.js';
import type { BlobWriter } from '../../store/types.js';
import type { PackageBits, PushedResource } from '../workload-services.js';

/**
 * Pushed source, kept in the platform's image store (the blob store every node
 * shares: a directory, or S3), so any node takes an upload and any worker stages it:
 *
 *   packages:<package guid>   an artifact manifest whose config lists the files (path,
 *                             mode, sha1, size, offset) and whose one layer is their bytes,
 *                             one after another
 *
 * Tagged, the bits live as long as the package (GC keeps them; `drop` untags). CF's
 * resource pool, what a second push is matched against so the client sends only what
 * changed, is an index by sha1 into those data blobs (`ResourcePool`, in the platform's
 * database); a matched file's bytes are copied from the older package into the new one
 * (as Cloud Controller copies them from its pool into the new package), checked
 * against their sha1 as they go, so every package stands alone.
 *
 * An upload's zip is untrusted: its entries are checked as the layer extractor checks
 * tar members (no absolute path, no "..", no link, nothing but regular files). Staging
 * writes a package out into its workspace refusing any path that leaves it.
 */

/** The most files a package may have, and the most bytes one file may be (a zip bomb stops there). */
const MAX_FILES = 200_000;
const MAX_FILE_BYTES = 4 * 2 ** 30;
/** The file list of 200,000 files, at most. */
const MAX_LIST_BYTES = 64 * 2 ** 20;
/** Package tars carry no times of their own (staging sets them): CNB's fixed 1980-01-01T00:00:01Z. */
const TAR_MTIME = new Date('1980-01-01T00:00:01Z');

export const PACKAGES_REPOSITORY = 'packages';
const PACKAGE_ARTIFACT = 'application/vnd.slipway.package.v1';
const FILES_MEDIA_TYPE = 'application/vnd.slipway.package.files.v1+json';
const DATA_MEDIA_TYPE = 'application/octet-stream';
const MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';

/** Where a pushed file's bytes are: a package's data blob and their range in it. */
export interface PooledResource {
  sha1: string;
  size: number;
  data: Digest;
  offset: number;
}

/** CF's resource pool: each pushed file's sha1 to where its bytes are. */
export interface ResourcePool {
  /** Where these sha1s are (those the pool knows; any one place for each). */
  findResources(sha1s: string[]): Promise<PooledResource[]>;
  addResources(resources: PooledResource[]): Promise<void>;
}

interface PackageFile {
  path: string;
  mode: string;
  sha1: string;
  size: number;
  offset: number;
}

export class PackageStore implements PackageBits {
  readonly #images: LocalStore;
  readonly #pool: ResourcePool;

  constructor(images: LocalStore, pool: ResourcePool) {
    this.#images = images;
    this.#pool = pool;
  }

  async matches(resources: PushedResource[]): Promise<PushedResource[]> {
    const found = await this.#findLive(resources.map((r) => r.sha1));
    return resources.filter((r) => found.get(r.sha1)?.size === r.size);
  }

  async store(
    packageGuid: string,
    zip: Readable | undefined,
    matched: PushedResource[],
  ): Promise<{ checksum: string }> {
    checkedGuid(packageGuid);
    const scratch = await mkdtemp(join(tmpdir(), 'slipway-package-'));
    try {
      let zipFile: string | undefined;
      if (zip) {
        // yauzl reads a zip from its central directory at the end: the stream goes to a file first.
        zipFile = join(scratch, 'bits.zip');
        await pipeline(zip, createWriteStream(zipFile, { mode: 0o600 }));
      }
      return await this.#write(packageGuid, zipFile ? zipEntries(zipFile) : undefined, matched);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /**
   * Packages kept by an older Slipway on the host (`HOME/packages/<guid>/files.json`, the
   * bytes in `HOME/resources/<aa>/<sha1>`) moved into the image store, then the old
   * directories removed; a package already moved is skipped, so an import cut short
   * resumes. Answers how many were moved.
   */
  async importLegacy(home: string): Promise<number> {
    const packages = join(home, 'packages');
    const resources = join(home, 'resources');
    if (!existsSync(packages)) return 0;
    let moved = 0;
    for (const guid of await readdir(packages)) {
      const list = join(packages, guid, 'files.json');
      if (!existsSync(list)) continue;
      if (await this.#images.meta.resolveTag(PACKAGES_REPOSITORY, guid)) continue;
      const files = JSON.parse(await readFile(list, 'utf8')) as {
        path: string;
        mode: string;
        sha1: string;
        size: number;
      }[];
      async function* entries() {
        for (const f of files) {
          if (!/^[0-9a-f]{40}$/.test(f.sha1)) throw new SlipwayError('INVALID_ARGUMENT', `${list}: bad sha1 ${f.sha1}`);
          const path = checkedPath(f.path);
          yield {
            path,
            mode: checkedMode(f.mode),
            size: f.size,
            stream: createReadStream(join(resources, f.sha1.slice(0, 2), f.sha1)),
          };
        }
      }
      await this.#write(guid, entries(), []);
      moved++;
    }
    await rm(packages, { recursive: true, force: true });
    await rm(resources, { recursive: true, force: true });
    return moved;
  }

  async #write(
    packageGuid: string,
    entries: AsyncIterable<{ path: string; mode: string; size: number; stream: Readable }> | undefined,
    matched: PushedResource[],
  ): Promise<{ checksum: string }> {
    const pooled = await this.#findLive(matched.map((r) => r.sha1));
    const wanted = new Map<string, PushedResource>();
    for (const r of matched) {
      const path = checkedPath(r.path);
      const at = pooled.get(r.sha1);
      if (!/^[0-9a-f]{40}$/.test(r.sha1) || at === undefined || at.size !== r.size)
        throw new SlipwayError(
          'INVALID_ARGUMENT',
          `resource ${r.path} (sha1 ${r.sha1}) is not on the platform: send it in the package bits`,
          { detail: { path: r.path } },
        );
      wanted.set(path, { ...r, path, mode: checkedMode(r.mode) });
    }
    return this.#images.withLease(async (lease) => {
      const writer = await lease.writer();
      const files = new Map<string, PackageFile>();
      let offset = 0;
      try {
        // The client's files first (a file it sends wins over a matched one of the same path)...
        if (entries)
          for await (const entry of entries) {
            if (files.size >= MAX_FILES)
              throw new SlipwayError('TOO_LARGE', `the package has more than ${MAX_FILES} files`);
            const sha1 = await copyInto(writer, entry.stream, entry.size, 'a file is larger than its record says');
            files.set(entry.path, { path: entry.path, mode: entry.mode, sha1, size: entry.size, offset });
            offset += entry.size;
          }
        // ...then the matched ones, from the packages that have them.
        for (const r of wanted.values()) {
          if (files.has(r.path)) continue;
          const at = pooled.get(r.sha1)!;
          const source = await this.#images.blobs.open(at.data, { start: at.offset, end: at.offset + at.size - 1 });
          const sha1 = await copyInto(writer, source, r.size, 'a pooled file is larger than recorded');
          if (sha1 !== r.sha1)
            throw new SlipwayError('DIGEST_MISMATCH', `the platform's copy of ${r.path} (sha1 ${r.sha1}) is damaged`, {
              detail: { path: r.path, data: at.data },
            });
          files.set(r.path, { path: r.path, mode: r.mode, sha1, size: r.size, offset });
          offset += r.size;
        }
      } catch (err) {
        await writer.abort();
        throw err;
      }
      const data = await writer.commit();
      const list = [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      const listBytes = Buffer.from(JSON.stringify({ files: list }));
      const config = await lease.putBytes(listBytes);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MANIFEST_MEDIA_TYPE,
          artifactType: PACKAGE_ARTIFACT,
          config: { mediaType: FILES_MEDIA_TYPE, digest: config.digest, size: config.size },
          layers: [{ mediaType: DATA_MEDIA_TYPE, digest: data.digest, size: data.size }],
        }),
      );
      await this.#images.putManifest(PACKAGES_REPOSITORY, manifest, MANIFEST_MEDIA_TYPE, [packageGuid], lease);
      await this.#pool.addResources(
        list.map((f) => ({ sha1: f.sha1, size: f.size, data: data.digest, offset: f.offset })),
      );
      const checksum = createHash('sha256')
        .update(list.map((f) => `${f.path}\0${f.mode}\0${f.sha1}\n`).join(''))
        .digest('hex');
      return { checksum };
    });
  }

  async extract(packageGuid: string, dir: string): Promise<void> {
    const { files, data } = await this.#package(packageGuid);
    const root = new SafeRoot(dir);
    await this.#eachFile(files, data, async (f, bytes) => {
      const parts = safeComponents(f.path, f.path);
      const parent = root.directory(parts.slice(0, -1), f.path, true)!;
      // A fresh name in a directory proven real: written O_EXCL|O_NOFOLLOW, so nothing is written through a link.
      const fd = openSync(
        join(parent, parts[parts.length - 1]!),
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        Number.parseInt(f.mode, 8) & 0o777,
      );
      await pipeline(bytes, createWriteStream('', { fd }));
    });
  }

  /**
   * The package's files as a tar stream (for a build worker on another host): regular
   * files only, with their modes, in path order; no directories, no links. The package
   * is looked up before the first byte, so an unknown one throws NOT_FOUND here rather
   * than failing the stream.
   */
  async tar(packageGuid: string): Promise<Readable> {
    const { files, data } = await this.#package(packageGuid);
    const pack = tarStream.pack();
    this.#eachFile(files, data, async (f, bytes) => {
      const entry = pack.entry({
        name: f.path,
        type: 'file',
        size: f.size,
        mode: Number.parseInt(f.mode, 8) & 0o777,
        mtime: TAR_MTIME,
        uid: 0,
        gid: 0,
      });
      // tar-stream refuses content whose length differs from the header.
      await pipeline(bytes, entry);
    })
      .then(() => pack.finalize())
      .catch((err: unknown) => pack.destroy(err as Error));
    // tar-stream's streams are streamx ones: a Node Readable over it for the HTTP face.
    return Readable.from(pack, { objectMode: false });
  }

  async drop(packageGuid: string): Promise<void> {
    checkedGuid(packageGuid);
    const digest = await this.#images.meta.resolveTag(PACKAGES_REPOSITORY, packageGuid);
    // The manifest with its tag: the next GC takes the bits no other package's manifest names.
    if (digest !== undefined) await this.#images.meta.deleteManifest(PACKAGES_REPOSITORY, digest);
  }

  /** The pooled places of these sha1s whose data blob is still there (GC may have taken a dropped package's). */
  async #findLive(sha1s: string[]): Promise<Map<string, PooledResource>> {
    const valid = [...new Set(sha1s.filter((s) => /^[0-9a-f]{40}$/.test(s)))];
    const found = valid.length === 0 ? [] : await this.#pool.findResources(valid);
    const alive = new Map<string, boolean>();
    for (const data of new Set(found.map((r) => r.data)))
      alive.set(data, (await this.#images.blobs.stat(data)) !== undefined);
    return new Map(found.filter((r) => alive.get(r.data)).map((r) => [r.sha1, r]));
  }

  async #package(packageGuid: string): Promise<{ files: PackageFile[]; data: Digest }> {
    checkedGuid(packageGuid);
    const missing = () =>
      new SlipwayError('NOT_FOUND', `package ${packageGuid} has no bits (it was never uploaded)`, {
        detail: { package: packageGuid },
      });
    const digest = await this.#images.meta.resolveTag(PACKAGES_REPOSITORY, packageGuid);
    if (digest === undefined) throw missing();
    const manifest = JSON.parse((await this.#images.blobs.read(digest)).toString('utf8')) as {
      config: { digest: string };
      layers: { digest: string }[];
    };
    const data = manifest.layers[0]?.digest;
    if (!isDigest(manifest.config.digest) || data === undefined || !isDigest(data)) throw missing();
    const list = JSON.parse(
      (await this.#images.blobs.read(manifest.config.digest, MAX_LIST_BYTES)).toString('utf8'),
    ) as {
      files: PackageFile[];
    };
    for (const f of list.files) checkedPath(f.path);
    return { files: list.files, data };
  }

  /** Each file's bytes in turn, from one read of the data blob in offset order. */
  async #eachFile(
    files: PackageFile[],
    data: Digest,
    each: (file: PackageFile, bytes: Readable) => Promise<void>,
  ): Promise<void> {
    // Empty files first among those at one offset: they end where they begin.
    const ordered = [...files].sort((a, b) => a.offset - b.offset || a.size - b.size);
    if (ordered.length === 0) return;
    const source = await this.#images.blobs.open(data);
    const reader = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let pending: Buffer = Buffer.alloc(0);
    let at = 0;
    try {
      for (const f of ordered) {
        if (f.offset < at) throw new SlipwayError('INVALID_DOCUMENT', `package file ${f.path} overlaps another`);
        // Skip to the file (a file sent twice leaves bytes no entry names).
        let skip = f.offset - at;
        async function* slice(): AsyncGenerator<Buffer> {
          let left = f.size;
          while (skip > 0 || left > 0) {
            if (pending.length === 0) {
              const next = await reader.next();
              if (next.done) throw new SlipwayError('INVALID_DOCUMENT', `package data ends inside ${f.path}`);
              pending = next.value;
            }
            if (skip > 0) {
              const n = Math.min(skip, pending.length);
              pending = pending.subarray(n);
              skip -= n;
              at += n;
              continue;
            }
            const n = Math.min(left, pending.length);
            const out = pending.subarray(0, n);
            pending = pending.subarray(n);
            left -= n;
            at += n;
            yield out;
          }
        }
        await each(f, Readable.from(slice(), { objectMode: false }));
      }
    } finally {
      await reader.return?.();
      source.destroy();
    }
  }
}

/** The zip's regular files in turn, each checked before its bytes are read. */
async function* zipEntries(
  zipFile: string,
): AsyncGenerator<{ path: string; mode: string; size: number; stream: Readable }> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(
      zipFile,
      { lazyEntries: true, autoClose: true, strictFileNames: true, validateEntrySizes: true },
      (err, z) => (err || !z ? reject(invalidZip(err)) : resolve(z)),
    ),
  );
  try {
    for (;;) {
      const entry = await new Promise<yauzl.Entry | undefined>((resolve, reject) => {
        const onEntry = (e: yauzl.Entry) => done(() => resolve(e));
        const onEnd = () => done(() => resolve(undefined));
        const onError = (e: unknown) => done(() => reject(invalidZip(e)));
        const done = (then: () => void) => {
          zip.off('entry', onEntry).off('end', onEnd).off('error', onError);
          then();
        };
        zip.on('entry', onEntry).on('end', onEnd).on('error', onError);
        zip.readEntry();
      });
      if (entry === undefined) return;
      const unixMode = (entry.externalFileAttributes >>> 16) & 0xffff;
      const type = unixMode & 0o170000;
      const name = entry.fileName;
      if (name.endsWith('/') || type === 0o040000) {
        checkedPath(name);
        continue;
      }
      // Links in a pushed app are refused: the cf CLI sends their targets' contents, and a link could lead staging out of its workspace.
      if (type === 0o120000) throw unsafeEntry(name, 'it is a symbolic link');
      if (type !== 0 && type !== 0o100000) throw unsafeEntry(name, 'it is not a regular file');
      if (entry.uncompressedSize > MAX_FILE_BYTES)
        throw new SlipwayError('TOO_LARGE', `${name} is larger than ${MAX_FILE_BYTES} bytes`);
      const path = checkedPath(name);
      const mode = (unixMode & 0o777 || 0o644).toString(8);
      const stream = await new Promise<Readable>((resolve, reject) =>
        zip.openReadStream(entry, (e, s) => (e || !s ? reject(invalidZip(e)) : resolve(s))),
      );
      yield { path, mode, size: entry.uncompressedSize, stream };
    }
  } finally {
    zip.close();
  }
}

/** Streams exactly `size` bytes into the blob being written; their sha1. */
async function copyInto(writer: BlobWriter, source: Readable, size: number, tooLong: string): Promise<string> {
  const hash = createHash('sha1');
  let seen = 0;
  await pipeline(
    source,
    new Writable({
      write(chunk: Buffer, _enc, done) {
        seen += chunk.length;
        if (seen > size) return done(new SlipwayError('INVALID_ARCHIVE', tooLong));
        hash.update(chunk);
        writer.write(chunk).then(() => done(), done);
      },
    }),
  );
  if (seen !== size) throw new SlipwayError('INVALID_ARCHIVE', `a file of ${size} bytes had ${seen}`);
  return hash.digest('hex');
}

function checkedGuid(packageGuid: string): void {
  if (!/^[0-9a-zA-Z-]{1,64}$/.test(packageGuid))
    throw new SlipwayError('NOT_FOUND', `package ${packageGuid} has no bits (it was never uploaded)`, {
      detail: { package: packageGuid },
    });
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
