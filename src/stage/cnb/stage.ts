import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SlipwayError } from '../../errors.js';
import type { BuildpackDescriptor, Order } from '../../buildpack/cnb/buildpack-descriptor.js';
import { BuildpackSet } from '../../buildpack/cnb/buildpack-set.js';
import { expandOrder } from '../../buildpack/cnb/order.js';
import type { ImageTarget } from '../../buildpack/cnb/targets.js';
import { buildpackCache, fetchBuildpackUrl, isBuildpackUrl } from '../../buildpack/cnb/buildpack-download.js';
import { materializeInlineBuildpack, type InlineBuildpack } from '../../buildpack/cnb/inline-buildpack.js';
import { toToml } from '../../buildpack/cnb/toml.js';
import type { Image, Layer } from '../../image/types.js';
import type { Digest } from '../../oci/digest.js';
import type { ImageConfig } from '../../oci/types.js';
import { parseTransport } from '../../oci/transport.js';
import { silentProgress, type Progress } from '../../progress.js';
import { ContainerRuntime } from '../../runtime/containers.js';
import type { CacheableLayer } from '../../runtime/layer-cache.js';
import { BuildSession, CONTROL_DIR, type SessionOptions } from '../../sandbox/build-session.js';
import { BuildVolume } from '../../sandbox/build-volume.js';
import { resolveLimits, type SandboxLimits } from '../../sandbox/limits.js';
import type { BuildNetwork } from '../../sandbox/network.js';
import { ensureDefaultStack } from '../../stack/default-stack.js';
import { latestVersion } from '../../stack/stack-catalog.js';
import { readLocal } from '../../transport/local.js';
import type { LocalStore } from '../../store/local-store.js';
import { BuildCache } from './build-cache.js';
import { Builder } from './builder.js';
import { Detector } from './detector.js';
import { Exporter, type ExportedLayer } from './exporter.js';
import { copyAppSource, writeAppSourceTar } from '../app-source.js';
import { LayerOutput, knownLayersOf, type KnownLayer } from '../layer-output.js';
import { LayersMetadata, LIFECYCLE_METADATA_LABEL } from './metadata-labels.js';
import { APP_DIR, BUILTIN_BUILDPACKS, LAYERS_DIR, PLATFORM_DIR, StagingDirs } from './paths.js';
import { readBuilderOrder } from './builder-order.js';
import { readBuilderDir } from './builder-dir.js';
import { ExtensionSet } from '../../buildpack/cnb/extension-descriptor.js';
import { generate, type GeneratedExtension } from './extensions/generate.js';
import { extendImage } from './extensions/extend.js';
import {
  imageEnv,
  markExtended,
  mountPath,
  splitDetected,
  stepsOf,
  withExtensions,
} from './extensions/extension-phase.js';
import type { ImageBuilder } from './builder-image.js';

export interface StageOptions {
  /** The app source directory. */
  path: string;
  /** Local repository and tag the image is stored as. */
  repository: string;
  tag: string;
  /** Stack name (default: the default stack, made on first use). */
  stack?: string;
  /**
   * A builder: a directory with builder.toml / order.toml (default: the built-in builder), or a
   * builder image read by readBuilderImage: then detect and build run in it, its order and
   * buildpacks are used, and apps get its run image (`stack` is ignored).
   */
  builder?: string | ImageBuilder;
  /** More directories of buildpacks the groups may name (a buildpackage's components). */
  buildpackTrees?: string[];
  /** Buildpacks as ID[@VERSION], DIR, TGZ, an http(s):// or file:// URL, or inline (project.toml): one group, in this order, instead of the builder's order. */
  buildpacks?: (string | InlineBuildpack)[];
  /** Build-time env (KEY=VALUE), written to <platform>/env. */
  env?: string[];
  clearCache?: boolean;
  /** Seconds since the epoch for `created` and file times (default SOURCE_DATE_EPOCH or 1980-01-01T00:00:01Z). */
  created: number;
  /** pack's --run-image: the run image to build on instead of the stack's (or the builder's), a local repository and digest. */
  runImage?: { repository: string; digest: string };
  /** Paths to leave out of the workspace (project.toml include/exclude applied by the caller). */
  filter?: (relativePath: string, isDir: boolean) => boolean;
  /** The build cache's key (default: the repository); a registry image uses its full name. */
  cacheKey?: string;
  projectMetadata?: Record<string, unknown>;
  progress?: Progress;
  /**
   * A CA bundle on this host mounted over the build image's (/etc/ssl/certs/ca-certificates.crt),
   * so buildpacks' downloads work behind a TLS-inspecting proxy; default $SSL_CERT_FILE or the
   * host's bundle, `false` for none. Build-time only: nothing of it reaches the image.
   */
  caFile?: string | false;
  /** Buildpack output as it comes (default: dropped). */
  output?: (text: string) => void;
  /** The build's network: `outbound` (default: the internet, never the host or private networks) or `none`. */
  network?: BuildNetwork;
  /** The sandbox's limits (defaults: DEFAULT_LIMITS). */
  limits?: Partial<SandboxLimits>;
  /**
   * Called once the buildpacks' build has started in the container, while this process
   * only waits for it: work that can start early and would otherwise follow the build
   * (loading the SBOM writer) runs in that wait.
   */
  whileBuilding?: () => void;
}

export interface StageReport {
  repository: string;
  tag: string;
  digest: Digest;
  stack: { name: string; version: string; run: Digest; build: Digest };
  group: { id: string; version: string }[];
  processes: { type: string; command: string[]; args: string[]; default: boolean }[];
  layers: ExportedLayer[];
  restored: { fromCache: string[]; metadataOnly: string[] };
  /** Layers of the build image this build unpacked into the host's layer cache (0 once cached). */
  layersUnpacked: number;
  /** The image extensions that ran (generate), and which images their Dockerfiles extended. */
  extensions: { id: string; version: string; extended: ('build' | 'run')[] }[];
  /**
   * Phase times; `layerCache` is unpacking the build image's layers into the layer cache (0 once cached);
   * `extend` is the image extensions' generate and their Dockerfiles (0 without extensions).
   */
  seconds: { layerCache: number; detect: number; extend: number; build: number; export: number; total: number };
  /** Bytes of new layer blobs written to the store. */
  bytesWritten: number;
}

/**
 * Stages an app: detect, restore, build (buildpacks in the stack's build image, one
 * container for the whole staging) and export (an image shaped as the CNB lifecycle
 * exports it), stored as `repository:tag`, with the app's build cache updated.
 *
 * @example
 *   const report = await stage(store, { path: 'examples/nodejs', repository: 'apps/node', tag: 'latest', created: 315532801 });
 */
export async function stage(store: LocalStore, options: StageOptions): Promise<StageReport> {
  const t0 = performance.now();
  const progress = options.progress ?? silentProgress;
  const output = options.output ?? (() => undefined);
  const base =
    typeof options.builder === 'object'
      ? builderBase(options.builder)
      : stackBase(await resolveStack(store, options.stack, progress));
  const { stack } = base;
  const buildInfo = await readLocal(store, base.buildRepository, stack.build);
  // pack's --run-image: another run image than the stack's (or the builder's), checked against the build image.
  const runRef = options.runImage ?? { repository: base.runRepository, digest: stack.run };
  const runInfo = await readLocal(store, runRef.repository, runRef.digest);
  if (buildInfo.artifact.kind !== 'image' || runInfo.artifact.kind !== 'image')
    throw new SlipwayError('INVALID_DOCUMENT', `stack ${stack.name}: its images are indexes`);
  const buildConfig = await buildInfo.artifact.image.config();
  const runImage = runInfo.artifact.image;
  if (options.runImage) checkRunImage(options.runImage.repository, await runImage.config(), buildConfig);
  const env = Object.fromEntries(
    (buildConfig.config?.Env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const user = { uid: Number(env['CNB_USER_ID'] ?? 1000), gid: Number(env['CNB_GROUP_ID'] ?? 1000) };
  const labels = buildConfig.config?.Labels ?? {};
  const baseEnv: Record<string, string> = {
    ...env,
    CNB_TARGET_OS: buildConfig.os,
    CNB_TARGET_ARCH: buildConfig.architecture,
    ...(buildConfig.variant ? { CNB_TARGET_ARCH_VARIANT: buildConfig.variant } : {}),
    ...(labels['io.buildpacks.base.distro.name']
      ? { CNB_TARGET_DISTRO_NAME: labels['io.buildpacks.base.distro.name'] }
      : {}),
    ...(labels['io.buildpacks.base.distro.version']
      ? { CNB_TARGET_DISTRO_VERSION: labels['io.buildpacks.base.distro.version'] }
      : {}),
  };

  const { set, order, extensions } = await resolveBuildpacks(options, store.home);
  // [[order-extensions]]: image extensions tried before each group (their Dockerfiles extend the images).
  const groups = withExtensions(
    expandOrder(order, (e) => set.find(e)),
    extensions.order,
    extensions.set,
  );
  const used = uniqueBuildpacks(groups.flat().map((m) => m.buildpack));

  const limits = resolveLimits(options.limits);
  const cacheKey = options.cacheKey ?? options.repository;
  // The build's disk: a volume of its own, of the disk limit's size, holding the app's cache too.
  const volume = await BuildVolume.open(store.home, cacheKey, limits.diskBytes);
  const dirs = new StagingDirs(mkdtempSync(join(volume.mountPoint, 'stage-')));
  const cache = new BuildCache(store.home, cacheKey, volume);
  if (options.clearCache) cache.clear();
  const previous = await previousMetadata(store, options.repository, options.tag);
  const runtime = ContainerRuntime.open(store.home);
  let session: BuildSession | undefined;
  try {
    const deferred = await prepareDirs(dirs, options, user, store.home, progress, used);
    // The first build on a stack version unpacks its build image into the layer cache: seconds, shown and counted.
    const tCache = performance.now();
    const layersUnpacked = await unpackBuildImage(runtime, buildInfo.artifact.image, progress);
    const cacheSeconds = (performance.now() - tCache) / 1000;
    progress.log('===> DETECTING');
    const sessionOptions: SessionOptions = {
      image: {
        ref: parseTransport(`${base.buildRepository}@${stack.build}`),
        label: base.buildRepository,
        store: async () => store,
      },
      user,
      controlDir: dirs.control,
      network: options.network ?? 'outbound',
      limits,
      volume,
      binds: [
        { source: dirs.workspace, destination: APP_DIR, readonly: false },
        { source: dirs.layers, destination: LAYERS_DIR, readonly: false },
        { source: dirs.platform, destination: PLATFORM_DIR, readonly: true },
        ...used.map((bp) => ({ source: bp.dir, destination: mountPath(bp), readonly: true })),
        ...caBind(options.caFile),
      ],
    };
    session = await BuildSession.start(runtime, sessionOptions);
    const tDetect = performance.now();
    const detected = await new Detector({
      session,
      dirs,
      baseEnv,
      log: (l) => progress.log(l),
      target: imageTarget(baseEnv, labels),
    }).detect(groups);
    if (deferred.length > 0) await copyDeferred(session, dirs, options.path, deferred, progress);
    for (const bp of detected.group) progress.log(`${bp.id} ${bp.version}`);
    // The extensions that passed generate; the buildpacks build from the plan entries the extensions did not take.
    const staged = splitDetected(detected);
    const own = { uid: user.uid, gid: user.gid };
    dirs.layersTree.writeFile(
      'group.toml',
      toToml({
        group: staged.group.map((b) => ({ id: b.id, version: b.version, api: b.api })),
        ...(staged.extensions.length
          ? { 'group-extensions': staged.extensions.map((b) => ({ id: b.id, version: b.version, api: b.api })) }
          : {}),
      }),
      own,
    );
    dirs.layersTree.writeFile(
      'plan.toml',
      toToml({
        entries: detected.plan.entries.map((e) => ({
          providers: e.providers.map((p) => ({ id: p.id, version: p.version })),
          requires: e.requires,
        })),
      }),
      own,
    );

    const extendContext = {
      store,
      runtime,
      volume,
      limits,
      network: options.network ?? 'outbound',
      created: options.created,
      ...(options.caFile !== undefined ? { caFile: options.caFile } : {}),
      progress,
      output,
    } as const;
    let generated: GeneratedExtension[] = [];
    const tGenerate = performance.now();
    if (staged.extensions.length > 0) {
      progress.log('===> GENERATING');
      generated = await generate({ session, dirs, baseEnv, user, output }, staged.extensions, detected.plan);
      const buildSteps = stepsOf(generated, 'build');
      if (buildSteps.length > 0) {
        await session.stop();
        session = undefined;
        progress.log('===> EXTENDING the build image');
        const extended = await extendImage({
          ...extendContext,
          kind: 'build',
          base: { repository: base.buildRepository, digest: stack.build, image: buildInfo.artifact.image },
          steps: buildSteps,
        });
        Object.assign(baseEnv, imageEnv(await extended.image.config()));
        session = await BuildSession.start(runtime, {
          ...sessionOptions,
          controlDir: join(dirs.root, 'control-extended'),
          image: {
            ref: parseTransport(`${extended.repository}@${extended.digest}`),
            label: extended.repository,
            store: async () => store,
          },
        });
      }
    }

    const generateSeconds = (performance.now() - tGenerate) / 1000;
    progress.log('===> RESTORING');
    const { restoreLayers, restoreLaunchSboms } = await import('./restorer.js');
    const restored = restoreLayers(staged.group, dirs, user, previous, options.clearCache ? undefined : cache);
    const sbomLayer = previous?.value.sbom
      ? await previousLayer(store, options.repository, options.tag, previous.value.sbom.sha)
      : undefined;
    if (sbomLayer)
      for (const r of await restoreLaunchSboms(await sbomLayer.uncompressed(), staged.group, dirs, user))
        progress.log(`restored SBOM ${r} from the previous image`);
    for (const r of restored.fromCache) progress.log(`restored ${r} from the cache`);
    for (const r of restored.metadataOnly) progress.log(`restored metadata of ${r} from the previous image`);

    progress.log('===> BUILDING');
    const tBuild = performance.now();
    const building = new Builder({ session, dirs, baseEnv, user, output }).build(staged.plan);
    options.whileBuilding?.();
    const built = await building;
    await session.stop();
    session = undefined;

    // run.Dockerfiles extend (or switch) the run image: their layers go between it and the app's.
    let exportRun: { image: Image; name: string; reference: string; topLayer?: Digest } = {
      image: runImage,
      name: options.runImage ? options.runImage.repository : base.runImageName,
      reference: `${runRef.repository}@${runRef.digest}`,
    };
    const runSteps = stepsOf(generated, 'run');
    const tExtendRun = performance.now();
    if (runSteps.length > 0) {
      progress.log('===> EXTENDING the run image');
      const extended = await extendImage({
        ...extendContext,
        kind: 'run',
        base: { repository: runRef.repository, digest: runRef.digest as Digest, image: runImage },
        steps: runSteps,
      });
      // As the lifecycle records it: the run image (or the one switched to) by name, reference and top layer; the extensions' layers above it.
      exportRun = {
        image: await markExtended(extended),
        name: extended.switchedTo ?? exportRun.name,
        reference: `${extended.base.repository}@${extended.base.digest}`,
        ...(extended.base.topLayer ? { topLayer: extended.base.topLayer } : {}),
      };
    }

    const extendRunSeconds = (performance.now() - tExtendRun) / 1000;
    progress.log('===> EXPORTING');
    const tExport = performance.now();
    const known = new Map<Digest, KnownLayer>([
      ...cache.knownLayers(),
      ...(previous ? await previousLayers(store, options.repository, options.tag) : []),
    ]);
    const { image, layers, written } = await store.withLease(async (lease) => {
      const out = new LayerOutput(lease, known);
      const exported = await new Exporter(out).export({
        dirs,
        user,
        runImage: exportRun.image,
        runImageName: exportRun.name,
        runImageReference: exportRun.reference,
        ...(exportRun.topLayer ? { runImageTopLayer: exportRun.topLayer } : {}),
        build: built,
        ...(previous ? { previous } : {}),
        created: options.created,
        projectMetadata: options.projectMetadata ?? {},
      });
      await storeImage(lease, exported.image);
      await store.putManifest(
        options.repository,
        await exported.image.rawManifest(),
        await exported.image.mediaType(),
        [options.tag],
        lease,
      );
      return { ...exported, written: out.written };
    });
    cache.commit(dirs.layersTree, built.buildpacks, [...known.values()]);
    const tEnd = performance.now();
    return {
      repository: options.repository,
      tag: options.tag,
      digest: await image.digest(),
      stack,
      group: staged.group.map((b) => ({ id: b.id, version: b.version })),
      processes: built.processes.map((p) => ({
        type: p.type,
        command: p.command,
        args: p.args,
        default: p.type === built.defaultProcess,
      })),
      layers,
      restored,
      layersUnpacked,
      extensions: generated.map((g) => ({
        id: g.extension.id,
        version: g.extension.version,
        extended: g.dockerfiles.map((d) => d.dockerfile.kind),
      })),
      seconds: {
        layerCache: cacheSeconds,
        detect: (tBuild - tDetect) / 1000 - generateSeconds,
        extend: generateSeconds + extendRunSeconds,
        build: (tExport - tBuild) / 1000 - extendRunSeconds,
        export: (tEnd - tExport) / 1000,
        total: (tEnd - t0) / 1000,
      },
      bytesWritten: written.reduce((n, k) => n + k.size, 0),
    };
  } finally {
    if (session) await session.stop().catch(() => undefined);
    runtime.close();
    dirs.close();
    // SLIPWAY_KEEP_STAGING=1 keeps the workspace, layers and job logs (on the app's build volume) for a look after a failure.
    if (process.env['SLIPWAY_KEEP_STAGING'] !== '1') {
      rmSync(dirs.root, { recursive: true, force: true });
      await volume.close();
    }
  }
}

/**
 * Unpacks the build image's layers that are not yet in the host's layer cache, with
 * progress (a bar per layer on a terminal, a line before and after): the first build
 * on a stack version, or after the cache was dropped, spends seconds here. Returns
 * how many layers it unpacked.
 */
async function unpackBuildImage(runtime: ContainerRuntime, image: Image, progress: Progress): Promise<number> {
  const missing: CacheableLayer[] = [];
  for (const l of await image.layers()) {
    const diffId = await l.diffId();
    if (!runtime.cache.has(diffId)) missing.push({ diffId, size: await l.size(), open: () => l.compressed() });
  }
  if (missing.length === 0) return 0;
  const mb = (missing.reduce((n, l) => n + l.size, 0) / 1e6).toFixed(1);
  progress.log(
    `===> UNPACKING the build image into the layer cache (${missing.length} ${missing.length === 1 ? 'layer' : 'layers'}, ${mb} MB; once per stack version)`,
  );
  const t0 = performance.now();
  const n = await runtime.cache.ensure(missing, progress);
  progress.log(`unpacked ${n} ${n === 1 ? 'layer' : 'layers'} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return n;
}

/** A --run-image must suit what the build image built: the same os and architecture, the same stack id when both say one. */
function checkRunImage(name: string, run: ImageConfig, build: ImageConfig): void {
  const platform = (c: ImageConfig) => [c.os, c.architecture, c.variant].filter(Boolean).join('/');
  if (platform(run) !== platform(build))
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `run image ${name} is for ${platform(run)} and the build image for ${platform(build)}: give a run image of the same platform`,
      { detail: { runImage: name } },
    );
  const runId = run.config?.Labels?.['io.buildpacks.stack.id'];
  const buildId = build.config?.Labels?.['io.buildpacks.stack.id'];
  if (runId && buildId && runId !== buildId)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `run image ${name} has stack id ${runId} and the build image ${buildId}: give a run image of the same stack (io.buildpacks.stack.id)`,
      { detail: { runImage: name, runStackId: runId, buildStackId: buildId } },
    );
}

function caBind(caFile: string | false | undefined): { source: string; destination: string; readonly: boolean }[] {
  if (caFile === false) return [];
  const file = caFile ?? process.env['SSL_CERT_FILE'] ?? '/etc/ssl/certs/ca-certificates.crt';
  return existsSync(file)
    ? [{ source: resolve(file), destination: '/etc/ssl/certs/ca-certificates.crt', readonly: true }]
    : [];
}

/** The images a staging runs in and on: a stack's pair, or a builder image and its run image. */
interface StageBase {
  stack: StageReport['stack'];
  buildRepository: string;
  runRepository: string;
  /** runImage.image of the app's lifecycle metadata (what rebase looks for). */
  runImageName: string;
}

function stackBase(stack: StageReport['stack']): StageBase {
  return {
    stack,
    buildRepository: `${stack.name}/build`,
    runRepository: `${stack.name}/run`,
    runImageName: `${stack.name}/run`,
  };
}

function builderBase(builder: ImageBuilder): StageBase {
  return {
    stack: builder.stack,
    buildRepository: builder.repository,
    runRepository: builder.run.repository,
    runImageName: builder.run.name,
  };
}

async function resolveStack(
  store: LocalStore,
  name: string | undefined,
  progress: Progress,
): Promise<StageReport['stack']> {
  if (name === undefined) return ensureDefaultStack(store, { progress });
  const latest = await latestVersion(store, name);
  if (!latest)
    throw new SlipwayError('NOT_FOUND', `there is no stack "${name}": make it with slipway stack create ${name}`, {
      detail: { stack: name },
    });
  return { name, version: latest.version, run: latest.run.digest, build: latest.build.digest };
}

async function resolveBuildpacks(
  options: StageOptions,
  home: string,
): Promise<{ set: BuildpackSet; order: Order; extensions: { set: ExtensionSet; order: Order } }> {
  const cache = buildpackCache(home);
  const set = new BuildpackSet();
  await set.addTree(BUILTIN_BUILDPACKS);
  // A builder directory (or its builder.toml): its buildpacks and extensions by uri, its orders.
  const builderDir = typeof options.builder === 'string' ? readBuilderDir(options.builder) : undefined;
  const extensions = {
    set: new ExtensionSet(),
    order: typeof options.builder === 'object' ? options.builder.orderExtensions : (builderDir?.orderExtensions ?? []),
  };
  if (typeof options.builder === 'object')
    for (const tree of options.builder.extensionTrees) await extensions.set.addTree(tree);
  if (builderDir) {
    if (builderDir.scan) await set.addTree(builderDir.scan);
    for (const path of builderDir.buildpackPaths) await set.addPath(path, cache);
    for (const path of builderDir.extensionPaths) await extensions.set.addPath(path);
    if (builderDir.scan) await extensions.set.addTree(builderDir.scan);
  }
  for (const tree of [
    ...(typeof options.builder === 'object' ? options.builder.trees : []),
    ...(options.buildpackTrees ?? []),
  ])
    await set.addTree(tree);
  if (options.buildpacks && options.buildpacks.length > 0) {
    const group = [];
    for (const spec of options.buildpacks) {
      // Inline (project.toml script) and URL buildpacks become directories under the store home, then are added like a path.
      if (typeof spec !== 'string' || isBuildpackUrl(spec)) {
        const bp = await set.addPath(
          typeof spec !== 'string'
            ? await materializeInlineBuildpack(spec, join(home, 'buildpacks', 'inline'))
            : (await fetchBuildpackUrl(spec, cache, options.caFile ? { caFile: options.caFile } : {})).path,
          cache,
        );
        group.push({ id: bp.id, version: bp.version });
      } else if (
        // The filesystem first, as pack does: `-b some/dir` is a directory when there is one, an id otherwise.
        existsSync(spec) ||
        (spec.includes('/') && (spec.startsWith('.') || spec.startsWith('/') || /\.(tgz|tar\.gz|tar|cnb)$/.test(spec)))
      ) {
        const bp = await set.addPath(spec, cache);
        group.push({ id: bp.id, version: bp.version });
      } else {
        const at = spec.lastIndexOf('@');
        group.push(at > 0 ? { id: spec.slice(0, at), version: spec.slice(at + 1) } : { id: spec });
      }
    }
    return { set, order: [group], extensions };
  }
  return {
    set,
    order:
      typeof options.builder === 'object'
        ? options.builder.order
        : (builderDir?.order ?? (await readBuilderOrder(BUILTIN_BUILDPACKS))),
    extensions,
  };
}

/** The build image's target as detect matches buildpacks' [[targets]] (and [[stacks]]) against it. */
function imageTarget(baseEnv: Record<string, string>, labels: Record<string, string>): ImageTarget {
  const name = baseEnv['CNB_TARGET_DISTRO_NAME'];
  const version = baseEnv['CNB_TARGET_DISTRO_VERSION'];
  return {
    os: baseEnv['CNB_TARGET_OS'] ?? '',
    arch: baseEnv['CNB_TARGET_ARCH'] ?? '',
    ...(baseEnv['CNB_TARGET_ARCH_VARIANT'] ? { variant: baseEnv['CNB_TARGET_ARCH_VARIANT'] } : {}),
    ...(name || version ? { distro: { ...(name ? { name } : {}), ...(version ? { version } : {}) } } : {}),
    ...(labels['io.buildpacks.stack.id'] ? { stackId: labels['io.buildpacks.stack.id'] } : {}),
  };
}

function uniqueBuildpacks(list: BuildpackDescriptor[]): BuildpackDescriptor[] {
  const out = new Map<string, BuildpackDescriptor>();
  for (const bp of list) out.set(`${bp.id}@${bp.version}`, bp);
  return [...out.values()];
}

/** More entries than an app's source usually has: the build says so (a build of ~ or /, an unignored node_modules). */
const LARGE_APP_ENTRIES = 50_000;
/** From this many entries, an app whose buildpacks all name their detect inputs is copied in after detection. */
const DETECT_FIRST_ENTRIES = 5_000;

/** The app copied into the workspace (owned by the stack user; no store, nothing ignored), the platform dir with env/. */
async function prepareDirs(
  dirs: StagingDirs,
  options: StageOptions,
  user: { uid: number; gid: number },
  storeHome: string,
  progress: Progress,
  buildpacks: BuildpackDescriptor[],
): Promise<string[]> {
  mkdirSync(dirs.workspace, { recursive: true });
  mkdirSync(dirs.layers, { recursive: true });
  mkdirSync(join(dirs.platform, 'env'), { recursive: true });
  mkdirSync(dirs.control, { recursive: true });
  const copied = await copyAppSource(options.path, dirs.workspace, {
    skip: [storeHome, dirs.root],
    filter: options.filter,
    firstPart: (entries) => detectFirst(entries, buildpacks),
    owner: user,
  });
  for (const dir of copied.storesLeftOut) progress.log(`left out ${dir}/ (a Slipway store) from the app's source`);
  if (copied.entries > LARGE_APP_ENTRIES)
    progress.log(
      `copied ${copied.entries} files and directories of ${resolve(options.path)}: is it the app's directory? (--path DIR; leave out what the build does not need in .slipwayignore)`,
    );
  // The copies are the stack user's already; the two directories made here become theirs too.
  chownSync(dirs.workspace, user.uid, user.gid);
  chownSync(dirs.layers, user.uid, user.gid);
  chmodSync(dirs.root, 0o755);
  for (const kv of options.env ?? []) {
    const eq = kv.indexOf('=');
    writeFileSync(join(dirs.platform, 'env', checkEnvName(kv.slice(0, eq))), kv.slice(eq + 1));
  }
  if (copied.deferred.length > 0)
    progress.log(
      `detecting before copying the app: its ${copied.entries} files and directories follow once a group passes`,
    );
  return copied.deferred;
}

/**
 * Of a large app, only the files detect reads, when every buildpack of the order names
 * them (`[metadata.slipway] detect-inputs`): a wrong buildpack then fails in a second,
 * not after copying a tree it never needed.
 */
function detectFirst(entries: string[], buildpacks: BuildpackDescriptor[]): string[] | undefined {
  if (entries.length < DETECT_FIRST_ENTRIES || buildpacks.some((bp) => !bp.detectInputs)) return undefined;
  const inputs = new Set(buildpacks.flatMap((bp) => bp.detectInputs ?? []));
  return entries.filter((e) => inputs.has(e));
}

/**
 * The rest of the app, after detection: a tar file in the control directory (which the
 * container cannot change) unpacked by the build container itself, as the build user, so
 * a link that a detect script left in the workspace resolves inside the container.
 */
async function copyDeferred(
  session: BuildSession,
  dirs: StagingDirs,
  appDir: string,
  entries: string[],
  progress: Progress,
): Promise<void> {
  const name = 'app-rest.tar';
  const file = join(dirs.control, name);
  await writeAppSourceTar(appDir, entries, file);
  try {
    const r = await session.exec({
      argv: ['tar', '-xpf', `${CONTROL_DIR}/${name}`, '--no-same-owner', '-C', APP_DIR],
      env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
      cwd: APP_DIR,
    });
    if (r.exitCode !== 0)
      throw new SlipwayError(
        'TOOL_FAILED',
        `cannot copy the app into the build: tar exited ${r.exitCode}: ${r.output.trim()}`,
      );
  } finally {
    rmSync(file, { force: true });
  }
  progress.log(`copied the app (${entries.length} more files and directories)`);
}

/** A build env name becomes a file name in <platform>/env: it must be one name, not a path. */
function checkEnvName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `build env name "${name}" is not a variable name (letters, digits, "_", ".", "-"; not starting with a digit)`,
      { detail: { name } },
    );
  }
  return name;
}

async function previousMetadata(
  store: LocalStore,
  repository: string,
  tag: string,
): Promise<LayersMetadata | undefined> {
  const image = await previousImage(store, repository, tag);
  if (!image) return undefined;
  const config = await image.config();
  return LayersMetadata.fromLabel(
    config.config?.Labels?.[LIFECYCLE_METADATA_LABEL],
    new Map(await knownLayersOf(image)),
  );
}

async function previousLayers(store: LocalStore, repository: string, tag: string): Promise<[Digest, KnownLayer][]> {
  const image = await previousImage(store, repository, tag);
  return image ? knownLayersOf(image) : [];
}

/** The previous image's layer with this diffID (its SBOM layer). */
async function previousLayer(
  store: LocalStore,
  repository: string,
  tag: string,
  diffId: Digest,
): Promise<Layer | undefined> {
  const image = await previousImage(store, repository, tag);
  if (!image) return undefined;
  const i = (await image.config()).rootfs.diff_ids.indexOf(diffId);
  return i >= 0 ? (await image.layers())[i] : undefined;
}

async function previousImage(store: LocalStore, repository: string, tag: string): Promise<Image | undefined> {
  try {
    const { artifact } = await readLocal(store, repository, tag);
    return artifact.kind === 'image' ? artifact.image : undefined;
  } catch (err) {
    if (
      err instanceof SlipwayError &&
      (err.code === 'MANIFEST_UNKNOWN' || err.code === 'NAME_UNKNOWN' || err.code === 'NOT_FOUND')
    )
      return undefined;
    throw err;
  }
}

/** Puts the config blob (layers are already in the store). */
async function storeImage(lease: import('../../store/local-store.js').StoreLease, image: Image): Promise<void> {
  const raw = await image.rawConfig();
  await lease.putBytes(raw);
}
