import type { Compression } from '../oci/media-types.js';
import { writeLayer } from '../layer/layer-writer.js';
import { walkTree } from '../layer/tree-walk.js';
import type { StoreLease } from '../store/local-store.js';
import type { WrittenLayer } from '../copy/import-rootfs.js';
import { silentProgress, type Progress } from '../progress.js';

/**
 * Writes a root filesystem directory as one deterministic layer into the store
 * (entries sorted, mtime SOURCE_DATE_EPOCH or 1980-01-01, owners kept), copying the
 * bytes to `also` (the stack cache) on the way. Device nodes are left out: runtimes
 * give containers their own /dev, and rootless tools cannot create them.
 */
export async function writeRootfsLayer(
  lease: StoreLease,
  dir: string,
  options: {
    compression?: Exclude<Compression, 'none'>;
    also?: { write(chunk: Uint8Array): Promise<void> };
    progress?: Progress;
    task?: string;
  } = {},
): Promise<WrittenLayer> {
  const progress = options.progress ?? silentProgress;
  const task = options.task ?? 'layer';
  const writer = await lease.writer();
  try {
    const sink = {
      write: async (chunk: Uint8Array) => {
        await writer.write(chunk);
        await options.also?.write(chunk);
        progress.advance(task, chunk.length);
      },
    };
    const entries = walkTree(dir, {
      owner: { kind: 'keep' },
      transform: (entry) => (entry.type === 'char-device' || entry.type === 'block-device' ? null : entry),
    });
    const result = await writeLayer(entries, sink, { compression: options.compression ?? 'gzip' });
    const info = await writer.commit({ digest: result.digest, size: result.size });
    return { digest: info.digest, size: info.size, diffId: result.diffId, mediaType: result.mediaType };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}
