import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { ClassicExit, ClassicStageError } from '../buildpack/cfv2/classic-error.js';
import { readProcfile } from '../buildpack/cfv2/process-files.js';
import { dropletImage } from '../droplet/droplet-image.js';
import { APP_DIR } from '../droplet/layout.js';
import { resolveStack } from '../droplet/stack-run-image.js';
import { stagingInfoText } from '../droplet/staging-info.js';
import type { TarEntry } from '../layer/entry.js';
import { overlayUpperEntries } from '../layer/overlay.js';
import { defaultMtime } from '../layer/tree-walk.js';
import type { Digest } from '../oci/digest.js';
import { parseLocalName } from '../oci/reference.js';
import { parseTransport } from '../oci/transport.js';
import { ContainerRuntime } from '../runtime/containers.js';
import { LayerOutput, type KnownLayer } from '../stage/layer-output.js';
import type { Image } from '../image/types.js';
import type { LocalStore } from '../store/local-store.js';
import { readLocal } from '../transport/local.js';
import { DEFAULT_EXCLUDES, excludedBy } from './full-fs-excludes.js';
import { userEnv } from './staging-env.js';

/** Docker's default capabilities for root: what apt-get and dpkg need (chown, setuid to _apt, ...). */
const ROOT_CAPABILITIES = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_SYS_CHROOT'];

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
}

/** The buildpack's opt-in: manifest.yml `full_filesystem: true` or `{excludes: [...]}`; undefined when it does not opt in. */
export function fullFsOptIn(buildpackDir: string): { excludes: string[] } | undefined {
  const file = join(buildpackDir, 'manifest.yml');
  if (!existsSync(file)) return undefined;
  const parsed = parseYaml(readFileSync(file, 'utf8')) as { full_filesystem?: boolean | { excludes?: string[] } } | null;
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
  if (!existsSync(join(bpDir, 'bin', 'compile'))) throw new ClassicStageError(ClassicExit.Compile, `full-filesystem buildpack ${options.buildpack} has no bin/compile`);
  const exclude = excludedBy([...DEFAULT_EXCLUDES, ...(fullFsOptIn(bpDir)?.excludes ?? []), ...(options.excludes ?? [])]);
  const tmp = process.env['SLIPWAY_BUILD_TMPDIR'] ?? join(store.home, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const root = mkdtempSync(join(tmp, 'fullfs-'));
  const runtime = ContainerRuntime.open(store.home);
  const name = `slipway-fullfs-${randomBytes(4).toString('hex')}`;
  let started = false;
  try {
    const envDir = join(root, 'env');
    mkdirSync(envDir);
    for (const [k, v] of userEnv(options.env ?? [])) writeFileSync(join(envDir, k), v);
    const { uid, gid } = stack.user;
    const script = [
      'set -e',
      `mkdir -p ${APP_DIR} /tmp/cache`,
      `cp -a /tmp/src/. ${APP_DIR}/`,
      `/tmp/buildpack/bin/compile ${APP_DIR} /tmp/cache /tmp/env`,
      `chown -R ${uid}:${gid} /home/vcap`,
    ].join('\n');
    const ref = options.stagingImage ?? `${stack.name}/run@${stack.run}`;
    const caFile = process.env['SSL_CERT_FILE'] ?? '/etc/ssl/certs/ca-certificates.crt';
    started = true;
    const logFile = join(root, 'log');
    const fd = openSync(logFile, 'w');
    let exitCode: number | null | undefined;
    let log = '';
    try {
      const r = await runtime.run({ ref: parseTransport(ref), label: ref, store: async () => store }, {
        name, user: '0:0', entrypoint: '', capAdd: ROOT_CAPABILITIES, args: ['/bin/sh', '-c', script], network: 'host', remove: false,
        env: ['DEBIAN_FRONTEND=noninteractive', `CF_STACK=${stack.name}`, 'LANG=en_US.UTF-8', ...(options.env ?? [])],
        binds: [
          { source: resolve(options.path), destination: '/tmp/src', readonly: true },
          { source: bpDir, destination: '/tmp/buildpack', readonly: true },
          { source: envDir, destination: '/tmp/env', readonly: true },
          ...(existsSync(caFile) ? [{ source: resolve(caFile), destination: '/etc/ssl/certs/ca-certificates.crt', readonly: true }] : []),
        ],
      }, { stdio: ['ignore', fd, fd] });
      exitCode = r.exitCode;
    } finally {
      closeSync(fd);
      log = readFileSync(logFile, 'utf8');
      output(log);
    }
    if (exitCode !== 0) {
      const tail = log.trimEnd().split('\n').slice(-5).join('\n');
      throw new ClassicStageError(ClassicExit.Compile, `Failed to compile droplet: full-filesystem compile exited ${exitCode}${tail ? `:\n${tail}` : ''}`, { buildpack: options.buildpack });
    }

    const upper = join(runtime.paths.container(name), 'upper');
    const created = options.created ?? defaultMtime();
    // Bind mount points runc made (/tmp/src, the CA file) are excluded with /tmp and /etc/ssl/certs/ca-certificates.crt.
    const skip = excludedBy(['etc/ssl/certs/ca-certificates.crt']);
    const paths: string[] = [];
    const delta = async function* (): AsyncGenerator<TarEntry> {
      for await (const e of overlayUpperEntries(upper, { mtime: created, owner: { kind: 'keep' } })) {
        if (exclude(e.path) || skip(e.path)) continue;
        yield e;
      }
    };
    const infoDir = join(root, 'info');
    mkdirSync(infoDir);
    const processTypes = readProcfile(join(upper, APP_DIR.slice(1), 'Procfile'));
    writeFileSync(join(infoDir, 'staging_info.yml'), stagingInfoText({ detected_buildpack: options.buildpack, start_command: processTypes['web'] ?? '' }));
    const built = await store.withLease(async (lease) => {
      const r = await dropletImage(new LayerOutput(lease, new Map<Digest, KnownLayer>()), {
        dir: infoDir, delta, runImage: await stagingBase(store, ref, stack.runImage), stack: { name: stack.name, run: stack.run }, user: stack.user,
        processTypes, created, buildpacks: [{ key: options.buildpack, name: 'full-filesystem' }],
        labels: { 'io.buildpacks.rebasable': 'false', 'io.slipway.full-filesystem': 'true' },
      });
      await lease.putBytes(await r.image.rawConfig());
      await store.putManifest(repository, await r.image.rawManifest(), await r.image.mediaType(), [tag], lease);
      return r;
    });
    for await (const e of delta()) paths.push(e.path);
    const layer = built.layers.find((l) => l.name === 'filesystem')!;
    return { repository, tag, digest: await built.image.digest(), layer: { diffId: layer.diffId, digest: layer.digest, size: layer.size }, paths, processTypes };
  } finally {
    if (started) await runtime.remove(name, { force: true }).catch(() => undefined);
    runtime.close();
    rmSync(root, { recursive: true, force: true });
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
