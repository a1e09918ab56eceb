import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SlipwayError } from '../errors.js';
import type { ImagePlan } from './image-plan.js';
import { resolveUser } from './image-user.js';
import { mountOverlay } from './overlay-mount.js';
import { processCommand } from './process-command.js';
import { resolveInRoot } from './root-file.js';
import { checkEnv, mergeEnv, type RunOptions } from './run-options.js';
import { runtimeSpec, type BindMount, type RuntimeSpec } from './runtime-spec.js';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Host files a container on the host network sees, as docker and podman give them. */
const HOST_NETWORK_FILES = ['/etc/resolv.conf', '/etc/hosts'];

/**
 * Makes a container's OCI bundle in `dir`: the overlay root filesystem over the
 * cached layer directories, then config.json from the image config and the run
 * options (user and group resolved in the image's own /etc/passwd and /etc/group).
 */
export async function writeBundle(dir: string, plan: ImagePlan, layerDirs: readonly string[], name: string, options: RunOptions): Promise<RuntimeSpec> {
  // A container removed at exit keeps nothing: its upper directory need never reach the disk.
  const { rootfs } = await mountOverlay(dir, layerDirs, { volatile: (options.remove ?? false) && !options.detach });
  const config = plan.config;
  const exists = (path: string) => existsSync(resolveInRoot(rootfs, path));
  const command = processCommand(config, { processType: options.processType, entrypoint: options.entrypoint, args: options.args }, exists);
  const user = resolveUser(rootfs, options.user ?? config.User);
  const cwd = options.workdir ?? (config.WorkingDir || '/');
  ensureWorkdir(rootfs, cwd);
  const hostname = options.hostname ?? name;
  const env = mergeEnv(
    [DEFAULT_PATH, `HOSTNAME=${hostname}`, ...(user.home ? [`HOME=${user.home}`] : ['HOME=/'])],
    config.Env ?? [],
    command.env,
    (options.env ?? []).map(checkEnv),
    options.port !== undefined ? [`PORT=${options.port}`] : [],
  );
  const network = options.network ?? 'host';
  const binds: BindMount[] = [];
  if (network === 'host') {
    for (const f of HOST_NETWORK_FILES) if (existsSync(f) && exists(f)) binds.push({ source: f, destination: f, readonly: true });
  }
  for (const b of options.binds ?? []) {
    if (!existsSync(b.source)) throw new SlipwayError('NOT_FOUND', `volume source ${b.source} does not exist on this host`, { detail: { source: b.source } });
    binds.push(b);
  }
  const spec = runtimeSpec({
    args: command.args,
    env,
    cwd,
    user,
    hostname,
    network,
    readonlyRootfs: options.readOnly ?? false,
    binds,
    tmpfs: options.tmpfs ?? [],
    ...(options.memoryBytes !== undefined ? { memoryBytes: options.memoryBytes } : {}),
    ...(options.cpus !== undefined ? { cpus: options.cpus } : {}),
    ...(options.capAdd ? { capAdd: options.capAdd } : {}),
    cgroupsPath: `slipway/${name}`,
    annotations: { 'org.opencontainers.image.ref.name': name, 'io.slipway.image.digest': plan.digest },
  });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(spec, null, 2)}\n`);
  return spec;
}

/** Creates the working directory in the container's upper layer when the image lacks it, as docker does. */
function ensureWorkdir(rootfs: string, cwd: string): void {
  if (!cwd.startsWith('/')) throw new SlipwayError('INVALID_ARGUMENT', `the working directory "${cwd}" must be absolute`);
  const host = resolveInRoot(rootfs, cwd);
  if (existsSync(host)) {
    if (!statSync(host).isDirectory()) throw new SlipwayError('INVALID_ARGUMENT', `the working directory ${cwd} is not a directory in the image`);
    return;
  }
  mkdirSync(host, { recursive: true, mode: 0o755 });
}
