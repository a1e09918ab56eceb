import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { dirname, join, resolve } from 'node:path';
import { isErrno, SlipwayError } from '../errors.js';
import {
  Digester,
  digestAlgorithm,
  digestHex,
  digestOf,
  isDigest,
  parseDigest,
  type Digest,
  type DigestAlgorithm,
} from '../oci/digest.js';
import { FsBlobWriter, removeIngestDir, type IngestOwner } from './fs-blob-writer.js';
import { fsyncDirShared, statOrUndefined, writeSmallFileAtomic } from './fs-util.js';
import { currentOwner, isOwnerAlive } from './owner.js';
import type { BlobInfo, BlobStore, BlobWriter, IngestInfo, WriterOptions } from './types.js';

const ALGORITHMS: readonly DigestAlgorithm[] = ['sha256', 'sha512'];
/** Documents (manifests, configs) read whole; the distribution spec's manifest limit. */
export const DEFAULT_READ_LIMIT = 4 * 1024 * 1024;
// Ingest ids come from clients (registry upload URLs): never let one name a path outside ingest/.
const INGEST_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
// An ingest being created lives under this prefix until its meta.json is in place, so
// GC always knows its owner: from meta.json, or from the pid in this name.
const STAGING = /^\.new-(\d+)-([A-Za-z0-9_-]+)$/;

/** ingest/<id>/meta.json: who owns an upload and how it is hashed. No pid: parked by close(). */
interface IngestMeta {
  algorithm: DigestAlgorithm;
  created: string;
  pid?: number;
  host?: string;
  labels?: Record<string, string>;
}

// Ingests with a live writer in this process, across every FsBlobStore instance.
const openIngests = new Set<string>();

/**
 * Blobs as files: `blobs/<alg>/<hex>` (read-only, 0444) and uploads in progress under
 * `ingest/<id>/` (`data` + `meta.json`). A blob appears only by rename of verified,
 * fsynced bytes, so a crash leaves either no blob or the whole blob.
 *
 * @example
 * const store = await FsBlobStore.open('/var/lib/slipway');
 * const w = await store.writer();
 * await w.write(bytes);
 * const { digest } = await w.commit({ size: bytes.length });
 */
export class FsBlobStore implements BlobStore {
  readonly root: string;

  private constructor(root: string) {
    this.root = root;
  }

  static async open(root: string): Promise<FsBlobStore> {
    const store = new FsBlobStore(resolve(root));
    for (const alg of ALGORITHMS) await mkdir(join(store.root, 'blobs', alg), { recursive: true });
    await mkdir(store.#ingestRoot, { recursive: true });
    return store;
  }

  /** The file of a blob; the digest is validated so it can never name another path. */
  blobPath(digest: Digest): string {
    const d = parseDigest(digest);
    return join(this.root, 'blobs', digestAlgorithm(d), digestHex(d));
  }

  async stat(digest: Digest): Promise<BlobInfo | undefined> {
    const st = await statOrUndefined(this.blobPath(digest));
    return st?.isFile() ? { digest, size: st.size } : undefined;
  }

  async open(
    digest: Digest,
    range?: { start: number; end?: number },
    options: { chunkSize?: number } = {},
  ): Promise<Readable> {
    // Open first, then measure: once open, a concurrent delete cannot cut the stream short.
    const fh = await this.#openBlob(digest);
    try {
      const { size } = await fh.stat();
      const bounds = range === undefined ? {} : rangeBounds(digest, size, range);
      return fh.createReadStream({
        ...bounds,
        autoClose: true,
        ...(options.chunkSize ? { highWaterMark: options.chunkSize } : {}),
      });
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /**
   * The blob's file, open, with its size as measured once open (a concurrent delete
   * cannot shorten it then): for a caller that reads it itself into buffers it reuses
   * (the registry's blob GET). The caller closes the handle.
   */
  async openFile(digest: Digest): Promise<{ handle: FileHandle; size: number }> {
    const handle = await this.#openBlob(digest);
    try {
      return { handle, size: (await handle.stat()).size };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async read(digest: Digest, maxSize = DEFAULT_READ_LIMIT): Promise<Buffer> {
    const fh = await this.#openBlob(digest);
    let data: Buffer;
    try {
      const { size } = await fh.stat();
      if (size > maxSize) {
        throw new SlipwayError('TOO_LARGE', `blob ${digest} has ${size} bytes, more than the ${maxSize} allowed here`, {
          detail: { digest, size, maxSize },
        });
      }
      data = await fh.readFile();
    } finally {
      await fh.close();
    }
    // Documents are small, so checking them on every read is cheap and catches a damaged store.
    const actual = digestOf(data, digestAlgorithm(digest));
    if (actual !== digest) {
      throw new SlipwayError('DIGEST_MISMATCH', `stored blob ${digest} is corrupt: its content hashes to ${actual}`, {
        detail: { expected: digest, actual },
      });
    }
    return data;
  }

  async writer(options: WriterOptions = {}): Promise<BlobWriter> {
    const algorithm = options.algorithm ?? 'sha256';
    const labels = { ...options.labels };
    const id = randomUUID();
    const { pid, host } = currentOwner();
    const staging = join(this.#ingestRoot, `.new-${pid}-${id}`);
    await mkdir(staging);
    const meta: IngestMeta = { algorithm, created: new Date().toISOString(), pid, host, labels };
    await writeFile(join(staging, 'meta.json'), JSON.stringify(meta));
    const dir = this.#ingestDir(id);
    await rename(staging, dir);
    return this.#attach(id, dir, await open(join(dir, 'data'), 'a+'), new Digester(algorithm), labels);
  }

  /**
   * The bytes go to a staging file in the ingest directory (GC knows its owner by the
   * pid in its name), fsynced and read-only, then are renamed into place as a writer's
   * commit does: a crash leaves no blob or the whole blob. No directory, no meta.json and
   * no open writer: a third of the file operations of an ingest, which a registry's
   * config and manifest PUTs, one each per image of a fleet rebase, spent most of their
   * time in (a directory's mkdir and rmdir cost the kernel more than the file's write).
   */
  async putSmall(data: Uint8Array, info: BlobInfo, beforeVisible?: (info: BlobInfo) => Promise<void>): Promise<void> {
    const staging = join(this.#ingestRoot, `.new-${currentOwner().pid}-${randomUUID()}`);
    try {
      await writeFile(staging, data, { mode: 0o444, flush: true });
      await beforeVisible?.(info);
      // Renamed away, unless the blob was there already and our copy is left over.
      if (!(await this.#publish(staging, info))) await unlink(staging);
    } catch (err) {
      await rm(staging, { force: true });
      throw err;
    }
  }

  async resume(id: string): Promise<BlobWriter | undefined> {
    if (!INGEST_ID.test(id)) return undefined;
    const dir = this.#ingestDir(id);
    const meta = await readMeta(dir);
    if (meta === undefined) return undefined;
    if (
      openIngests.has(dir) ||
      (meta.pid !== undefined && meta.pid !== process.pid && isOwnerAlive({ pid: meta.pid, host: meta.host ?? '' }))
    ) {
      throw new SlipwayError(
        'CONFLICT',
        `upload ${id} is being written by another writer (pid ${meta.pid ?? process.pid})`,
        { detail: { id } },
      );
    }
    openIngests.add(dir);
    let fh: FileHandle | undefined;
    try {
      fh = await open(join(dir, 'data'), 'a+');
      const digester = await hashHandle(fh, meta.algorithm);
      await writeSmallFileAtomic(join(dir, 'meta.json'), JSON.stringify({ ...meta, ...currentOwner() }));
      return this.#attach(id, dir, fh, digester, { ...meta.labels });
    } catch (err) {
      openIngests.delete(dir);
      await fh?.close();
      throw err;
    }
  }

  async delete(digest: Digest): Promise<boolean> {
    try {
      await unlink(this.blobPath(digest));
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
  }

  async *list(): AsyncIterable<Digest> {
    for (const alg of ALGORITHMS) {
      for (const name of await readdirOrEmpty(join(this.root, 'blobs', alg))) {
        const digest = `${alg}:${name}`;
        if (isDigest(digest)) yield digest;
      }
    }
  }

  async listIngests(): Promise<IngestInfo[]> {
    const result: IngestInfo[] = [];
    for (const id of await readdirOrEmpty(this.#ingestRoot)) {
      const info = await this.#ingestInfo(id);
      if (info) result.push(info);
    }
    return result;
  }

  async removeIngest(id: string): Promise<void> {
    if (!INGEST_ID.test(id) && !STAGING.test(id))
      throw new SlipwayError('INVALID_ARGUMENT', `"${id}" is not an ingest id`);
    await removeIngestDir(this.#ingestDir(id));
  }

  get #ingestRoot(): string {
    return join(this.root, 'ingest');
  }

  #ingestDir(id: string): string {
    return join(this.#ingestRoot, id);
  }

  async #openBlob(digest: Digest): Promise<FileHandle> {
    try {
      return await open(this.blobPath(digest), 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT'))
        throw new SlipwayError('BLOB_UNKNOWN', `blob ${digest} is not in the store`, { detail: { digest } });
      throw err;
    }
  }

  #attach(id: string, dir: string, fh: FileHandle, digester: Digester, labels: Record<string, string>): FsBlobWriter {
    openIngests.add(dir);
    return new FsBlobWriter(id, dir, fh, digester, this.#ingestOwner(dir), labels);
  }

  #ingestOwner(dir: string): IngestOwner {
    return {
      // A blob already there leaves our copy in the ingest, removed with it.
      publish: async (dataPath, info) => {
        await this.#publish(dataPath, info);
      },
      released: async (_id, keep) => {
        openIngests.delete(dir);
        // A parked ingest has no owner process: GC judges it by age alone.
        if (keep) await parkMeta(dir);
        else await removeIngestDir(dir);
      },
    };
  }

  /**
   * Makes verified bytes visible under their digest: rename, then fsync the directory
   * entry. False when the blob was there already and `dataPath` is left where it is.
   */
  async #publish(dataPath: string, info: BlobInfo): Promise<boolean> {
    const target = this.blobPath(info.digest);
    // Same digest, same bytes: an existing complete blob is kept and our copy dropped
    // with the ingest; a short one (damaged) is replaced. Two writers racing here
    // both rename identical bytes, and both succeed.
    // The directory is fsynced either way: the existing entry may come from a writer
    // that has renamed but not yet fsynced, and our caller is about to rely on it.
    const existing = await statOrUndefined(target);
    const moved = existing?.size !== info.size;
    if (moved) await rename(dataPath, target);
    await fsyncDirShared(dirname(target));
    return moved;
  }

  async #ingestInfo(id: string): Promise<IngestInfo | undefined> {
    const dir = this.#ingestDir(id);
    const dirStat = await statOrUndefined(dir);
    const staging = STAGING.exec(id);
    // A small blob's staging file (putSmall), left by a writer killed before its rename.
    if (dirStat?.isFile() && staging)
      return { id, mtimeMs: dirStat.mtimeMs, pid: Number(staging[1]), host: currentOwner().host };
    if (!dirStat?.isDirectory()) return undefined;
    const meta = await readMeta(dir);
    const dataStat = await statOrUndefined(join(dir, 'data'));
    const info: IngestInfo = { id, mtimeMs: Math.max(dirStat.mtimeMs, dataStat?.mtimeMs ?? 0) };
    const pid = meta?.pid ?? (staging ? Number(staging[1]) : undefined);
    if (pid !== undefined) info.pid = pid;
    // A staging name carries only a pid: it was made on this host (the store is local).
    const host = meta?.host ?? (staging ? currentOwner().host : undefined);
    if (host !== undefined) info.host = host;
    // A final-named ingest gets meta.json before its name (staging) and keeps it until removed.
    if (meta === undefined && !staging) info.broken = true;
    return info;
  }
}

/** start/end (inclusive) of a byte range within a blob of `size` bytes; end is clamped to the blob. */
function rangeBounds(
  digest: Digest,
  size: number,
  range: { start: number; end?: number },
): { start: number; end: number } {
  const end = Math.min(range.end ?? size - 1, size - 1);
  if (!Number.isSafeInteger(range.start) || range.start < 0 || range.start >= size || end < range.start) {
    throw new SlipwayError(
      'RANGE_NOT_SATISFIABLE',
      `range ${range.start}-${range.end ?? ''} is outside blob ${digest} of ${size} bytes`,
      {
        detail: { digest, size, start: range.start, end: range.end },
      },
    );
  }
  return { start: range.start, end };
}

async function readMeta(dir: string): Promise<IngestMeta | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as IngestMeta;
    return ALGORITHMS.includes(meta.algorithm) ? meta : undefined;
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR') || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

async function parkMeta(dir: string): Promise<void> {
  const meta = await readMeta(dir);
  if (meta === undefined) return;
  const { pid: _pid, host: _host, ...parked } = meta;
  await writeSmallFileAtomic(join(dir, 'meta.json'), JSON.stringify(parked));
}

/** Re-hashes what an ingest already holds (after a restart the running hash is gone). */
async function hashHandle(fh: FileHandle, algorithm: DigestAlgorithm): Promise<Digester> {
  const digester = new Digester(algorithm);
  const buffer = Buffer.allocUnsafe(1024 * 1024);
  for (;;) {
    const { bytesRead } = await fh.read(buffer, 0, buffer.length, digester.size);
    if (bytesRead === 0) return digester;
    digester.update(buffer.subarray(0, bytesRead));
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
}
