import type { Readable } from 'node:stream';
import { digestOf, type Digest } from '../oci/digest.js';
import { SlipwayError } from '../errors.js';
import { MediaType } from '../oci/media-types.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest } from '../oci/types.js';
import { parseConfig, parseIndex, parseManifest, parseManifestOrIndex } from '../oci/validate.js';
import { MAX_DOCUMENT_SIZE, type BlobSource, type OpenOptions } from './blob-source.js';
import type { Artifact, Image, ImageIndexValue, Layer } from './types.js';

/** A layer stored as a blob; its diffID comes from the image config, as in ggcr's partial package. */
export class BlobLayer implements Layer {
  readonly mediaType: string;
  readonly annotations: Record<string, string> | undefined;

  constructor(
    private readonly source: BlobSource,
    private readonly descriptor: Descriptor,
    private readonly diff: Digest,
  ) {
    this.mediaType = descriptor.mediaType;
    this.annotations = descriptor.annotations;
  }

  async digest(): Promise<Digest> {
    return this.descriptor.digest;
  }
  async diffId(): Promise<Digest> {
    return this.diff;
  }
  async size(): Promise<number> {
    return this.descriptor.size;
  }
  compressed(options?: OpenOptions): Promise<Readable> {
    return this.source.open(this.descriptor.digest, this.descriptor.size, options);
  }
  async uncompressed(): Promise<Readable> {
    // Loaded here, not at the top: zstd's native addon costs every command that reads an image (`images`,
    // `inspect`) about 10 ms of start-up, and only a layer's content needs it (issue 23).
    const { decompressing } = await import('../layer/compress.js');
    return decompressing(await this.compressed());
  }
}

/** An image whose manifest, config and layers are blobs of a BlobSource, read lazily. */
export class BlobImage implements Image {
  #manifest: ImageManifest | undefined;
  #config: Promise<{ raw: Buffer; parsed: ImageConfig }> | undefined;
  #digest: Digest | undefined;

  constructor(
    private readonly source: BlobSource,
    private readonly raw: Buffer,
    private readonly descriptorMediaType?: string,
  ) {}

  async mediaType(): Promise<string> {
    const m = await this.manifest();
    return m.mediaType ?? this.descriptorMediaType ?? MediaType.OciManifest;
  }
  async manifest(): Promise<ImageManifest> {
    this.#manifest ??= parseManifest(this.raw);
    return this.#manifest;
  }
  async rawManifest(): Promise<Buffer> {
    return this.raw;
  }
  async digest(): Promise<Digest> {
    this.#digest ??= digestOf(this.raw);
    return this.#digest;
  }
  async size(): Promise<number> {
    const m = await this.manifest();
    return this.raw.length + m.config.size + m.layers.reduce((n, l) => n + l.size, 0);
  }
  async config(): Promise<ImageConfig> {
    return (await this.#loadConfig()).parsed;
  }
  async rawConfig(): Promise<Buffer> {
    return (await this.#loadConfig()).raw;
  }
  async configDigest(): Promise<Digest> {
    return (await this.manifest()).config.digest;
  }
  async layers(): Promise<Layer[]> {
    const [m, c] = await Promise.all([this.manifest(), this.config()]);
    const diffIds = c.rootfs.diff_ids;
    if (diffIds.length !== m.layers.length) {
      throw new SlipwayError(
        'INVALID_DOCUMENT',
        `image ${await this.digest()} has ${m.layers.length} layers but its config lists ${diffIds.length} diff_ids`,
      );
    }
    return m.layers.map((d, i) => new BlobLayer(this.source, d, diffIds[i]!));
  }
  async layerByDigest(digest: Digest): Promise<Layer> {
    for (const l of await this.layers()) {
      if ((await l.digest()) === digest || (await l.diffId()) === digest) return l;
    }
    throw new SlipwayError('BLOB_UNKNOWN', `image ${await this.digest()} has no layer ${digest}`);
  }

  #loadConfig(): Promise<{ raw: Buffer; parsed: ImageConfig }> {
    this.#config ??= (async () => {
      const m = await this.manifest();
      const raw = await this.source.read(m.config.digest, MAX_DOCUMENT_SIZE);
      return { raw, parsed: parseConfig(raw) };
    })();
    return this.#config;
  }
}

export class BlobIndex implements ImageIndexValue {
  #index: ImageIndex | undefined;

  constructor(
    private readonly source: BlobSource,
    private readonly raw: Buffer,
    private readonly descriptorMediaType?: string,
  ) {}

  async mediaType(): Promise<string> {
    return (await this.index()).mediaType ?? this.descriptorMediaType ?? MediaType.OciIndex;
  }
  async index(): Promise<ImageIndex> {
    this.#index ??= parseIndex(this.raw);
    return this.#index;
  }
  async rawIndex(): Promise<Buffer> {
    return this.raw;
  }
  async digest(): Promise<Digest> {
    return digestOf(this.raw);
  }
  async image(desc: Descriptor): Promise<Image> {
    return new BlobImage(this.source, await this.source.read(desc.digest, MAX_DOCUMENT_SIZE), desc.mediaType);
  }
  async childIndex(desc: Descriptor): Promise<ImageIndexValue> {
    return new BlobIndex(this.source, await this.source.read(desc.digest, MAX_DOCUMENT_SIZE), desc.mediaType);
  }
}

/** Reads the manifest or index a descriptor points at and wraps it as an Artifact. */
export async function artifactFromBlobs(
  source: BlobSource,
  desc: Pick<Descriptor, 'digest' | 'mediaType'>,
): Promise<Artifact> {
  const raw = await source.read(desc.digest, MAX_DOCUMENT_SIZE);
  const parsed = parseManifestOrIndex(raw, desc.mediaType);
  return parsed.kind === 'index'
    ? { kind: 'index', index: new BlobIndex(source, raw, desc.mediaType) }
    : { kind: 'image', image: new BlobImage(source, raw, desc.mediaType) };
}
