import { createHash, randomBytes } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  openSync,
  fsyncSync,
  closeSync,
} from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { rootCertificates } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { sha256File, unpackBuildpackArchive } from './buildpack-archive.js';
import { SlipwayError } from '../../errors.js';

/** What a URL's download cache records: the URL, and the sha256 and size of what it served. */
interface UrlRecord {
  url: string;
  sha256: string;
  size: number;
}

export interface DownloadOptions {
  /** A PEM bundle added to Node's roots (default $SSL_CERT_FILE or the system's /etc/ssl/certs/ca-certificates.crt; NODE_EXTRA_CA_CERTS applies as well). */
  caFile?: string;
  /** Seconds without a byte before giving up (default 60). */
  timeoutSeconds?: number;
}

const MAX_REDIRECTS = 5;

/**
 * A store home's buildpack cache: archives downloaded by URL and archives unpacked (by
 * URL or path), each once by content, then reused by every build.
 */
export function buildpackCache(home: string): string {
  return join(home, 'buildpacks', 'downloads');
}

/** True for a buildpack named by URL (http, https, file) rather than by id or path. */
export function isBuildpackUrl(spec: string): boolean {
  return /^(https?|file):\/\//i.test(spec);
}

/**
 * A buildpack named by URL, ready for BuildpackSet.addPath: a file:// URL is its path
 * (a directory or an archive); an http(s):// archive is downloaded once (see
 * fetchBuildpackArchive) and unpacked once, under `cacheRoot`/unpacked/<sha256>.
 */
export async function fetchBuildpackUrl(
  url: string,
  cacheRoot: string,
  options: DownloadOptions = {},
): Promise<{ path: string; downloaded: boolean }> {
  const got = await fetchBuildpackArchive(url, cacheRoot, options);
  if (!got.sha256) return { path: got.file, downloaded: false };
  try {
    return {
      path: await unpackBuildpackArchive(got.file, cacheRoot, { sha256: got.sha256, name: url }),
      downloaded: got.downloaded,
    };
  } catch (err) {
    // Forget what the URL served, so the next build asks again instead of reusing a bad download.
    rmSync(join(cacheRoot, 'urls', `${createHash('sha256').update(url).digest('hex')}.json`), { force: true });
    throw err;
  }
}

/**
 * A buildpack archive (.tgz, .tar.gz, .tar) named by URL, as a local file: a file://
 * URL is its path; an http(s):// one is downloaded once into `cacheRoot` (the blob by
 * its sha256, the URL's record by the URL's sha256) and taken from there afterwards,
 * with no request, as long as the cached blob still has the recorded digest.
 *
 * @example
 *   const { file } = await fetchBuildpackArchive('https://example.com/bp.tgz', buildpackCache(home));
 */
export async function fetchBuildpackArchive(
  url: string,
  cacheRoot: string,
  options: DownloadOptions = {},
): Promise<{ file: string; sha256?: string; downloaded: boolean }> {
  if (/^file:\/\//i.test(url)) {
    const path = fileURLToPath(url);
    if (!existsSync(path))
      throw new SlipwayError('NOT_FOUND', `buildpack ${url}: ${path} does not exist`, { detail: { url, path } });
    return { file: path, downloaded: false };
  }
  if (!/^https?:\/\//i.test(url))
    throw new SlipwayError('INVALID_ARGUMENT', `buildpack ${url}: not an http(s):// or file:// URL`, {
      detail: { url },
    });
  const key = createHash('sha256').update(url).digest('hex');
  const recordFile = join(cacheRoot, 'urls', `${key}.json`);
  const cached = readRecord(recordFile);
  if (cached) {
    const blob = join(cacheRoot, 'blobs', cached.sha256);
    if (existsSync(blob) && statSync(blob).size === cached.size && (await sha256File(blob)) === cached.sha256)
      return { file: blob, sha256: cached.sha256, downloaded: false };
  }
  mkdirSync(join(cacheRoot, 'blobs'), { recursive: true });
  mkdirSync(join(cacheRoot, 'urls'), { recursive: true });
  const tmp = join(cacheRoot, 'blobs', `.tmp-${randomBytes(8).toString('hex')}`);
  try {
    const response = await get(url, options, 0);
    const hash = createHash('sha256');
    let size = 0;
    const count = async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    };
    await pipeline(response, count, createWriteStream(tmp)).catch((err: Error) => {
      throw new SlipwayError('IO_ERROR', `buildpack ${url}: the download broke off: ${err.message}`, {
        cause: err,
        detail: { url, retryable: true },
      });
    });
    const sha256 = hash.digest('hex');
    const expected = Number(response.headers['content-length'] ?? NaN);
    if (Number.isFinite(expected) && expected !== size)
      throw new SlipwayError('SIZE_MISMATCH', `buildpack ${url}: got ${size} bytes, the server announced ${expected}`, {
        detail: { url, size, expected },
      });
    syncFile(tmp);
    const blob = join(cacheRoot, 'blobs', sha256);
    renameSync(tmp, blob);
    // The record is written after the blob: a crash leaves at worst a blob nobody points to.
    writeAtomic(recordFile, JSON.stringify({ url, sha256, size } satisfies UrlRecord));
    return { file: blob, sha256, downloaded: true };
  } finally {
    rmSync(tmp, { force: true });
  }
}

function get(url: string, options: DownloadOptions, redirects: number): Promise<IncomingMessage> {
  const u = new URL(url);
  const https = u.protocol === 'https:';
  const ca = https ? caBundle(options.caFile) : undefined;
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(
      u,
      { method: 'GET', headers: { 'user-agent': 'slipway', accept: '*/*' }, ...(ca ? { ca } : {}) },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          if (redirects >= MAX_REDIRECTS)
            return reject(
              new SlipwayError('TOOL_FAILED', `buildpack ${url}: more than ${MAX_REDIRECTS} redirects`, {
                detail: { url },
              }),
            );
          return resolve(get(new URL(res.headers.location, u).toString(), options, redirects + 1));
        }
        if (status !== 200) {
          res.resume();
          const code =
            status === 404 || status === 410
              ? 'NOT_FOUND'
              : status === 401
                ? 'UNAUTHORIZED'
                : status === 403
                  ? 'DENIED'
                  : 'TOOL_FAILED';
          return reject(
            new SlipwayError(
              code,
              `buildpack ${url}: the server answered ${status} ${res.statusMessage ?? ''}`.trimEnd(),
              { detail: { url, status, ...(status >= 500 || status === 429 ? { retryable: true } : {}) } },
            ),
          );
        }
        resolve(res);
      },
    );
    req.setTimeout((options.timeoutSeconds ?? 60) * 1000, () =>
      req.destroy(new Error(`no answer in ${options.timeoutSeconds ?? 60} s`)),
    );
    req.on('error', (err) =>
      reject(
        new SlipwayError('IO_ERROR', `buildpack ${url}: cannot download it: ${err.message}`, {
          cause: err,
          detail: { url, retryable: true },
        }),
      ),
    );
    req.end();
  });
}

/** Node's roots plus the system bundle (where a TLS-inspecting proxy's CA is installed). */
function caBundle(caFile: string | undefined): string[] | undefined {
  const file = caFile ?? process.env['SSL_CERT_FILE'] ?? '/etc/ssl/certs/ca-certificates.crt';
  if (!existsSync(file)) return undefined;
  return [...rootCertificates, readFileSync(file, 'utf8')];
}

function readRecord(file: string): UrlRecord | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as UrlRecord;
    return typeof r.sha256 === 'string' && /^[0-9a-f]{64}$/.test(r.sha256) && typeof r.size === 'number'
      ? r
      : undefined;
  } catch {
    return undefined;
  }
}

function syncFile(file: string): void {
  const fd = openSync(file, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  writeFileSync(tmp, text);
  syncFile(tmp);
  renameSync(tmp, file);
}
