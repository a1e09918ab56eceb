import { SlipwayError } from '../../errors.js';
import { digestAlgorithm, digestOf, type Digest, type DigestAlgorithm } from '../../oci/digest.js';
import { authorize, mayAlso, repositoryAccess, type Call, type RegistryContext } from './context.js';
import { RegistryError } from './errors.js';
import { autoMountBlob, mountBlob } from './mounts.js';
import { checkDigest, checkName, type Route } from './paths.js';
import { chunkRange, uploadRangeHeader, type ByteRange } from './ranges.js';
import { bodyChunks, readBounded, reply } from './respond.js';
import type { Upload } from './upload-sessions.js';

type UploadsCall = Call<Extract<Route, { kind: 'uploads' }>>;
type UploadCall = Call<Extract<Route, { kind: 'upload' }>>;

/**
 * POST /v2/<name>/blobs/uploads/: a mount (`?mount=` with or without `from`, 201),
 * a whole blob in one request (`?digest=`, 201), or a new upload session (202).
 * A mount that cannot be made falls back to a new session, as the spec asks.
 */
export async function startUpload(reg: RegistryContext, call: UploadsCall): Promise<Response> {
  const { name } = call.route;
  await authorize(reg, call, [repositoryAccess(name, 'pull', 'push')]);
  const mount = call.query.get('mount');
  if (mount) {
    const mounted = await tryMount(reg, call, checkDigest(mount), call.query.get('from'));
    if (mounted !== undefined) return blobCreated(name, mounted);
  }
  const digest = call.query.get('digest');
  if (digest) return uploadWhole(reg, call, checkDigest(digest));
  const upload = await reg.uploads.start(call.repository, algorithmParam(call.query.get('digest-algorithm')));
  try {
    return reply(202, uploadHeaders(name, upload));
  } finally {
    await upload.release();
  }
}

/** PATCH <upload>: appends a chunk (checked against Content-Range when given) or a whole stream. */
export async function patchUpload(reg: RegistryContext, call: UploadCall): Promise<Response> {
  const { name, id } = call.route;
  await authorize(reg, call, [repositoryAccess(name, 'pull', 'push')]);
  const upload = await reg.uploads.open(call.repository, id);
  try {
    await appendChunk(call, upload);
    return reply(202, uploadHeaders(name, upload));
  } finally {
    await upload.release();
  }
}

/** PUT <upload>?digest=: appends the final chunk if any, verifies the whole blob, and makes it visible (201). */
export async function finishUpload(reg: RegistryContext, call: UploadCall): Promise<Response> {
  const { name, id } = call.route;
  await authorize(reg, call, [repositoryAccess(name, 'pull', 'push')]);
  const param = call.query.get('digest');
  // Checked before the session is touched: the client may retry with a digest.
  if (!param)
    throw new RegistryError('DIGEST_INVALID', 'closing an upload needs ?digest= with the digest of the whole blob');
  const digest = checkDigest(param);
  const upload = await reg.uploads.open(call.repository, id);
  try {
    await appendChunk(call, upload);
    return blobCreated(name, (await upload.complete(digest)).digest);
  } finally {
    await upload.release();
  }
}

/** GET <upload>: how much the session holds (204 with Range). */
export async function uploadStatus(reg: RegistryContext, call: UploadCall): Promise<Response> {
  const { name, id } = call.route;
  await authorize(reg, call, [repositoryAccess(name, 'pull')]);
  const upload = await reg.uploads.open(call.repository, id);
  try {
    return reply(204, uploadHeaders(name, upload));
  } finally {
    await upload.release();
  }
}

/**
 * DELETE <upload>: cancels the session (204). It asks push, not delete: cancelling is
 * part of a push, and clients hold push tokens when they cancel.
 */
export async function cancelUpload(reg: RegistryContext, call: UploadCall): Promise<Response> {
  const { name, id } = call.route;
  await authorize(reg, call, [repositoryAccess(name, 'pull', 'push')]);
  const upload = await reg.uploads.open(call.repository, id);
  await upload.cancel();
  return reply(204, { 'Docker-Upload-UUID': id, 'Content-Length': '0' });
}

/** The largest monolithic POST taken in memory, without an upload session (configs, small documents). */
const SMALL_BLOB = 1024 * 1024;

/** A monolithic POST: a session opened, filled and committed in one request; dropped on any failure. */
async function uploadWhole(reg: RegistryContext, call: UploadsCall, digest: Digest): Promise<Response> {
  const declared = Number(call.request.headers.get('content-length') ?? Number.NaN);
  if (reg.store.blobs.putSmall && declared <= SMALL_BLOB && declared <= reg.uploads.maxUploadBytes)
    return uploadSmall(reg, call, digest);
  const upload = await reg.uploads.start(call.repository, digestAlgorithm(digest));
  try {
    call.bytesIn += await upload.append(bodyChunks(call));
    return blobCreated(call.route.name, (await upload.complete(digest)).digest);
  } catch (err) {
    if (!upload.done) await upload.cancel();
    throw err;
  }
}

/**
 * A small monolithic POST (a rebase's new config, one per image of a fleet): the body
 * is read and verified in memory, then stored with the link recorded before it is
 * visible, as a session's commit does, but with no ingest to create, park and remove.
 */
async function uploadSmall(reg: RegistryContext, call: UploadsCall, digest: Digest): Promise<Response> {
  reg.uploads.emit({ type: 'upload', action: 'started', repository: call.repository });
  try {
    const bytes = await readBounded(
      call,
      SMALL_BLOB,
      (max) => new RegistryError('SIZE_INVALID', `the body is larger than its Content-Length`, { detail: { max } }),
    );
    call.bytesIn += bytes.length;
    const actual = digestOf(bytes, digestAlgorithm(digest));
    if (actual !== digest) {
      throw new SlipwayError('DIGEST_MISMATCH', `upload has digest ${actual}, expected ${digest}`, {
        detail: { expected: digest, actual },
      });
    }
    const info = { digest, size: bytes.length };
    await reg.store.blobs.putSmall!(bytes, info, (i) => reg.uploads.linkOnCommit(call.repository, i.digest));
    reg.uploads.emit({ type: 'upload', action: 'completed', repository: call.repository, bytes: info.size });
    return blobCreated(call.route.name, digest);
  } catch (err) {
    reg.uploads.emit({ type: 'upload', action: 'failed', repository: call.repository });
    throw err;
  }
}

/**
 * Appends the request body. With a Content-Range the chunk must start where the
 * session ends (416 with the session's Range otherwise) and have the length it
 * claims (SIZE_INVALID).
 */
async function appendChunk(call: UploadCall, upload: Upload): Promise<void> {
  const range = chunkRange(
    call.request.headers.get('content-range'),
    (reason) => new RegistryError('BLOB_UPLOAD_INVALID', reason),
  );
  if (range !== undefined) checkChunk(call, upload, range);
  const written = await upload.append(bodyChunks(call));
  call.bytesIn += written;
  if (range !== undefined && written !== range.end - range.start + 1) {
    throw new RegistryError('SIZE_INVALID', `the chunk ${range.start}-${range.end} carried ${written} bytes`, {
      headers: uploadHeaders(call.route.name, upload),
      detail: { range: `${range.start}-${range.end}`, received: written },
    });
  }
}

function checkChunk(call: UploadCall, upload: Upload, range: ByteRange): void {
  if (range.start !== upload.size || range.end < range.start) {
    throw new RegistryError(
      'RANGE_INVALID',
      `chunk ${range.start}-${range.end} is out of order: the upload holds ${upload.size} bytes, the next chunk starts at ${upload.size}`,
      {
        headers: uploadHeaders(call.route.name, upload),
        detail: { size: upload.size },
      },
    );
  }
  const declared = call.request.headers.get('content-length');
  if (declared !== null && Number(declared) !== range.end - range.start + 1) {
    throw new RegistryError(
      'SIZE_INVALID',
      `Content-Length ${declared} does not match Content-Range ${range.start}-${range.end}`,
      {
        detail: { contentLength: declared, range: `${range.start}-${range.end}` },
      },
    );
  }
}

/** A mount from `from` when the client may pull there, else an automatic mount; undefined when neither works. */
async function tryMount(
  reg: RegistryContext,
  call: UploadsCall,
  digest: Digest,
  from: string | null,
): Promise<Digest | undefined> {
  const mayPull = (name: string) => mayAlso(reg, call, repositoryAccess(name, 'pull'));
  // Automatic mounts find stored repositories: each is asked about by its public name.
  const mayPullStored = async (stored: string) => {
    const name = await reg.names.public(stored);
    return name !== undefined && mayPull(name);
  };
  if (!from) return (await autoMountBlob(reg.store, call.repository, digest, mayPullStored))?.digest;
  if (!isName(from) || !(await mayPull(from))) return undefined;
  return (await mountBlob(reg.store, call.repository, digest, await reg.names.stored(from)))?.digest;
}

function algorithmParam(value: string | null): DigestAlgorithm | undefined {
  if (!value) return undefined;
  if (value === 'sha256' || value === 'sha512') return value;
  throw new RegistryError('DIGEST_INVALID', `digest-algorithm "${value}" is not supported (use sha256 or sha512)`, {
    detail: { algorithm: value },
  });
}

function isName(value: string): boolean {
  try {
    checkName(value);
    return true;
  } catch {
    return false;
  }
}

function uploadHeaders(name: string, upload: Upload): Record<string, string> {
  return {
    Location: `/v2/${name}/blobs/uploads/${upload.id}`,
    Range: uploadRangeHeader(upload.size),
    'Docker-Upload-UUID': upload.id,
    'Content-Length': '0',
  };
}

function blobCreated(name: string, digest: Digest): Response {
  return reply(201, {
    Location: `/v2/${name}/blobs/${digest}`,
    'Docker-Content-Digest': digest,
    'Content-Length': '0',
  });
}
