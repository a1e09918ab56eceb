import type { Digest } from '../oci/digest.js';
import type { ImageConfig, Platform } from '../oci/types.js';
import type { Image } from './types.js';

/**
 * The stable description of an image that `slipway inspect --json` prints and
 * scripts rely on. Later versions add fields; they never rename these.
 */
export interface ImageDescription {
  name: string;
  digest: Digest;
  /** Manifest + config + layers as stored, in bytes. */
  size: number;
  mediaType: string;
  platform: Platform;
  created?: string;
  config: ImageConfig['config'] & object;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Base first. */
  layers: { digest: Digest; diffID: Digest; size: number; mediaType: string }[];
  history: NonNullable<ImageConfig['history']>;
}

export async function describeImage(name: string, image: Image): Promise<ImageDescription> {
  const [digest, size, mediaType, config, manifest, layers] = await Promise.all([
    image.digest(),
    image.size(),
    image.mediaType(),
    image.config(),
    image.manifest(),
    image.layers(),
  ]);
  const platform: Platform = {
    architecture: config.architecture,
    os: config.os,
    ...(config.variant ? { variant: config.variant } : {}),
  };
  return {
    name,
    digest,
    size,
    mediaType,
    platform,
    ...(config.created ? { created: config.created } : {}),
    config: config.config ?? {},
    labels: config.config?.Labels ?? {},
    annotations: manifest.annotations ?? {},
    layers: await Promise.all(
      layers.map(async (l) => ({
        digest: await l.digest(),
        diffID: await l.diffId(),
        size: await l.size(),
        mediaType: l.mediaType,
      })),
    ),
    history: config.history ?? [],
  };
}
