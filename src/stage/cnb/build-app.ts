import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SlipwayError } from '../../errors.js';
import { readProjectDescriptor, pathFilter } from '../../buildpack/cnb/project-descriptor.js';
import { defaultMtime } from '../../layer/tree-walk.js';
import { hasRegistryHost, parseLocalName, parseReference } from '../../oci/reference.js';
import type { Progress } from '../../progress.js';
import type { LocalStore } from '../../store/local-store.js';
import type { ImageBuilder } from './builder-image.js';
import type { PullImage } from './image-buildpacks.js';
import type { SandboxLimits } from '../../sandbox/limits.js';
import type { BuildNetwork } from '../../sandbox/network.js';
import { attachBuildSbom, preloadSbomWriter, type BuildSbom } from '../../vuln/inventory.js';
import type { StageReport } from './stage.js';
import { BuildReuse, type ReuseInputs } from './build-reuse.js';
import { readBuilderDir } from './builder-dir.js';
import { BUILTIN_BUILDPACKS } from './paths.js';
import { ensureDefaultStack } from '../../stack/default-stack.js';
import { latestVersion } from '../../stack/stack-catalog.js';
import type { Digest } from '../../oci/digest.js';
import { buildpackCache, isBuildpackUrl } from '../../buildpack/cnb/buildpack-download.js';
import { readLocal } from '../../transport/local.js';

export interface BuildAppOptions {
  /** NAME[:TAG] for the local store, or HOST/NAME[:TAG] for a registry (built locally, then pushed). */
  image?: string;
  path?: string;
  stack?: string;
  builder?: string;
  buildpacks?: string[];
  env?: string[];
  envFile?: string;
  publish?: boolean;
  /** pack's --run-image: NAME[:TAG|@DIGEST] in the store, or HOST/NAME[:TAG] pulled with `pull`. */
  runImage?: string;
  clearCache?: boolean;
  /** "now" or seconds since the epoch; default SOURCE_DATE_EPOCH, else 1980-01-01T00:00:01Z. */
  creationTime?: string;
  progress?: Progress;
  output?: (text: string) => void;
  /** Pushes the built local image to a registry reference (the copy use case; injected so stage/ stays below copy/). */
  push?: (local: string, destination: string) => Promise<unknown>;
  /** Checks, before the build starts, that `destination` could be pushed to (registry reachable, credentials accepted). */
  checkPush?: (destination: string) => Promise<void>;
  /** Pulls a registry image (a builder, its run image, a buildpackage) into the store; returns its local NAME@DIGEST. Injected as `push` is. */
  pull?: PullImage;
  /** The build's network (default outbound). */
  network?: BuildNetwork;
  /** The sandbox's limits (default DEFAULT_LIMITS). */
  limits?: Partial<SandboxLimits>;
  /** Attach an SBOM to the image and record its inventory for scans (default true). */
  sbom?: boolean;
  /**
   * Answer a build whose inputs are those of a recent build of the repository with that
   * build's image, without running it, and record this build's inputs for the next one
   * (`slipway build` asks for it; default false, so a platform restage still builds).
   * With `clearCache` the build runs for real and is recorded.
   */
  reuse?: boolean;
}

export interface BuildAppReport extends StageReport {
  image: string;
  pushed?: { destination: string; report: unknown };
  /** The builder image built in, when --builder named one. */
  builder?: { image: string; digest: string };
  warnings: string[];
  /** The SBOM attached to the image (unless `sbom: false`). */
  sbom?: BuildSbom;
  /** Set when nothing that decides the result changed: the image of the build at `builtAt`, re-tagged, no container started. */
  reused?: { digest: Digest; builtAt: string };
}

/**
 * `slipway build`: project.toml and the flags (flags win) turned into a staging, and
 * the image pushed when its name has a registry host or `publish` is set.
 *
 * @example
 *   await buildApp(store, { image: 'apps/web:v1', path: 'examples/nodejs' });
 */
export async function buildApp(store: LocalStore, options: BuildAppOptions): Promise<BuildAppReport> {
  const path = resolve(options.path ?? '.');
  if (!existsSync(path))
    throw new SlipwayError('NOT_FOUND', `app directory ${path} does not exist`, { detail: { path } });
  const project = readProjectDescriptor(path);
  const imageName = options.image ?? project?.name;
  if (!imageName)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      'name the image to build, e.g. slipway build myapp:v1 (or set [_] name in project.toml)',
    );
  const remote = options.publish || hasRegistryHost(imageName.split(/[:@]/)[0] ?? '') || hasRegistryHost(imageName);
  const destination = hasRegistryHost(imageName) ? imageName : `docker://${imageName}`;
  // An unreachable registry or refused credentials fail now, not after the build, whether
  // the name came from the command line or from project.toml.
  if (remote && options.checkPush) await options.checkPush(destination);
  let repository: string;
  let tag: string;
  let cacheKey: string;
  if (remote) {
    const ref = parseReference(imageName);
    repository = ref.path;
    tag = ref.tag ?? 'latest';
    cacheKey = ref.name;
  } else {
    const local = parseLocalName(imageName);
    if (local.digest)
      throw new SlipwayError('INVALID_ARGUMENT', `build IMAGE "${imageName}" names a digest; give a tag`);
    repository = local.name;
    tag = local.tag ?? 'latest';
    cacheKey = local.name;
  }
  const env = [
    ...(project?.env ?? []),
    ...(options.envFile ? readEnvFile(options.envFile) : []),
    ...(options.env ?? []),
  ];
  for (const kv of env)
    if (kv.indexOf('=') <= 0) throw new SlipwayError('INVALID_ARGUMENT', `build env "${kv}" must be KEY=VALUE`);
  const specs = options.buildpacks && options.buildpacks.length > 0 ? options.buildpacks : (project?.buildpacks ?? []);
  const filter = pathFilter(project?.include, project?.exclude);
  const builderRef =
    options.builder ??
    (project?.builder && existsSync(resolve(path, project.builder))
      ? resolve(path, project.builder)
      : project?.builder);
  // A builder is a directory (builder.toml / order.toml and buildpacks) or else a builder image.
  if (builderRef !== undefined && /^(\.|\/|~)/.test(builderRef) && !existsSync(builderRef))
    throw new SlipwayError('NOT_FOUND', `builder directory ${builderRef} does not exist`, {
      detail: { builder: builderRef },
    });
  const builder =
    builderRef === undefined || existsSync(builderRef)
      ? builderRef
      : await (await import('./builder-image.js')).readBuilderImage(store, builderRef, options.pull);
  // A builder image brings its own build and run images; a stack besides would be silently ignored.
  if (typeof builder === 'object' && options.stack)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `give --stack or a builder image (${builderRef}), not both: the builder is built on its own stack`,
      { detail: { stack: options.stack, builder: builderRef } },
    );
  // Buildpackages (images, .cnb files) become directories: the one named, and its components for composites.
  const buildpacks: typeof specs = [];
  const buildpackTrees: string[] = [];
  // Loaded only for -b (or project.toml) buildpacks: the image and tar readers are no part of a plain build's start.
  const { isBuildpackageSpec, readBuildpackage } =
    specs.length > 0
      ? await import('./image-buildpacks.js')
      : { isBuildpackageSpec: undefined, readBuildpackage: undefined };
  for (const spec of specs) {
    if (typeof spec !== 'string' || !isBuildpackageSpec?.(spec) || !readBuildpackage) {
      buildpacks.push(spec);
      continue;
    }
    const pkg = await readBuildpackage(store, spec, options.pull);
    buildpacks.push(pkg.buildpack.dir);
    buildpackTrees.push(...pkg.trees);
  }
  const runImage = options.runImage ? await resolveRunImage(store, options.runImage, options.pull) : undefined;
  const t0 = performance.now();
  const reuse = BuildReuse.open(store.home, cacheKey);
  const created = creationTime(options.creationTime);
  const inputs = !options.reuse
    ? undefined
    : await reuseInputs(store, options, {
        path,
        filter,
        builder,
        buildpacks,
        buildpackTrees,
        runImage,
        env,
        created,
      });
  const key = inputs ? safeKey(reuse, inputs) : undefined;
  const found = key && !options.clearCache ? await reuse.find(store, repository, key) : undefined;
  const report: StageReport & { reused?: BuildAppReport['reused'] } = found
    ? await retag(store, repository, tag, found, t0)
    : await (await import('./stage.js')).stage(store, {
        ...(runImage ? { runImage } : {}),
        path,
        repository,
        tag,
        cacheKey,
        created,
        ...(options.stack ? { stack: options.stack } : {}),
        ...(builder ? { builder } : {}),
        buildpacks,
        env,
        ...(buildpackTrees.length ? { buildpackTrees } : {}),
        ...(filter ? { filter } : {}),
        ...(options.clearCache ? { clearCache: true } : {}),
        ...(project ? { projectMetadata: project.projectMetadata } : {}),
        ...(options.progress ? { progress: options.progress } : {}),
        ...(options.output ? { output: options.output } : {}),
        ...(options.network ? { network: options.network } : {}),
        ...(options.limits ? { limits: options.limits } : {}),
        // A real build makes a new image whose SBOM follows: its writer loads while the container builds.
        ...(options.sbom !== false ? { whileBuilding: preloadSbomWriter } : {}),
      });
  if (found) reuse.saveIfHashed();
  else if (key && inputs) {
    // Recorded only if the source is still what the key says: a file changed during the build must not be reused.
    if (safeKey(reuse, inputs) === key) reuse.remember(key, report);
    else reuse.save();
  }
  const out: BuildAppReport = {
    ...report,
    image: remote ? imageName : `${repository}:${tag}`,
    ...(typeof builder === 'object' ? { builder: { image: builder.name, digest: builder.digest } } : {}),
    warnings: project?.warnings ?? [],
  };
  // Before a push, so the SBOM referrer goes with the image.
  if (options.sbom !== false) out.sbom = await attachBuildSbom(store, repository, report.digest);
  if (remote) {
    if (!options.push) throw new SlipwayError('UNSUPPORTED', 'no registry client was given to push with');
    out.pushed = { destination, report: await options.push(`${repository}:${tag}`, destination) };
  }
  return out;
}

/**
 * What decides the build's result besides the app's source, for the reuse key; undefined
 * (no shortcut) when the stack is not there yet to name: the build then makes or reports it.
 */
async function reuseInputs(
  store: LocalStore,
  options: BuildAppOptions,
  parts: {
    path: string;
    filter: ReuseInputs['filter'];
    builder: string | ImageBuilder | undefined;
    buildpacks: NonNullable<BuildAppOptions['buildpacks']> | (string | object)[];
    buildpackTrees: string[];
    runImage: { repository: string; digest: string } | undefined;
    env: string[];
    created: number;
  },
): Promise<ReuseInputs | undefined> {
  const { builder } = parts;
  let stack: { name: string; version: string; run: string; build: string } | undefined;
  if (typeof builder === 'object') stack = builder.stack;
  else if (options.stack) {
    const latest = await latestVersion(store, options.stack);
    stack = latest && {
      name: options.stack,
      version: latest.version,
      run: latest.run.digest,
      build: latest.build.digest,
    };
  } else stack = await ensureDefaultStack(store, options.progress ? { progress: options.progress } : {});
  if (!stack) return undefined;
  const trees = [BUILTIN_BUILDPACKS, ...parts.buildpackTrees];
  if (typeof builder === 'string') {
    const dir = readBuilderDir(builder);
    trees.push(dir.file, ...dir.buildpackPaths, ...dir.extensionPaths, ...(dir.scan ? [dir.scan] : []));
  }
  for (const spec of parts.buildpacks)
    if (typeof spec === 'string') {
      if (isBuildpackUrl(spec)) trees.push(resolve(buildpackCache(store.home)));
      else if (existsSync(spec)) trees.push(resolve(spec));
    }
  return {
    appDir: parts.path,
    filter: parts.filter,
    trees,
    values: {
      stack,
      builder:
        typeof builder === 'object'
          ? { digest: builder.digest, run: builder.run }
          : (builder && resolve(builder)) || null,
      runImage: parts.runImage ?? null,
      buildpacks: parts.buildpacks,
      env: parts.env,
      created: parts.created,
      network: options.network ?? 'outbound',
      limits: options.limits ?? {},
    },
  };
}

/** The key, or undefined when the inputs cannot be read now (the real build then says why). */
function safeKey(reuse: BuildReuse, inputs: ReuseInputs): string | undefined {
  try {
    return reuse.key(inputs);
  } catch {
    return undefined;
  }
}

/** The no-change answer: the recorded image tagged `repository:tag` (if it is not already), the build's report as then. */
async function retag(
  store: LocalStore,
  repository: string,
  tag: string,
  found: NonNullable<Awaited<ReturnType<BuildReuse['find']>>>,
  t0: number,
): Promise<StageReport & { reused: NonNullable<BuildAppReport['reused']> }> {
  const current = await store.resolve(repository, tag).catch(() => undefined);
  if (current?.digest !== found.digest) {
    const { artifact } = await readLocal(store, repository, found.digest);
    if (artifact.kind !== 'image')
      throw new SlipwayError('INVALID_DOCUMENT', `${repository}@${found.digest} is not an image`);
    await store.putManifest(repository, await artifact.image.rawManifest(), await artifact.image.mediaType(), [tag]);
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    ...found.report,
    repository,
    tag,
    layers: found.report.layers.map((l) => ({ ...l, reused: true })),
    layersUnpacked: 0,
    bytesWritten: 0,
    seconds: { layerCache: 0, detect: 0, extend: 0, build: 0, export: 0, total: seconds },
    reused: { digest: found.digest, builtAt: found.builtAt },
  };
}

/** --run-image as a local repository and digest: a registry image is pulled first. */
async function resolveRunImage(
  store: LocalStore,
  reference: string,
  pull: PullImage | undefined,
): Promise<{ repository: string; digest: string }> {
  let local = reference;
  if (hasRegistryHost(reference)) {
    if (!pull) throw new SlipwayError('UNSUPPORTED', 'no registry client was given to pull the run image with');
    local = await pull(reference);
  }
  const { name, tag, digest } = parseLocalName(local);
  try {
    const found = await store.resolve(name, digest ?? tag ?? 'latest');
    return { repository: name, digest: found.digest };
  } catch (err) {
    throw new SlipwayError(
      'NOT_FOUND',
      `run image ${reference} is not in the store: pull it (slipway pull HOST/NAME:TAG), or give HOST/NAME[:TAG] to pull it (see slipway images)`,
      { cause: err, detail: { runImage: reference } },
    );
  }
}

/** --creation-time: "now", or seconds since the epoch; default SOURCE_DATE_EPOCH else 1980-01-01T00:00:01Z. */
export function creationTime(value: string | undefined): number {
  if (value === undefined) return defaultMtime();
  if (value === 'now') return Math.floor(Date.now() / 1000);
  if (!/^\d+$/.test(value))
    throw new SlipwayError('INVALID_ARGUMENT', `--creation-time "${value}" must be "now" or seconds since the epoch`);
  return Number(value);
}

/** KEY=VALUE lines (# comments, blank lines skipped; a bare KEY takes this process's value). */
export function readEnvFile(file: string): string[] {
  if (!existsSync(file)) throw new SlipwayError('NOT_FOUND', `env file ${file} does not exist`);
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => (l.includes('=') ? l : `${l}=${process.env[l] ?? ''}`));
}
