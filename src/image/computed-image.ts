import { digestOf, type Digest } from '../oci/digest.js';
import { SlipwayError } from '../errors.js';
import { MediaType } from '../oci/media-types.js';
import type { Annotations, Descriptor, ImageConfig, ImageManifest } from '../oci/types.js';
import { canonicalJson } from './json.js';
import type { Image, Layer } from './types.js';

export interface ImageParts {
  layers: Layer[];
  /** The config; rootfs.diff_ids is recomputed from `layers`. */
  config: ImageConfig;
  manifestMediaType: string;
  annotations?: Annotations;
  subject?: Descriptor;
  /**
   * The exact config bytes to keep, when only layer compression changed (same diffIDs):
   * re-serialising would change the config digest (a docker image ID) for nothing.
   */
  rawConfig?: Buffer;
}

/**
 * An image assembled from parts: config and manifest are serialised lazily, once,
 * and cached, so the digest is stable for the value's life. Transformations in
 * mutate.ts build these from an existing image and never touch their input.
 */
export class ComputedImage implements Image {
  #built: Promise<{ manifest: ImageManifest; raw: Buffer; rawConfig: Buffer; config: ImageConfig }> | undefined;

  constructor(private readonly parts: ImageParts) {}

  async mediaType(): Promise<string> {
    return this.parts.manifestMediaType;
  }
  async manifest(): Promise<ImageManifest> {
    return (await this.#build()).manifest;
  }
  async rawManifest(): Promise<Buffer> {
    return (await this.#build()).raw;
  }
  async digest(): Promise<Digest> {
    return digestOf(await this.rawManifest());
  }
  async size(): Promise<number> {
    const b = await this.#build();
    return b.raw.length + b.manifest.config.size + b.manifest.layers.reduce((n, l) => n + l.size, 0);
  }
  async config(): Promise<ImageConfig> {
    return (await this.#build()).config;
  }
  async rawConfig(): Promise<Buffer> {
    return (await this.#build()).rawConfig;
  }
  async configDigest(): Promise<Digest> {
    return (await this.manifest()).config.digest;
  }
  async layers(): Promise<Layer[]> {
    return [...this.parts.layers];
  }
  async layerByDigest(digest: Digest): Promise<Layer> {
    for (const l of this.parts.layers) {
      if ((await l.digest()) === digest || (await l.diffId()) === digest) return l;
    }
    throw new SlipwayError('BLOB_UNKNOWN', `image has no layer ${digest}`);
  }

  #build() {
    this.#built ??= (async () => {
      const { layers, manifestMediaType, annotations, subject } = this.parts;
      const diffIds = await Promise.all(layers.map((l) => l.diffId()));
      const config: ImageConfig = { ...this.parts.config, rootfs: { type: 'layers', diff_ids: diffIds } };
      const keep = this.parts.rawConfig && sameList(this.parts.config.rootfs.diff_ids, diffIds);
      const rawConfig = keep ? this.parts.rawConfig! : canonicalJson(config);
      const docker = manifestMediaType === MediaType.DockerManifest;
      const manifest: ImageManifest = {
        schemaVersion: 2,
        mediaType: manifestMediaType,
        config: {
          mediaType: docker ? MediaType.DockerConfig : MediaType.OciConfig,
          digest: digestOf(rawConfig),
          size: rawConfig.length,
        },
        layers: await Promise.all(layers.map(layerDescriptor)),
        ...(subject ? { subject } : {}),
        ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
      };
      return { manifest, raw: canonicalJson(manifest), rawConfig, config };
    })();
    return this.#built;
  }
}

export async function layerDescriptor(layer: Layer): Promise<Descriptor> {
  const [digest, size] = await Promise.all([layer.digest(), layer.size()]);
  return {
    mediaType: layer.mediaType,
    digest,
    size,
    ...(layer.annotations && Object.keys(layer.annotations).length > 0 ? { annotations: layer.annotations } : {}),
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
