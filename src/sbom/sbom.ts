import { SlipwayError } from '../errors.js';
import { digestOf, type Digest } from '../oci/digest.js';
import type { TransportRef } from '../oci/transport.js';
import type { Descriptor, Platform } from '../oci/types.js';
import { pickImage } from '../image/pick.js';
import type { Image } from '../image/types.js';
import type { LocalStore } from '../store/local-store.js';
import { withSource } from '../transport/open.js';
import { collectInventory } from './collect.js';
import { CYCLONEDX_MEDIA_TYPE, toCycloneDx } from './cyclonedx.js';
import { fileLayerFactsCache } from './layer-facts-cache.js';
import { attachReferrer, findReferrers } from './referrer.js';
import { SPDX_MEDIA_TYPE, toSpdx } from './spdx.js';
import type { ImageInventory } from './types.js';

export type SbomFormat = 'cyclonedx' | 'spdx';

export const SBOM_MEDIA_TYPES: Record<SbomFormat, string> = {
  cyclonedx: CYCLONEDX_MEDIA_TYPE,
  spdx: SPDX_MEDIA_TYPE,
};

export interface SbomOptions {
  format?: SbomFormat;
  /** Store the SBOM as a referrer of the image (local images only). Default true. */
  attach?: boolean;
  platform?: Platform;
}

export interface SbomReport {
  image: Digest;
  format: SbomFormat;
  mediaType: string;
  /** Digest of the document's bytes. */
  digest: Digest;
  /** The referrer manifest, when attached. */
  referrer?: Descriptor;
  components: number;
  inventory: ImageInventory;
  document: Buffer;
}

/**
 * The SBOM of the image `ref` names (any transport): Debian packages, npm packages,
 * the Node.js runtime and what buildpacks declared, each with its layer. For an image
 * of the local store it is also attached as an OCI referrer, so push, copy and
 * promote carry it along. Layer facts are cached in the store by diffID.
 *
 * @example
 * const r = await generateSbom(parseTransport('apps/web:latest'), openStore, { format: 'spdx' });
 */
export async function generateSbom(
  ref: TransportRef,
  store: () => Promise<LocalStore>,
  options: SbomOptions = {},
): Promise<SbomReport> {
  const format = options.format ?? 'cyclonedx';
  if (!(format in SBOM_MEDIA_TYPES)) {
    throw new SlipwayError('INVALID_ARGUMENT', `unknown SBOM format "${format}": use cyclonedx or spdx`);
  }
  return withSource(ref, store, async (source) => {
    const { image } = await pickImage(source.artifact, options.platform);
    const home = (await store()).home;
    // Named by digest, not by the reference asked for: the same image gives the same document anywhere.
    const inventory = await inventoryOf(image, await image.digest(), home);
    const document = Buffer.from(format === 'cyclonedx' ? toCycloneDx(inventory) : toSpdx(inventory));
    const report: SbomReport = {
      image: inventory.image,
      format,
      mediaType: SBOM_MEDIA_TYPES[format],
      digest: digestOf(document),
      components: inventory.components.length,
      inventory,
      document,
    };
    if (ref.transport === 'local' && options.attach !== false) {
      const subject = {
        mediaType: await image.mediaType(),
        digest: inventory.image,
        size: (await image.rawManifest()).length,
      };
      report.referrer = await attachReferrer(await store(), ref.name, subject, {
        bytes: document,
        mediaType: report.mediaType,
        annotations: { 'org.opencontainers.image.created': inventory.created },
      });
    }
    return report;
  });
}

/** The inventory of an image, with the store's layer facts cache. */
export function inventoryOf(image: Image, name: string, home: string): Promise<ImageInventory> {
  return collectInventory(image, name, fileLayerFactsCache(home));
}

/** The SBOM referrers a local image already has, of one format. */
export function sbomReferrers(store: LocalStore, repository: string, image: Digest, format: SbomFormat = 'cyclonedx') {
  return findReferrers(store, repository, image, SBOM_MEDIA_TYPES[format]);
}
