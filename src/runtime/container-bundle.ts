import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SlipwayError } from '../errors.js';
import type { ImagePlan } from './image-plan.js';
import { resolveUser } from './image-user.js';
import { mountOverlay } from './overlay-mount.js';
import { processCommand } from './process-command.js';
import { lookupInRoot } from './root-file.js';
import { checkEnv, mergeEnv, type RunOptions } from './run-options.js';
import { runtimeSpec, type BindMount, type RuntimeSpec } from './runtime-spec.js';
import { findExecutable } from './runc.js';

/** Where the init is bind-mounted: below /dev, runc's tmpfs, so the image's own tree is never touched. */
export const INIT_PATH = '/dev/init';
/** Statically linked inits a container can run whatever its image holds, in the order they are looked for. */
const INIT_BINARIES = ['catatonit', '/usr/libexec/podman/catatonit', 'tini-static'];

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Host files a container on the host network sees, as docker and podman give them. */
const HOST_NETWORK_FILES = ['/etc/resolv.conf', '/etc/hosts'];

/**
 * Makes a container's OCI bundle in `dir`: the overlay root filesystem over the
 * cached layer directories, then config.json from the image config and the run
 * options (user and group resolved in the image's own /etc/passwd and /etc/group).
 */
export async function writeBundle(
  dir: string,
  plan: ImagePlan,
  layerDirs: readonly string[],
  name: string,
  options: RunOptions,
): Promise<RuntimeSpec> {
  // A container removed at exit keeps nothing: its upper directory need never reach the disk.
  const { rootfs } = await mountOverlay(dir, layerDirs, {
    volatile: (options.remove ?? false) && !options.detach,
    ...(options.scratchDir !== undefined ? { scratchDir: options.scratchDir } : {}),
  });
  const config = plan.config;
  // Resolved in the image's root only: a link to a host path, or a loop, never reaches the host.
  const exists = (path: string) => lookupInRoot(rootfs, path).stat !== undefined;
  const command = processCommand(
    config,
    { processType: options.processType, entrypoint: options.entrypoint, args: options.args },
    exists,
  );
  const user = resolveUser(rootfs, options.user ?? config.User);
  const cwd = workdirInRoot(rootfs, options.workdir ?? (config.WorkingDir || '/'));
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
    for (const f of HOST_NETWORK_FILES)
      if (existsSync(f) && exists(f)) binds.push({ source: f, destination: f, readonly: true });
  }
  // A command the image cannot run gets no init: runc then reports it, with docker's 127 or 126.
  const init = (options.init ?? false) && runnable(rootfs, command.args[0] ?? '', env, cwd);
  if (init) binds.push({ source: findInit(), destination: INIT_PATH, readonly: true });
  for (const b of options.binds ?? []) {
    if (!existsSync(b.source))
      throw new SlipwayError('NOT_FOUND', `volume source ${b.source} does not exist on this host`, {
        detail: { source: b.source },
      });
    binds.push(b);
  }
  const spec = runtimeSpec({
    // catatonit forwards every signal to its child and exits with its status (128+N when signal N ended it).
    args: init ? [INIT_PATH, '--', ...command.args] : command.args,
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
    ...(options.capabilities ? { capabilities: options.capabilities } : {}),
    ...(options.seccomp ? { seccomp: options.seccomp } : {}),
    ...(options.pidsLimit !== undefined ? { pidsLimit: options.pidsLimit } : {}),
    cgroupsPath: `slipway/${name}`,
    annotations: { 'org.opencontainers.image.ref.name': name, 'io.slipway.image.digest': plan.digest },
  });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(spec, null, 2)}\n`);
  return spec;
}

/** True when `arg0` names an executable file of the image, found as execvp would (PATH of `env`, or relative to `cwd`). */
function runnable(rootfs: string, arg0: string, env: readonly string[], cwd: string): boolean {
  if (arg0 === '') return false;
  const path = env.findLast((kv) => kv.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH.slice(5);
  const candidates = arg0.includes('/')
    ? [arg0.startsWith('/') ? arg0 : `${cwd}/${arg0}`]
    : path.split(':').map((dir) => `${dir || '.'}/${arg0}`);
  return candidates.some((c) => {
    try {
      const stat = lookupInRoot(rootfs, c.startsWith('/') ? c : `${cwd}/${c}`).stat;
      return stat?.isFile() === true && (stat.mode & 0o111) !== 0;
    } catch {
      return false;
    }
  });
}

/** The host's static init binary; TOOL_MISSING saying what to install, or to run without one. */
function findInit(): string {
  for (const name of INIT_BINARIES) {
    const found = findExecutable(name);
    if (found !== undefined) return found;
  }
  throw new SlipwayError(
    'TOOL_MISSING',
    'the container init catatonit is not installed; install it with: apt-get install -y catatonit (or run with --no-init)',
    { detail: { tool: 'catatonit' } },
  );
}

/**
 * The working directory as a path of the image's root with its symlinks resolved there
 * (what the kernel's getcwd shows anyway). A missing one is left for runc to make: runc
 * 1.1 creates `process.cwd` after pivot_root, so inside the container's root (before a
 * read-only remount), and on the resolved path it meets no link, not even a dangling
 * one. The host makes nothing for it: a WorkingDir climbing ".." through a symlink loop
 * once made the host create a directory of its own. A loop or a file there is an error
 * naming the directory.
 */
function workdirInRoot(rootfs: string, cwd: string): string {
  if (!cwd.startsWith('/'))
    throw new SlipwayError('INVALID_ARGUMENT', `the working directory "${cwd}" must be absolute`);
  const found = lookupInRoot(rootfs, cwd);
  if (found.stat && !found.stat.isDirectory())
    throw new SlipwayError('INVALID_ARGUMENT', `the working directory ${cwd} is not a directory in the image`, {
      detail: { workdir: cwd },
    });
  return `/${found.rel}`;
}
