import { STATUS_CODES } from 'node:http';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import { SlipwayError, isRetryable, isSlipwayError, type ErrorCode } from '../../errors.js';
import { DigestStream, digestAlgorithm, digestOf, isDigest, parseDigest, type Digest } from '../../oci/digest.js';
import { MAX_DOCUMENT_SIZE } from '../../image/blob-source.js';
import type { Descriptor } from '../../oci/types.js';
import { RegistryAuth, type Credentials } from './auth.js';
import { HttpClient, discard, readText, type HttpResponse } from './http.js';
import { chain as chainStreams } from '../../streams.js';

export interface RegistryClientOptions {
  credentials?: Credentials;
  /** `get` (default) or `oauth2` (POST password grant first, as containerd does). */
  tokenFlow?: 'get' | 'oauth2';
  /** Plain http even off loopback. */
  insecure?: boolean;
  /** Attempts for idempotent calls on 5xx/429/connection errors (default 4). */
  attempts?: number;
  /** First backoff delay in ms, doubled on each retry (default 200). */
  backoffMs?: number;
  /** Blobs of this size or more are uploaded in PATCH chunks; smaller ones in one PUT (default 8 MiB). */
  chunkThreshold?: number;
  /** The size of each PATCH chunk, streamed from the source (default: the whole blob in one PATCH). */
  chunkSize?: number;
  /** The CA certificates TLS trusts (system roots included), for registries with a private CA. */
  ca?: string[];
  /** The fetch used for token requests (tests count them). */
  fetch?: typeof fetch;
}

export interface Manifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

export interface ManifestHead {
  digest: Digest | undefined;
  mediaType: string;
  size: number | undefined;
}

interface RequestOptions {
  scopes: string[];
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  /** Retry on 5xx/429/connection errors. */
  idempotent?: boolean;
  /** Statuses the caller handles itself (no error thrown). */
  ok?: number[];
}

const DEFAULT_THRESHOLD = 8 * 1024 * 1024;
/** No chunking by default: one PATCH per blob. */
const DEFAULT_CHUNK = Number.POSITIVE_INFINITY;

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * A client for one registry host, speaking the OCI distribution API: manifests,
 * blobs (streamed both ways, verified as they arrive), mounts and tags. Auth
 * (anonymous, Basic, Bearer tokens) is handled per request from the scopes it needs.
 *
 * @example
 * const client = new RegistryClient('127.0.0.1:5000');
 * const { bytes, digest } = await client.getManifest('team/app', 'v1', [MediaType.OciManifest]);
 */
export class RegistryClient {
  readonly host: string;
  readonly baseUrl: string;
  readonly auth: RegistryAuth;
  readonly #http: HttpClient;
  readonly #attempts: number;
  readonly #backoffMs: number;
  readonly #chunkThreshold: number;
  readonly #chunkSize: number;
  /** Upload sessions opened by mounts that could not be made, by `repo@digest`, for the upload that follows. */
  readonly #pending = new Map<string, string>();
  /** Upload sessions being opened ahead by openUpload, by `repo@digest`. */
  readonly #opening = new Map<string, Promise<string | undefined>>();
  /** Whether the registry takes a small blob in one POST (201); undefined until tried. */
  #onePost: boolean | undefined;
  /** The one POST that asks it, while it is in flight: the others wait rather than send their bodies to a registry that may drop them. */
  #onePostAsked: Promise<void> | undefined;

  constructor(host: string, options: RegistryClientOptions = {}) {
    const explicit = /^(https?):\/\/([^/]+)\/?$/.exec(host);
    const hostPart = explicit ? explicit[2]! : host.replace(/\/+$/, '');
    const hostname = hostPart.startsWith('[') ? hostPart.slice(0, hostPart.indexOf(']') + 1) : hostPart.split(':')[0]!;
    const scheme = explicit ? explicit[1]! : options.insecure || isLoopbackHost(hostname) ? 'http' : 'https';
    this.host = hostPart;
    this.baseUrl = `${scheme}://${hostPart}`;
    this.#http = new HttpClient(options.ca ? { ca: options.ca } : {});
    this.auth = new RegistryAuth({
      fetch: options.fetch ?? this.#http.fetch,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      ...(options.tokenFlow ? { tokenFlow: options.tokenFlow } : {}),
    });
    this.#attempts = Math.max(1, options.attempts ?? 4);
    this.#backoffMs = options.backoffMs ?? 200;
    this.#chunkThreshold = options.chunkThreshold ?? DEFAULT_THRESHOLD;
    this.#chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  }

  /** Blobs of this size or more are streamed in PATCH; smaller ones go in one request. */
  get chunkThreshold(): number {
    return this.#chunkThreshold;
  }

  // ---- manifests ----

  /** Fetches a manifest; verified against the digest it was asked by, or against Docker-Content-Digest. */
  async getManifest(repo: string, ref: string, accept: readonly string[]): Promise<Manifest> {
    const res = await this.#request('GET', `/v2/${repo}/manifests/${ref}`, {
      scopes: [pullScope(repo)],
      headers: { Accept: accept.join(', ') },
      idempotent: true,
    });
    const bytes = await readLimited(res, MAX_DOCUMENT_SIZE, `manifest ${repo}:${ref}`);
    const expected = isDigest(ref) ? ref : headerDigest(res);
    const digest = digestOf(bytes, expected ? digestAlgorithm(expected) : 'sha256');
    if (expected && digest !== expected) {
      throw new SlipwayError(
        'DIGEST_MISMATCH',
        `registry ${this.host} sent manifest ${repo}@${expected} with content digest ${digest}: refusing it`,
        {
          detail: { expected, actual: digest },
        },
      );
    }
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim() || mediaTypeOf(bytes);
    return { bytes, mediaType, digest: digest.startsWith('sha256:') ? digest : digestOf(bytes) };
  }

  /** HEAD on a manifest: its digest, media type and size, or undefined when it is not there. */
  async headManifest(repo: string, ref: string, accept: readonly string[]): Promise<ManifestHead | undefined> {
    const res = await this.#request('HEAD', `/v2/${repo}/manifests/${ref}`, {
      scopes: [pullScope(repo)],
      headers: { Accept: accept.join(', ') },
      idempotent: true,
      ok: [404],
    });
    discard(res);
    if (res.status === 404) return undefined;
    const length = res.headers.get('content-length');
    return {
      digest: headerDigest(res) ?? (isDigest(ref) ? ref : undefined),
      mediaType: (res.headers.get('content-type') ?? '').split(';')[0]!.trim(),
      size: length === null ? undefined : Number(length),
    };
  }

  /** Stores a manifest under a tag or its digest; returns its digest. */
  async putManifest(repo: string, ref: string, bytes: Buffer, mediaType: string): Promise<Digest> {
    const digest = digestOf(bytes);
    const res = await this.#request('PUT', `/v2/${repo}/manifests/${ref}`, {
      scopes: [pushScope(repo)],
      headers: { 'Content-Type': mediaType },
      body: bytes,
      idempotent: true,
    });
    discard(res);
    const answered = headerDigest(res);
    if (answered && answered !== digest && digestAlgorithm(answered) === 'sha256') {
      throw new SlipwayError(
        'DIGEST_MISMATCH',
        `registry ${this.host} stored manifest ${repo}:${ref} as ${answered}, expected ${digest}`,
        {
          detail: { expected: digest, actual: answered },
        },
      );
    }
    return digest;
  }

  /**
   * The referrers of a manifest (OCI distribution 1.1, `GET /v2/<name>/referrers/<digest>`):
   * the descriptors of the index it answers, or undefined when the registry has no
   * referrers API (404; Distribution 2.8), where the fallback tag `sha256-<hex>` is used.
   */
  async referrers(repo: string, digest: Digest): Promise<Descriptor[] | undefined> {
    const res = await this.#request('GET', `/v2/${repo}/referrers/${digest}`, {
      scopes: [pullScope(repo)],
      headers: { Accept: 'application/vnd.oci.image.index.v1+json' },
      idempotent: true,
      ok: [404],
    });
    if (res.status === 404) {
      discard(res);
      return undefined;
    }
    const body = await readLimited(res, MAX_DOCUMENT_SIZE, `referrers of ${repo}@${digest}`);
    const index = JSON.parse(body.toString('utf8')) as { manifests?: Descriptor[] };
    return Array.isArray(index.manifests) ? index.manifests : [];
  }

  /**
   * Deletes one tag (OCI distribution 1.1, `DELETE /v2/<name>/manifests/<tag>`): the
   * manifest and its other tags stay. False when the registry does not delete tags
   * (400, 405 or UNSUPPORTED, as Distribution 2.8 answers); the caller re-points the
   * tag then (see catalog's deleteRemote).
   */
  async deleteTag(repo: string, tag: string): Promise<boolean> {
    const res = await this.#request('DELETE', `/v2/${repo}/manifests/${tag}`, {
      scopes: [deleteScope(repo)],
      idempotent: true,
      ok: [400, 405],
    });
    discard(res);
    return res.ok;
  }

  /** Deletes a manifest by digest, and with it every tag on it. */
  async deleteManifest(repo: string, digest: Digest): Promise<void> {
    const res = await this.#request('DELETE', `/v2/${repo}/manifests/${digest}`, {
      scopes: [deleteScope(repo)],
      idempotent: true,
    });
    discard(res);
  }

  /** Checks that the registry answers the v2 API and accepts these credentials (what `login` verifies). */
  async ping(): Promise<void> {
    const res = await this.#request('GET', '/v2/', { scopes: [], idempotent: true });
    discard(res);
  }

  // ---- blobs ----

  async hasBlob(repo: string, digest: Digest): Promise<boolean> {
    const res = await this.#request('HEAD', `/v2/${repo}/blobs/${digest}`, {
      scopes: [pullScope(repo)],
      idempotent: true,
      ok: [404],
    });
    discard(res);
    return res.status !== 404;
  }

  /**
   * A stream of the blob, verified against `digest` (and `size`) as bytes arrive.
   * A connection dropped mid-blob is resumed with a Range request from the last
   * byte received (when the registry answers 206), up to the retry budget.
   */
  async openBlob(repo: string, digest: Digest, size?: number, options: { verify?: boolean } = {}): Promise<Readable> {
    const path = `/v2/${repo}/blobs/${digest}`;
    const first = await this.#request('GET', path, { scopes: [pullScope(repo)], idempotent: true });
    const stream = new ResumableBody(first, {
      attempts: this.#attempts,
      backoffMs: this.#backoffMs,
      what: `blob ${repo}@${digest}`,
      reopen: (offset) =>
        this.#request('GET', path, {
          scopes: [pullScope(repo)],
          idempotent: true,
          headers: { Range: `bytes=${offset}-` },
        }),
    });
    if (options.verify === false) return stream;
    const verify = new DigestStream({ expected: digest, ...(size === undefined ? {} : { expectedSize: size }) });
    pipeline(stream, verify, (err) => {
      if (err && !verify.destroyed) verify.destroy(err);
    });
    return verify;
  }

  /**
   * Reads a whole small blob (a config), verified. Read in one go and hashed once, with
   * no stream pipeline: a fleet rebase reads a config per image. A connection dropped
   * mid-body asks again, up to the retry budget.
   */
  async readBlob(repo: string, digest: Digest, maxSize = MAX_DOCUMENT_SIZE): Promise<Buffer> {
    const what = `blob ${repo}@${digest}`;
    for (let attempt = 1; ; attempt++) {
      const res = await this.#request('GET', `/v2/${repo}/blobs/${digest}`, {
        scopes: [pullScope(repo)],
        idempotent: true,
      });
      let bytes: Buffer;
      try {
        bytes = await readLimited(res, maxSize, what);
      } catch (err) {
        if (isSlipwayError(err, 'TOO_LARGE') || attempt >= this.#attempts) throw err;
        await sleep(this.#backoffMs * 2 ** (attempt - 1));
        continue;
      }
      const actual = digestOf(bytes, digestAlgorithm(digest));
      if (actual !== digest)
        throw new SlipwayError('DIGEST_MISMATCH', `content digest mismatch: expected ${digest}, got ${actual}`, {
          detail: { expected: digest, actual },
        });
      return bytes;
    }
  }

  /**
   * Uploads a blob. Below the chunk threshold it is read into memory (at most the
   * threshold) and sent in one PUT, retried on a fresh upload session if the
   * connection drops; above it, it is streamed from the source in PATCH chunks of
   * `chunkSize` (nothing buffered), then closed with a PUT. The registry checks the
   * digest of what it received; the client checks the size. A chunked upload that
   * fails mid-way throws an error with `detail.retryable`, so the caller may reopen
   * its source and start again.
   */
  async putBlob(
    repo: string,
    stream: Readable,
    expected: { digest?: Digest; size?: number },
  ): Promise<{ digest: Digest; size: number }> {
    // Without a digest up front (a layer compressed on the way), the bytes are hashed
    // as they go and the digest is named only in the closing PUT.
    const hasher = expected.digest ? undefined : new DigestStream();
    const body = hasher ? chainStreams(stream, hasher) : stream;
    const digestAtEnd = (): Digest => (expected.digest ? parseDigest(expected.digest) : hasher!.digest());
    try {
      const size =
        expected.digest && expected.size !== undefined && expected.size < this.#chunkThreshold
          ? await this.#putMonolithic(repo, digestAtEnd(), await readAll(body))
          : await this.#putChunked(repo, digestAtEnd, body, expected.size, expected.digest);
      if (expected.size !== undefined && size !== expected.size) {
        throw new SlipwayError('SIZE_MISMATCH', `blob ${digestAtEnd()} is ${size} bytes, expected ${expected.size}`);
      }
      return { digest: digestAtEnd(), size };
    } finally {
      body.destroy();
    }
  }

  async #putMonolithic(repo: string, digest: Digest, body: Buffer): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const pending = await this.#takePending(repo, digest);
      let location = pending;
      // Again after each wake: the POST waited for may have failed unanswered, and another now asks.
      while (location === undefined && this.#onePost === undefined && this.#onePostAsked) await this.#onePostAsked;
      if (location === undefined && this.#onePost !== false) {
        // One request (POST ?digest= with the body, the spec's single-request upload): a
        // fleet rebase sends a config per image. A registry without it answers 202 with
        // a session, which the PUT below then fills; this client asks no more after that.
        let answered = (): void => {};
        const asking = this.#onePost === undefined ? new Promise<void>((resolve) => (answered = resolve)) : undefined;
        if (asking) this.#onePostAsked = asking;
        try {
          const res = await this.#request('POST', `/v2/${repo}/blobs/uploads/?digest=${encodeURIComponent(digest)}`, {
            scopes: [pushScope(repo)],
            headers: { 'content-type': 'application/octet-stream' },
            body,
            idempotent: true,
          });
          discard(res);
          this.#onePost = res.status === 201;
          if (this.#onePost) return body.length;
          location = this.#location(res, undefined);
        } finally {
          if (this.#onePostAsked === asking) this.#onePostAsked = undefined;
          answered();
        }
      }
      location ??= await this.#startUpload(repo);
      try {
        const res = await this.#request('PUT', withDigest(location, digest), {
          scopes: [pushScope(repo)],
          headers: { 'content-type': 'application/octet-stream' },
          body,
        });
        discard(res);
        return body.length;
      } catch (err) {
        await this.#cancelUpload(repo, location);
        // A session left by a failed mount that the registry no longer knows: a fresh one, not an attempt spent.
        if (pending !== undefined && (err as SlipwayError).detail?.['status'] === 404) {
          attempt--;
          continue;
        }
        if (attempt >= this.#attempts || !isRetryable(err)) throw err;
        await sleep(this.#backoffMs * 2 ** (attempt - 1));
      }
    }
  }

  async #putChunked(
    repo: string,
    digest: () => Digest,
    stream: Readable,
    size: number | undefined,
    known: Digest | undefined,
  ): Promise<number> {
    let location = (known && (await this.#takePending(repo, known))) || (await this.#startUpload(repo));
    try {
      let sent: number;
      if (size === undefined || size <= this.#chunkSize) {
        // The whole blob in one PATCH, streamed straight from the source (as skopeo and
        // containerd send it): every PATCH costs a registry a round trip and a flush of its
        // upload state. With the size known it is declared, and bytes past it are counted, not sent.
        const body = new ByteCounter(size);
        stream.once('error', (err) => body.destroy(err));
        stream.pipe(body);
        const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
        if (size !== undefined) {
          headers['content-length'] = String(size);
          if (size > 0) headers['content-range'] = `0-${size - 1}`;
        }
        const res = await this.#request('PATCH', location, { scopes: [pushScope(repo)], headers, body });
        discard(res);
        location = this.#location(res, location);
        await finished(body);
        sent = body.total;
      } else {
        sent = await this.#patchSlices(repo, stream, size, (next) => (location = next), location);
      }
      const res = await this.#request('PUT', withDigest(location, digest()), {
        scopes: [pushScope(repo)],
        body: Buffer.alloc(0),
      });
      discard(res);
      return sent;
    } catch (err) {
      await this.#cancelUpload(repo, location);
      throw err;
    }
  }

  /** PATCH chunks of `chunkSize` (a registry or proxy that limits request bodies); returns the bytes the source had. */
  async #patchSlices(
    repo: string,
    stream: Readable,
    size: number,
    moved: (location: string) => void,
    start: string,
  ): Promise<number> {
    let location = start;
    const slices = new StreamSlicer(stream);
    let offset = 0;
    while (!slices.ended) {
      const length = Math.min(this.#chunkSize, size - offset);
      if (length === 0) break;
      const headers: Record<string, string> = {
        'content-type': 'application/octet-stream',
        'content-length': String(length),
        'content-range': `${offset}-${offset + length - 1}`,
      };
      const res = await this.#request('PATCH', location, {
        scopes: [pushScope(repo)],
        headers,
        body: slices.next(length),
      });
      discard(res);
      location = this.#location(res, location);
      moved(location);
      offset += slices.lastLength;
    }
    return offset + (await slices.remaining());
  }

  /**
   * Checks that `repo` takes pushes with the credentials in use, without pushing: an
   * upload is started and cancelled at once. Throws what a push would (unreachable,
   * UNAUTHORIZED, DENIED).
   */
  async checkPush(repo: string): Promise<void> {
    await this.#cancelUpload(repo, await this.#startUpload(repo));
  }

  /**
   * Mounts a blob into `repo` from another repository of the same registry, or,
   * without `from`, from wherever the registry holds it and the caller may pull (an
   * automatic mount, OCI distribution 1.1); true when the registry did (201). A
   * registry that cannot mount opens an upload session instead (202): it is kept for
   * the upload of this blob that follows, so trying a mount costs no extra request.
   */
  async mountBlob(repo: string, digest: Digest, from?: string): Promise<boolean> {
    const path = `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}${from === undefined ? '' : `&from=${encodeURIComponent(from)}`}`;
    const res = await this.#request('POST', path, {
      scopes: from === undefined || from === repo ? [pushScope(repo)] : [pushScope(repo), pullScope(from)],
      body: Buffer.alloc(0),
      // A registry that refuses the mount parameters themselves: no mount, upload as usual.
      ok: [400, 404],
    });
    discard(res);
    const key = `${repo}@${digest}`;
    if (res.status === 201) {
      const stale = this.#pending.get(key);
      this.#pending.delete(key);
      if (stale !== undefined) await this.#cancelUpload(repo, stale);
      return true;
    }
    if (res.status === 202) {
      const location = this.#location(res, undefined);
      if (this.#pending.has(key)) await this.#cancelUpload(repo, location);
      else this.#pending.set(key, location);
    }
    return false;
  }

  /**
   * Opens the upload session of `digest` ahead, while the caller opens the blob's source
   * (a GET from another registry): the upload then starts at once, one round trip
   * sooner. Nothing when a failed mount left one already. A session never used expires
   * at the registry; one that cannot be opened leaves the upload to open its own.
   */
  openUpload(repo: string, digest: Digest): void {
    const key = `${repo}@${digest}`;
    if (this.#pending.has(key) || this.#opening.has(key)) return;
    this.#opening.set(
      key,
      this.#startUpload(repo).catch(() => undefined),
    );
  }

  /** The upload session a failed mount (or openUpload) of `digest` into `repo` opened, once. */
  async #takePending(repo: string, digest: Digest): Promise<string | undefined> {
    const key = `${repo}@${digest}`;
    const location = this.#pending.get(key);
    this.#pending.delete(key);
    const opening = this.#opening.get(key);
    this.#opening.delete(key);
    if (location !== undefined) return location;
    return opening;
  }

  // ---- tags ----

  /** Every tag of a repository, following `Link` paging. */
  async listTags(repo: string, pageSize?: number): Promise<string[]> {
    const tags: string[] = [];
    let next: string | undefined = `/v2/${repo}/tags/list${pageSize ? `?n=${pageSize}` : ''}`;
    for (let pages = 0; next && pages < 10_000; pages++) {
      const res = await this.#request('GET', next, { scopes: [pullScope(repo)], idempotent: true });
      const body = JSON.parse((await readLimited(res, 64 * 1024 * 1024, `tag list of ${repo}`)).toString('utf8')) as {
        tags?: string[] | null;
      };
      tags.push(...(body.tags ?? []));
      next = nextLink(res.headers.get('link'));
    }
    return tags;
  }

  /** Every repository the registry lists (`GET /v2/_catalog`), following `Link` paging. */
  async listRepositories(pageSize?: number): Promise<string[]> {
    const repos: string[] = [];
    let next: string | undefined = `/v2/_catalog${pageSize ? `?n=${pageSize}` : ''}`;
    for (let pages = 0; next && pages < 10_000; pages++) {
      const res = await this.#request('GET', next, { scopes: ['registry:catalog:*'], idempotent: true });
      const body = JSON.parse((await readLimited(res, 64 * 1024 * 1024, 'catalog')).toString('utf8')) as {
        repositories?: string[] | null;
      };
      repos.push(...(body.repositories ?? []));
      next = nextLink(res.headers.get('link'));
    }
    return repos;
  }

  // ---- plumbing ----

  async #startUpload(repo: string): Promise<string> {
    const res = await this.#request('POST', `/v2/${repo}/blobs/uploads/`, {
      scopes: [pushScope(repo)],
      body: Buffer.alloc(0),
    });
    discard(res);
    return this.#location(res, undefined);
  }

  async #cancelUpload(repo: string, location: string): Promise<void> {
    try {
      const res = await this.#request('DELETE', location, { scopes: [pushScope(repo)], ok: [404] });
      discard(res);
    } catch {
      // best effort: the registry expires abandoned uploads
    }
  }

  #location(res: HttpResponse, previous: string | undefined): string {
    const loc = res.headers.get('location');
    if (!loc) {
      if (previous) return previous;
      throw new SlipwayError('IO_ERROR', `registry ${this.host} answered an upload without a Location header`);
    }
    return new URL(loc, this.baseUrl).toString();
  }

  async #request(method: string, pathOrUrl: string, options: RequestOptions): Promise<HttpResponse> {
    const url = new URL(pathOrUrl, this.baseUrl);
    // A streamed body can be sent once: no retry, no replay after a 401.
    const streamed = options.body instanceof Readable;
    const attempts = options.idempotent && !streamed ? this.#attempts : 1;
    let authRetried = false;
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = { ...options.headers };
      await this.auth.prepare(options.scopes);
      const authorization = this.auth.authorize(options.scopes);
      if (authorization) headers.authorization = authorization;
      let res: HttpResponse;
      try {
        res = await this.#send(method, url, headers, options.body);
      } catch (err) {
        if (attempt < attempts) {
          await sleep(this.#backoffMs * 2 ** (attempt - 1));
          continue;
        }
        throw new SlipwayError(
          'IO_ERROR',
          `cannot reach the registry ${this.host} (${method} ${url.origin}${url.pathname}): ${causeMessage(err)}`,
          { cause: err, detail: { retryable: true } },
        );
      }
      if (res.status === 401 && !authRetried && !streamed) {
        authRetried = true;
        const challenge = res.headers.get('www-authenticate');
        discard(res);
        // A request refused at the same time as this one learnt the scheme (Basic) meanwhile: retry with it.
        const now = this.auth.authorize(options.scopes);
        if ((now !== undefined && now !== authorization) || (await this.auth.challenge(challenge, options.scopes))) {
          attempt--;
          continue;
        }
        throw await this.#error(method, url, res, options.scopes, true);
      }
      if (res.status === 401 && authRetried && this.auth.username !== undefined && insufficientScope(res)) {
        // Credentials accepted, and the token they got still lacks the action: a refusal, not a login problem.
        discard(res);
        throw this.#denied(method, url, res.status, options.scopes, []);
      }
      if ((res.status >= 500 || res.status === 429) && attempt < attempts) {
        discard(res);
        const retryAfter = Number(res.headers.get('retry-after'));
        await sleep(
          Number.isFinite(retryAfter) && retryAfter > 0
            ? Math.min(retryAfter * 1000, 10_000)
            : this.#backoffMs * 2 ** (attempt - 1),
        );
        continue;
      }
      if (res.ok || options.ok?.includes(res.status)) return res;
      throw await this.#error(method, url, res, options.scopes);
    }
  }

  #send(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body: Buffer | Readable | undefined,
  ): Promise<HttpResponse> {
    return this.#http.send(method, url, headers, body);
  }

  /** Closes idle keep-alive connections (a long-lived process calls this when done with a registry). */
  close(): void {
    this.#http.close();
  }

  async #error(
    method: string,
    url: URL,
    res: HttpResponse,
    scopes: readonly string[],
    bodyGone = false,
  ): Promise<SlipwayError> {
    let errors: OciError[] = [];
    if (bodyGone || method === 'HEAD') discard(res);
    else {
      try {
        const text = await readText(res);
        const parsed = JSON.parse(text) as { errors?: OciError[] };
        errors = parsed.errors ?? [];
      } catch {
        // not an OCI error body
      }
    }
    const first = errors[0];
    if (res.status === 403 && (first?.code ?? 'DENIED') === 'DENIED') {
      return this.#denied(method, url, res.status, scopes, errors);
    }
    const registryCode =
      first?.code ??
      (res.status === 401
        ? 'UNAUTHORIZED'
        : res.status === 403
          ? 'DENIED'
          : res.status === 404
            ? 'NOT_FOUND'
            : `HTTP_${res.status}`);
    const text =
      errors.length > 0
        ? errors.map((e) => `${e.code ?? 'UNKNOWN'}: ${e.message ?? ''}`).join('; ')
        : `${registryCode}: HTTP ${res.status} ${STATUS_CODES[res.status] ?? ''}`.trimEnd();
    return new SlipwayError(
      errorCode(registryCode, res.status),
      `${text} (${method} ${url.origin}${url.pathname})${accessHint(res.status)}`,
      {
        detail: {
          status: res.status,
          registryCode,
          url: url.toString(),
          retryable: res.status >= 500 || res.status === 429,
        },
      },
    );
  }

  /**
   * DENIED naming the refused actions and repositories (from the registry's error
   * detail, else from the scopes the request needed) and who was refused.
   */
  #denied(method: string, url: URL, status: number, scopes: readonly string[], errors: OciError[]): SlipwayError {
    const refused = refusedFromDetail(errors) ?? refusedFromScopes(scopes);
    const who = this.auth.username === undefined ? 'anonymous access' : `user ${this.auth.username}`;
    const what = refused.length > 0 ? refused.join(' and ') : `${method} ${url.pathname}`;
    const said = errors.length > 0 ? ` (the registry said: ${errors.map((e) => e.message ?? e.code).join('; ')})` : '';
    return new SlipwayError(
      'DENIED',
      `DENIED: ${who} may not ${what} at ${this.host}${said} (${method} ${url.origin}${url.pathname}): ` +
        'the credentials were accepted but lack this permission; ask for the grant, or use credentials that have it (--creds USER:PASSWORD)',
      {
        detail: { status, registryCode: 'DENIED', url: url.toString(), retryable: false, refused },
      },
    );
  }
}

interface OciError {
  code?: string;
  message?: string;
  detail?: unknown;
}

/** "push on repository team/app", from a Distribution-style detail: [{Type, Name, Action}]. */
function refusedFromDetail(errors: OciError[]): string[] | undefined {
  const byName = new Map<string, string[]>();
  for (const e of errors) {
    if (!Array.isArray(e.detail)) continue;
    for (const d of e.detail as { Type?: unknown; Name?: unknown; Action?: unknown }[]) {
      if (typeof d?.Type !== 'string' || typeof d.Name !== 'string' || typeof d.Action !== 'string') continue;
      const key = `${d.Type} ${d.Name}`;
      const actions = byName.get(key) ?? [];
      if (!actions.includes(d.Action)) actions.push(d.Action);
      byName.set(key, actions);
    }
  }
  if (byName.size === 0) return undefined;
  return [...byName].map(([key, actions]) => `${actions.join(',')} on ${key}`);
}

/** "pull,push on repository team/app", from the scopes `repository:team/app:pull,push`. */
function refusedFromScopes(scopes: readonly string[]): string[] {
  return scopes.map((scope) => {
    const last = scope.lastIndexOf(':');
    const first = scope.indexOf(':');
    if (first < 0 || last <= first) return scope;
    return `${scope.slice(last + 1)} on ${scope.slice(0, first)} ${scope.slice(first + 1, last)}`;
  });
}

/** A 401 whose Bearer challenge says the token lacks the scope (`error="insufficient_scope"`). */
function insufficientScope(res: HttpResponse): boolean {
  return /error="?insufficient_scope/i.test(res.headers.get('www-authenticate') ?? '');
}

function accessHint(status: number): string {
  if (status === 401) return ': log in with `slipway login HOST`, or pass --creds USER:PASSWORD';
  if (status === 403) return ': the credentials in use may not do this';
  return '';
}

function errorCode(registryCode: string, status: number): ErrorCode {
  switch (registryCode) {
    case 'UNAUTHORIZED':
      return 'UNAUTHORIZED';
    case 'DENIED':
      return 'DENIED';
    case 'MANIFEST_UNKNOWN':
      return 'MANIFEST_UNKNOWN';
    case 'BLOB_UNKNOWN':
      return 'BLOB_UNKNOWN';
    case 'NAME_UNKNOWN':
      return 'NAME_UNKNOWN';
    case 'DIGEST_INVALID':
      return 'DIGEST_MISMATCH';
    case 'SIZE_INVALID':
      return 'SIZE_MISMATCH';
    case 'MANIFEST_INVALID':
      return 'INVALID_DOCUMENT';
    case 'TOO_MANY_REQUESTS':
      return 'IO_ERROR';
  }
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'DENIED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 413) return 'TOO_LARGE';
  if (status === 416) return 'RANGE_NOT_SATISFIABLE';
  return 'IO_ERROR';
}

function pullScope(repo: string): string {
  return `repository:${repo}:pull`;
}

function deleteScope(repo: string): string {
  return `repository:${repo}:delete`;
}

function pushScope(repo: string): string {
  return `repository:${repo}:pull,push`;
}

function headerDigest(res: HttpResponse): Digest | undefined {
  const value = res.headers.get('docker-content-digest');
  return value && isDigest(value) ? value : undefined;
}

function withDigest(location: string, digest: Digest): string {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url.toString();
}

/** The `rel="next"` target of a Link header. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (m && /rel="?next"?/i.test(m[2]!)) return m[1];
  }
  return undefined;
}

function mediaTypeOf(bytes: Buffer): string {
  try {
    const doc = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown };
    return typeof doc.mediaType === 'string' ? doc.mediaType : '';
  } catch {
    return '';
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  // Small blobs only (below the chunk threshold).
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readLimited(res: HttpResponse, max: number, what: string): Promise<Buffer> {
  const length = Number(res.headers.get('content-length'));
  if (Number.isFinite(length) && length > max) {
    discard(res);
    throw new SlipwayError('TOO_LARGE', `${what} is ${length} bytes, more than the ${max} allowed`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += (chunk as Buffer).length;
    if (total > max) {
      res.body.destroy();
      throw new SlipwayError('TOO_LARGE', `${what} is more than the ${max} bytes allowed`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Cuts one stream into consecutive request bodies of given lengths without copying
 * or buffering more than the chunk in hand: each `next(n)` is a Readable of the next
 * n bytes (or of the rest, when n is undefined).
 */
class StreamSlicer {
  readonly #source: AsyncIterator<Buffer>;
  #pending: Buffer | undefined;
  ended = false;
  /** Bytes the last slice delivered. */
  lastLength = 0;

  constructor(stream: Readable) {
    this.#source = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  next(length: number | undefined): Readable {
    this.lastLength = 0;
    const self = this;
    async function* bytes(): AsyncGenerator<Buffer> {
      let left = length ?? Infinity;
      while (left > 0) {
        let buf = self.#pending ?? (await self.#read());
        if (!buf) return;
        self.#pending = undefined;
        if (buf.length > left) {
          self.#pending = buf.subarray(left);
          buf = buf.subarray(0, left);
        }
        left -= buf.length;
        self.lastLength += buf.length;
        yield buf;
      }
    }
    return Readable.from(bytes(), { objectMode: false });
  }

  /** Counts (and drops) what is left after the last slice: more bytes than declared. */
  async remaining(): Promise<number> {
    let n = this.#pending?.length ?? 0;
    this.#pending = undefined;
    for (let buf = await this.#read(); buf; buf = await this.#read()) n += buf.length;
    return n;
  }

  async #read(): Promise<Buffer | undefined> {
    if (this.ended) return undefined;
    const { value, done } = await this.#source.next();
    if (done) {
      this.ended = true;
      return undefined;
    }
    return value;
  }
}

interface ResumeOptions {
  attempts: number;
  backoffMs: number;
  /** The blob, in messages. */
  what: string;
  /** A GET of the rest, from `offset`. */
  reopen: (offset: number) => Promise<HttpResponse>;
}

/**
 * A blob response body as one Readable, without an async-iterator hop per chunk: the
 * response's chunks are pushed as they come (pausing it when the reader lags). A
 * connection dropped mid-blob is resumed with a Range request from the last byte
 * received, when the registry answers 206, up to the retry budget.
 */
class ResumableBody extends Readable {
  readonly #options: ResumeOptions;
  #res: HttpResponse;
  #offset = 0;
  #attempt = 1;
  #done = false;

  constructor(res: HttpResponse, options: ResumeOptions) {
    super({ highWaterMark: 1 << 20 });
    this.#options = options;
    this.#res = res;
    this.#attach(res);
  }

  #attach(res: HttpResponse): void {
    const body = res.body;
    body.pause();
    body.on('data', (chunk: Buffer) => {
      this.#offset += chunk.length;
      if (!this.push(chunk)) body.pause();
    });
    body.once('end', () => {
      this.#done = true;
      this.push(null);
    });
    const fail = (err: Error) => {
      if (this.#done || this.destroyed || res !== this.#res) return;
      this.#done = true;
      body.removeAllListeners('data');
      void this.#resume(err);
    };
    body.on('error', fail);
    body.once('close', () => {
      if (!body.complete) fail(new Error('the connection closed before the end of the body'));
    });
  }

  async #resume(err: Error): Promise<void> {
    const { attempts, backoffMs, reopen, what } = this.#options;
    try {
      if (this.#attempt >= attempts) throw err;
      await sleep(backoffMs * 2 ** (this.#attempt - 1));
      this.#attempt++;
      const res = await reopen(this.#offset);
      if (res.status !== 206) {
        discard(res);
        throw new SlipwayError(
          'IO_ERROR',
          `the connection dropped after ${this.#offset} bytes of ${what} and the registry cannot resume it (HTTP ${res.status})`,
          { cause: err },
        );
      }
      if (this.destroyed) {
        res.body.destroy();
        return;
      }
      this.#res = res;
      this.#done = false;
      this.#attach(res);
      res.body.resume();
    } catch (e) {
      this.destroy(e as Error);
    }
  }

  override _read(): void {
    this.#res.body.resume();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#res.body.destroyed) this.#res.body.destroy();
    callback(err);
  }
}

/**
 * Counts the bytes passing through; with a limit, bytes past it are counted but not
 * passed on (a request that declared its Content-Length must not send more).
 */
class ByteCounter extends Transform {
  total = 0;
  readonly #limit: number;

  constructor(limit = Number.POSITIVE_INFINITY) {
    super({ highWaterMark: 1 << 20 });
    this.#limit = limit;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const before = this.total;
    this.total += chunk.length;
    if (this.total <= this.#limit) done(null, chunk);
    else done(null, before < this.#limit ? chunk.subarray(0, this.#limit - before) : undefined);
  }
}

function causeMessage(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string; code?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
