import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { ZipFile } from 'yazl';
import { SlipwayError } from '../../errors.js';
import type { Progress } from '../../progress.js';
import type { AppFile } from './app-files.js';
import type { CfClient } from './cf-client.js';

/**
 * A bits package as `cf push` makes one (the cf CLI's CreateAndUploadApplicationBits):
 * the files with content asked of `POST /v3/resource_matches` (1000 at a time), a
 * package `POST /v3/packages` (type bits), then ONE upload: a multipart body with the
 * matched files as the `resources` field, then a zip of what did not match (directory
 * entries, empty files, links, changed files) as `bits`, streamed as it is zipped, and
 * the package polled until READY.
 */

/** A resource of resource matching and the upload's `resources` field. */
export interface CfResource {
  path: string;
  mode: string;
  checksum: { value: string };
  size_in_bytes: number;
}

export interface CfPackage {
  guid: string;
  state: string;
  data?: { error?: string | null };
}

/** What went up: the numbers `push --json` reports. */
export interface UploadReport {
  /** Entries pushed (files, directories, links). */
  entries: number;
  /** Regular files, and how many the platform had already (not sent). */
  files: number;
  matchedFiles: number;
  /** Files (and links) sent in the zip, their paths and bytes before compression. */
  uploadedFiles: number;
  uploadedPaths: string[];
  uploadedBytes: number;
  /** The zip's size on the wire (0 when nothing was sent). */
  zipBytes: number;
}

/** The cf CLI's MaxResourceMatchChunkSize. */
const MATCH_CHUNK = 1000;
const POLL_MS = 500;
const PACKAGE_TIMEOUT_MS = 15 * 60_000;

export interface UploadHooks {
  /** A step of the cf CLI's push output ("Uploading files...", ...). */
  say(line: string): void;
  progress: Progress;
}

export async function uploadBits(
  client: CfClient,
  appGuid: string,
  root: string,
  all: AppFile[],
  hooks: UploadHooks,
): Promise<{ pkg: CfPackage; report: UploadReport }> {
  const files = all.filter((f) => f.kind === 'file');
  const matched = await matchResources(client, files.filter((f) => f.size > 0).map(resourceOf));
  const have = new Set(matched.map((m) => m.checksum.value));
  const unmatched = all.filter((f) => !(f.kind === 'file' && have.has(f.sha1)));
  const sent = unmatched.filter((f) => f.kind !== 'dir');
  const report: UploadReport = {
    entries: all.length,
    files: files.length,
    matchedFiles: files.length - sent.filter((f) => f.kind === 'file').length,
    uploadedFiles: sent.length,
    uploadedPaths: sent.map((f) => f.path),
    uploadedBytes: sent.reduce((n, f) => n + f.size, 0),
    zipBytes: 0,
  };
  let pkg = await client.post<CfPackage>('/v3/packages', {
    type: 'bits',
    relationships: { app: { data: { guid: appGuid } } },
  });
  const boundary = `slipway-${randomBytes(12).toString('hex')}`;
  if (unmatched.length > 0) {
    hooks.say('Packaging files to upload...');
    hooks.say('Uploading files...');
    hooks.progress.start('upload', `${sent.length} files, ${report.uploadedBytes} bytes`);
    const zip = zipOf(root, unmatched);
    const counted = new Transform({
      transform(chunk: Buffer, _enc, done) {
        report.zipBytes += chunk.length;
        hooks.progress.advance('upload', chunk.length);
        done(null, chunk);
      },
    });
    (zip as unknown as Readable).on('error', (err) => counted.destroy(err));
    (zip as unknown as Readable).pipe(counted);
    ({ body: pkg } = await client.request<CfPackage>('POST', `/v3/packages/${pkg.guid}/upload`, {
      body: Readable.from(multipart(boundary, matched, counted)),
      contentType: `multipart/form-data; boundary=${boundary}`,
    }));
    hooks.progress.done('upload', `${report.zipBytes} bytes sent`);
  } else {
    hooks.say('All files found in remote cache; nothing to upload.');
    ({ body: pkg } = await client.request<CfPackage>('POST', `/v3/packages/${pkg.guid}/upload`, {
      body: Readable.from(multipart(boundary, matched, undefined)),
      contentType: `multipart/form-data; boundary=${boundary}`,
    }));
  }
  hooks.say('Waiting for API to complete processing files...');
  return { pkg: await pollPackage(client, pkg), report };
}

function resourceOf(f: AppFile): CfResource {
  return { path: f.path, mode: f.mode, checksum: { value: f.sha1 }, size_in_bytes: f.size };
}

async function matchResources(client: CfClient, resources: CfResource[]): Promise<CfResource[]> {
  const out: CfResource[] = [];
  for (let i = 0; i < resources.length; i += MATCH_CHUNK) {
    const answer = await client.post<{ resources?: CfResource[] }>('/v3/resource_matches', {
      resources: resources.slice(i, i + MATCH_CHUNK),
    });
    for (const r of answer.resources ?? []) {
      if (typeof r.mode !== 'string' || !/^[0-7]+$/.test(r.mode))
        throw new SlipwayError(
          'INVALID_DOCUMENT',
          `POST /v3/resource_matches answered a mode that is not an octal string: ${JSON.stringify(r.mode)}`,
        );
      out.push(r);
    }
  }
  return out;
}

/** The multipart body: `resources` (the matched files, JSON) first, then the zip as `bits` when there is one. */
async function* multipart(
  boundary: string,
  matched: CfResource[],
  zip: AsyncIterable<Buffer> | undefined,
): AsyncGenerator<Buffer> {
  yield Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="resources"\r\n\r\n${JSON.stringify(matched)}\r\n`,
  );
  if (zip) {
    yield Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="bits"; filename="package.zip"\r\n` +
        'Content-Type: application/zip\r\n\r\n',
    );
    for await (const chunk of zip) yield chunk;
    yield Buffer.from('\r\n');
  }
  yield Buffer.from(`--${boundary}--\r\n`);
}

/**
 * The zip of the entries, as the cf CLI's ZipDirectoryResources writes it: directories
 * end with "/", files deflated with their modes, links stored as their target; each
 * file opened only when the zip reaches it, and its sha1 checked as it is read (a file
 * changed since it was matched fails the push, as in the cf CLI).
 */
function zipOf(root: string, entries: AppFile[]): NodeJS.ReadableStream {
  const zip = new ZipFile();
  for (const e of entries) {
    if (e.kind === 'dir') zip.addEmptyDirectory(`${e.path}/`, { mode: 0o40755 });
    else if (e.kind === 'symlink')
      zip.addBuffer(Buffer.from(e.target ?? '', 'utf8'), e.path, { mode: 0o120777, compress: false });
    else
      zip.addReadStreamLazy(e.path, { mode: 0o100000 | Number.parseInt(e.mode, 8), size: e.size }, (cb) => {
        const hash = createHash('sha1');
        const checked = new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            done(null, chunk);
          },
          flush(done) {
            const sum = hash.digest('hex');
            done(
              sum === e.sha1
                ? null
                : new SlipwayError('CONFLICT', `The file ${e.path} changed while it was being pushed: push again`),
            );
          },
        });
        const input = createReadStream(join(root, e.path));
        input.on('error', (err) => checked.destroy(err));
        cb(null, input.pipe(checked));
      });
  }
  zip.end();
  return zip.outputStream;
}

/** The cf CLI's PollPackage: until READY; FAILED and EXPIRED are errors. */
async function pollPackage(client: CfClient, first: CfPackage): Promise<CfPackage> {
  let pkg = first;
  const deadline = Date.now() + PACKAGE_TIMEOUT_MS;
  for (;;) {
    if (pkg.state === 'READY') return pkg;
    if (pkg.state === 'FAILED')
      throw new SlipwayError(
        'INVALID_DOCUMENT',
        `Package failed to process correctly after upload${pkg.data?.error ? `: ${pkg.data.error}` : ''}`,
      );
    if (pkg.state === 'EXPIRED') throw new SlipwayError('NOT_FOUND', `Package ${pkg.guid} expired`);
    if (Date.now() > deadline)
      throw new SlipwayError('IO_ERROR', `Package ${pkg.guid} is still ${pkg.state}: the upload was not processed`);
    await sleep(POLL_MS);
    pkg = await client.get<CfPackage>(`/v3/packages/${pkg.guid}`);
  }
}
