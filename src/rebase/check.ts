import { SlipwayError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { Platform } from '../oci/types.js';
import { formatTransport, parseTransport, type TransportRef } from '../oci/transport.js';
import { baseLayerCountByPrefix, baseLayerCountByTopLayer } from '../image/rebase.js';
import { pickImage } from '../image/pick.js';
import type { LocalStore } from '../store/local-store.js';
import { withSource } from '../transport/open.js';
import { Registries } from '../registry/client/registries.js';
import { readLifecycleMetadata, recordedRunImage } from './lifecycle-metadata.js';
import { shadowedFiles, type Shadow } from './conflicts.js';
import { BaseImages } from './run-image.js';
import { preferredRunImages } from './run-image-name.js';

export interface CheckOptions {
  /** The new run image; default: the one the image recorded, at its current digest. */
  runImage?: string;
  /** The old base, when the image records no run image top layer. */
  oldBase?: string;
  /** Which platform of an index to check (default: this machine's). */
  platform?: Platform;
  registries?: Registries;
}

export interface CheckReport {
  image: string;
  runImage: { name: string; digest: Digest };
  /** True when the base layers are the same: a rebase would change nothing underneath. */
  sameBase: boolean;
  shadows: Shadow[];
}

/**
 * Lists the files app layers carry that the rebase onto `runImage` would change
 * underneath them (slipway rebase --check): the app keeps seeing its own copy.
 *
 * @example
 *   const { shadows } = await checkRebase('myapp:v1', open, { runImage: 'default/run:2' });
 */
export async function checkRebase(
  ref: string | TransportRef,
  store: () => Promise<LocalStore>,
  options: CheckOptions = {},
): Promise<CheckReport> {
  const target = typeof ref === 'string' ? parseTransport(ref) : ref;
  const label = formatTransport(target);
  const registries = options.registries ?? new Registries();
  const bases = new BaseImages(store, registries);
  return withSource(
    target,
    store,
    async (src) => {
      const { image } = await pickImage(src.artifact, options.platform);
      const config = await image.config();
      const platform: Platform = {
        os: config.os,
        architecture: config.architecture,
        ...(config.variant ? { variant: config.variant } : {}),
      };
      const meta = readLifecycleMetadata(config.config?.Labels);
      let baseLayers: number;
      if (options.oldBase)
        baseLayers = await baseLayerCountByPrefix(
          image,
          (await pickImage((await bases.open(options.oldBase)).artifact, platform)).image,
        );
      else if (meta?.runImage?.topLayer) baseLayers = await baseLayerCountByTopLayer(image, meta.runImage.topLayer);
      else
        throw new SlipwayError(
          'INVALID_ARGUMENT',
          `${label} records no run image top layer: give its old base with --old-base REF`,
        );
      const appHost = target.transport === 'docker' ? target.reference.domain : undefined;
      const base = options.runImage
        ? await bases.open(options.runImage)
        : await bases.openFirst(preferredRunImages(recordedRunImage(meta), appHost), label);
      const newBase = (await pickImage(base.artifact, platform)).image;
      const layers = await image.layers();
      const [newLayers, digest] = await Promise.all([newBase.layers(), newBase.digest()]);
      const oldIds = await Promise.all(layers.slice(0, baseLayers).map((l) => l.diffId()));
      const newIds = await Promise.all(newLayers.map((l) => l.diffId()));
      const sameBase = oldIds.length === newIds.length && oldIds.every((d, i) => d === newIds[i]);
      const shadows = sameBase
        ? []
        : await shadowedFiles(layers.slice(0, baseLayers), newLayers, layers.slice(baseLayers));
      return { image: label, runImage: { name: base.name, digest }, sameBase, shadows };
    },
    registries,
  );
}
