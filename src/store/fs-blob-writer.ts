import { createReadStream } from 'node:fs';
import { chmod, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { SlipwayError } from '../errors.js';
import { type Digester, digestAlgorithm, digestStream, type Digest, type DigestAlgorithm } from '../oci/digest.js';
import type { BlobInfo, BlobWriter, Expected } from './types.js';

/** What a writer needs from its store: to publish verified bytes and to forget the ingest. */
export interface IngestOwner {
  /** Moves verified data into place under its digest (or drops it when the blob exists). */
  publish(dataPath: string, info: BlobInfo): Promise<void>;
  /** Called once the writer is done with its ingest (committed, aborted or closed). */
  released(id: string, keep: boolean): Promise<void>;
}

/**
 * An ingest being written: bytes go to `<dir>/data` through one file handle and through
 * the running hash, so commit only verifies, it never re-reads (unless the expected digest
 * uses another algorithm than the one hashed). The file is fsynced once, at commit.
 */
export class FsBlobWriter implements BlobWriter {
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly #dir: string;
  readonly #owner: IngestOwner;
  readonly #digester: Digester;
  #fh: FileHandle | undefined;
  // Writes are serialized: each one appends after the previous has landed.
  #queue: Promise<void> = Promise.resolve();
  #failure: unknown;

  constructor(
    id: string,
    dir: string,
    fh: FileHandle,
    digester: Digester,
    owner: IngestOwner,
    labels: Record<string, string> = {},
  ) {
    this.id = id;
    this.labels = Object.freeze({ ...labels });
    this.#dir = dir;
    this.#fh = fh;
    this.#digester = digester;
    this.#owner = owner;
  }

  get size(): number {
    return this.#digester.size;
  }

  get algorithm(): DigestAlgorithm {
    return this.#digester.algorithm;
  }

  write(chunk: Uint8Array): Promise<void> {
    return this.writev([chunk]);
  }

  /**
   * Appends `chunks` in order with one vectored write: a request body's socket reads go
   * to the file as they came, without a copy into one large buffer. They are hashed
   * now, in call order, so the hash runs while the previous write is still on its way
   * to the disk. The chunks must stay unchanged until the promise settles.
   */
  writev(chunks: readonly Uint8Array[]): Promise<void> {
    try {
      this.#usable('write');
    } catch (err) {
      return Promise.reject(err);
    }
    for (const chunk of chunks) this.#digester.update(chunk);
    const next = this.#queue.then(() => this.#append(chunks));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async commit(expected: Expected = {}, beforeVisible?: (info: BlobInfo) => Promise<void>): Promise<BlobInfo> {
    const fh = await this.#finishWrites('commit');
    try {
      await fh.sync();
      await fh.close();
      const info = await this.#verify(expected);
      await chmod(this.#dataPath, 0o444);
      await beforeVisible?.(info);
      await this.#owner.publish(this.#dataPath, info);
      await this.#owner.released(this.id, false);
      return info;
    } catch (err) {
      // A failed commit leaves nothing behind: no blob, no ingest.
      await fh.close().catch(() => undefined);
      await this.#owner.released(this.id, false);
      throw err;
    }
  }

  async abort(): Promise<void> {
    const fh = this.#fh;
    this.#fh = undefined;
    await this.#queue;
    await fh?.close().catch(() => undefined);
    await this.#owner.released(this.id, false);
  }

  async close(): Promise<void> {
    if (this.#fh === undefined) return;
    const fh = await this.#finishWrites('close');
    await fh.close();
    await this.#owner.released(this.id, true);
  }

  get #dataPath(): string {
    return join(this.#dir, 'data');
  }

  async #append(chunks: readonly Uint8Array[]): Promise<void> {
    const fh = this.#usable('write');
    try {
      let rest = chunks;
      while (rest.length > 0) {
        const { bytesWritten } = await fh.writev(rest as Uint8Array[]);
        rest = unwritten(rest, bytesWritten);
      }
    } catch (err) {
      // The hash has seen bytes the file may not hold: only abort (or resume, which re-hashes) is safe.
      this.#failure = err;
      throw new SlipwayError('IO_ERROR', `writing ingest ${this.id} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async #finishWrites(what: string): Promise<FileHandle> {
    await this.#queue;
    const fh = this.#usable(what);
    this.#fh = undefined;
    return fh;
  }

  #usable(what: string): FileHandle {
    if (this.#failure !== undefined) {
      throw new SlipwayError('IO_ERROR', `cannot ${what} ingest ${this.id}: an earlier write failed; abort it`, {
        cause: this.#failure,
      });
    }
    if (this.#fh === undefined)
      throw new SlipwayError('CONFLICT', `cannot ${what} ingest ${this.id}: the writer is already finished`);
    return this.#fh;
  }

  async #verify(expected: Expected): Promise<BlobInfo> {
    const size = this.#digester.size;
    if (expected.size !== undefined && expected.size !== size) {
      throw new SlipwayError(
        'SIZE_MISMATCH',
        `upload ${this.id} has ${size} bytes, expected ${expected.size}${expected.digest ? ` for ${expected.digest}` : ''}`,
        {
          detail: { digest: expected.digest, expected: expected.size, actual: size },
        },
      );
    }
    const digest = await this.#digestFor(expected.digest);
    if (expected.digest !== undefined && digest !== expected.digest) {
      throw new SlipwayError('DIGEST_MISMATCH', `upload ${this.id} has digest ${digest}, expected ${expected.digest}`, {
        detail: { expected: expected.digest, actual: digest },
      });
    }
    return { digest, size };
  }

  /** The digest in the algorithm `expected` uses: the running hash, or a re-hash when they differ. */
  async #digestFor(expected: Digest | undefined): Promise<Digest> {
    const alg = expected === undefined ? this.#digester.algorithm : digestAlgorithm(expected);
    if (alg === this.#digester.algorithm) return this.#digester.digest();
    return (await digestStream(createReadStream(this.#dataPath), alg)).digest;
  }
}

/** What is left of `chunks` once their first `written` bytes are on disk (a short write). */
function unwritten(chunks: readonly Uint8Array[], written: number): readonly Uint8Array[] {
  let i = 0;
  let left = written;
  while (i < chunks.length && left >= chunks[i]!.length) left -= chunks[i++]!.length;
  if (i === chunks.length) return [];
  return [chunks[i]!.subarray(left), ...chunks.slice(i + 1)];
}

/** Removes an ingest directory and everything in it (read-only files included). */
export async function removeIngestDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
