import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { fetchBuildpack, readDotBuildpacks, type ClassicBuildpack } from '../../buildpack/classic/buildpack-source.js';
import { ClassicBuilder, ContainerPaths, type ScriptRunner } from '../../buildpack/classic/classic-builder.js';
import { ClassicStageError } from '../../buildpack/classic/classic-error.js';
import { importDropletDir, type ImportDropletReport } from '../../droplet/import.js';
import { LANG_DEFAULT_SH } from '../../droplet/launcher.js';
import { resolveStack } from '../../droplet/stack-run-image.js';
import { stagingInfoText } from '../../droplet/staging-info.js';
import { defaultMtime } from '../../layer/tree-walk.js';
import { parseLocalName } from '../../oci/reference.js';
import { parseTransport } from '../../oci/transport.js';
import { silentProgress, type Progress } from '../../progress.js';
import { ContainerRuntime } from '../../runtime/containers.js';
import { BuildSession, quote } from '../../sandbox/build-session.js';
import { BuildVolume } from '../../sandbox/build-volume.js';
import { ConfinedDir } from '../../fs/confined-dir.js';
import { resolveLimits, type SandboxLimits } from '../../sandbox/limits.js';
import type { BuildNetwork } from '../../sandbox/network.js';
import type { LocalStore } from '../../store/local-store.js';
import { copyAppSource } from '../app-source.js';
import { attachBuildSbom, type BuildSbom } from '../../vuln/inventory.js';
import { stagingEnv, userEnv } from './staging-env.js';

const run = promisify(execFile);

export interface StageClassicOptions {
  /** The app source directory. */
  path: string;
  /** NAME[:TAG] in the local store. */
  image: string;
  stack?: string;
  /** Buildpacks (dir, .zip/.tgz, git URL#ref); default: the app's .buildpacks file. */
  buildpacks?: string[];
  /** Detect mode: run bin/detect of each, the first that applies stages (CF without -b). Default: named mode. */
  detect?: boolean;
  /** App env vars, KEY=VALUE: in the staging env (CF) and ENV_DIR files (Heroku). */
  env?: string[];
  /** A file with VCAP_SERVICES JSON. */
  servicesFile?: string;
  memoryMb?: number;
  clearCache?: boolean;
  created?: number;
  progress?: Progress;
  /** Buildpack output as it comes. */
  output?: (text: string) => void;
  /** The build's network: `outbound` (default) or `none`. */
  network?: BuildNetwork;
  /** The sandbox's limits (defaults: DEFAULT_LIMITS). */
  limits?: Partial<SandboxLimits>;
  /** Attach an SBOM to the image and record its inventory for scans (default true). */
  sbom?: boolean;
}

export interface StageClassicReport extends ImportDropletReport {
  buildpacks: { key: string; name: string; version?: string }[];
  detectedBuildpack: string;
  detectOutput?: string;
  warnings: string[];
  seconds: number;
  /** The SBOM attached to the image (unless `sbom: false`). */
  sbom?: BuildSbom;
}

/**
 * Stages an app with CF v2 / Heroku buildpacks as CF's builder does, in the stack's
 * build image as the stack user (app at /tmp/app, deps at /tmp/deps, cache at
 * /tmp/cache, buildpacks under /tmp/buildpacks), and stores the droplet as an image
 * (src/droplet): run image, droplet root, each deps/IDX, app, CF launcher. The cache
 * persists per image name between stagings.
 *
 * @example
 *   await stageClassic(store, { path: 'app', image: 'apps/web', buildpacks: ['./apt-buildpack', 'https://github.com/cloudfoundry/binary-buildpack#v1.1.0'] });
 */
export async function stageClassic(store: LocalStore, options: StageClassicOptions): Promise<StageClassicReport> {
  const t0 = performance.now();
  const output = options.output ?? (() => undefined);
  const progress = options.progress ?? silentProgress;
  const { name: repository } = parseLocalName(options.image);
  const stack = await resolveStack(store, options.stack, progress);
  const specs =
    options.buildpacks && options.buildpacks.length > 0 ? options.buildpacks : readDotBuildpacks(resolve(options.path));
  if (!specs || specs.length === 0)
    throw new ClassicStageError(
      1,
      'no buildpacks: give --buildpack (a dir, .zip/.tgz or git URL#ref) or add a .buildpacks file to the app',
    );
  const user = stack.user;
  const limits = resolveLimits(options.limits);
  // The build's disk: a volume of the disk limit's size; the app's cache lives on it between stagings.
  const volume = await BuildVolume.open(store.home, `classic:${repository}`, limits.diskBytes);
  const root = mkdtempSync(join(volume.mountPoint, 'classic-'));
  chmodSync(root, 0o755);
  const cacheDir = join(volume.mountPoint, 'cache', 'classic');
  if (options.clearCache) rmSync(cacheDir, { recursive: true, force: true });
  const contents = join(root, 'contents');
  const host = {
    app: join(root, 'app'),
    deps: join(contents, 'deps'),
    profile: join(contents, 'profile.d'),
    cache: cacheDir,
    env: join(root, 'env'),
    buildpacks: join(root, 'buildpacks'),
    control: join(root, 'control'),
  };
  const runtime = ContainerRuntime.open(store.home);
  let session: BuildSession | undefined;
  const trees: ConfinedDir[] = [];
  try {
    for (const d of [host.app, host.deps, host.profile, host.cache, host.env, host.buildpacks, host.control])
      mkdirSync(d, { recursive: true });
    const copied = await copyAppSource(options.path, host.app, { skip: [store.home, root] });
    for (const dir of copied.storesLeftOut) progress.log(`left out ${dir}/ (a Slipway store) from the app's source`);
    for (const [k, v] of userEnv(options.env ?? [])) writeFileSync(join(host.env, k), v);
    const buildpacks: ClassicBuildpack[] = [];
    for (const [i, spec] of specs.entries()) {
      const bp = await fetchBuildpack(spec, join(host.buildpacks, `fetch-${i}`));
      const dest = join(host.buildpacks, bp.hash);
      if (!existsSync(dest)) renameSync(bp.dir, dest);
      buildpacks.push({ ...bp, dir: dest });
    }
    await run('chown', ['-R', `${user.uid}:${user.gid}`, host.app, contents, host.cache, host.env, host.buildpacks]);

    const buildConfig = await stack.buildImage.config();
    const env = stagingEnv({
      imageEnv: buildConfig.config?.Env ?? [],
      stack: stack.name,
      appName: repository,
      env: options.env ?? [],
      ...(options.servicesFile ? { servicesFile: options.servicesFile } : {}),
      memoryMb: options.memoryMb ?? 1024,
    });
    if (env['CF_STACK'] !== stack.name)
      output(`CF_STACK=${env['CF_STACK']} from --env: the buildpacks are told so; the stack is ${stack.name}\n`);
    session = await BuildSession.start(runtime, {
      image: {
        ref: parseTransport(`${stack.name}/build@${stack.build}`),
        label: `${stack.name}/build`,
        store: async () => store,
      },
      user,
      controlDir: host.control,
      network: options.network ?? 'outbound',
      limits,
      volume,
      binds: [
        { source: host.app, destination: ContainerPaths.app, readonly: false },
        { source: host.deps, destination: ContainerPaths.deps, readonly: false },
        { source: host.profile, destination: ContainerPaths.profile, readonly: false },
        { source: host.cache, destination: ContainerPaths.cache, readonly: false },
        { source: host.env, destination: ContainerPaths.env, readonly: true },
        { source: host.buildpacks, destination: ContainerPaths.buildpacks, readonly: false },
        ...caBind(),
      ],
    });
    const tree = (path: string) => {
      const t = ConfinedDir.open(path);
      trees.push(t);
      return t;
    };
    const builder = new ClassicBuilder(
      sessionRunner(session, output),
      { app: tree(host.app), deps: tree(host.deps), cache: tree(host.cache), owner: user },
      (line) => output(`${line}\n`),
    );
    const result = await builder.build(buildpacks, env, !options.detect);
    await session.stop();
    session = undefined;

    // The droplet, as CF's builder leaves `contents`: app, deps, profile.d, staging_info.yml, tmp, logs.
    mkdirSync(join(contents, 'tmp'));
    mkdirSync(join(contents, 'logs'));
    renameSync(host.app, join(contents, 'app'));
    writeFileSync(
      join(contents, 'staging_info.yml'),
      stagingInfoText({
        detected_buildpack: result.detectedBuildpack,
        start_command: result.processTypes['web'] ?? '',
      }),
    );
    const imported = await importDropletDir(store, contents, options.image, {
      stack: stack.name,
      processTypes: result.processTypes,
      buildpacks: result.buildpacks,
      created: options.created ?? defaultMtime(),
      ...(result.detectOutput ? { detectOutput: result.detectOutput } : {}),
    });
    const sbom = options.sbom === false ? undefined : await attachBuildSbom(store, repository, imported.digest);
    return {
      ...imported,
      ...(sbom ? { sbom } : {}),
      buildpacks: result.buildpacks,
      detectedBuildpack: result.detectedBuildpack,
      ...(result.detectOutput !== undefined ? { detectOutput: result.detectOutput } : {}),
      warnings: result.warnings,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    if (session) await session.stop().catch(() => undefined);
    for (const t of trees) t.close();
    runtime.close();
    if (process.env['SLIPWAY_KEEP_STAGING'] !== '1') {
      rmSync(root, { recursive: true, force: true });
      await volume.close();
    }
  }
}

/**
 * Scripts as jobs of the build session: LANG set as the image's locales allow, earlier
 * buildpacks' `export` files sourced first (Heroku chaining), stdout captured apart from stderr when asked (detect
 * output, release YAML), output streamed.
 */
function sessionRunner(session: BuildSession, output: (text: string) => void): ScriptRunner {
  return {
    async run(argv, env, options) {
      const sources = options.sourceExports.map((f) => `[ -f ${quote(f)} ] && . ${quote(f)}`).join('; ');
      const script = `${LANG_DEFAULT_SH}; ${sources ? `${sources}; ` : ''}exec "$@"`;
      const r = await session.exec(
        {
          argv: ['/bin/sh', '-c', script, 'sh', ...argv],
          env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
          cwd: '/tmp',
          ...(options.stdoutOnly ? { captureStdout: true } : {}),
        },
        output,
      );
      return { exitCode: r.exitCode, stdout: options.stdoutOnly ? (r.stdout ?? '') : r.output };
    },
  };
}

function caBind(): { source: string; destination: string; readonly: boolean }[] {
  const file = process.env['SSL_CERT_FILE'] ?? '/etc/ssl/certs/ca-certificates.crt';
  return existsSync(file)
    ? [{ source: resolve(file), destination: '/etc/ssl/certs/ca-certificates.crt', readonly: true }]
    : [];
}
