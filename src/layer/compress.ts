/**
 * Layer compression and decompression.
 *
 * gzip is compressed in parallel: the byte stream is cut into fixed 1 MiB chunks and
 * each becomes an independent gzip member (RFC 1952 allows concatenated members; gzip,
 * GNU tar, Go and containerd read them as one stream). The chunk boundaries depend only
 * on the bytes, never on how the input arrived, so the output is deterministic; the
 * members compress in the libuv threadpool, so every core works.
 *
 * zstd uses zstd-napi in zstd's multithreaded mode, one worker per core, with a fixed
 * job size: that mode's output depends on the level and job size, never on the number
 * of workers (1 or 64) or on how the input is fed, so the bytes are the same on every
 * machine while every core compresses. (Single-threaded zstd, nbWorkers 0, would write
 * other bytes: it is never used.)
 *
 * The parameters below decide layer digests: changing any of them changes the digest
 * of every layer Slipway writes from then on.
 *
 * Caveat on gzip reproducibility across machines: Node bundles Chromium's zlib, whose
 * deflate hashes with CRC32C when the CPU has SSE4.2+PCLMUL (x86) or the ARMv8 CRC
 * extension, and with zlib's classic rolling hash otherwise (deps/zlib/contrib/
 * optimizations/insert_string.h). Its output already differs from system zlib here. On a
 * CPU without those extensions, or with a Node whose zlib changes, the gzip bytes (never
 * the diffID) would differ. zstd output depends only on the zstd version and parameters.
 */
import { availableParallelism } from 'node:os';
import { Readable, pipeline, type Transform } from 'node:stream';
import { createGunzip, gzip, type ZlibOptions } from 'node:zlib';
import type zstd from 'zstd-napi/binding.js';
import type { Compression } from '../oci/media-types.js';
import { SlipwayError } from '../errors.js';

/** Size of every gzip member's input (the last may be shorter). */
export const GZIP_CHUNK_SIZE = 1 << 20;
/** gzip -1: fast, and what a layer is compressed with unless asked otherwise. */
export const GZIP_LEVEL = 1;
/** memLevel 9 compresses ~15% faster than zlib's default 8 at level 1, for +0.3% size. */
const GZIP_MEM_LEVEL = 9;
/** "Unix" in the gzip header's OS byte, whatever platform zlib was built for. */
const GZIP_OS_UNIX = 3;
export const ZSTD_LEVEL = 3;
/** zstd workers by default: one per core (the output is the same for any count >= 1). */
export const ZSTD_WORKERS = Math.max(1, Math.min(availableParallelism(), 16));
/**
 * Input per zstd job, pinned rather than left to zstd's default (8 MiB at level 3, which
 * could change between zstd versions). 4 MiB holds ~40 MB less in flight than 8 MiB
 * for +0.4% output size on a Debian rootfs.
 */
const ZSTD_JOB_SIZE = 4 << 20;

export interface ReleaseOption {
  /**
   * Called with each input chunk (the very object the source yielded) once the
   * compressor will not read it again, so that the caller may reuse the buffer.
   */
  release?: (chunk: Buffer) => void;
}

export interface GzipOptions extends ReleaseOption {
  level?: number;
  /** Members being compressed at once (bounds memory; does not change the output). */
  concurrency?: number;
}

export interface ZstdOptions extends ReleaseOption {
  level?: number;
  /** zstd's worker threads (default: one per core); any count >= 1 gives the same bytes. */
  workers?: number;
}

type Chunks = AsyncIterable<Uint8Array>;

/**
 * Compresses a byte stream as `compression` says ('none' passes it through).
 * A Readable, so it can go straight to a blob store's `putBlob`.
 */
export function compressStream(source: Chunks, compression: Compression): Readable {
  return Readable.from(compressChunks(source, compression), { objectMode: false });
}

/** The compressed chunks of `source`, as an async iterable (no stream machinery in between). */
export function compressChunks(
  source: Chunks,
  compression: Compression,
  options: ReleaseOption = {},
): AsyncIterable<Uint8Array> {
  switch (compression) {
    case 'gzip':
      return gzipParallel(source, options);
    case 'zstd':
      return zstdCompress(source, options);
    case 'none':
      return source;
    default:
      throw new SlipwayError('UNSUPPORTED', `unknown compression "${String(compression)}" (use gzip, zstd or none)`);
  }
}

/**
 * Cuts a byte stream into chunks of exactly `size` bytes (the last may be shorter).
 * Input Buffers that already line up are passed on as they are (the same object), so
 * the caller must not reuse a buffer it has handed over.
 */
export async function* fixedChunks(source: Chunks, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer | undefined;
  let filled = 0;
  for await (const input of source) {
    let data = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    while (data.length > 0) {
      if (filled === 0 && data.length === size) {
        yield data;
        break;
      }
      if (filled === 0 && data.length > size) {
        yield data.subarray(0, size);
        data = data.subarray(size);
        continue;
      }
      pending ??= Buffer.allocUnsafe(size);
      const copied = data.copy(pending, filled);
      filled += copied;
      data = data.subarray(copied);
      if (filled === size) {
        yield pending;
        pending = undefined;
        filled = 0;
      }
    }
  }
  if (pending && filled > 0) yield pending.subarray(0, filled);
}

/**
 * Parallel gzip: one member per 1 MiB of input, at most `concurrency` compressing at
 * once in the threadpool, emitted in order. Empty input gives one empty member, so the
 * output is always a valid gzip file.
 */
export async function* gzipParallel(source: Chunks, options: GzipOptions = {}): AsyncGenerator<Buffer> {
  const zlibOptions: ZlibOptions = {
    level: options.level ?? GZIP_LEVEL,
    memLevel: GZIP_MEM_LEVEL,
    // Output room for a whole member, so each member is one threadpool job, not one per 16 KiB.
    chunkSize: GZIP_CHUNK_SIZE + (GZIP_CHUNK_SIZE >> 6) + 1024,
  };
  const concurrency = options.concurrency ?? defaultGzipConcurrency();
  const compress = (chunk: Buffer): Promise<Buffer> => gzipMember(chunk, zlibOptions, options.release);
  const pump = new OrderedPump(fixedChunks(source, GZIP_CHUNK_SIZE)[Symbol.asyncIterator](), compress, concurrency);
  let members = 0;
  try {
    for (let out = await pump.take(); out !== undefined; out = await pump.take()) {
      members++;
      yield out;
    }
    if (members === 0) yield await compress(Buffer.alloc(0));
  } finally {
    await pump.close();
  }
}

/**
 * Members in flight: one per core that can compress (the libuv threadpool has 4 threads
 * unless UV_THREADPOOL_SIZE says otherwise), plus two queued so a thread never waits for
 * the main thread to read the next chunk. More would only hold memory.
 */
function defaultGzipConcurrency(): number {
  const threadpool = Number(process.env['UV_THREADPOOL_SIZE']) || 4;
  return Math.min(availableParallelism(), threadpool) + 2;
}

/**
 * Runs `work` on the chunks of a source, `concurrency` at a time, and hands out the
 * results in source order. A finished job at once pulls the next chunk and starts it,
 * without waiting for the consumer to take results (the consumer may be slow writing
 * them out), so the threadpool never idles while there is input. Memory stays bounded:
 * at most `concurrency` jobs run and as many finished results wait.
 */
class OrderedPump<T> {
  readonly #source: AsyncIterator<Buffer>;
  readonly #work: (chunk: Buffer) => Promise<T>;
  readonly #concurrency: number;
  readonly #results: Promise<T>[] = [];
  #running = 0;
  #pulling = false;
  #exhausted = false;
  #closed = false;
  #failed = false;
  #failure: unknown;
  #wake: (() => void) | undefined;

  constructor(source: AsyncIterator<Buffer>, work: (chunk: Buffer) => Promise<T>, concurrency: number) {
    this.#source = source;
    this.#work = work;
    this.#concurrency = Math.max(1, concurrency);
  }

  /** The next result in order, or undefined after the last. */
  async take(): Promise<T | undefined> {
    for (;;) {
      const next = this.#results.shift();
      if (next) {
        this.#fill();
        return await next;
      }
      if (this.#failed) throw this.#failure;
      if (this.#exhausted) return undefined;
      this.#fill();
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** Stops pulling; jobs still running finish in the background and are dropped. */
  async close(): Promise<void> {
    const pending = !this.#exhausted;
    this.#exhausted = this.#closed = true;
    for (const result of this.#results) result.catch(() => undefined);
    if (pending) await this.#source.return?.(undefined);
  }

  #fill(): void {
    if (this.#pulling || this.#exhausted || this.#failed) return;
    if (this.#running >= this.#concurrency || this.#results.length >= 2 * this.#concurrency) return;
    this.#pulling = true;
    this.#source.next().then(
      (next) => {
        this.#pulling = false;
        if (this.#closed) return;
        if (next.done) this.#exhausted = true;
        else this.#start(next.value);
        this.#notify();
        this.#fill();
      },
      (err: unknown) => {
        this.#pulling = false;
        this.#failed = true;
        this.#failure = err;
        this.#notify();
      },
    );
  }

  #start(chunk: Buffer): void {
    this.#running++;
    const result = this.#work(chunk);
    const settled = (): void => {
      this.#running--;
      this.#fill();
    };
    result.then(settled, settled);
    result.catch(() => undefined); // a failure is thrown to the consumer, in order, by take()
    this.#results.push(result);
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

function gzipMember(input: Buffer, options: ZlibOptions, release?: (chunk: Buffer) => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gzip(input, options, (err, out) => {
      if (err) {
        reject(new SlipwayError('IO_ERROR', `gzip compression failed: ${err.message}`, { cause: err }));
        return;
      }
      release?.(input);
      out[9] = GZIP_OS_UNIX; // zlib writes its build platform's OS code; pin it for the same bytes everywhere
      resolve(out);
    });
  });
}

/**
 * zstd, level 3, one worker per core, one frame. The calls are synchronous: zstd's workers
 * compress on their own threads, and a call returns as soon as they have taken the
 * input, except when all of them are busy; then it waits for the oldest job (tens of
 * ms), a time when both cores are busy anyway. Feeding zstd from a worker thread
 * instead keeps the event loop free but measured ~10% more CPU and slower wall time on
 * a 2-core machine (copies and messages), so it is done inline.
 */
export async function* zstdCompress(source: Chunks, options: ZstdOptions = {}): AsyncGenerator<Buffer> {
  const { binding: zstd } = await loadZstd();
  const cctx = new zstd.CCtx();
  cctx.setParameter(zstd.CParameter.compressionLevel, options.level ?? ZSTD_LEVEL);
  const workers = options.workers ?? ZSTD_WORKERS;
  if (!Number.isInteger(workers) || workers < 1)
    throw new SlipwayError('INVALID_ARGUMENT', `zstd workers must be a whole number >= 1, not ${workers}`);
  cctx.setParameter(zstd.CParameter.nbWorkers, workers);
  cctx.setParameter(zstd.CParameter.jobSize, ZSTD_JOB_SIZE);
  const out = Buffer.allocUnsafe(1 << 20);
  for await (const chunk of source) {
    yield* zstdStep(cctx, out, chunk, zstd.EndDirective.continue, false);
    if (Buffer.isBuffer(chunk)) options.release?.(chunk); // zstd has copied it into its own buffers
  }
  yield* zstdStep(cctx, out, Buffer.alloc(0), zstd.EndDirective.end, true);
}

/** Feeds `input` to the compressor and yields (copies of) what it produced. */
function* zstdStep(
  cctx: zstd.CCtx,
  out: Buffer,
  input: Uint8Array,
  directive: zstd.EndDirective,
  last: boolean,
): Generator<Buffer> {
  let rest = input;
  for (;;) {
    const [remaining, produced, consumed] = cctx.compressStream2(out, rest, directive);
    if (produced > 0) yield Buffer.from(out.subarray(0, produced));
    rest = rest.subarray(consumed);
    const finished = last ? remaining === 0 : rest.length === 0;
    if (finished) return;
  }
}

/** A gzip decompressor; it reads every member of a multi-member stream (as zlib's gunzip does). */
export function gunzipStream(): Transform {
  return createGunzip({ chunkSize: 1 << 20 });
}

/** A zstd decompressor; it reads every frame, and fails on a stream cut inside a frame. */
export async function zstdDecompressStream(): Promise<Transform> {
  return new (await loadZstd()).DecompressStream();
}

interface ZstdModules {
  binding: typeof zstd;
  DecompressStream: typeof import('zstd-napi').DecompressStream;
}
let zstdModules: Promise<ZstdModules> | undefined;

/** zstd's addon, loaded on first use: most commands never meet a zstd layer, and loading it costs every start. */
function loadZstd(): Promise<ZstdModules> {
  zstdModules ??= Promise.all([import('zstd-napi/binding.js'), import('zstd-napi')]).then(([binding, streams]) => ({
    binding: binding.default,
    DecompressStream: streams.DecompressStream,
  }));
  return zstdModules;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** The compression the first bytes of a blob announce; anything else is taken as plain tar. */
export function compressionOfMagic(head: Uint8Array): Compression {
  const starts = (magic: number[]): boolean => magic.every((byte, i) => head[i] === byte);
  if (starts(GZIP_MAGIC)) return 'gzip';
  if (starts(ZSTD_MAGIC)) return 'zstd';
  return 'none';
}

/** Reads the first bytes of `source` (consuming it) and tells its compression. */
export async function sniffCompression(source: Chunks): Promise<Compression> {
  const iterator = source[Symbol.asyncIterator]();
  try {
    const { head } = await readHead(iterator, ZSTD_MAGIC.length);
    return compressionOfMagic(head);
  } finally {
    await iterator.return?.(); // a stream source is closed, not left open
  }
}

/**
 * The decompressed bytes of `source`, whatever it is: gzip, zstd or plain (tar).
 * Errors of the source and of the decompressor surface on the returned stream.
 *
 * @example
 *   const tar = await decompressing(createReadStream('layer.tar.gz'));
 */
export async function decompressing(source: Chunks): Promise<Readable> {
  const iterator = source[Symbol.asyncIterator]();
  const { head, done } = await readHead(iterator, ZSTD_MAGIC.length);
  const compression = compressionOfMagic(head);
  const all = prepend(head, done ? undefined : iterator);
  if (compression === 'none') return Readable.from(all, { objectMode: false });
  const decoder = compression === 'gzip' ? gunzipStream() : await zstdDecompressStream();
  // pipeline() destroys each stream with the other's error, so both kinds reach the reader.
  return pipeline(Readable.from(all, { objectMode: false }), decoder, () => undefined);
}

/** Pulls chunks until at least `n` bytes (or the end) are in hand. */
async function readHead(iterator: AsyncIterator<Uint8Array>, n: number): Promise<{ head: Buffer; done: boolean }> {
  const parts: Buffer[] = [];
  let length = 0;
  while (length < n) {
    const next = await iterator.next();
    if (next.done) return { head: Buffer.concat(parts), done: true };
    parts.push(Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength));
    length += next.value.byteLength;
  }
  return { head: Buffer.concat(parts), done: false };
}

async function* prepend(head: Buffer, rest: AsyncIterator<Uint8Array> | undefined): AsyncGenerator<Uint8Array> {
  if (head.length > 0) yield head;
  if (!rest) return;
  try {
    for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
  } finally {
    await rest.return?.(); // the consumer stopped early: release the source
  }
}
