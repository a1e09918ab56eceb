import type { Annotations, ContainerConfig, HistoryEntry, ImageConfig } from '../oci/types.js';
import { ComputedImage } from './computed-image.js';
import type { Image, Layer } from './types.js';

export { rebase, baseLayerCountByTopLayer, baseLayerCountByPrefix } from './rebase.js';

/**
 * Pure transformations of images (go-containerregistry's mutate): each returns a
 * new Image and never changes its input. Digests of the result are computed lazily.
 */

async function partsOf(image: Image) {
  const [manifest, config, layers, mediaType] = await Promise.all([
    image.manifest(),
    image.config(),
    image.layers(),
    image.mediaType(),
  ]);
  return { layers, config, manifestMediaType: mediaType, annotations: manifest.annotations, subject: manifest.subject };
}

export interface Addendum {
  layer: Layer;
  history?: HistoryEntry;
}

/** Appends layers (base first) with a history entry each. */
export async function append(image: Image, ...additions: Addendum[]): Promise<Image> {
  const p = await partsOf(image);
  const history = [...(p.config.history ?? []), ...additions.map((a) => a.history ?? { created_by: 'slipway' })];
  return new ComputedImage({
    ...p,
    layers: [...p.layers, ...additions.map((a) => a.layer)],
    config: { ...p.config, history },
  });
}

/** Replaces the container config (`config.config`) with `change(old)`. */
export async function withContainerConfig(
  image: Image,
  change: (old: ContainerConfig) => ContainerConfig,
): Promise<Image> {
  const p = await partsOf(image);
  return new ComputedImage({ ...p, config: { ...p.config, config: change({ ...(p.config.config ?? {}) }) } });
}

/** Replaces top-level config fields (created, author, architecture, os, ...). */
export async function withConfigFields(image: Image, fields: Partial<Omit<ImageConfig, 'rootfs'>>): Promise<Image> {
  const p = await partsOf(image);
  return new ComputedImage({ ...p, config: { ...p.config, ...fields } });
}

/** Merges labels into the container config; a value of undefined removes the label. */
export function withLabels(image: Image, labels: Record<string, string | undefined>): Promise<Image> {
  return withContainerConfig(image, (c) => ({ ...c, Labels: mergeMap(c.Labels, labels) }));
}

/** Merges manifest annotations; a value of undefined removes the annotation. */
export async function withAnnotations(image: Image, annotations: Record<string, string | undefined>): Promise<Image> {
  const p = await partsOf(image);
  return new ComputedImage({ ...p, annotations: mergeMap(p.annotations, annotations) });
}

/** Re-expresses an image with an OCI manifest (layers keep their bytes and media types). */
export async function withManifestMediaType(image: Image, manifestMediaType: string): Promise<Image> {
  return new ComputedImage({ ...(await partsOf(image)), manifestMediaType });
}

/** Replaces the layers entirely (flatten and rebase use this); history is replaced too. */
export async function withLayers(image: Image, layers: Layer[], history: HistoryEntry[]): Promise<Image> {
  const p = await partsOf(image);
  return new ComputedImage({ ...p, layers, config: { ...p.config, history } });
}

function mergeMap(old: Annotations | undefined, change: Record<string, string | undefined>): Annotations {
  const out: Annotations = { ...(old ?? {}) };
  for (const [k, v] of Object.entries(change)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}
