import { isSlipwayError } from '../../errors.js';
import type { Digest, DigestAlgorithm } from '../../oci/digest.js';
import type { LocalStore } from '../../store/local-store.js';
import type { BlobInfo, BlobWriter } from '../../store/types.js';
import { RegistryError } from './errors.js';
import type { RegistryEvent } from './events.js';
import { SocketGarbage } from './socket-garbage.js';

/** The ingest label that ties an upload to its repository (kept on disk with the ingest). */
export const REPOSITORY_LABEL = 'repository';

export interface UploadSessionOptions {
  /** The largest blob an upload may grow to; beyond it the upload is dropped (SIZE_INVALID, 413). */
  maxUploadBytes: number;
  /** How long a writer stays open between two requests of its upload before it is parked. */
  idleMs?: number;
  /** At most this many idle writers are kept open (each holds a file handle). */
  maxIdle?: number;
  onEvent?: (event: RegistryEvent) => void;
}

const WRITE_CHUNK = 1 << 20;

/**
 * Registry upload sessions on the store's ingests. The session id is the ingest id and
 * its repository an ingest label, so a session survives a restart (`resume` re-hashes
 * what was written). Between requests the writer stays open for a while, so a
 * PATCH-then-PUT push does not re-hash the blob; idle writers are parked (`close`).
 * Requests on one session run one at a time.
 */
export class UploadSessions {
  readonly #store: LocalStore;
  readonly #options: Required<Omit<UploadSessionOptions, 'onEvent'>>;
  readonly #emit: (event: RegistryEvent) => void;
  readonly #locks = new Map<string, Promise<void>>();
  readonly #idle = new Map<string, { writer: BlobWriter; timer: NodeJS.Timeout }>();

  constructor(store: LocalStore, options: UploadSessionOptions) {
    this.#store = store;
    this.#options = { idleMs: 30_000, maxIdle: 256, ...options };
    this.#emit = options.onEvent ?? (() => undefined);
  }

  /** Opens a new session for `repository`, held by the caller until it releases it. */
  async start(repository: string, algorithm?: DigestAlgorithm): Promise<Upload> {
    const writer = await this.#store.blobs.writer({
      ...(algorithm ? { algorithm } : {}),
      labels: { [REPOSITORY_LABEL]: repository },
    });
    this.#emit({ type: 'upload', action: 'started', repository });
    return new Upload(this, writer, repository, await this.#lock(writer.id));
  }

  /** Takes an existing session of `repository` for one request. Throws BLOB_UPLOAD_UNKNOWN. */
  async open(repository: string, id: string): Promise<Upload> {
    const unlock = await this.#lock(id);
    try {
      const writer = await this.#take(id);
      if (writer.labels[REPOSITORY_LABEL] !== repository) {
        // Another repository's session (or no registry upload at all): leave it on disk untouched.
        await writer.close().catch(() => undefined);
        throw unknownUpload(id);
      }
      return new Upload(this, writer, repository, unlock);
    } catch (err) {
      unlock();
      throw err;
    }
  }

  /** Parks every idle writer (on shutdown): their sessions resume from disk later. */
  async close(): Promise<void> {
    const idle = [...this.#idle.values()];
    this.#idle.clear();
    for (const { writer, timer } of idle) {
      clearTimeout(timer);
      await writer.close().catch(() => undefined);
    }
  }

  get maxUploadBytes(): number {
    return this.#options.maxUploadBytes;
  }

  /**
   * Called by Upload: the request is done with a live writer. What it wrote is made
   * resumable by any node first (an object store's checkpoint); a writer whose
   * checkpoint failed is not kept, so the next request resumes from what was saved.
   */
  async keep(id: string, writer: BlobWriter): Promise<void> {
    await writer.checkpoint?.();
    this.#park(id, writer);
  }

  emit(event: RegistryEvent): void {
    this.#emit(event);
  }

  /** Called by Upload just before its blob becomes visible. */
  linkOnCommit(repository: string, digest: Digest): Promise<void> {
    return this.#store.meta.linkBlob(repository, digest);
  }

  /** The idle writer of this process, or the ingest resumed from disk. */
  async #take(id: string): Promise<BlobWriter> {
    const idle = this.#idle.get(id);
    if (idle !== undefined) {
      this.#idle.delete(id);
      clearTimeout(idle.timer);
      // Parked here while another node went on with the upload: what is saved is newer.
      if (!idle.writer.isCurrent || (await idle.writer.isCurrent())) return idle.writer;
    }
    try {
      const writer = await this.#store.blobs.resume(id);
      if (writer === undefined) throw unknownUpload(id);
      return writer;
    } catch (err) {
      if (isSlipwayError(err, 'CONFLICT')) {
        throw new RegistryError('BLOB_UPLOAD_INVALID', `upload ${id} is being written by another registry process`, {
          status: 409,
          detail: { id },
          cause: err,
        });
      }
      throw err;
    }
  }

  /** Keeps a writer open for the next request, closing it after idleMs (or now, when too many are open). */
  #park(id: string, writer: BlobWriter): void {
    if (this.#idle.size >= this.#options.maxIdle) {
      void writer.close().catch(() => undefined);
      return;
    }
    const timer = setTimeout(() => void this.#expire(id), this.#options.idleMs);
    timer.unref();
    this.#idle.set(id, { writer, timer });
  }

  async #expire(id: string): Promise<void> {
    const unlock = await this.#lock(id);
    try {
      const idle = this.#idle.get(id);
      this.#idle.delete(id);
      await idle?.writer.close().catch(() => undefined);
    } finally {
      unlock();
    }
  }

  /** Waits until no other request holds the session, then holds it. */
  async #lock(id: string): Promise<() => void> {
    for (let held = this.#locks.get(id); held !== undefined; held = this.#locks.get(id)) await held;
    let release!: () => void;
    this.#locks.set(
      id,
      new Promise<void>((resolve) => {
        release = resolve;
      }),
    );
    return () => {
      this.#locks.delete(id);
      release();
    };
  }
}

/**
 * One request's hold on an upload session. It must end with exactly one of `release`
 * (keep the session), `complete` or `cancel`.
 */
export class Upload {
  readonly repository: string;
  readonly #sessions: UploadSessions;
  readonly #writer: BlobWriter;
  readonly #unlock: () => void;
  #done = false;

  constructor(sessions: UploadSessions, writer: BlobWriter, repository: string, unlock: () => void) {
    this.#sessions = sessions;
    this.#writer = writer;
    this.repository = repository;
    this.#unlock = unlock;
  }

  get id(): string {
    return this.#writer.id;
  }

  /** Bytes the session holds. */
  get size(): number {
    return this.#writer.size;
  }

  /** True once released, completed or cancelled. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Appends a request body in writes of at least 1 MiB (its socket reads gathered,
   * not copied, where the writer takes several chunks at once). One write is in
   * flight while the next megabyte arrives, so the disk and the network overlap.
   * Past the upload limit the session is dropped and SIZE_INVALID (413) thrown.
   * Returns the number of bytes appended.
   */
  async append(body: AsyncIterable<Uint8Array>): Promise<number> {
    const start = this.#writer.size;
    let size = start;
    let pending: Promise<void> | undefined;
    const garbage = new SocketGarbage();
    try {
      for await (const batch of batches(body, WRITE_CHUNK)) {
        if (size + batch.length > this.#sessions.maxUploadBytes) {
          await pending;
          await this.#overLimit();
        }
        size += batch.length;
        const write = writeBatch(this.#writer, batch);
        // Settled later (awaited below); a failure meanwhile must not count as unhandled.
        write.catch(() => undefined);
        await pending;
        // The batch before this one is on disk now: its socket reads are garbage.
        if (pending !== undefined) garbage.received(batch.length);
        pending = write;
      }
      await pending;
    } catch (err) {
      await pending?.catch(() => undefined);
      throw err;
    }
    return this.#writer.size - start;
  }

  /**
   * Verifies the whole upload against `digest` and makes it visible, linked to the
   * repository. The link is recorded before the blob appears, so a GC running
   * meanwhile counts it as a fresh link and keeps it. The session ends either way:
   * on a mismatch nothing is stored.
   */
  async complete(digest: Digest): Promise<BlobInfo> {
    this.#finish();
    try {
      const info = await this.#writer.commit({ digest }, (i) => this.#sessions.linkOnCommit(this.repository, i.digest));
      this.#sessions.emit({ type: 'upload', action: 'completed', repository: this.repository, bytes: info.size });
      return info;
    } catch (err) {
      this.#sessions.emit({ type: 'upload', action: 'failed', repository: this.repository });
      throw err;
    } finally {
      this.#unlock();
    }
  }

  /** Drops the session and its data. */
  async cancel(): Promise<void> {
    this.#finish();
    try {
      await this.#writer.abort();
      this.#sessions.emit({ type: 'upload', action: 'cancelled', repository: this.repository });
    } finally {
      this.#unlock();
    }
  }

  /** Ends this request's hold; the session stays for the next request. Idempotent. */
  async release(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    try {
      await this.#sessions.keep(this.id, this.#writer);
    } finally {
      this.#unlock();
    }
  }

  async #overLimit(): Promise<never> {
    const limit = this.#sessions.maxUploadBytes;
    await this.cancel();
    throw new RegistryError(
      'SIZE_INVALID',
      `upload ${this.id} is larger than the ${limit} bytes allowed; the upload was dropped`,
      {
        status: 413,
        detail: { limit },
      },
    );
  }

  #finish(): void {
    if (this.#done) throw new RegistryError('BLOB_UPLOAD_INVALID', `upload ${this.id} is already finished`);
    this.#done = true;
  }
}

/** Chunks gathered until they hold at least `size` bytes (the last batch may hold fewer). */
export interface Batch {
  chunks: Uint8Array[];
  length: number;
}

/** Groups a body's chunks into batches of at least `size` bytes, without copying them. */
export async function* batches(source: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Batch> {
  let batch: Batch = { chunks: [], length: 0 };
  for await (const chunk of source) {
    if (chunk.length === 0) continue;
    batch.chunks.push(chunk);
    batch.length += chunk.length;
    if (batch.length >= size) {
      yield batch;
      batch = { chunks: [], length: 0 };
    }
  }
  if (batch.length > 0) yield batch;
}

/** Writes a batch: with one vectored write where the writer has one, else as one buffer. */
function writeBatch(writer: BlobWriter & { writev?: (chunks: readonly Uint8Array[]) => Promise<void> }, batch: Batch) {
  if (writer.writev !== undefined) return writer.writev(batch.chunks);
  return writer.write(batch.chunks.length === 1 ? batch.chunks[0]! : Buffer.concat(batch.chunks, batch.length));
}

function unknownUpload(id: string): RegistryError {
  return new RegistryError(
    'BLOB_UPLOAD_UNKNOWN',
    `upload ${id} is not known to this repository (finished, cancelled, or expired)`,
    { detail: { id } },
  );
}
