import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ClassicExit, ClassicStageError } from '../../buildpack/classic/classic-error.js';
import { readProcfile } from '../../buildpack/classic/process-files.js';
import { dropletImage } from '../../droplet/droplet-image.js';
import { APP_DIR } from '../../droplet/layout.js';
import { LANG_DEFAULT_SH } from '../../droplet/launcher.js';
import { resolveStack } from '../../droplet/stack-run-image.js';
import { stagingInfoText } from '../../droplet/staging-info.js';
import type { TarEntry } from '../../layer/entry.js';
import { overlayUpperEntries } from '../../layer/overlay.js';
import { defaultMtime } from '../../layer/tree-walk.js';
import type { Digest } from '../../oci/digest.js';
import { parseLocalName } from '../../oci/reference.js';
import { parseTransport } from '../../oci/transport.js';
import { ContainerRuntime } from '../../runtime/containers.js';
import { BuildSession, ROOT_BUILD_CAPABILITIES } from '../../sandbox/build-session.js';
import { BuildVolume } from '../../sandbox/build-volume.js';
import { ConfinedDir } from '../../fs/confined-dir.js';
import { resolveLimits, type SandboxLimits } from '../../sandbox/limits.js';
import type { BuildNetwork } from '../../sandbox/network.js';
import { LayerOutput, type KnownLayer } from '../layer-output.js';
import type { Image } from '../../image/types.js';
import type { LocalStore } from '../../store/local-store.js';
import { readLocal } from '../../transport/local.js';
import { copyAppSource } from '../app-source.js';
import { DEFAULT_EXCLUDES, excludedBy } from './full-fs-excludes.js';
import { attachBuildSbom, type BuildSbom } from '../../vuln/inventory.js';
import { userEnv } from './staging-env.js';

export interface FullFsOptions {
  /** The app source directory. */
  path: string;
  /** NAME[:TAG] in the local store. */
  image: string;
  /** A buildpack directory whose bin/compile runs as root: compile /home/vcap/app /tmp/cache /tmp/env. */
  buildpack: string;
  stack?: string;
  /** The image staging runs in and the result sits on (default: the stack's run image, so the result stays small). */
  stagingImage?: string;
  env?: string[];
  /** More paths to leave out of the delta (the buildpack's manifest.yml full_filesystem.excludes are added). */
  excludes?: string[];
  created?: number;
  output?: (text: string) => void;
  /** The build's network: `outbound` (default) or `none`. */
  network?: BuildNetwork;
  /** The sandbox's limits (defaults: DEFAULT_LIMITS). */
  limits?: Partial<SandboxLimits>;
  /** Attach an SBOM to the image and record its inventory for scans (default true). */
  sbom?: boolean;
}

export interface FullFsReport {
  repository: string;
  tag: string;
  digest: Digest;
  /** The delta layer. */
  layer: { diffId: Digest; digest: Digest; size: number };
  /** Paths in the delta (whiteouts as .wh. names), sorted. */
  paths: string[];
  processTypes: Record<string, string>;
  /** The SBOM attached to the image (unless `sbom: false`). */
  sbom?: BuildSbom;
}

/** The buildpack's opt-in: manifest.yml `full_filesystem: true` or `{excludes: [...]}`; undefined when it does not opt in. */
export function fullFsOptIn(buildpackDir: string): { excludes: string[] } | undefined {
  const file = join(buildpackDir, 'manifest.yml');
  if (!existsSync(file)) return undefined;
  const parsed = parseYaml(readFileSync(file, 'utf8')) as {
    full_filesystem?: boolean | { excludes?: string[] };
  } | null;
  const v = parsed?.full_filesystem;
  if (v === true) return { excludes: [] };
  if (v && typeof v === 'object') return { excludes: (v.excludes ?? []).filter((x) => typeof x === 'string') };
  return undefined;
}

/**
 * Full-filesystem staging: the buildpack's bin/compile runs as root in a container
 * whose root filesystem is an overlay over the staging image, with the app at
 * /home/vcap/app; it may apt-get install anything and write anywhere. The overlay's
 * upper directory (the whole-filesystem delta, deletions as whiteouts, excludes left
 * out) becomes one layer on top of the staging image, then the CF launcher. The
 * image is labelled io.buildpacks.rebasable=false: the delta was made against that
 * exact base (dpkg's status, libraries), so a rebase must be forced.
 *
 * @example
 *   await stageFullFs(store, { path: 'examples/fullfs-gmp', image: 'apps/gmp', buildpack: 'examples/fullfs-gmp/buildpack' });
 */
export async function stageFullFs(store: LocalStore, options: FullFsOptions): Promise<FullFsReport> {
  const output = options.output ?? (() => undefined);
  const { name: repository, tag = 'latest' } = parseLocalName(options.image);
  const stack = await resolveStack(store, options.stack);
  const bpDir = resolve(options.buildpack);
  if (!existsSync(join(bpDir, 'bin', 'compile')))
    throw new ClassicStageError(
      ClassicExit.Compile,
      `full-filesystem buildpack ${options.buildpack} has no bin/compile`,
    );
  const exclude = excludedBy([
    ...DEFAULT_EXCLUDES,
    ...(fullFsOptIn(bpDir)?.excludes ?? []),
    ...(options.excludes ?? []),
  ]);
  const limits = resolveLimits(options.limits);
  const volume = await BuildVolume.open(store.home, `fullfs:${repository}`, limits.diskBytes);
  const root = mkdtempSync(join(volume.mountPoint, 'fullfs-'));
  const runtime = ContainerRuntime.open(store.home);
  let session: BuildSession | undefined;
  try {
    const envDir = join(root, 'env');
    mkdirSync(envDir);
    for (const [k, v] of userEnv(options.env ?? [])) writeFileSync(join(envDir, k), v);
    // The app as every build takes it (no store, nothing the ignore files name), copied in the container from here.
    const src = join(root, 'src');
    mkdirSync(src);
    await copyAppSource(options.path, src, { skip: [store.home, root] });
    const { uid, gid } = stack.user;
    const script = [
      'set -e',
      LANG_DEFAULT_SH,
      `mkdir -p ${APP_DIR} /tmp/cache`,
      `cp -a /tmp/src/. ${APP_DIR}/`,
      `/tmp/buildpack/bin/compile ${APP_DIR} /tmp/cache /tmp/env`,
      `chown -R ${uid}:${gid} /home/vcap`,
    ].join('\n');
    const ref = options.stagingImage ?? `${stack.name}/run@${stack.run}`;
    const caFile = process.env['SSL_CERT_FILE'] ?? '/etc/ssl/certs/ca-certificates.crt';
    // Root in the container, with only the capabilities apt and dpkg need (no raw sockets, no mknod, no admin).
    session = await BuildSession.start(runtime, {
      image: { ref: parseTransport(ref), label: ref, store: async () => store },
      user: { uid: 0, gid: 0 },
      capabilities: ROOT_BUILD_CAPABILITIES,
      controlDir: join(root, 'control'),
      network: options.network ?? 'outbound',
      limits,
      volume,
      binds: [
        { source: src, destination: '/tmp/src', readonly: true },
        { source: bpDir, destination: '/tmp/buildpack', readonly: true },
        { source: envDir, destination: '/tmp/env', readonly: true },
        ...(existsSync(caFile)
          ? [{ source: resolve(caFile), destination: '/etc/ssl/certs/ca-certificates.crt', readonly: true }]
          : []),
      ],
    });
    const env = [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'DEBIAN_FRONTEND=noninteractive',
      // A CF_STACK the user gives wins (a duplicate would leave getenv with the first).
      ...((options.env ?? []).some((kv) => kv.startsWith('CF_STACK=')) ? [] : [`CF_STACK=${stack.name}`]),
      ...(options.env ?? []),
    ];
    const r = await session.exec({ argv: ['/bin/sh', '-c', script], env, cwd: '/' }, output);
    const upper = session.upperDir;
    await session.stop();
    session = undefined;
    if (r.exitCode !== 0) {
      const tail = r.output.trimEnd().split('\n').slice(-5).join('\n');
      throw new ClassicStageError(
        ClassicExit.Compile,
        `Failed to compile droplet: full-filesystem compile exited ${r.exitCode}${tail ? `:\n${tail}` : ''}`,
        { buildpack: options.buildpack },
      );
    }

    const created = options.created ?? defaultMtime();
    // Bind mount points runc made (/tmp/src, the CA file) are excluded with /tmp and /etc/ssl/certs/ca-certificates.crt.
    const skip = excludedBy(['etc/ssl/certs/ca-certificates.crt']);
    const paths: string[] = [];
    const delta = async function* (): AsyncGenerator<TarEntry> {
      for await (const e of overlayUpperEntries(upper, {
        mtime: created,
        owner: { kind: 'keep' },
        beneath: volume.mountPoint,
      })) {
        if (exclude(e.path) || skip(e.path)) continue;
        yield e;
      }
    };
    const infoDir = join(root, 'info');
    mkdirSync(infoDir);
    const processTypes = ConfinedDir.with(upper, (tree) => readProcfile(tree, `${APP_DIR.slice(1)}/Procfile`));
    writeFileSync(
      join(infoDir, 'staging_info.yml'),
      stagingInfoText({ detected_buildpack: options.buildpack, start_command: processTypes['web'] ?? '' }),
    );
    const built = await store.withLease(async (lease) => {
      const r = await dropletImage(new LayerOutput(lease, new Map<Digest, KnownLayer>()), {
        dir: infoDir,
        delta,
        runImage: await stagingBase(store, ref, stack.runImage),
        stack: { name: stack.name, run: stack.run },
        user: stack.user,
        processTypes,
        created,
        buildpacks: [{ key: options.buildpack, name: 'full-filesystem' }],
        labels: { 'io.buildpacks.rebasable': 'false', 'io.slipway.full-filesystem': 'true' },
      });
      await lease.putBytes(await r.image.rawConfig());
      await store.putManifest(repository, await r.image.rawManifest(), await r.image.mediaType(), [tag], lease);
      return r;
    });
    for await (const e of delta()) paths.push(e.path);
    const layer = built.layers.find((l) => l.name === 'filesystem')!;
    const digest = await built.image.digest();
    const sbom = options.sbom === false ? undefined : await attachBuildSbom(store, repository, digest);
    return {
      repository,
      tag,
      digest,
      ...(sbom ? { sbom } : {}),
      layer: { diffId: layer.diffId, digest: layer.digest, size: layer.size },
      paths,
      processTypes,
    };
  } finally {
    if (session) await session.stop().catch(() => undefined);
    runtime.close();
    rmSync(root, { recursive: true, force: true });
    await volume.close();
  }
}

/** The staging image as an Image: the stack's run image, or another local image given by name. */
async function stagingBase(store: LocalStore, ref: string, runImage: Image): Promise<Image> {
  if (ref.includes('/run@')) return runImage;
  const { name, tag, digest } = parseLocalName(ref);
  const { artifact } = await readLocal(store, name, digest ?? tag ?? 'latest');
  if (artifact.kind !== 'image') throw new ClassicStageError(ClassicExit.Other, `staging image ${ref} is an index`);
  return artifact.image;
}
