import { Readable } from 'node:stream';
import { isRetryable } from '../errors.js';
import {
  INDEX_MEDIA_TYPES,
  MediaType,
  layerCompression,
  ociLayerMediaType,
  type Compression,
} from '../oci/media-types.js';
import type { Descriptor, ImageIndex } from '../oci/types.js';
import type { Digest } from '../oci/digest.js';
import { ComputedImage } from '../image/computed-image.js';
import type { Artifact, Image, ImageIndexValue, Layer } from '../image/types.js';
import { DescribedLayer } from '../image/described-layer.js';
import { progressStream, silentProgress, type Progress } from '../progress.js';
import { canonicalJson } from '../image/json.js';
import { chain } from '../streams.js';
import type { ContentDestination } from './destination.js';

export interface WriteOptions {
  progress?: Progress;
  /** Blobs in flight at once. */
  concurrency?: number;
  /** Uncompressed layers (docker archives, rootfs tars) are compressed with this on the way in. */
  compressUncompressed?: Exclude<Compression, 'none'>;
}

export interface WriteReport {
  descriptor: Descriptor;
  /** Blobs whose bytes were sent. */
  blobsSent: number;
  /** Blobs the destination already had. */
  blobsSkipped: number;
  /** Blobs the destination linked from another repository without a transfer. */
  blobsMounted: number;
  bytesSent: number;
}

/** Whole-blob attempts when a transfer fails in a way worth retrying (a dropped connection, a 5xx). */
const BLOB_ATTEMPTS = 3;

/** Writes an image or a whole index to a destination and returns the root descriptor. */
export async function writeArtifact(
  dest: ContentDestination,
  artifact: Artifact,
  options: WriteOptions = {},
): Promise<WriteReport> {
  const report: WriteReport = {
    descriptor: undefined as unknown as Descriptor,
    blobsSent: 0,
    blobsSkipped: 0,
    blobsMounted: 0,
    bytesSent: 0,
  };
  report.descriptor =
    artifact.kind === 'image'
      ? await writeImage(dest, artifact.image, options, report, true)
      : await writeIndex(dest, artifact.index, options, report, true);
  return report;
}

async function writeIndex(
  dest: ContentDestination,
  index: ImageIndexValue,
  options: WriteOptions,
  report: WriteReport,
  root: boolean,
): Promise<Descriptor> {
  const doc = await index.index();
  let changed = false;
  const children: Descriptor[] = [];
  for (const child of doc.manifests) {
    const written = INDEX_MEDIA_TYPES.includes(child.mediaType)
      ? await writeIndex(dest, await index.childIndex(child), options, report, false)
      : await writeImage(dest, await index.image(child), options, report, false);
    if (written.digest !== child.digest) changed = true;
    children.push({ ...child, mediaType: written.mediaType, digest: written.digest, size: written.size });
  }
  // Children rewritten (compressed layers) change their digests; the index must follow.
  const raw = changed ? canonicalJson({ ...doc, manifests: children } satisfies ImageIndex) : await index.rawIndex();
  return dest.putManifest(raw, await index.mediaType(), root);
}

async function writeImage(
  dest: ContentDestination,
  image: Image,
  options: WriteOptions,
  report: WriteReport,
  root: boolean,
): Promise<Descriptor> {
  const [layers, { config }] = await Promise.all([image.layers(), image.manifest()]);
  // The config goes up beside the layers, not after them: only the manifest must wait
  // for every blob. Re-compressed layers leave the config's bytes as they are (the
  // diff_ids do not change), so its digest is known before the layers are written.
  // First in the queue: it is small, and would otherwise wait for a free slot behind large layers.
  const tasks: (() => Promise<Layer | undefined>)[] = [
    async () => {
      await writeConfig(dest, config.digest, () => image.rawConfig(), report);
      return undefined;
    },
    ...layers.map((layer) => () => writeLayer(dest, layer, options, report)),
  ];
  const done = await mapBounded(tasks, (options.concurrency ?? 6) + 1, (task) => task());
  const written = done.slice(1) as Layer[];
  let final = image;
  if (written.some((w, i) => w !== layers[i])) {
    final = await rebuildWithLayers(image, written);
    const rebuilt = (await final.manifest()).config.digest;
    // Cannot happen while diff_ids are kept; were it to, the manifest must not name a blob not sent.
    if (rebuilt !== config.digest) await writeConfig(dest, rebuilt, () => final.rawConfig(), report);
  }
  return dest.putManifest(await final.rawManifest(), await final.mediaType(), root);
}

/**
 * Writes the config blob, or skips or mounts it when present. Its bytes are read only to be
 * sent: a registry source's config is one more round trip, which the layers' checks need not wait for.
 */
async function writeConfig(
  dest: ContentDestination,
  digest: Digest,
  read: () => Promise<Buffer>,
  report: WriteReport,
): Promise<void> {
  if (await dest.hasBlob(digest)) report.blobsSkipped++;
  else if (dest.mountBlob && (await dest.mountBlob(digest))) report.blobsMounted++;
  else {
    const raw = await read();
    await dest.putBlob(Readable.from([raw]), { digest, size: raw.length });
    report.blobsSent++;
    report.bytesSent += raw.length;
  }
}

/** Writes one layer, or skips or mounts it when present; returns the layer as it now is in the destination. */
async function writeLayer(
  dest: ContentDestination,
  layer: Layer,
  options: WriteOptions,
  report: WriteReport,
): Promise<Layer> {
  const progress = options.progress ?? silentProgress;
  const [digest, size] = await Promise.all([layer.digest(), layer.size()]);
  const id = digest.slice(7, 19);
  const compression = layerCompression(layer.mediaType);
  const convertTo = compression === 'none' ? options.compressUncompressed : undefined;
  progress.start(id, digest, size);
  if (!convertTo) {
    if (await dest.hasBlob(digest)) {
      report.blobsSkipped++;
      progress.done(id, 'exists');
      return layer;
    }
    if (dest.mountBlob && (await dest.mountBlob(digest))) {
      report.blobsMounted++;
      progress.done(id, 'mounted');
      return layer;
    }
  }
  if (!convertTo) dest.prepareBlob?.(digest, size);
  for (let attempt = 1; ; attempt++) {
    try {
      // Counted as bytes pass, without switching the stream to flowing mode before the destination reads.
      // A content-addressed destination hashes what it receives and refuses a mismatch, so the source need not hash too.
      const source = chain(
        convertTo ? await layer.uncompressed() : await layer.compressed({ consumerVerifies: true }),
        progressStream(progress, id),
      );
      const info = convertTo
        ? await dest.putBlob((await import('../layer/compress.js')).compressStream(source, convertTo))
        : await dest.putBlob(source, { digest, size });
      report.blobsSent++;
      report.bytesSent += info.size;
      if (!convertTo) {
        progress.done(id, 'done');
        return layer;
      }
      progress.done(id, `compressed ${convertTo}`);
      return new DescribedLayer(
        ociLayerMediaType(convertTo),
        info.digest,
        info.size,
        await layer.diffId(),
        layer.annotations,
      );
    } catch (err) {
      if (attempt >= BLOB_ATTEMPTS || !isRetryable(err)) throw err;
      progress.done(id, `failed (${(err as Error).message}); sending it again`);
      progress.start(id, digest, size);
    }
  }
}

/** The same image with some layers replaced by re-compressed ones; the manifest becomes OCI. */
async function rebuildWithLayers(image: Image, layers: Layer[]): Promise<Image> {
  const [config, manifest, rawConfig] = await Promise.all([image.config(), image.manifest(), image.rawConfig()]);
  return new ComputedImage({
    layers,
    config,
    rawConfig,
    manifestMediaType: MediaType.OciManifest,
    annotations: manifest.annotations,
    subject: manifest.subject,
  });
}

async function mapBounded<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
