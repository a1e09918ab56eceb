/**
 * The deterministic layer writer: TarEntry values in, a compressed layer blob out, in
 * one streaming pass that also yields both hashes OCI needs:
 *
 *   entries -> tar bytes (1 MiB chunks) -> sha256 = diffID
 *           -> gzip | zstd | none      -> sha256 = digest, size -> sink
 *
 * The tar is built straight into fixed 1 MiB chunk buffers: headers are copied in and
 * file content is read from disk directly into the chunk (no intermediate buffer). The
 * chunks are exactly the units the parallel gzip compresses, and are reused once
 * compressed. Memory is a few chunks whatever the layer's size.
 *
 * File reads are synchronous, like the tree walk and for the same reason (a threadpool
 * round trip per open/read/close costs more than the read, and the threadpool is busy
 * compressing). Each read is at most one chunk; the walk yields to the event loop every
 * few milliseconds and every compressed chunk is awaited into the sink.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { SlipwayError, isErrno } from '../errors.js';
import { Digester, type Digest } from '../oci/digest.js';
import { ociLayerMediaType, type Compression } from '../oci/media-types.js';
import { compressChunks } from './compress.js';
import type { TarEntry } from './entry.js';
import { BLOCK_SIZE, encodeHeader, paddingSize } from './tar-header.js';
import { walkTree, type WalkOptions } from './tree-walk.js';

/** Size of the chunks the tar is built in; the same as the gzip member size, so no re-chunking. */
export const TAR_CHUNK_SIZE = 1 << 20;

/** Where the compressed bytes go; `write` resolving is the backpressure. */
export interface LayerSink {
  write(chunk: Uint8Array): Promise<void>;
}

export interface WriteLayerOptions {
  compression: Compression;
}

export interface WrittenLayer {
  /** sha256 of the uncompressed tar (the config's rootfs.diff_ids entry). */
  diffId: Digest;
  /** sha256 of the bytes written to the sink (the manifest's layer descriptor digest). */
  digest: Digest;
  /** Bytes written to the sink. */
  size: number;
  /** Bytes of the uncompressed tar. */
  uncompressedSize: number;
  mediaType: string;
}

/**
 * Writes `entries` as a layer to `sink`, compressed as asked, and returns its diffID,
 * digest and sizes. The entries are written in the order given (walkTree sorts them).
 *
 * @example
 *   const out = createWriteStream('layer.tar.gz');
 *   const sink = { write: (c: Uint8Array) => new Promise<void>((ok, ko) => out.write(c, (e) => (e ? ko(e) : ok()))) };
 *   const layer = await writeLayer(walkTree('/tmp/app', { prefix: 'workspace' }), sink, { compression: 'gzip' });
 */
export async function writeLayer(
  entries: AsyncIterable<TarEntry>,
  sink: LayerSink,
  options: WriteLayerOptions,
): Promise<WrittenLayer> {
  const diff = new Digester();
  const mediaType = ociLayerMediaType(options.compression);
  if (options.compression === 'none') {
    // The sink gets the tar chunks themselves: fresh buffers, since it may keep them.
    for await (const chunk of hashed(tarChunks(entries), diff)) await sink.write(chunk);
    return { diffId: diff.digest(), digest: diff.digest(), size: diff.size, uncompressedSize: diff.size, mediaType };
  }
  // The compressor hands each tar chunk back when done with it, so a handful of buffers
  // serve the whole layer (fewer allocations, and far less garbage waiting for a GC).
  const pool = new ChunkPool(TAR_CHUNK_SIZE);
  const tar = hashed(
    packTar(entries, () => pool.take()),
    diff,
  );
  const blob = new Digester();
  for await (const chunk of compressChunks(tar, options.compression, { release: (c) => pool.give(c) })) {
    blob.update(chunk);
    await sink.write(chunk);
  }
  return { diffId: diff.digest(), digest: blob.digest(), size: blob.size, uncompressedSize: diff.size, mediaType };
}

/**
 * The layer of a directory tree: `walkTree(dir, options)` written by `writeLayer`.
 *
 * @example
 *   const layer = await writeLayerFromDirectory(rootfs, sink, { compression: 'zstd', owner: { kind: 'map', uid: 0, gid: 0 } });
 */
export function writeLayerFromDirectory(
  dir: string,
  sink: LayerSink,
  options: WriteLayerOptions & WalkOptions,
): Promise<WrittenLayer> {
  return writeLayer(walkTree(dir, options), sink, options);
}

/**
 * The uncompressed tar of `entries`, in chunks of exactly TAR_CHUNK_SIZE bytes (the
 * last may be shorter), ending with the end-of-archive blocks. Each chunk is a fresh
 * buffer that is never touched again once yielded.
 */
export function tarChunks(entries: AsyncIterable<TarEntry>): AsyncGenerator<Buffer> {
  return packTar(entries, () => Buffer.allocUnsafe(TAR_CHUNK_SIZE));
}

async function* packTar(entries: AsyncIterable<TarEntry>, allocate: () => Buffer): AsyncGenerator<Buffer> {
  const chunks = new ChunkBuilder(TAR_CHUNK_SIZE, allocate);
  for await (const entry of entries) {
    chunks.put(encodeHeader(entry));
    if (entry.type === 'file' && entry.size > 0) {
      const fd = openSource(entry);
      try {
        // Most files fit in the current chunk: one read, nothing to hand on, no extra await.
        for (let position = 0; position < entry.size; ) {
          position += readSource(fd, entry, position, chunks);
          while (chunks.hasFull()) yield chunks.takeFull();
        }
      } finally {
        closeSync(fd);
      }
      chunks.zeros(paddingSize(entry.size));
    }
    while (chunks.hasFull()) yield chunks.takeFull();
  }
  chunks.zeros(2 * BLOCK_SIZE); // end of archive
  while (chunks.hasFull()) yield chunks.takeFull();
  const last = chunks.takeRest();
  if (last) yield last;
}

/** Opens a file entry's content. O_NOFOLLOW: a file swapped for a symlink since the walk must not pull in what it points at. */
function openSource(entry: TarEntry): number {
  const path = entry.sourcePath;
  if (path === undefined) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `tar entry "${entry.path}" has ${entry.size} bytes but no sourcePath to read them from`,
      {
        detail: { path: entry.path },
      },
    );
  }
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO swapped in for the file must not block the archiver.
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (isErrno(err, 'ELOOP'))
      throw new SlipwayError('UNSAFE_PATH', `refused "${path}": it became a symlink after it was walked`, {
        cause: err,
        detail: { path },
      });
    throw ioError(err, 'open', path);
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new SlipwayError('UNSAFE_PATH', `refused "${path}": it is no longer a regular file`, { detail: { path } });
  }
  return fd;
}

/** One read of the rest of a file at `position` into the chunks; returns the bytes read (never 0). */
function readSource(fd: number, entry: TarEntry, position: number, chunks: ChunkBuilder): number {
  const path = entry.sourcePath!;
  let read: number;
  try {
    read = chunks.readFrom(fd, entry.size - position, position);
  } catch (err) {
    throw ioError(err, 'read', path);
  }
  if (read === 0) {
    throw new SlipwayError('IO_ERROR', `"${path}" shrank while being archived (${position} of ${entry.size} bytes)`, {
      detail: { path, expected: entry.size, actual: position },
    });
  }
  return read;
}

async function* hashed(chunks: AsyncIterable<Buffer>, digester: Digester): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) {
    digester.update(chunk);
    yield chunk;
  }
}

function ioError(err: unknown, what: string, path: string): SlipwayError {
  return new SlipwayError('IO_ERROR', `cannot ${what} "${path}": ${(err as Error).message}`, {
    cause: err,
    detail: { path },
  });
}

/**
 * Fills fixed-size buffers with tar bytes. Full buffers wait in `full` until taken;
 * the one being filled is never handed out before it is full (or the tar ends).
 */
class ChunkBuilder {
  readonly #size: number;
  readonly #allocate: () => Buffer;
  #current: Buffer;
  #used = 0;
  #full: Buffer[] = [];

  constructor(size: number, allocate: () => Buffer) {
    this.#size = size;
    this.#allocate = allocate;
    this.#current = allocate();
  }

  put(bytes: Buffer): void {
    for (let offset = 0; offset < bytes.length; ) {
      const n = bytes.copy(this.#current, this.#used, offset);
      offset += n;
      this.#advance(n);
    }
  }

  zeros(count: number): void {
    for (let left = count; left > 0; ) {
      const n = Math.min(left, this.#size - this.#used);
      this.#current.fill(0, this.#used, this.#used + n);
      left -= n;
      this.#advance(n);
    }
  }

  /** One pread of at most `max` bytes into the free room of the current chunk. */
  readFrom(fd: number, max: number, position: number): number {
    const n = readSync(fd, this.#current, this.#used, Math.min(max, this.#size - this.#used), position);
    this.#advance(n);
    return n;
  }

  hasFull(): boolean {
    return this.#full.length > 0;
  }

  /** The oldest full chunk; call only when hasFull(). */
  takeFull(): Buffer {
    return this.#full.shift()!;
  }

  takeRest(): Buffer | undefined {
    const rest = this.#used > 0 ? this.#current.subarray(0, this.#used) : undefined;
    this.#used = 0;
    return rest;
  }

  #advance(n: number): void {
    this.#used += n;
    if (this.#used === this.#size) {
      this.#full.push(this.#current);
      this.#current = this.#allocate();
      this.#used = 0;
    }
  }
}

/** Buffers of one size handed out and taken back; only its own buffers are taken back. */
class ChunkPool {
  readonly #size: number;
  readonly #free: Buffer[] = [];
  readonly #mine = new WeakSet<Buffer>();

  constructor(size: number) {
    this.#size = size;
  }

  take(): Buffer {
    const reused = this.#free.pop();
    if (reused) return reused;
    const fresh = Buffer.allocUnsafe(this.#size);
    this.#mine.add(fresh);
    return fresh;
  }

  give(chunk: Buffer): void {
    if (this.#mine.has(chunk)) this.#free.push(chunk);
  }
}
