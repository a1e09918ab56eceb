import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { SlipwayError } from '../errors.js';
import { DigestStream, type Digest } from '../oci/digest.js';
import { MediaType, ociLayerMediaType, type Compression } from '../oci/media-types.js';
import type { ContainerConfig, Descriptor, ImageConfig, Platform } from '../oci/types.js';
import { compressStream, decompressing } from '../layer/compress.js';
import { writeLayer } from '../layer/layer-writer.js';
import { expectTar } from '../layer/tar-sniff.js';
import { chain } from '../streams.js';
import { defaultMtime, walkTree } from '../layer/tree-walk.js';
import { ComputedImage } from '../image/computed-image.js';
import type { LocalStore, StoreLease } from '../store/local-store.js';
import { hostPlatform } from '../oci/platform.js';
import { DescribedLayer } from '../image/described-layer.js';
import { progressStream, silentProgress, type Progress } from '../progress.js';

export interface RootfsImportOptions {
  platform?: Partial<Platform>;
  /** Container config fields (Entrypoint, Cmd, Env, WorkingDir, User, Labels, ...). */
  config?: ContainerConfig;
  compression?: Exclude<Compression, 'none'>;
  progress?: Progress;
}

/**
 * Makes a one-layer image from a root filesystem and stores it as `repository:tag`.
 * A directory goes through the deterministic layer writer (the same tree gives the
 * same digest anywhere); a tarball (plain, gzip or zstd) is taken byte for byte as
 * the layer's tar, like `podman import`.
 */
export async function importRootfs(
  store: LocalStore,
  source: string,
  repository: string,
  tag: string,
  options: RootfsImportOptions = {},
): Promise<Descriptor> {
  const compression = options.compression ?? 'gzip';
  const progress = options.progress ?? silentProgress;
  const st = await stat(source).catch((err) => {
    throw new SlipwayError('NOT_FOUND', `rootfs ${source} does not exist: give a directory or a tarball`, {
      cause: err,
    });
  });
  const lease = await store.openLease();
  try {
    progress.start('layer', `layer from ${source}`, st.isDirectory() ? undefined : st.size);
    const layer = st.isDirectory()
      ? await layerFromDirectory(lease, source, compression, progress)
      : await layerFromTarball(lease, source, compression, progress);
    progress.done('layer', layer.digest);
    const platform = { ...hostPlatform(), ...options.platform };
    const created = new Date(defaultMtime() * 1000).toISOString().replace('.000Z', 'Z');
    const config: ImageConfig = {
      created,
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: options.config ?? {},
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created, created_by: `slipway import --rootfs ${st.isDirectory() ? 'DIR' : 'FILE'}` }],
    };
    const image = new ComputedImage({
      layers: [new DescribedLayer(layer.mediaType, layer.digest, layer.size, layer.diffId)],
      config,
      manifestMediaType: MediaType.OciManifest,
    });
    const rawConfig = await image.rawConfig();
    await lease.putBlob(Readable.from([rawConfig]), { digest: await image.configDigest(), size: rawConfig.length });
    return await store.putManifest(repository, await image.rawManifest(), MediaType.OciManifest, [tag], lease);
  } finally {
    await lease.release();
  }
}

export interface WrittenLayer {
  digest: Digest;
  diffId: Digest;
  size: number;
  mediaType: string;
}

/** Writes a directory as a deterministic layer into the store, under `lease`. */
export async function layerFromDirectory(
  lease: StoreLease,
  dir: string,
  compression: Exclude<Compression, 'none'>,
  progress: Progress = silentProgress,
): Promise<WrittenLayer> {
  const writer = await lease.writer();
  try {
    const sink = {
      write: async (chunk: Uint8Array) => {
        await writer.write(chunk);
        progress.advance('layer', chunk.length);
      },
    };
    const result = await writeLayer(walkTree(dir, { owner: { kind: 'keep' } }), sink, { compression });
    const info = await writer.commit({ digest: result.digest, size: result.size });
    return { digest: info.digest, size: info.size, diffId: result.diffId, mediaType: result.mediaType };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

async function layerFromTarball(
  lease: StoreLease,
  file: string,
  compression: Exclude<Compression, 'none'>,
  progress: Progress,
): Promise<WrittenLayer> {
  const input = chain(createReadStream(file, { highWaterMark: 1 << 20 }), progressStream(progress, 'layer'));
  const diff = new DigestStream();
  const tar = chain(await decompressing(input), expectTar(file), diff);
  const info = await lease.putBlob(compressStream(tar, compression));
  return { digest: info.digest, size: info.size, diffId: diff.digest(), mediaType: ociLayerMediaType(compression) };
}
