import { SlipwayError } from '../errors.js';
import { Annotation } from '../oci/annotations.js';
import type { Digest } from '../oci/digest.js';
import { withAnnotations, withLabels } from '../image/mutate.js';
import { baseLayerCountByPrefix, baseLayerCountByTopLayer, rebase } from '../image/rebase.js';
import type { Image } from '../image/types.js';
import type { ImageConfig, ImageManifest } from '../oci/types.js';
import {
  BASE_LABEL_PREFIXES,
  RebaseLabel,
  readLifecycleMetadata,
  recordedRunImage,
  updatedLifecycleMetadata,
} from './lifecycle-metadata.js';
import { RebaseRefused, compatibilityRefusals, type Refusal } from './compatibility.js';
import { sameRepository } from './run-image-name.js';

/** The run image to rebase onto, as the use case resolved it. */
export interface NewBase {
  image: Image;
  /** The name it was asked by (`default/run:latest`, `host/stacks/run:2`): checked against the recorded name and mirrors. */
  name: string;
  /** Its digest reference, recorded as runImage.reference. */
  reference: string;
  digest: Digest;
}

export interface ImageRebaseOptions {
  /** Rebase even when a compatibility check fails (the spec's -force). */
  force?: boolean;
  /** The old base, when the image records no boundary (crane's --old_base, or its OCI base annotations). */
  oldBase?: Image;
  /** How the image is named in messages. */
  label?: string;
}

export interface ImageRebaseResult {
  /** `current`: the image already sits on these exact base layers, nothing to write. */
  status: 'rebased' | 'current';
  /** The rebased image (the input when current). */
  image: Image;
  digest: Digest;
  previousDigest: Digest;
  from: { topLayer: string; reference?: string; baseLayers: number };
  to: { topLayer: string; reference: string; baseLayers: number };
  appLayers: number;
  /** Checks that failed and were overridden by `force`. */
  overridden: Refusal[];
}

/**
 * Rebases one image (one platform) onto `newBase` as the CNB rebaser does: finds the
 * base boundary (runImage.topLayer, else the given old base), runs the compatibility
 * checks, swaps the base layers, then updates runImage in the lifecycle label, the
 * io.buildpacks.stack.* / io.buildpacks.base.* labels (from the new run image) and the
 * OCI base annotations. An image already on the new base's layers is left as it is.
 */
export async function rebaseAppImage(
  app: Image,
  newBase: NewBase,
  options: ImageRebaseOptions = {},
): Promise<ImageRebaseResult> {
  const label = options.label ?? 'the image';
  const [appConfig, baseConfig, manifest, previousDigest] = await Promise.all([
    app.config(),
    newBase.image.config(),
    app.manifest(),
    app.digest(),
  ]);
  const labels = appConfig.config?.Labels ?? {};
  const meta = readLifecycleMetadata(labels);
  let baseLayers: number;
  if (options.oldBase) baseLayers = await baseLayerCountByPrefix(app, options.oldBase);
  else if (meta?.runImage?.topLayer) baseLayers = await baseLayerCountByTopLayer(app, meta.runImage.topLayer);
  else {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `${label} records no base: it has neither ${RebaseLabel.LifecycleMetadata} with runImage.topLayer nor ${Annotation.BaseDigest}; give its old base with --old-base REF`,
    );
  }

  const recorded = meta ? recordedRunImage(meta) : undefined;
  const refusals = compatibilityRefusals({
    app: appConfig,
    base: baseConfig,
    ...(recorded ? { recorded } : {}),
    newName: newBase.name,
  });
  if (refusals.length > 0 && !options.force) throw new RebaseRefused(label, refusals);

  const oldDiffIds = appConfig.rootfs.diff_ids;
  const newDiffIds = baseConfig.rootfs.diff_ids;
  const topLayer = newDiffIds[newDiffIds.length - 1];
  if (topLayer === undefined) throw new SlipwayError('INVALID_DOCUMENT', `the run image ${newBase.name} has no layers`);
  const from = {
    topLayer: oldDiffIds[baseLayers - 1] ?? '',
    ...(meta?.runImage?.reference ? { reference: meta.runImage.reference } : {}),
    baseLayers,
  };
  const to = { topLayer, reference: newBase.reference, baseLayers: newDiffIds.length };
  const appLayers = oldDiffIds.length - baseLayers;
  const overridden = options.force ? refusals : [];

  const sameLayers = baseLayers === newDiffIds.length && newDiffIds.every((d, i) => d === oldDiffIds[i]);
  const samePlatform = appConfig.os === baseConfig.os && appConfig.architecture === baseConfig.architecture;
  if (sameLayers && samePlatform && (!meta || !renamed(recorded, newBase.name))) {
    return { status: 'current', image: app, digest: previousDigest, previousDigest, from, to, appLayers, overridden };
  }

  const labelChanges: Record<string, string | undefined> = {};
  for (const key of Object.keys(labels)) if (isBaseLabel(key)) labelChanges[key] = undefined;
  for (const [key, value] of Object.entries(baseConfig.config?.Labels ?? {}))
    if (isBaseLabel(key)) labelChanges[key] = value;
  if (meta) {
    const rename = renamed(recorded, newBase.name) ? newBase.name : undefined;
    labelChanges[RebaseLabel.LifecycleMetadata] = JSON.stringify(
      updatedLifecycleMetadata(meta, { topLayer, reference: newBase.reference, ...(rename ? { rename } : {}) }),
    );
  }
  const annotationChanges =
    manifest.annotations?.[Annotation.BaseDigest] !== undefined || !meta
      ? { [Annotation.BaseDigest]: newBase.digest, [Annotation.BaseName]: newBase.name }
      : undefined;
  const image = await rebuilt(app, appConfig, manifest, baseLayers, newBase.image, labelChanges, annotationChanges);
  const digest = await image.digest();
  return {
    status: digest === previousDigest ? 'current' : 'rebased',
    image: digest === previousDigest ? app : image,
    digest,
    previousDigest,
    from,
    to,
    appLayers,
    overridden,
  };
}

/**
 * The rebased image with its new labels and annotations, serialised once: the labels
 * and annotations go onto a view of the app image that `rebase` reads, instead of onto
 * each intermediate image (every step serialised and hashed a config of its own, three
 * per image of a fleet). The same bytes as rebase, then withLabels and withAnnotations:
 * keys stay where those put them. A config without a `config` object (never a
 * buildpack's) takes that longer way, where the labels' object lands last.
 */
export async function rebuilt(
  app: Image,
  config: ImageConfig,
  manifest: ImageManifest,
  baseLayers: number,
  base: Image,
  labels: Record<string, string | undefined>,
  annotations: Record<string, string | undefined> | undefined,
): Promise<Image> {
  if (config.config === undefined) {
    let image = await withLabels(await rebase(app, baseLayers, base), labels);
    if (annotations) image = await withAnnotations(image, annotations);
    return image;
  }
  const viewConfig: ImageConfig = {
    ...config,
    config: { ...config.config, Labels: merged(config.config.Labels, labels) },
  };
  const viewManifest = annotations ? { ...manifest, annotations: merged(manifest.annotations, annotations) } : manifest;
  // Everything else is the app's own (its methods bound to it: images keep private state).
  const view = new Proxy(app, {
    get(target, prop) {
      if (prop === 'config') return async () => viewConfig;
      if (prop === 'manifest') return async () => viewManifest;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return rebase(view, baseLayers, base);
}

/** A map with changes applied (undefined removes a key), as mutate.ts merges labels and annotations. */
function merged(
  old: Record<string, string> | undefined,
  change: Record<string, string | undefined>,
): Record<string, string> {
  const out: Record<string, string> = { ...(old ?? {}) };
  for (const [k, v] of Object.entries(change)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** True when the new run image is not the recorded one nor a mirror (a forced rebase then renames it). */
function renamed(recorded: { image?: string; mirrors: string[] } | undefined, name: string): boolean {
  if (!recorded?.image) return false;
  return ![recorded.image, ...recorded.mirrors].some((n) => sameRepository(n, name));
}

function isBaseLabel(key: string): boolean {
  return BASE_LABEL_PREFIXES.some((p) => key.startsWith(p));
}
