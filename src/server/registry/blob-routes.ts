import { authorize, repositoryAccess, type Call, type RegistryContext } from './context.js';
import { RegistryError } from './errors.js';
import type { Route } from './paths.js';
import { blobRange } from './ranges.js';
import { notModified, reply, replyStream } from './respond.js';

type BlobCall = Call<Extract<Route, { kind: 'blob' }>>;

/**
 * GET and HEAD /v2/<name>/blobs/<digest>: streamed from the store, with one byte range
 * when asked. Only blobs linked to the repository are served, whatever else the
 * store holds.
 */
export async function getBlob(reg: RegistryContext, call: BlobCall): Promise<Response> {
  const { name, digest } = call.route;
  await authorize(reg, call, [repositoryAccess(name, 'pull')]);
  const info = (await reg.store.meta.hasBlobLink(call.repository, digest))
    ? await reg.store.blobs.stat(digest)
    : undefined;
  if (info === undefined)
    throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not in repository ${name}`, { detail: { digest } });
  const etag = `"${digest}"`;
  const headers: Record<string, string> = {
    'Content-Type': 'application/octet-stream',
    'Docker-Content-Digest': digest,
    ETag: etag,
    'Accept-Ranges': 'bytes',
    // A blob never changes under its digest.
    'Cache-Control': 'max-age=31536000',
  };
  if (notModified(call.request, etag)) return reply(304, headers);
  const range = blobRange(call.request.headers.get('range'), info.size);
  if (range === 'unsatisfiable') {
    throw new RegistryError('RANGE_INVALID', `the requested range is outside blob ${digest} of ${info.size} bytes`, {
      headers: { 'Content-Range': `bytes */${info.size}` },
      detail: { digest, size: info.size },
    });
  }
  const length = range === undefined ? info.size : range.end - range.start + 1;
  if (range !== undefined) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${info.size}`;
  headers['Content-Length'] = String(length);
  const status = range === undefined ? 200 : 206;
  // HEAD (and an empty blob) never opens the file: nothing would close it.
  if (call.request.method === 'HEAD' || length === 0) return reply(status, headers);
  // The bytes straight from the object store: the client follows, with its Range, to a URL valid for minutes.
  if (reg.redirectBlobs && reg.store.blobs.presignedUrl)
    return reply(307, { Location: await reg.store.blobs.presignedUrl(digest), 'Docker-Content-Digest': digest });
  // Large reads: a 64 KiB default halves what one connection can pull.
  const stream = await reg.store.blobs.open(digest, range, { chunkSize: 1 << 20 });
  call.bytesOut = length;
  return replyStream(call, status, headers, stream);
}

/** DELETE /v2/<name>/blobs/<digest>: unlinks the blob from the repository; GC frees it once nothing needs it. */
export async function deleteBlob(reg: RegistryContext, call: BlobCall): Promise<Response> {
  const { name, digest } = call.route;
  await authorize(reg, call, [repositoryAccess(name, 'delete')]);
  if (!(await reg.store.meta.unlinkBlob(call.repository, digest))) {
    throw new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not in repository ${name}`, { detail: { digest } });
  }
  return reply(202, { 'Content-Length': '0' });
}
