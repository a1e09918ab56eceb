import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { SlipwayError } from '../errors.js';
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
import { DEFAULT_READ_LIMIT } from './fs-blob-store.js';
import { ownerString, parseOwner } from './owner.js';
import type {
  BlobInfo,
  BlobStore,
  BlobWriter,
  Expected,
  IngestInfo,
  MetadataStore,
  UploadState,
  WriterOptions,
} from './types.js';

/**
 * Blobs in an S3-compatible object store (AWS S3, Ceph RGW, MinIO, ...):
 *
 *   PREFIX/blobs/<alg>/<hex>     a blob, only ever written whole once its digest is checked
 *   PREFIX/uploads/<id>/data     an upload being assembled (a multipart upload)
 *   PREFIX/uploads/<id>/tail     its last bytes that do not make a part yet
 *
 * An upload is a multipart upload of PART_SIZE parts; where it stands (its parts, the
 * tail) is in the metadata database (`MetadataStore.saveUpload`), saved at the end of
 * every registry request (`checkpoint`), so the next request may go to any node. The
 * running hash cannot be saved (node:crypto has no exportable state): a writer that
 * saw every byte commits with its hash; one resumed elsewhere hashes the assembled
 * object once by reading it back. Either way the digest is checked before the object
 * under the digest's name is written (PutObject or a server-side copy, each atomic in
 * S3), so no half or wrong blob is ever visible. Mounts need no copy: blobs are global
 * by digest, a mount only links it to the repository.
 *
 * Location: `s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path-style=true]`; endpoint
 * and region default to the SDK's (AWS_ENDPOINT_URL, AWS_REGION, ~/.aws/config),
 * credentials come from its usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
 * AWS_PROFILE and ~/.aws/credentials, instance roles).
 */

/** A part: S3's minimum is 5 MiB (all but the last); larger parts mean fewer requests. */
const PART_SIZE = 8 * 1024 * 1024;
/** CopyObject copies at most 5 GiB; beyond, the copy goes in parts of this size. */
const COPY_LIMIT = 5 * 1024 ** 3;
const COPY_PART = 1024 ** 3;
const INGEST_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export interface S3Location {
  bucket: string;
  /** '' or ending in '/'. */
  prefix: string;
  endpoint?: string;
  region?: string;
  pathStyle: boolean;
}

/** Parses `s3://BUCKET[/PREFIX][?endpoint=...&region=...&path-style=true]`. */
export function parseS3Url(url: string): S3Location {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    u = new URL('invalid:');
  }
  if (u.protocol !== 's3:' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(u.hostname))
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `--blobs takes s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION&path-style=true], got ${JSON.stringify(url)}`,
    );
  const prefix = decodeURIComponent(u.pathname.replace(/^\/+/, '')).replace(/\/*$/, '');
  const endpoint = u.searchParams.get('endpoint') ?? undefined;
  const region = u.searchParams.get('region') ?? undefined;
  return {
    bucket: u.hostname,
    prefix: prefix ? `${prefix}/` : '',
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    pathStyle: ['true', '1', 'yes'].includes(u.searchParams.get('path-style') ?? ''),
  };
}

export class S3BlobStore implements BlobStore {
  readonly location: S3Location;
  readonly #s3: S3Client;
  readonly #meta: MetadataStore;

  constructor(location: S3Location, meta: MetadataStore, config: S3ClientConfig = {}) {
    this.location = location;
    this.#meta = meta;
    // Slipway runs on Node.js 20 with this SDK version pinned: its notice about later releases is not for our users.
    process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
    this.#s3 = new S3Client({
      ...(location.endpoint ? { endpoint: location.endpoint } : {}),
      // A region is required to sign; S3-compatible servers mostly accept any.
      region: location.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? 'us-east-1',
      forcePathStyle: location.pathStyle,
      // 503 SlowDown, throttling, 5xx and reset connections: retried, 6 tries over about 4 s,
      // so a registry request waits through a short storm but not for a minute.
      retryStrategy: new ConfiguredRetryStrategy(
        6,
        (attempt) => Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2),
      ),
      ...config,
    });
  }

  /** Where this store is, for messages. */
  get where(): string {
    return `s3://${this.location.bucket}/${this.location.prefix}${this.location.endpoint ? ` at ${this.location.endpoint}` : ''}`;
  }

  /** Checks the bucket answers (the /healthz probe). */
  async probe(): Promise<void> {
    await this.#call('reach the bucket', () => this.#s3.send(new HeadBucketCommand({ Bucket: this.location.bucket })));
  }

  async stat(digest: Digest): Promise<BlobInfo | undefined> {
    const key = this.#blobKey(digest);
    try {
      const head = await this.#s3.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: key }));
      return { digest, size: Number(head.ContentLength ?? 0) };
    } catch (err) {
      if (notFound(err)) return undefined;
      throw this.#error(`look up ${key}`, err);
    }
  }

  async open(digest: Digest, range?: { start: number; end?: number }): Promise<Readable> {
    const key = this.#blobKey(digest);
    let header: string | undefined;
    if (range !== undefined) {
      const info = await this.stat(digest);
      if (!info) throw unknownBlob(digest);
      const end = Math.min(range.end ?? info.size - 1, info.size - 1);
      if (!Number.isSafeInteger(range.start) || range.start < 0 || range.start >= info.size || end < range.start)
        throw new SlipwayError(
          'RANGE_NOT_SATISFIABLE',
          `range ${range.start}-${range.end ?? ''} is outside blob ${digest} of ${info.size} bytes`,
          { detail: { digest, size: info.size, start: range.start, end: range.end } },
        );
      header = `bytes=${range.start}-${end}`;
    }
    try {
      const got = await this.#s3.send(
        new GetObjectCommand({ Bucket: this.location.bucket, Key: key, ...(header ? { Range: header } : {}) }),
      );
      return got.Body as Readable;
    } catch (err) {
      if (notFound(err)) throw unknownBlob(digest);
      throw this.#error(`read ${key}`, err);
    }
  }

  async read(digest: Digest, maxSize = DEFAULT_READ_LIMIT): Promise<Buffer> {
    const info = await this.stat(digest);
    if (!info) throw unknownBlob(digest);
    if (info.size > maxSize)
      throw new SlipwayError(
        'TOO_LARGE',
        `blob ${digest} has ${info.size} bytes, more than the ${maxSize} allowed here`,
        {
          detail: { digest, size: info.size, maxSize },
        },
      );
    const chunks: Buffer[] = [];
    for await (const chunk of await this.open(digest)) chunks.push(chunk as Buffer);
    const data = Buffer.concat(chunks);
    // Documents are small, so checking them on every read is cheap and catches a damaged store.
    const actual = digestOf(data, digestAlgorithm(digest));
    if (actual !== digest)
      throw new SlipwayError('DIGEST_MISMATCH', `stored blob ${digest} is corrupt: its content hashes to ${actual}`, {
        detail: { expected: digest, actual },
      });
    return data;
  }

  /** A time-limited URL a client may GET the blob from directly (`serve --s3-redirect`). */
  presignedUrl(digest: Digest, seconds = 300): Promise<string> {
    return getSignedUrl(this.#s3, new GetObjectCommand({ Bucket: this.location.bucket, Key: this.#blobKey(digest) }), {
      expiresIn: seconds,
    });
  }

  async writer(options: WriterOptions = {}): Promise<BlobWriter> {
    const state: UploadState = {
      id: randomUUID(),
      version: 1,
      updated: new Date().toISOString(),
      labels: { ...options.labels },
      parts: [],
      tail: 0,
      owner: ownerString(),
    };
    // Recorded before anything is written to the bucket, so GC finds every upload made.
    await this.#meta.saveUpload(state);
    return new S3BlobWriter(this, state, Buffer.alloc(0), new Digester(options.algorithm ?? 'sha256'));
  }

  async resume(id: string): Promise<BlobWriter | undefined> {
    if (!INGEST_ID.test(id)) return undefined;
    const state = await this.#meta.getUpload(id);
    if (!state) return undefined;
    const tail = state.tail > 0 ? await this.readObject(this.uploadKey(id, 'tail')) : Buffer.alloc(0);
    if (tail.length !== state.tail)
      throw new SlipwayError(
        'IO_ERROR',
        `upload ${id}: its tail in ${this.where} has ${tail.length} bytes, not ${state.tail}`,
      );
    return new S3BlobWriter(this, state, tail, undefined);
  }

  async delete(digest: Digest): Promise<boolean> {
    if (!(await this.stat(digest))) return false;
    await this.deleteObject(this.#blobKey(digest));
    return true;
  }

  async *list(): AsyncIterable<Digest> {
    const base = `${this.location.prefix}blobs/`;
    let token: string | undefined;
    do {
      const page = await this.#call('list the blobs', () =>
        this.#s3.send(
          new ListObjectsV2Command({
            Bucket: this.location.bucket,
            Prefix: base,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        ),
      );
      for (const o of page.Contents ?? []) {
        const [alg, hex] = (o.Key ?? '').slice(base.length).split('/');
        const digest = `${alg}:${hex}`;
        if (isDigest(digest)) yield digest;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async listIngests(): Promise<IngestInfo[]> {
    return (await this.#meta.listUploads()).map((u) => {
      const owner = parseOwner(u.owner);
      return {
        id: u.id,
        mtimeMs: Date.parse(u.updated),
        ...(owner ? { pid: owner.pid, host: owner.host } : {}),
      };
    });
  }

  async removeIngest(id: string): Promise<void> {
    const state = await this.#meta.getUpload(id);
    if (state) await this.dropUpload(state);
  }

  // What the writers use.

  uploadKey(id: string, part: 'data' | 'tail'): string {
    return `${this.location.prefix}uploads/${id}/${part}`;
  }

  get meta(): MetadataStore {
    return this.#meta;
  }

  get s3(): S3Client {
    return this.#s3;
  }

  blobKey(digest: Digest): string {
    return this.#blobKey(digest);
  }

  async readObject(key: string): Promise<Buffer> {
    const got = await this.#call(`read ${key}`, () =>
      this.#s3.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: key })),
    );
    return Buffer.from(await got.Body!.transformToByteArray());
  }

  async deleteObject(key: string): Promise<void> {
    await this.#call(`delete ${key}`, () =>
      this.#s3.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: key })),
    );
  }

  /** An upload's objects and record, gone (its multipart upload aborted, unless `completed`). */
  async dropUpload(state: UploadState, completed = false): Promise<void> {
    if (state.multipartId && !completed)
      await this.#s3
        .send(
          new AbortMultipartUploadCommand({
            Bucket: this.location.bucket,
            Key: this.uploadKey(state.id, 'data'),
            UploadId: state.multipartId,
          }),
        )
        .catch((err: unknown) => {
          // Completed or aborted already; or a server without AbortMultipartUpload (s3rver), whose
          // parts are invisible and left to the bucket's lifecycle rule.
          const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
          if (!notFound(err) && status !== 405 && status !== 501)
            throw this.#error(`abort the upload of ${state.id}`, err);
        });
    await this.deleteObject(this.uploadKey(state.id, 'tail'));
    await this.deleteObject(this.uploadKey(state.id, 'data'));
    await this.#meta.deleteUpload(state.id);
  }

  /** Copies a verified upload to its blob's name: one CopyObject, or part copies past 5 GiB. */
  async publish(from: string, info: BlobInfo): Promise<void> {
    const Bucket = this.location.bucket;
    const Key = this.#blobKey(info.digest);
    if (await this.stat(info.digest)) return;
    const source = `${Bucket}/${encodeURIComponent(from).replace(/%2F/g, '/')}`;
    if (info.size <= COPY_LIMIT) {
      await this.#call(`copy ${from} to ${Key}`, () =>
        this.#s3.send(new CopyObjectCommand({ Bucket, Key, CopySource: source })),
      );
      return;
    }
    const { UploadId } = await this.#call(`copy ${from} to ${Key}`, () =>
      this.#s3.send(new CreateMultipartUploadCommand({ Bucket, Key })),
    );
    try {
      const parts: { PartNumber: number; ETag: string | undefined }[] = [];
      for (let n = 1, at = 0; at < info.size; n++, at += COPY_PART) {
        const end = Math.min(at + COPY_PART, info.size) - 1;
        const r = await this.#call(`copy ${from} to ${Key}`, () =>
          this.#s3.send(
            new UploadPartCopyCommand({
              Bucket,
              Key,
              UploadId,
              PartNumber: n,
              CopySource: source,
              CopySourceRange: `bytes=${at}-${end}`,
            }),
          ),
        );
        parts.push({ PartNumber: n, ETag: r.CopyPartResult?.ETag });
      }
      await this.#call(`copy ${from} to ${Key}`, () =>
        this.#s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts: parts } })),
      );
    } catch (err) {
      await this.#s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined);
      throw err;
    }
  }

  /** Runs one call of the object store; what still fails after the SDK's retries becomes a SlipwayError. */
  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.#error(what, err);
    }
  }

  #error(what: string, err: unknown): SlipwayError {
    if (err instanceof SlipwayError) return err;
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const name = (err as Error).name ?? 'Error';
    const transient = status === undefined || status >= 500 || status === 429;
    return new SlipwayError(
      transient ? 'UNAVAILABLE' : 'IO_ERROR',
      `the object store ${this.where} failed to ${what}: ${name}${status ? ` (HTTP ${status})` : ''}: ${(err as Error).message}${transient ? '; check that it runs and that this host reaches it' : '; check the bucket, its permissions and the credentials'}`,
      { cause: err, detail: { bucket: this.location.bucket, ...(status ? { status } : {}) } },
    );
  }

  #blobKey(digest: Digest): string {
    const d = parseDigest(digest);
    return `${this.location.prefix}blobs/${digestAlgorithm(d)}/${digestHex(d)}`;
  }
}

/**
 * One upload. Bytes are buffered up to a part and sent as UploadPart; `checkpoint`
 * puts what is left in the tail object and saves the state over the version read, so
 * a writer that another node overtook fails instead of overwriting it.
 */
class S3BlobWriter implements BlobWriter {
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly #store: S3BlobStore;
  #state: UploadState;
  #buffer: Buffer;
  /** Undefined once resumed: the bytes before were hashed elsewhere. */
  readonly #digester: Digester | undefined;
  #queue: Promise<void> = Promise.resolve();
  #failure: unknown;
  #dirty = false;
  #finished = false;

  constructor(store: S3BlobStore, state: UploadState, tail: Buffer, digester: Digester | undefined) {
    this.#store = store;
    this.#state = state;
    this.id = state.id;
    this.labels = Object.freeze({ ...state.labels });
    this.#buffer = tail;
    this.#digester = digester;
  }

  get size(): number {
    return this.#state.parts.reduce((n, p) => n + p.size, 0) + this.#buffer.length;
  }

  write(chunk: Uint8Array): Promise<void> {
    const next = this.#queue.then(() => this.#append(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Makes every byte written durable and saves where the upload stands (the end of a registry request). */
  async checkpoint(): Promise<void> {
    await this.#settled('checkpoint');
    if (!this.#dirty) return;
    if (this.#buffer.length > 0)
      await this.#store.s3.send(
        new PutObjectCommand({
          Bucket: this.#store.location.bucket,
          Key: this.#store.uploadKey(this.id, 'tail'),
          Body: this.#buffer,
        }),
      );
    await this.#save({ tail: this.#buffer.length });
    this.#dirty = false;
  }

  /** False when another writer (another node) saved this upload since this one last did. */
  async isCurrent(): Promise<boolean> {
    return (await this.#store.meta.getUpload(this.id))?.version === this.#state.version;
  }

  async commit(expected: Expected = {}, beforeVisible?: (info: BlobInfo) => Promise<void>): Promise<BlobInfo> {
    await this.#settled('commit');
    this.#finished = true;
    const store = this.#store;
    try {
      let info: BlobInfo;
      if (this.#state.parts.length === 0) {
        // Small: the whole blob is in memory, so it is checked there and written once, whole.
        const data = this.#buffer;
        info = verify(this.id, data.length, this.#digester, expected, () => digestOf(data, algorithmOf(expected)));
        await beforeVisible?.(info);
        if (!(await store.stat(info.digest)))
          await store.s3.send(
            new PutObjectCommand({ Bucket: store.location.bucket, Key: store.blobKey(info.digest), Body: data }),
          );
      } else {
        if (this.#buffer.length > 0) await this.#uploadPart(this.#buffer);
        this.#buffer = Buffer.alloc(0);
        const key = store.uploadKey(this.id, 'data');
        await store.s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: store.location.bucket,
            Key: key,
            UploadId: this.#state.multipartId,
            MultipartUpload: { Parts: this.#state.parts.map((p) => ({ PartNumber: p.number, ETag: p.etag })) },
          }),
        );
        const size = this.#state.parts.reduce((n, p) => n + p.size, 0);
        const live = this.#digester?.algorithm === algorithmOf(expected) ? this.#digester : undefined;
        // Resumed here: the bytes before were hashed elsewhere, so the assembled object is read back once.
        const digester = live ?? (await this.#hashObject(key, algorithmOf(expected)));
        info = verify(this.id, size, digester, expected, undefined);
        await beforeVisible?.(info);
        await store.publish(key, info);
      }
      // The multipart upload is complete: dropping it removes the assembled object, the tail and the record.
      await store.dropUpload(this.#state, true);
      return info;
    } catch (err) {
      // A failed commit leaves nothing behind: no blob, no upload.
      await store.dropUpload(this.#state).catch(() => undefined);
      throw err;
    }
  }

  async abort(): Promise<void> {
    this.#finished = true;
    await this.#queue;
    await this.#store.dropUpload(this.#state);
  }

  async close(): Promise<void> {
    if (this.#finished) return;
    await this.checkpoint();
    this.#finished = true;
  }

  async #append(chunk: Buffer): Promise<void> {
    if (this.#finished) throw new SlipwayError('CONFLICT', `cannot write upload ${this.id}: the writer is finished`);
    if (this.#failure !== undefined) throw this.#failed('write');
    this.#digester?.update(chunk);
    this.#buffer = this.#buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buffer, chunk]);
    this.#dirty = true;
    try {
      while (this.#buffer.length >= PART_SIZE) {
        await this.#uploadPart(this.#buffer.subarray(0, PART_SIZE));
        this.#buffer = Buffer.from(this.#buffer.subarray(PART_SIZE));
      }
    } catch (err) {
      // Bytes hashed but not stored: only abort (or resume from the saved state) is safe now.
      this.#failure = err;
      throw err;
    }
  }

  async #uploadPart(bytes: Buffer): Promise<void> {
    const store = this.#store;
    if (!this.#state.multipartId) {
      const { UploadId } = await store.s3.send(
        new CreateMultipartUploadCommand({ Bucket: store.location.bucket, Key: store.uploadKey(this.id, 'data') }),
      );
      // Saved at once: GC must be able to abort a multipart upload whatever happens next.
      await this.#save({ multipartId: UploadId! });
    }
    const number = this.#state.parts.length + 1;
    const r = await store.s3.send(
      new UploadPartCommand({
        Bucket: store.location.bucket,
        Key: store.uploadKey(this.id, 'data'),
        UploadId: this.#state.multipartId,
        PartNumber: number,
        Body: bytes,
      }),
    );
    this.#state = { ...this.#state, parts: [...this.#state.parts, { number, etag: r.ETag ?? '', size: bytes.length }] };
  }

  async #save(change: Partial<UploadState>): Promise<void> {
    const previous = this.#state.version;
    const next: UploadState = {
      ...this.#state,
      ...change,
      version: previous + 1,
      updated: new Date().toISOString(),
      owner: ownerString(),
    };
    if (!(await this.#store.meta.saveUpload(next, previous))) {
      this.#failure = new SlipwayError('CONFLICT', `upload ${this.id} was continued elsewhere meanwhile`);
      throw this.#failure;
    }
    this.#state = next;
  }

  async #hashObject(key: string, algorithm: DigestAlgorithm): Promise<Digester> {
    const digester = new Digester(algorithm);
    const got = await this.#store.s3.send(new GetObjectCommand({ Bucket: this.#store.location.bucket, Key: key }));
    for await (const chunk of got.Body as Readable) digester.update(chunk as Buffer);
    return digester;
  }

  async #settled(what: string): Promise<void> {
    await this.#queue;
    if (this.#finished) throw new SlipwayError('CONFLICT', `cannot ${what} upload ${this.id}: the writer is finished`);
    if (this.#failure !== undefined) throw this.#failed(what);
  }

  #failed(what: string): SlipwayError {
    return new SlipwayError('IO_ERROR', `cannot ${what} upload ${this.id}: an earlier write failed; abort it`, {
      cause: this.#failure,
    });
  }
}

function algorithmOf(expected: Expected): DigestAlgorithm {
  return expected.digest ? digestAlgorithm(expected.digest) : 'sha256';
}

/** Checks size and digest; the digest from the live hash, or `rehash` when the algorithm differs or none ran. */
function verify(
  id: string,
  size: number,
  digester: Digester | undefined,
  expected: Expected,
  rehash: (() => Digest) | undefined,
): BlobInfo {
  if (expected.size !== undefined && expected.size !== size)
    throw new SlipwayError(
      'SIZE_MISMATCH',
      `upload ${id} has ${size} bytes, expected ${expected.size}${expected.digest ? ` for ${expected.digest}` : ''}`,
      { detail: { expected: expected.size, actual: size } },
    );
  const digest =
    digester && digester.algorithm === algorithmOf(expected) ? digester.digest() : rehash ? rehash() : undefined;
  if (digest === undefined) throw new SlipwayError('IO_ERROR', `upload ${id}: nothing hashed its bytes`);
  if (expected.digest !== undefined && expected.digest !== digest)
    throw new SlipwayError('DIGEST_MISMATCH', `upload ${id} has digest ${digest}, expected ${expected.digest}`, {
      detail: { expected: expected.digest, actual: digest },
    });
  return { digest, size };
}

function notFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return (
    e.name === 'NoSuchKey' || e.name === 'NotFound' || e.name === 'NoSuchUpload' || e.$metadata?.httpStatusCode === 404
  );
}

function unknownBlob(digest: Digest): SlipwayError {
  return new SlipwayError('BLOB_UNKNOWN', `blob ${digest} is not in the store`, { detail: { digest } });
}
