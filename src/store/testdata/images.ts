import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { digestOf, type Digest } from '../../oci/digest.js';
import { MediaType } from '../../oci/media-types.js';
import type { Descriptor, ImageIndex, ImageManifest } from '../../oci/types.js';
import type { StoreLease } from '../store-lease.js';

/** Test fixtures: small real OCI images written through a lease. */

export interface StoredImage {
  manifest: Buffer;
  digest: Digest;
  config: Descriptor;
  layers: Descriptor[];
}

/** A stream of `size` random bytes in 1 MiB chunks (never one big buffer). */
export function randomStream(size: number): Readable {
  let left = size;
  return new Readable({
    read() {
      const n = Math.min(left, 1 << 20);
      left -= n;
      this.push(n === 0 ? null : randomBytes(n));
    },
  });
}

export function configBytes(label: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [] },
      config: { Labels: { label } },
    }),
  );
}

export function manifestBytes(config: Descriptor, layers: Descriptor[], extra: Partial<ImageManifest> = {}): Buffer {
  const doc: ImageManifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers, ...extra };
  return Buffer.from(JSON.stringify(doc));
}

export function indexBytes(manifests: Descriptor[], extra: Partial<ImageIndex> = {}): Buffer {
  const doc: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests, ...extra };
  return Buffer.from(JSON.stringify(doc));
}

/** Writes a config and `layerSizes.length` random layers, and returns the manifest bytes (not yet stored). */
export async function writeImageBlobs(lease: StoreLease, label: string, layerSizes: number[]): Promise<StoredImage> {
  const cfg = await lease.putBytes(configBytes(label));
  const config: Descriptor = { mediaType: MediaType.OciConfig, ...cfg };
  const layers: Descriptor[] = [];
  for (const size of layerSizes) {
    const info = await lease.putBlob(randomStream(size));
    layers.push({ mediaType: MediaType.OciLayerGzip, ...info });
  }
  const manifest = manifestBytes(config, layers);
  return { manifest, digest: digestOf(manifest), config, layers };
}
