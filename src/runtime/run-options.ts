import { isAbsolute, resolve } from 'node:path';
import { SlipwayError } from '../errors.js';
import type { BindMount, Seccomp } from './runtime-spec.js';

/** How to run an image: everything `slipway run` takes besides the image. */
export interface RunOptions {
  /** The container's name (default: generated from the image name). */
  name?: string;
  /** A buildpack process type to run (`--process`). */
  processType?: string;
  /** Replaces the image's entrypoint, as docker's --entrypoint. */
  entrypoint?: string;
  /** The command after `--`. */
  args?: string[];
  /** KEY=VALUE pairs added to (or replacing in) the image's environment. */
  env?: string[];
  /** Sets PORT for the app (which listens on the host network). */
  port?: number;
  /** Bind mounts from the host. */
  binds?: BindMount[];
  /** 'host' (default) shares the host's network; 'none' isolates the container. */
  network?: 'host' | 'none';
  hostname?: string;
  /** Mount the root filesystem read-only. */
  readOnly?: boolean;
  /** Container paths to mount an empty tmpfs on (e.g. /tmp). */
  tmpfs?: string[];
  /** Memory limit in bytes. */
  memoryBytes?: number;
  /** CPU limit, in CPUs. */
  cpus?: number;
  /** Overrides the image's User. */
  user?: string;
  /** Capabilities added to runc's default set, as docker's --cap-add (full-filesystem staging as root needs CAP_CHOWN, ...). */
  capAdd?: string[];
  /** The exact capability set (replaces runc's default and capAdd): sandboxed builds. */
  capabilities?: readonly string[];
  /** A seccomp filter for the container's processes. */
  seccomp?: Seccomp;
  /** Most processes the container may have at once (a fork bomb stops there). */
  pidsLimit?: number;
  /**
   * Where the container's writable layer (overlay upper and work dirs) lives, instead of
   * its directory in the runtime: a sandboxed build puts it on its size-limited volume.
   */
  scratchDir?: string;
  /** Overrides the image's WorkingDir. */
  workdir?: string;
  /** Run in the background, output to the container's log. */
  detach?: boolean;
  /** Remove the container once it exited (foreground runs). */
  remove?: boolean;
  /**
   * Run a small init (catatonit) as PID 1 that forwards signals to the process and
   * reaps zombies, as `docker run --init`: without one, the app is PID 1 and the kernel
   * drops every signal it has no handler for (Node's own SIGINT handler re-raises into
   * nothing), so Ctrl-C and stop do not reach it.
   */
  init?: boolean;
}

/**
 * Parses `SRC:DST[:ro|rw]` as docker's -v does; SRC must be an existing host path
 * (made absolute), DST an absolute container path.
 *
 * @example
 * parseBind('/usr/bin/node:/usr/bin/node:ro') // { source: '/usr/bin/node', destination: '/usr/bin/node', readonly: true }
 */
export function parseBind(spec: string): BindMount {
  const parts = spec.split(':');
  let mode: string | undefined;
  if (parts.length === 3) mode = parts.pop();
  if (parts.length !== 2 || !parts[0] || !parts[1] || (mode !== undefined && mode !== 'ro' && mode !== 'rw')) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `volume "${spec}" must be SRC:DST or SRC:DST:ro (or :rw), e.g. -v ./data:/data:ro`,
      { detail: { volume: spec } },
    );
  }
  const destination = parts[1];
  if (!isAbsolute(destination)) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `volume "${spec}": the container path "${destination}" must be absolute`,
      { detail: { volume: spec } },
    );
  }
  return { source: resolve(parts[0]), destination, readonly: mode === 'ro' };
}

/** Parses a memory size: bytes, or with a k/m/g suffix (1024-based, as docker). */
export function parseMemory(value: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)b?$/i.exec(value.trim());
  if (!m) throw new SlipwayError('INVALID_ARGUMENT', `memory "${value}" must be a size such as 256m or 1g`);
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * scale);
}

/**
 * Merges environment lists: later lists replace earlier values of the same key,
 * keeping the first position of each key.
 */
export function mergeEnv(...lists: readonly (readonly string[])[]): string[] {
  const out = new Map<string, string>();
  for (const list of lists) {
    for (const kv of list) {
      const eq = kv.indexOf('=');
      const key = eq < 0 ? kv : kv.slice(0, eq);
      out.set(key, kv);
    }
  }
  return [...out.values()];
}

/** Checks KEY=VALUE (the key non-empty). */
export function checkEnv(kv: string): string {
  if (kv.indexOf('=') <= 0)
    throw new SlipwayError('INVALID_ARGUMENT', `environment "${kv}" must be KEY=VALUE`, { detail: { env: kv } });
  return kv;
}
