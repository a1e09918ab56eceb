import { Readable } from 'node:stream';
import { SlipwayError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { Descriptor, ImageConfig, ImageManifest } from '../oci/types.js';
import type { Image } from '../image/types.js';
import type { LocalStore, StoreLease } from '../store/local-store.js';
import { diffPackages, type PackageDiff, type PackageSet } from './packages.js';
import { checkStackName, parseRequest, type StackRequest } from './request.js';
import { StackLabel, type StackRole } from './stack-labels.js';

/**
 * Stacks as the local store holds them: the repositories NAME/run and NAME/build,
 * each version a numeric tag on both ("1", "2", ...), `latest` on the newest. All a
 * stack knows about itself is in its images' labels, so the store is the only state:
 * nothing to keep in step, and a copied store copies its stacks.
 */

export const LATEST = 'latest';

export interface StackImageInfo {
  digest: Digest;
  /** Bytes of the layers as stored (compressed). */
  layerSize: number;
  packages: PackageSet;
  labels: Record<string, string>;
  config: ImageConfig;
}

export interface StackVersion {
  version: string;
  /** When this version was recorded in the store (ISO). */
  recorded: string;
  run: StackImageInfo;
  build: StackImageInfo;
}

export function repositoryOf(name: string, role: StackRole): string {
  return `${checkStackName(name)}/${role}`;
}

/** Names of the stacks in the store: NAME with both NAME/run:latest and NAME/build:latest. */
export async function listStackNames(store: LocalStore): Promise<string[]> {
  const tagged = await store.meta.listTagged();
  const latest = new Set(tagged.filter((t) => t.tag === LATEST).map((t) => t.repository));
  return [...latest]
    .filter((r) => r.endsWith('/run') && latest.has(`${r.slice(0, -4)}/build`))
    .map((r) => r.slice(0, -4))
    .sort();
}

/** Numeric version tags both images carry, oldest first. */
async function versionTags(store: LocalStore, name: string): Promise<{ both: string[]; highest: number }> {
  const [run, build] = await Promise.all([
    store.meta.listTags(repositoryOf(name, 'run')),
    store.meta.listTags(repositoryOf(name, 'build')),
  ]);
  const numeric = (tags: string[]) => tags.filter((t) => /^\d+$/.test(t));
  const buildSet = new Set(numeric(build));
  const both = numeric(run)
    .filter((t) => buildSet.has(t))
    .sort((a, b) => Number(a) - Number(b));
  const highest = Math.max(0, ...numeric(run).map(Number), ...numeric(build).map(Number));
  return { both, highest };
}

/** Reads what a stack image says about itself from its manifest and config. */
export async function readStackImage(
  store: LocalStore,
  repository: string,
  tagOrDigest: string,
): Promise<StackImageInfo> {
  const desc = await store.resolve(repository, tagOrDigest);
  const manifest = JSON.parse((await store.blobs.read(desc.digest)).toString('utf8')) as ImageManifest;
  const config = JSON.parse((await store.blobs.read(manifest.config.digest)).toString('utf8')) as ImageConfig;
  const labels = config.config?.Labels ?? {};
  let packages: PackageSet = {};
  try {
    packages = JSON.parse(labels[StackLabel.Packages] ?? '{}') as PackageSet;
  } catch {
    // A label someone edited: show no packages rather than fail the listing.
  }
  return { digest: desc.digest, layerSize: manifest.layers.reduce((n, l) => n + l.size, 0), packages, labels, config };
}

/** Every version of stack `name`, oldest first. Throws NOT_FOUND when there is no such stack. */
export async function stackVersions(store: LocalStore, name: string): Promise<StackVersion[]> {
  const { both } = await versionTags(store, name);
  if (both.length === 0) throw noSuchStack(name);
  const records = new Map(
    (await store.meta.listManifests(repositoryOf(name, 'run'))).map((m) => [m.digest, m.created]),
  );
  const out: StackVersion[] = [];
  for (const version of both) {
    const [run, build] = await Promise.all([
      readStackImage(store, repositoryOf(name, 'run'), version),
      readStackImage(store, repositoryOf(name, 'build'), version),
    ]);
    out.push({ version, recorded: records.get(run.digest) ?? '', run, build });
  }
  return out;
}

/** The newest version of `name`, or undefined when the stack does not exist yet. */
export async function latestVersion(
  store: LocalStore,
  name: string,
): Promise<{ version: string; run: StackImageInfo; build: StackImageInfo; request?: StackRequest } | undefined> {
  let run: StackImageInfo;
  let build: StackImageInfo;
  try {
    [run, build] = await Promise.all([
      readStackImage(store, repositoryOf(name, 'run'), LATEST),
      readStackImage(store, repositoryOf(name, 'build'), LATEST),
    ]);
  } catch (err) {
    if (
      err instanceof SlipwayError &&
      (err.code === 'MANIFEST_UNKNOWN' || err.code === 'NAME_UNKNOWN' || err.code === 'NOT_FOUND')
    )
      return undefined;
    throw err;
  }
  const { both } = await versionTags(store, name);
  const version = both[both.length - 1] ?? LATEST;
  // The build image's label has the whole request (the run image's leaves out build-only parts).
  const request = parseRequest(build.labels[StackLabel.Request]);
  return { version, run, build, ...(request ? { request } : {}) };
}

export interface VersionChanges {
  from: string;
  to: string;
  run: PackageDiff;
  build: PackageDiff;
}

export function versionChanges(a: StackVersion, b: StackVersion): VersionChanges {
  return {
    from: a.version,
    to: b.version,
    run: diffPackages(a.run.packages, b.run.packages),
    build: diffPackages(a.build.packages, b.build.packages),
  };
}

/** Puts an image whose layer blobs are in the store (or readable from the image) into `repository`, untagged. */
export async function storeImage(
  store: LocalStore,
  lease: StoreLease,
  repository: string,
  image: Image,
): Promise<Descriptor> {
  for (const layer of await image.layers()) {
    const digest = await layer.digest();
    if (await lease.ensureBlob(digest)) continue;
    await lease.putBlob(await layer.compressed(), { digest, size: await layer.size() });
  }
  const rawConfig = await image.rawConfig();
  await lease.putBlob(Readable.from([rawConfig]), { digest: await image.configDigest(), size: rawConfig.length });
  return store.putManifest(repository, await image.rawManifest(), await image.mediaType(), [], lease);
}

/**
 * Tags a new version: the build image first, then the run image, then `latest` on
 * both; a crash part way leaves a version tag on one image only, which no listing
 * shows and the next version number skips.
 */
export async function publishVersion(
  store: LocalStore,
  lease: StoreLease,
  name: string,
  images: { run: Image; build: Image },
): Promise<string> {
  const { highest } = await versionTags(store, name);
  const version = String(highest + 1);
  const put = async (role: StackRole, tags: string[]) => {
    const image = images[role];
    return store.putManifest(repositoryOf(name, role), await image.rawManifest(), await image.mediaType(), tags, lease);
  };
  await put('build', [version]);
  await put('run', [version]);
  await put('build', [LATEST]);
  await put('run', [LATEST]);
  return version;
}

export interface RemoveReport {
  name: string;
  untagged: string[];
  deleted: Digest[];
}

/** Removes every version of a stack (both repositories); blobs go at the next `gc`. */
export async function removeStack(store: LocalStore, name: string): Promise<RemoveReport> {
  const report: RemoveReport = { name, untagged: [], deleted: [] };
  let found = false;
  for (const role of ['run', 'build'] as const) {
    const repository = repositoryOf(name, role);
    for (const m of await store.meta.listManifests(repository)) {
      found = true;
      const r = await store.deleteImage(repository, m.digest).catch((err: unknown) => {
        if (err instanceof SlipwayError && err.code === 'MANIFEST_UNKNOWN') return { untagged: [], deleted: [] };
        throw err;
      });
      report.untagged.push(...r.untagged.map((t) => `${repository}:${t}`));
      report.deleted.push(...r.deleted);
    }
  }
  if (!found) throw noSuchStack(name);
  return report;
}

export function noSuchStack(name: string): SlipwayError {
  return new SlipwayError(
    'NOT_FOUND',
    `no stack "${name}" in the store: see slipway stack ls, or make it with slipway stack create ${name}`,
    { detail: { stack: name } },
  );
}
