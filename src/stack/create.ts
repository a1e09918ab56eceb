import { SlipwayError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { LocalStore } from '../store/local-store.js';
import type { Progress } from '../progress.js';
import { buildStackImages, type BuiltStack } from './build-images.js';
import { defaultMirror } from './debian-mirror.js';
import { defaultCacheDir } from './layer-cache.js';
import { diffPackages, isEmptyDiff, type PackageDiff } from './packages.js';
import {
  DEFAULT_SUITE,
  DEFAULT_USER,
  checkMirror,
  checkStackName,
  checkSuite,
  checkUser,
  defaultStackId,
  parsePackageList,
  type StackRequest,
  type StackUser,
} from './request.js';
import { latestVersion, publishVersion, repositoryOf } from './stack-catalog.js';
import type { StackRole } from './stack-labels.js';

/** Where a stack's layers come from: Debian packages (the default), rootfs tarballs or directories, or images. */
export type StackSource =
  | { kind: 'debian'; suite?: string; mirror?: string; runPackages?: string[]; buildPackages?: string[] }
  | { kind: 'rootfs'; build: string; run: string }
  | { kind: 'image'; build: string; run: string };

export interface CreateStackOptions {
  source?: StackSource;
  user?: StackUser;
  stackId?: string;
  /** Bootstrap again even when an identical stack is cached. */
  refresh?: boolean;
  /** Where made layers are kept between stores and runs (default: see defaultCacheDir). */
  cacheDir?: string;
  progress?: Progress;
}

export interface StackImageReport {
  digest: Digest;
  /** Bytes of the layers as stored (compressed). */
  layerSize: number;
  packages: number;
  /** True when no bootstrap ran for this image. */
  cached: boolean;
}

export interface StackReport {
  name: string;
  /** The version the stack is at now. */
  version: string;
  /** True when this call made a new version; false when the stack already matched. */
  newVersion: boolean;
  /** The version before this call, if there was one. */
  previous?: string;
  run: StackImageReport;
  build: StackImageReport;
  /** Packages that changed against the previous version (empty lists when none). */
  changes: { run: PackageDiff; build: PackageDiff };
  request: StackRequest;
}

/** The normalised request `options` ask for (defaults filled in, lists sorted). */
export function stackRequest(name: string, options: CreateStackOptions = {}): StackRequest {
  checkStackName(name);
  const user = checkUser(options.user ?? DEFAULT_USER);
  const stackId = options.stackId ?? defaultStackId(name);
  const source = options.source ?? { kind: 'debian' };
  switch (source.kind) {
    case 'debian':
      return {
        source: 'debian',
        stackId,
        user,
        suite: checkSuite(source.suite ?? DEFAULT_SUITE),
        mirror: checkMirror(source.mirror ?? defaultMirror()),
        runPackages: parsePackageList(source.runPackages),
        buildPackages: parsePackageList(source.buildPackages),
      };
    case 'rootfs':
    case 'image':
      return { source: source.kind, stackId, user, build: source.build, run: source.run };
  }
}

/**
 * Makes stack `name` (both images) and records it as a new version, unless the
 * stack's latest version already has exactly these images: then nothing changes
 * (and with the stack cache, nothing was bootstrapped either).
 *
 * @example
 *   const report = await createStack(store, 'default');                       // Debian bookworm
 *   await createStack(store, 'node', { source: { kind: 'debian', runPackages: ['libgmp10'] } });
 */
export async function createStack(
  store: LocalStore,
  name: string,
  options: CreateStackOptions = {},
): Promise<StackReport> {
  const request = stackRequest(name, options);
  return makeVersion(store, name, request, options, 'create');
}

export interface UpdateStackOptions {
  /** Packages added to the run image (and so to the build image too). */
  runPackages?: string[];
  /** Packages added to the build image. */
  buildPackages?: string[];
  /** Packages taken out of the request (either list). */
  removePackages?: string[];
  refresh?: boolean;
  cacheDir?: string;
  progress?: Progress;
}

/**
 * Re-runs the stack's package request (changed by the options) against the mirror as
 * it is now, and records a new version only when an installed package changed. The
 * report lists the changes; the rebase of apps takes it from there.
 *
 * @example
 *   const r = await updateStack(store, 'default', { buildPackages: ['libgmp-dev'] });
 *   if (r.newVersion) console.log(r.changes.build.added);
 */
export async function updateStack(
  store: LocalStore,
  name: string,
  options: UpdateStackOptions = {},
): Promise<StackReport> {
  const latest = await latestVersion(store, name);
  if (!latest)
    throw new SlipwayError(
      'NOT_FOUND',
      `no stack "${name}" to update: make it first with slipway stack create ${name}`,
      { detail: { stack: name } },
    );
  if (!latest.request)
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      `${name}/run:latest carries no stack request label: it was not made by slipway stack create`,
    );
  const request = changedRequest(latest.request, options);
  return makeVersion(store, name, request, options, 'update');
}

/** The request with packages added and removed as the update options say. */
function changedRequest(old: StackRequest, options: UpdateStackOptions): StackRequest {
  const adds = [...(options.runPackages ?? []), ...(options.buildPackages ?? []), ...(options.removePackages ?? [])];
  if (old.source !== 'debian') {
    if (adds.length)
      throw new SlipwayError(
        'INVALID_ARGUMENT',
        `this stack was made --from-${old.source}: its packages come with it, so --run-packages, --build-packages and --remove-packages do not apply`,
      );
    return old;
  }
  const remove = new Set(parsePackageList(options.removePackages));
  for (const p of remove) {
    if (!old.runPackages.includes(p) && !old.buildPackages.includes(p)) {
      throw new SlipwayError(
        'INVALID_ARGUMENT',
        `"${p}" is not among the packages this stack asks for (run: ${old.runPackages.join(', ') || 'none'}; build: ${old.buildPackages.join(', ') || 'none'}); base packages cannot be removed`,
      );
    }
  }
  const keep = (list: string[]) => list.filter((p) => !remove.has(p));
  return {
    ...old,
    runPackages: parsePackageList([...keep(old.runPackages), ...parsePackageList(options.runPackages)]),
    buildPackages: parsePackageList([...keep(old.buildPackages), ...parsePackageList(options.buildPackages)]),
  };
}

async function makeVersion(
  store: LocalStore,
  name: string,
  request: StackRequest,
  options: CreateStackOptions | UpdateStackOptions,
  mode: 'create' | 'update',
): Promise<StackReport> {
  const latest = await latestVersion(store, name);
  const cacheDir = options.cacheDir ?? defaultCacheDir(store.home);
  const lease = await store.openLease();
  try {
    let built: BuiltStack;
    try {
      built = await buildStackImages(store, lease, name, request, {
        cacheDir,
        ...(options.refresh ? { refresh: true } : {}),
        ...(options.progress ? { progress: options.progress } : {}),
      });
    } catch (err) {
      await dropUntagged(store, name);
      throw err;
    }
    const digests = { run: await built.run.image.digest(), build: await built.build.image.digest() };
    const changes = {
      run: diffPackages(latest?.run.packages ?? {}, built.run.facts.packages),
      build: diffPackages(latest?.build.packages ?? {}, built.build.facts.packages),
    };
    const sameImages =
      latest !== undefined && latest.run.digest === digests.run && latest.build.digest === digests.build;
    const samePackages = latest !== undefined && isEmptyDiff(changes.run) && isEmptyDiff(changes.build);
    // create: a new version unless the images are identical; update: only when a package changed.
    const publish = latest === undefined || (mode === 'create' ? !sameImages : !samePackages);
    const version = publish
      ? await publishVersion(store, lease, name, { run: built.run.image, build: built.build.image })
      : latest!.version;
    if (!publish) await dropUntagged(store, name);
    const report = (role: StackRole): StackImageReport => {
      const b = built[role];
      return {
        digest: publish ? digests[role] : latest![role].digest,
        layerSize: 0,
        packages: Object.keys(b.facts.packages).length,
        cached: b.cached,
      };
    };
    const out: StackReport = {
      name,
      version,
      newVersion: publish,
      run: report('run'),
      build: report('build'),
      changes,
      request,
      ...(latest ? { previous: latest.version } : {}),
    };
    for (const role of ['run', 'build'] as const) {
      const manifest = await built[role].image.manifest();
      out[role].layerSize = publish ? manifest.layers.reduce((n, l) => n + l.size, 0) : latest![role].layerSize;
    }
    return out;
  } finally {
    await lease.release();
  }
}

/** Removes manifests a failed or unneeded attempt left in NAME/run and NAME/build that no tag holds. */
async function dropUntagged(store: LocalStore, name: string): Promise<void> {
  for (const role of ['run', 'build'] as const) {
    const repository = repositoryOf(name, role);
    const tagged = new Set(
      (await store.meta.listTagged()).filter((t) => t.repository === repository).map((t) => t.digest),
    );
    for (const m of await store.meta.listManifests(repository)) {
      if (!tagged.has(m.digest)) await store.meta.deleteManifest(repository, m.digest);
    }
  }
}
