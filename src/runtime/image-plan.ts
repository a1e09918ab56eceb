import { SlipwayError } from '../errors.js';
import { pickImage } from '../image/pick.js';
import type { Artifact } from '../image/types.js';
import type { ContainerConfig } from '../oci/types.js';
import type { CacheableLayer } from './layer-cache.js';

/**
 * What starting a container needs of an image, small enough to keep in the state
 * database: with it and the layers in the cache, a second start reads no blob.
 */
export interface ImagePlan {
  /** The image manifest's digest. */
  digest: string;
  /** The container config (Entrypoint, Cmd, Env, User, WorkingDir, Labels, ...). */
  config: ContainerConfig;
  /** Layer diffIDs, base first. */
  diffIds: string[];
}

/** The plan of the image `artifact` names (for this host's platform when it is an index), and its layers to unpack. */
export async function planImage(artifact: Artifact): Promise<{ plan: ImagePlan; layers: CacheableLayer[] }> {
  const { image } = await pickImage(artifact);
  const [config, layers, digest] = await Promise.all([image.config(), image.layers(), image.digest()]);
  if (config.os !== undefined && config.os !== 'linux') {
    throw new SlipwayError('UNSUPPORTED', `the image is for ${config.os}; only linux images run here`, {
      detail: { os: config.os },
    });
  }
  const cacheable = await Promise.all(
    layers.map(
      async (l): Promise<CacheableLayer> => ({
        diffId: await l.diffId(),
        size: await l.size(),
        open: () => l.compressed(),
      }),
    ),
  );
  return {
    plan: { digest, config: config.config ?? {}, diffIds: cacheable.map((l) => l.diffId) },
    layers: cacheable,
  };
}
