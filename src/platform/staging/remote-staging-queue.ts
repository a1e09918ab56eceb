import { constants, createWriteStream, fchmodSync, openSync } from 'node:fs';
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { rootCertificates } from 'node:tls';
import { type ErrorCode, isRetryable, SlipwayError } from '../../errors.js';
import { SafeRoot, safeComponents, unsafeEntry } from '../../layer/path-safety.js';
import { readTar } from '../../layer/tar-reader.js';
import type { StagedImage } from './stage-build.js';
import type { StagingJob, StagingQueue } from './staging-queue.js';

/**
 * The staging queue of `slipway worker`: the platform's worker API (/internal/v1,
 * src/server/staging/worker-api.ts) over node:http(s), authenticated by the worker
 * secret. A claim brings the job and the build's staging token, kept here for the
 * push of the image (`stagingToken`). Staging output is sent in batches (every
 * `logFlushMs`, or sooner at `logFlushBytes`), in order, and flushed before the result.
 * Calls other than claim are retried on connection errors and 5xx answers, so a
 * platform restart during a build does not lose it.
 */

export interface RemoteStagingQueueOptions {
  /** The platform's URL (`slipway serve`'s); the worker API is below it at /internal/v1. */
  server: string;
  secret: string;
  /** PEM CA certificates trusted besides the system's (a private CA). */
  ca?: string;
  /** Accept any certificate from the server (a self-signed one). */
  insecure?: boolean;
  /** How long staging output waits to be sent (default 200 ms)... */
  logFlushMs?: number;
  /** ...unless this much is waiting (default 64 KiB). */
  logFlushBytes?: number;
  /** Attempts of a call that failed in a way worth retrying (default 5). */
  attempts?: number;
  /** The last step before staging, after the package is unpacked (the worker brings the build's stack). */
  beforeStaging?: (job: StagingJob, stagingToken: string) => Promise<void>;
  onEvent?: (event: WorkerEvent) => void;
  /** Told of failures no caller sees (a batch of logs that could not be sent). */
  onError?: (err: unknown) => void;
}

/** What happened to a build, for the worker's progress lines and --json events. */
export type WorkerEvent =
  | { event: 'claimed'; build: string; app: string; space: string; org: string }
  | { event: 'staged'; build: string; app: string; digest: string }
  | { event: 'failed'; build: string; app: string; error: string }
  /** The build is no longer this worker's (taken over after its claim went stale, or gone). */
  | { event: 'lost'; build: string; app: string };

interface LogBatch {
  lines: string[];
  bytes: number;
  timer: NodeJS.Timeout | undefined;
  /** The batch being sent: batches go one after the other, so lines keep their order. */
  sending: Promise<void>;
}

const MAX_JSON_BYTES = 16 << 20;
/** How long a connection may stay silent before a call fails (the package download included). */
const IDLE_TIMEOUT_MS = 120_000;

/** The app's image in the registry, as the world names it: ORG/SPACE/APP (the slugs). */
export function publicRepositoryOf(job: StagingJob): string {
  return `${job.org.slug}/${job.space.slug}/${job.app.slug}`;
}

export class RemoteStagingQueue implements StagingQueue {
  readonly server: string;
  readonly #o: RemoteStagingQueueOptions;
  readonly #api: URL;
  readonly #agent: HttpAgent | HttpsAgent;
  readonly #tokens = new Map<string, string>();
  readonly #logs = new Map<string, LogBatch>();

  constructor(options: RemoteStagingQueueOptions) {
    this.#o = options;
    this.server = options.server.replace(/\/+$/, '');
    this.#api = new URL(`${this.server}/internal/v1/`);
    if (this.#api.protocol !== 'http:' && this.#api.protocol !== 'https:')
      throw new SlipwayError('INVALID_ARGUMENT', `the server ${options.server} is not an http:// or https:// URL`);
    this.#agent =
      this.#api.protocol === 'https:'
        ? new HttpsAgent({
            keepAlive: true,
            // A CA of our own adds to the system's roots instead of replacing them.
            ...(options.ca ? { ca: [...rootCertificates, options.ca] } : {}),
            ...(options.insecure ? { rejectUnauthorized: false } : {}),
          })
        : new HttpAgent({ keepAlive: true });
  }

  /** The staging token the platform gave with the build's claim (pushes to its app's repository only). */
  stagingToken(job: StagingJob): string {
    const token = this.#tokens.get(job.build.guid);
    if (!token)
      throw new SlipwayError(
        'CONFLICT',
        `build ${job.build.guid} was not claimed by this worker: it has no staging token`,
      );
    return token;
  }

  /** Checks the platform answers and takes the secret (UNAUTHORIZED when not). */
  async ping(): Promise<void> {
    (await this.#send('GET', 'ping', undefined, 1)).resume();
  }

  async claim(workerId: string): Promise<StagingJob | undefined> {
    // Not retried: a claim whose answer was lost is held by us until it is stale, then taken again.
    const res = await this.#send('POST', 'builds/claim', { workerId }, 1);
    if (res.statusCode === 204) {
      res.resume();
      return undefined;
    }
    const { job, stagingToken } = (await readJson(res)) as { job: StagingJob; stagingToken: string };
    if (!job?.build?.guid || typeof stagingToken !== 'string')
      throw new SlipwayError('INVALID_DOCUMENT', `${this.server} answered a claim without a job and a staging token`);
    this.#tokens.set(job.build.guid, stagingToken);
    this.#o.onEvent?.({
      event: 'claimed',
      build: job.build.guid,
      app: job.app.name,
      space: job.space.name,
      org: job.org.name,
    });
    return job;
  }

  async heartbeat(job: StagingJob, workerId: string): Promise<boolean> {
    const res = await this.#send('POST', `builds/${job.build.guid}/heartbeat`, { workerId }, undefined, [409]);
    res.resume();
    if (res.statusCode === 409) {
      this.#o.onEvent?.({ event: 'lost', build: job.build.guid, app: job.app.name });
      return false;
    }
    return true;
  }

  async extract(job: StagingJob, dir: string): Promise<void> {
    const res = await this.#send('GET', `builds/${job.build.guid}/package`);
    await writePackage(res, dir);
    if (this.#o.beforeStaging) await this.#o.beforeStaging(job, this.stagingToken(job));
  }

  log(job: StagingJob, stream: 'OUT' | 'ERR', text: string): void {
    const guid = job.build.guid;
    let batch = this.#logs.get(guid);
    if (!batch) this.#logs.set(guid, (batch = { lines: [], bytes: 0, timer: undefined, sending: Promise.resolve() }));
    const line = JSON.stringify({ stream, text });
    batch.lines.push(line);
    batch.bytes += line.length + 1;
    if (batch.bytes >= (this.#o.logFlushBytes ?? 64 * 1024)) this.#flush(guid);
    else if (!batch.timer) {
      batch.timer = setTimeout(() => this.#flush(guid), this.#o.logFlushMs ?? 200);
      batch.timer.unref();
    }
  }

  async succeed(job: StagingJob, workerId: string, image: StagedImage): Promise<void> {
    if (await this.#finish(job, 'succeed', { workerId, image }))
      this.#o.onEvent?.({ event: 'staged', build: job.build.guid, app: job.app.name, digest: image.digest });
  }

  async fail(job: StagingJob, workerId: string, error: string): Promise<void> {
    if (await this.#finish(job, 'fail', { workerId, error }))
      this.#o.onEvent?.({ event: 'failed', build: job.build.guid, app: job.app.name, error });
  }

  /** Sends what logs are waiting (at shutdown). */
  async close(): Promise<void> {
    for (const guid of [...this.#logs.keys()]) await this.#flushed(guid);
    this.#agent.destroy();
  }

  /**
   * The result, after every log line before it. False when the build is no longer ours
   * (409: it is left to its new worker); a refusal (a digest the registry lacks) throws.
   */
  async #finish(job: StagingJob, what: 'succeed' | 'fail', body: unknown): Promise<boolean> {
    const guid = job.build.guid;
    await this.#flushed(guid);
    this.#logs.delete(guid);
    const res = await this.#send('POST', `builds/${guid}/${what}`, body, undefined, [409]);
    res.resume();
    this.#tokens.delete(guid);
    if (res.statusCode !== 409) return true;
    this.#o.onEvent?.({ event: 'lost', build: guid, app: job.app.name });
    return false;
  }

  #flush(guid: string): void {
    const batch = this.#logs.get(guid);
    if (!batch) return;
    if (batch.timer) clearTimeout(batch.timer);
    batch.timer = undefined;
    if (batch.lines.length === 0) return;
    const body = `${batch.lines.join('\n')}\n`;
    batch.lines = [];
    batch.bytes = 0;
    batch.sending = batch.sending
      .then(() => this.#send('POST', `builds/${guid}/logs`, body, undefined, [409]))
      .then((res) => void res.resume())
      // Logs are told, not relied on: a batch that cannot be sent is reported and dropped.
      .catch((err: unknown) => this.#o.onError?.(err));
  }

  async #flushed(guid: string): Promise<void> {
    this.#flush(guid);
    await this.#logs.get(guid)?.sending;
  }

  /** One call, retried while it fails in a way worth retrying; any status but 2xx and `ok` throws. */
  async #send(
    method: string,
    path: string,
    body?: unknown,
    attempts = this.#o.attempts ?? 5,
    ok: number[] = [],
  ): Promise<IncomingMessage> {
    const payload =
      body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : Buffer.from(JSON.stringify(body));
    const type = typeof body === 'string' ? 'application/x-ndjson' : 'application/json';
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.#exchange(method, new URL(path, this.#api), payload, type);
        const status = res.statusCode ?? 0;
        if ((status >= 200 && status < 300) || ok.includes(status)) return res;
        throw await answerError(method, path, res);
      } catch (err) {
        if (attempt >= attempts || !isRetryable(err)) throw err;
        await new Promise((r) => setTimeout(r, Math.min(10_000, 250 * 2 ** attempt)));
      }
    }
  }

  #exchange(method: string, url: URL, body: Buffer | undefined, type: string): Promise<IncomingMessage> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.#o.secret}` };
    if (body) Object.assign(headers, { 'content-type': type, 'content-length': String(body.length) });
    return new Promise((resolve, reject) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
        url,
        { method, headers, agent: this.#agent },
        resolve,
      );
      req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
      req.on('error', (err) =>
        reject(
          new SlipwayError('IO_ERROR', `${method} ${url.origin}${url.pathname}: ${err.message}`, {
            cause: err,
            // A certificate the worker does not trust will not change by asking again.
            detail: { retryable: !/certificate|self.signed/i.test(err.message) },
          }),
        ),
      );
      req.end(body);
    });
  }
}

/** A failed call as a SlipwayError with the API's code and message (401: the secret; 5xx: worth retrying). */
async function answerError(method: string, path: string, res: IncomingMessage): Promise<SlipwayError> {
  const status = res.statusCode ?? 0;
  let found: { code?: string; message?: string } | undefined;
  try {
    found = ((await readJson(res)) as { error?: { code?: string; message?: string } }).error;
  } catch {
    // not our JSON (a proxy's page): the status says enough
  }
  const message = `${method} /internal/v1/${path}: ${status} ${found?.message ?? res.statusMessage ?? ''}`.trim();
  if (status === 401)
    return new SlipwayError('UNAUTHORIZED', `${message}: give the platform's worker secret (--secret-file)`);
  if (status >= 500 || status === 429 || status === 0)
    return new SlipwayError('IO_ERROR', message, { detail: { retryable: true, status } });
  const code: ErrorCode = status === 409 ? 'CONFLICT' : status === 404 ? 'NOT_FOUND' : 'INVALID_ARGUMENT';
  return new SlipwayError(code, message, { detail: { status, ...(found?.code ? { apiCode: found.code } : {}) } });
}

async function readJson(res: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    size += (chunk as Buffer).length;
    if (size > MAX_JSON_BYTES) {
      res.destroy();
      throw new SlipwayError('TOO_LARGE', `an answer of the worker API is larger than ${MAX_JSON_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      `the worker API answered something that is not JSON: ${text.slice(0, 200)}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * A package's tar into `dir`, as the package store extracts it: paths checked (no
 * absolute path, no ".."), every directory on the way proven real with lstat, each file
 * a fresh name opened O_EXCL|O_NOFOLLOW; anything but files and directories refused.
 */
async function writePackage(tar: IncomingMessage, dir: string): Promise<void> {
  const root = new SafeRoot(dir);
  for await (const { entry, content } of readTar(tar)) {
    const parts = safeComponents(entry.path, entry.path);
    if (parts.length === 0) continue;
    if (entry.type === 'directory') {
      root.directory(parts, entry.path, true);
      continue;
    }
    if (entry.type !== 'file') throw unsafeEntry(entry.path, `it is a ${entry.type}: a package holds only files`);
    const parent = root.directory(parts.slice(0, -1), entry.path, true)!;
    const mode = entry.mode & 0o777;
    const fd = openSync(
      join(parent, parts[parts.length - 1]!),
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      mode,
    );
    fchmodSync(fd, mode); // the umask must not change what the package says
    await pipeline(content, createWriteStream('', { fd }));
  }
}
