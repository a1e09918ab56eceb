import type { Digest } from '../oci/digest.js';
import { DescribedLayer } from '../image/described-layer.js';
import type { Image, Layer } from '../image/types.js';
import type { TarEntry } from '../layer/entry.js';
import { writeLayer } from '../layer/layer-writer.js';
import type { StoreLease } from '../store/local-store.js';

/** A layer blob known by its descriptor values. */
export interface KnownLayer {
  diffId: Digest;
  digest: Digest;
  size: number;
  mediaType: string;
}

/**
 * Writes layers into the store, reusing blobs already known by diffID: the tar is
 * hashed first (no compression, cheap), and only a diffID seen nowhere before is
 * compressed and stored. So an unchanged layer costs one read of its files, never a
 * re-compression or a second blob.
 */
export class LayerOutput {
  readonly written: KnownLayer[] = [];
  readonly reused: KnownLayer[] = [];

  constructor(
    private readonly lease: StoreLease,
    private readonly known: Map<Digest, KnownLayer>,
  ) {}

  async write(entries: () => AsyncIterable<TarEntry>): Promise<{ layer: Layer; known: KnownLayer; reused: boolean }> {
    const hashed = await writeLayer(entries(), { write: async () => undefined }, { compression: 'none' });
    const seen = this.known.get(hashed.diffId);
    if (seen && (await this.lease.ensureBlob(seen.digest))) {
      this.reused.push(seen);
      return { layer: describe(seen), known: seen, reused: true };
    }
    const writer = await this.lease.writer();
    try {
      const result = await writeLayer(entries(), { write: (c) => writer.write(c) }, { compression: 'gzip' });
      await writer.commit({ digest: result.digest, size: result.size });
      const known: KnownLayer = {
        diffId: result.diffId,
        digest: result.digest,
        size: result.size,
        mediaType: result.mediaType,
      };
      this.known.set(known.diffId, known);
      this.written.push(known);
      return { layer: describe(known), known, reused: false };
    } catch (err) {
      await writer.abort();
      throw err;
    }
  }

  /** A layer of the previous image taken as it is (the buildpack kept only its metadata). */
  async reuse(known: KnownLayer): Promise<Layer> {
    this.reused.push(known);
    return describe(known);
  }
}

export function describe(k: KnownLayer): Layer {
  return new DescribedLayer(k.mediaType, k.digest, k.size, k.diffId);
}

/** An image's layers as known layers by diffID: what a new build of the same name can reuse. */
export async function knownLayersOf(image: Image): Promise<[Digest, KnownLayer][]> {
  const [manifest, config] = await Promise.all([image.manifest(), image.config()]);
  return manifest.layers.map((l, i) => [
    config.rootfs.diff_ids[i]!,
    { diffId: config.rootfs.diff_ids[i]!, digest: l.digest, size: l.size, mediaType: l.mediaType },
  ]);
}
