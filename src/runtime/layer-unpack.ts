import { Transform, type Readable } from 'node:stream';
import { SlipwayError } from '../errors.js';
import { decompressing } from '../layer/compress.js';
import { layerToOverlay } from '../layer/overlay.js';
import { Digester, type Digest } from '../oci/digest.js';

/**
 * Unpacks one layer blob (gzip, zstd or plain tar) into the empty directory `dir` in
 * overlay form, reporting compressed bytes read to `advance`, and checks that the tar
 * is the layer the diffID names: a cache directory is shared by every image with
 * that diffID, so its content must be exactly that layer. Reads to the end of the
 * stream (past the tar's end marker) so that every byte is hashed.
 */
export async function unpackLayer(
  blob: Readable,
  dir: string,
  diffId: Digest,
  advance: (bytes: number) => void,
): Promise<{ bytes: number }> {
  const counted = blob.pipe(
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        advance(chunk.length);
        done(null, chunk);
      },
    }),
  );
  blob.once('error', (err) => counted.destroy(err));
  const tar = await decompressing(counted);
  const digester = new Digester();
  const source = tar[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  const hashing: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        const r = await source.next();
        if (!r.done) digester.update(r.value);
        return r;
      },
      // The extractor stops at the end marker: keep the stream open for the drain below.
      return: async () => ({ done: true, value: undefined }),
    }),
  };
  let counts: Awaited<ReturnType<typeof layerToOverlay>>;
  try {
    counts = await layerToOverlay(hashing, dir);
    for (let r = await source.next(); !r.done; r = await source.next()) digester.update(r.value);
  } finally {
    await source.return?.();
  }
  if (digester.digest() !== diffId) {
    throw new SlipwayError(
      'DIGEST_MISMATCH',
      `layer ${diffId} unpacks to a tar with diffID ${digester.digest()}; the image is corrupt or lies about its layers`,
      {
        detail: { expected: diffId, actual: digester.digest() },
      },
    );
  }
  return { bytes: counts.bytes };
}
