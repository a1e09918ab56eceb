import { SlipwayError } from '../errors.js';
import { MediaType } from '../oci/media-types.js';
import type { HistoryEntry, ImageConfig } from '../oci/types.js';
import { ComputedImage } from './computed-image.js';
import type { Image, Layer } from './types.js';

/**
 * Rebase as an image-level operation (go-containerregistry's mutate.Rebase, the CNB
 * rebaser's image.Rebase): the layers of an old base at the bottom of an image are
 * replaced by a new base's layers; the layers above, the config (env, entrypoint,
 * labels) and their history stay. Pure: the input images are never changed, and the
 * same inputs give the same digest.
 */

/**
 * How many of `image`'s layers belong to its base when the base's top layer has diffID
 * `topLayer` (the CNB label's runImage.topLayer). Throws when no layer has it.
 *
 * @example const n = await baseLayerCountByTopLayer(app, 'sha256:…');  // layers 0..n-1 are the run image
 */
export async function baseLayerCountByTopLayer(image: Image, topLayer: string): Promise<number> {
  const diffIds = (await image.config()).rootfs.diff_ids;
  // The last match: a run image whose top layer repeats lower down cannot cut the app short.
  const at = diffIds.lastIndexOf(topLayer as (typeof diffIds)[number]);
  if (at < 0) {
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      `the image has no layer with diffID ${topLayer} (its recorded run image top layer); its layers are ${diffIds.join(', ')}: give the old base with --old-base`,
      {
        detail: { topLayer },
      },
    );
  }
  return at + 1;
}

/**
 * Proves that `oldBase`'s layers are a prefix of `image`'s (compared by diffID, so a
 * re-compressed copy still matches) and returns their number. The error names the
 * first layer that differs, as crane's does.
 */
export async function baseLayerCountByPrefix(image: Image, oldBase: Image): Promise<number> {
  const [mine, base] = await Promise.all([image.config(), oldBase.config()]);
  const a = mine.rootfs.diff_ids;
  const b = base.rootfs.diff_ids;
  if (b.length > a.length) {
    throw new SlipwayError(
      'CONFLICT',
      `the old base has ${b.length} layers but the image only ${a.length}: it cannot be the image's base`,
      { detail: { baseLayers: b.length, imageLayers: a.length } },
    );
  }
  for (let i = 0; i < b.length; i++) {
    if (a[i] !== b[i]) {
      throw new SlipwayError(
        'CONFLICT',
        `layer ${i} of the image (diffID ${a[i]}) is not layer ${i} of the old base (diffID ${b[i]}): the old base is not the image's base`,
        {
          detail: { layer: i, image: a[i], base: b[i] },
        },
      );
    }
  }
  return b.length;
}

/**
 * A new image: `newBase`'s layers and history, then `image`'s layers above its first
 * `baseLayers` layers with their history; the config is `image`'s with os, arch,
 * variant and os.version taken from `newBase` (rootfs.diff_ids follow the layers).
 *
 * @example
 *   const n = await baseLayerCountByTopLayer(app, topLayer);
 *   const rebased = await rebase(app, n, newRunImage);
 */
export async function rebase(image: Image, baseLayers: number, newBase: Image): Promise<Image> {
  const [layers, config, manifest, mediaType, baseLayersList, baseConfig] = await Promise.all([
    image.layers(),
    image.config(),
    image.manifest(),
    image.mediaType(),
    newBase.layers(),
    newBase.config(),
  ]);
  if (baseLayers < 0 || baseLayers > layers.length) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `cannot cut ${baseLayers} base layers from an image of ${layers.length}`,
    );
  }
  const appLayers = layers.slice(baseLayers);
  const history = [...historyOf(baseConfig, baseLayersList.length), ...historyAbove(config, baseLayers)];
  const out: ImageConfig = { ...config, architecture: baseConfig.architecture, os: baseConfig.os, history };
  for (const key of ['variant', 'os.version', 'os.features'] as const) {
    if (baseConfig[key] === undefined) delete out[key];
    else (out as Record<string, unknown>)[key] = baseConfig[key];
  }
  return new ComputedImage({
    layers: [...baseLayersList, ...appLayers],
    config: out,
    manifestMediaType: manifestTypeFor(mediaType, [...baseLayersList, ...appLayers]),
    ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
    ...(manifest.subject ? { subject: manifest.subject } : {}),
  });
}

/** The history of an image's layers; entries are made up when the image has none (so counts stay aligned). */
function historyOf(config: ImageConfig, layerCount: number): HistoryEntry[] {
  const h = config.history ?? [];
  if (h.filter((e) => !e.empty_layer).length === layerCount) return h;
  return Array.from({ length: layerCount }, () => ({ created_by: 'base layer' }));
}

/**
 * History entries above the first `baseLayers` layers: entries and layers are walked
 * together because `empty_layer` entries have no layer (ggcr's createAddendums).
 */
function historyAbove(config: ImageConfig, baseLayers: number): HistoryEntry[] {
  const h = config.history ?? [];
  const layerCount = config.rootfs.diff_ids.length;
  if (h.filter((e) => !e.empty_layer).length !== layerCount) {
    return Array.from({ length: layerCount - baseLayers }, () => ({ created_by: 'app layer' }));
  }
  let seen = 0;
  let i = 0;
  while (i < h.length && seen < baseLayers) {
    if (!h[i]!.empty_layer) seen++;
    i++;
  }
  return h.slice(i);
}

/** A Docker manifest cannot name OCI layer media types: such a mix becomes an OCI manifest. */
function manifestTypeFor(mediaType: string, layers: Layer[]): string {
  if (mediaType !== MediaType.DockerManifest) return mediaType;
  return layers.every((l) => l.mediaType.startsWith('application/vnd.docker.')) ? mediaType : MediaType.OciManifest;
}
