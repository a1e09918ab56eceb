import { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/types.js';
import type { Image } from '../image/types.js';
import type { RegistryClient } from '../registry/client/client.js';
import type { ContentDestination } from '../transport/destination.js';

/** What writing a rebased image cost: the point of rebase is that layers stay where they are. */
export interface TransferCounts {
  /** Blobs whose bytes were sent (configs; base layers only when the run image lives elsewhere). */
  blobsSent: number;
  bytesSent: number;
  /** Base layers linked from another repository of the same registry (cross-repository mount). */
  blobsMounted: number;
  /** Blobs the destination had already. */
  blobsSkipped: number;
  /** Manifests (and indexes) written. */
  manifestsWritten: number;
  /** Layers whose bytes had to be copied because the new run image is not on the destination. */
  layersCopied: number;
}

export function emptyCounts(): TransferCounts {
  return { blobsSent: 0, bytesSent: 0, blobsMounted: 0, blobsSkipped: 0, manifestsWritten: 0, layersCopied: 0 };
}

export function addCounts(into: TransferCounts, more: TransferCounts): void {
  for (const k of Object.keys(into) as (keyof TransferCounts)[]) into[k] += more[k];
}

/** Where a rebased image goes: a destination, plus the registry repository behind it when it is one. */
export interface RebaseTarget {
  dest: ContentDestination;
  registry?: { client: RegistryClient; host: string; repo: string };
}

/**
 * Remembers which registry repositories hold which blobs, across the images of one
 * operation (a fleet rebase): a new base layer is uploaded at most once per registry
 * and then mounted into every other repository, and never asked about twice.
 */
export class BlobPlacement {
  readonly #where = new Map<string, Set<string>>();
  readonly #inflight = new Map<string, Promise<void>>();

  /** Records that `repo` on `host` holds `digest`. */
  add(host: string, repo: string, digest: Digest): void {
    const key = `${host}\n${digest}`;
    let repos = this.#where.get(key);
    if (!repos) this.#where.set(key, (repos = new Set()));
    repos.add(repo);
  }

  has(host: string, repo: string, digest: Digest): boolean {
    return this.#where.get(`${host}\n${digest}`)?.has(repo) ?? false;
  }

  /**
   * Runs `place` once per blob and repository, however many images of one operation
   * need it at the same time (a fleet rebases several images of a repository at once).
   * True for the caller that ran it, false for those that waited.
   */
  async once(host: string, repo: string, digest: Digest, place: () => Promise<void>): Promise<boolean> {
    const key = `${host}\n${repo}\n${digest}`;
    const running = this.#inflight.get(key);
    if (running) {
      await running;
      return false;
    }
    const p = place().then(() => this.add(host, repo, digest));
    this.#inflight.set(key, p);
    try {
      await p;
      return true;
    } finally {
      this.#inflight.delete(key);
    }
  }

  /** Repositories of `host` known to hold `digest`. */
  holders(host: string, digest: Digest): string[] {
    return [...(this.#where.get(`${host}\n${digest}`) ?? [])];
  }
}

/**
 * Writes a rebased image: the app layers are known to be in the destination already
 * (the image was read from there), so only the new base's layers are checked, each
 * skipped when present, mounted from a repository of the same registry that holds it
 * (or automatically, from wherever the registry has it), or else copied; then the new
 * config and the manifest.
 */
export async function writeRebasedImage(
  target: RebaseTarget,
  image: Image,
  baseLayerCount: number,
  placement: BlobPlacement,
  root: boolean,
  counts: TransferCounts,
): Promise<Descriptor> {
  const layers = await image.layers();
  const reg = target.registry;
  const placeLayers = Promise.all(
    layers.map(async (layer, i) => {
      const digest = await layer.digest();
      if (i >= baseLayerCount) {
        // An app layer: the destination holds it (the local store still records it in the write's lease).
        if (reg) placement.add(reg.host, reg.repo, digest);
        else await target.dest.hasBlob(digest);
        return;
      }
      const place = async () => {
        if (await target.dest.hasBlob(digest)) {
          counts.blobsSkipped++;
        } else if (reg && (await mountFromAnywhere(reg, digest, placement))) {
          counts.blobsMounted++;
        } else {
          const size = await layer.size();
          await target.dest.putBlob(await layer.compressed(), { digest, size });
          counts.blobsSent++;
          counts.layersCopied++;
          counts.bytesSent += size;
        }
      };
      if (!reg) return place();
      if (placement.has(reg.host, reg.repo, digest) || !(await placement.once(reg.host, reg.repo, digest, place)))
        counts.blobsSkipped++;
    }),
  );
  // The config is new (it names the new layers): a registry gets it without asking first,
  // while the base layers are checked; both must be there before the manifest.
  const placeConfig = (async () => {
    const [rawConfig, configDigest] = await Promise.all([image.rawConfig(), image.configDigest()]);
    if (!reg && (await target.dest.hasBlob(configDigest))) {
      counts.blobsSkipped++;
      return;
    }
    await target.dest.putBlob(Readable.from([rawConfig]), { digest: configDigest, size: rawConfig.length });
    counts.blobsSent++;
    counts.bytesSent += rawConfig.length;
  })();
  await Promise.all([placeLayers, placeConfig]);
  counts.manifestsWritten++;
  return target.dest.putManifest(await image.rawManifest(), await image.mediaType(), root);
}

async function mountFromAnywhere(
  reg: NonNullable<RebaseTarget['registry']>,
  digest: Digest,
  placement: BlobPlacement,
): Promise<boolean> {
  for (const from of placement.holders(reg.host, digest)) {
    if (from !== reg.repo && (await reg.client.mountBlob(reg.repo, digest, from))) return true;
  }
  // An automatic mount: a registry holding the layer anywhere the caller may pull (one
  // serving the store the run image came from) links it. One that cannot opens the
  // upload session the layer then goes by, so this costs no extra request.
  return reg.client.mountBlob(reg.repo, digest);
}
