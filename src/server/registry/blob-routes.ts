import type { FileHandle } from 'node:fs/promises';
import { isSlipwayError } from '../../errors.js';
import { authorize, repositoryAccess, type Call, type RegistryContext } from './context.js';
import { RegistryError } from './errors.js';
import type { Route } from './paths.js';
import { blobRange } from './ranges.js';
import { notModified, reply, replyFile, replyStream } from './respond.js';

type BlobCall = Call<Extract<Route, { kind: 'blob' }>>;

/** A blob store with files (FsBlobStore): the open file and its size. */
interface FileBlobs {
  openFile(digest: string): Promise<{ handle: FileHandle; size: number }>;
}

/**
 * GET and HEAD /v2/<name>/blobs/<digest>: streamed from the store, with one byte range
 * when asked. Only blobs linked to the repository are served, whatever else the
 * store holds.
 */
export async function getBlob(reg: RegistryContext, call: BlobCall): Promise<Response> {
  const { name, digest } = call.route;
  await authorize(reg, call, [repositoryAccess(name, 'pull')]);
  const files = reg.store.blobs as Partial<FileBlobs>;
  // A GET over a socket of a blob on disk: the file is opened first and its size taken
  // from the open file (a concurrent delete or repair cannot change it then), and its
  // bytes are read into reused buffers with no stream in between (respond.ts).
  const direct =
    call.node !== undefined &&
    call.request.method !== 'HEAD' &&
    files.openFile !== undefined &&
    !(reg.redirectBlobs && reg.store.blobs.presignedUrl);
  let file: { handle: FileHandle; size: number } | undefined;
  let size: number | undefined;
  if (await reg.store.meta.hasBlobLink(call.repository, digest)) {
    if (direct) {
      file = await files.openFile!(digest).catch((err: unknown) => {
        if (isSlipwayError(err, 'BLOB_UNKNOWN')) return undefined;
        throw err;
      });
      size = file?.size;
    } else size = (await reg.store.blobs.stat(digest))?.size;
  }
  try {
    if (size === undefined)
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
    const range = blobRange(call.request.headers.get('range'), size);
    if (range === 'unsatisfiable') {
      throw new RegistryError('RANGE_INVALID', `the requested range is outside blob ${digest} of ${size} bytes`, {
        headers: { 'Content-Range': `bytes */${size}` },
        detail: { digest, size },
      });
    }
    const length = range === undefined ? size : range.end - range.start + 1;
    if (range !== undefined) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
    headers['Content-Length'] = String(length);
    const status = range === undefined ? 200 : 206;
    // HEAD (and an empty blob) never opens a stream: nothing would close it.
    if (call.request.method === 'HEAD' || length === 0) return reply(status, headers);
    // The bytes straight from the object store: the client follows, with its Range, to a URL valid for minutes.
    if (reg.redirectBlobs && reg.store.blobs.presignedUrl)
      return reply(307, { Location: await reg.store.blobs.presignedUrl(digest), 'Docker-Content-Digest': digest });
    call.bytesOut = length;
    if (file !== undefined) {
      const handle = file.handle;
      file = undefined; // replyFile closes it
      return await replyFile(call, status, headers, { handle, start: range?.start ?? 0, length });
    }
    // Large reads: a 64 KiB default halves what one connection can pull.
    const stream = await reg.store.blobs.open(digest, range, { chunkSize: 1 << 20 });
    return await replyStream(call, status, headers, stream);
  } finally {
    await file?.handle.close();
  }
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
