import { SlipwayError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import { pickImage } from '../image/pick.js';
import type { Image } from '../image/types.js';
import type { ImageInventory } from '../sbom/types.js';
import type { LocalStore } from '../store/local-store.js';
import { readLocal } from '../transport/local.js';
import { DEBIAN_CODENAMES } from './advisory.js';
import { VulnDb } from './vuln-db.js';

/**
 * An image's package inventory as matching reads it: made from its SBOM (which is
 * attached to the image as a referrer on the way) and recorded in the vulnerability
 * database, once per image digest.
 */

/** What a build says of the SBOM it attached to its image. */
export interface BuildSbom {
  /** The CycloneDX document's digest (a referrer of the image); absent when the image already had its inventory. */
  digest?: Digest;
  components: number;
  /** Time spent on it, in milliseconds. */
  ms: number;
  /** Why there is none: the build stands without its SBOM (`slipway sbom IMAGE` makes it later). */
  error?: string;
}

/**
 * The SBOM of a just-built image: made, attached as a referrer (so push and copy carry
 * it) and its inventory recorded, so `scan` and `scan --cve` know the image at once.
 * An image built before (a rebuild with nothing changed) is not done again. A failure
 * is reported, not thrown: the image is built either way.
 *
 * @example const sbom = await attachBuildSbom(store, 'apps/web', report.digest);
 */
export async function attachBuildSbom(store: LocalStore, repository: string, image: Digest): Promise<BuildSbom> {
  const t0 = performance.now();
  try {
    const db = VulnDb.open(store.home);
    try {
      const known = db.inventory(image);
      if (known) return { components: db.packagesOf(image).length, ms: performance.now() - t0 };
      const made = await inventoryOf(store, db, repository, image);
      return {
        ...(made?.sbom ? { digest: made.sbom } : {}),
        components: made?.components ?? 0,
        ms: performance.now() - t0,
      };
    } finally {
      db.close();
    }
  } catch (err) {
    return { components: 0, ms: performance.now() - t0, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Makes sure an image's inventory is recorded (its SBOM made and attached if need be); its digest, or undefined for an index without this platform. */
export async function ensureInventory(
  store: LocalStore,
  db: VulnDb,
  repository: string,
  tagOrDigest: string,
): Promise<Digest | undefined> {
  return (await inventoryOf(store, db, repository, tagOrDigest))?.image;
}

/**
 * Records the inventory of each image not yet known (an image of the store that cannot
 * be read, e.g. deleted meanwhile, is left out: it is not there to be exposed).
 */
export async function ensureInventories(
  store: LocalStore,
  images: { repository: string; digest: string }[],
): Promise<void> {
  const db = VulnDb.open(store.home);
  try {
    for (const i of images) {
      if (db.inventory(i.digest)) continue;
      try {
        await inventoryOf(store, db, i.repository, i.digest);
      } catch (err) {
        if (!(err instanceof SlipwayError && err.code === 'MANIFEST_UNKNOWN')) throw err;
      }
    }
  } finally {
    db.close();
  }
}

/**
 * Starts loading the SBOM writer (the CycloneDX library: a few hundred ms of compiling
 * on a loaded machine) without waiting for it: a build calls this before its container
 * runs, so the loading fills time spent waiting on the build instead of following it.
 */
export function preloadSbomWriter(): void {
  import('../sbom/sbom.js').catch(() => undefined);
}

async function inventoryOf(
  store: LocalStore,
  db: VulnDb,
  repository: string,
  tagOrDigest: string,
): Promise<{ image: Digest; sbom?: Digest; components: number } | undefined> {
  const { artifact } = await readLocal(store, repository, tagOrDigest);
  let image: Image;
  try {
    image = (await pickImage(artifact)).image;
  } catch {
    return undefined;
  }
  const digest = await image.digest();
  if (db.inventory(digest)) return { image: digest, components: db.packagesOf(digest).length };
  const config = await image.config();
  if (config.rootfs === undefined) return undefined;
  // Loaded only to make an SBOM: a rebuild whose image is recorded already (a warm build) never pays for the CycloneDX library.
  const { generateSbom } = await import('../sbom/sbom.js');
  const report = await generateSbom({ transport: 'local', name: repository, digest }, async () => store, {});
  recordInventory(db, report.inventory, config.config?.Labels ?? {}, repository);
  return { image: digest, sbom: report.digest, components: report.components };
}

/** Records an SBOM's inventory for matching: its Debian release and its stack. */
export function recordInventory(
  db: VulnDb,
  inv: ImageInventory,
  labels: Record<string, string>,
  repository: string,
): void {
  const release =
    inv.distro?.id === 'debian' ? (inv.distro.codename ?? DEBIAN_CODENAMES[inv.distro.versionId] ?? '') : '';
  db.putInventory(
    { image: inv.image, release, stack: stackOf(labels, repository), layers: JSON.stringify(inv.layers) },
    inv.components,
  );
}

/** The stack an image is on: its recorded run image's repository NAME/run, or the image's own. */
function stackOf(labels: Record<string, string>, repository: string): string {
  let runImage = '';
  try {
    runImage =
      (JSON.parse(labels['io.buildpacks.lifecycle.metadata'] ?? '{}') as { runImage?: { image?: string } }).runImage
        ?.image ?? '';
  } catch {
    // no usable label: the image's own repository decides
  }
  const repo = (runImage || repository).replace(/[@:][^/]*$/, '');
  const parts = repo.split('/');
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!)) parts.shift();
  const path = parts.join('/');
  return path.endsWith('/run') ? path.slice(0, -4) : '';
}
