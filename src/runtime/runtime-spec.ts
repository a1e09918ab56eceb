import type { ProcessUser } from './image-user.js';

/**
 * The OCI runtime spec (config.json) of a container, as runc reads it
 * (runtime-spec v1.0.2). Defaults are exactly what `runc spec` writes (mounts, masked
 * and read-only paths, capabilities, namespaces, device rules), except that no rlimits
 * are set (raising them is not allowed everywhere, and the host's are a sound default)
 * and the process has no terminal (its stdio is the caller's).
 */
export interface RuntimeSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'permitted' | 'ambient', string[]>;
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: SpecMount[];
  linux: {
    cgroupsPath?: string;
    resources: {
      devices: { allow: boolean; access: string }[];
      memory?: { limit: number; swap?: number };
      cpu?: { quota: number; period: number };
      pids?: { limit: number };
    };
    seccomp?: Seccomp;
    namespaces: { type: string }[];
    maskedPaths: string[];
    readonlyPaths: string[];
  };
  annotations?: Record<string, string>;
}

/** linux.seccomp of the runtime spec (what runc hands to libseccomp). */
export interface Seccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: SeccompRule[];
}

export interface SeccompRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[];
}

export interface SpecMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export interface BindMount {
  /** Host path. */
  source: string;
  /** Path in the container. */
  destination: string;
  readonly: boolean;
}

export interface SpecOptions {
  /** Capabilities added to DEFAULT_CAPABILITIES. */
  capAdd?: readonly string[];
  /** The exact capability set, instead of DEFAULT_CAPABILITIES plus capAdd (sandboxed builds: none, or what apt needs). */
  capabilities?: readonly string[];
  /** A seccomp filter (none by default, as `runc spec`). */
  seccomp?: Seccomp;
  /** Most processes (and threads) the container may have at once. */
  pidsLimit?: number;
  args: string[];
  env: string[];
  cwd: string;
  user: ProcessUser;
  hostname: string;
  /** 'host' shares the host's network namespace; 'none' gives the container its own, empty one. */
  network: 'host' | 'none';
  readonlyRootfs?: boolean;
  binds?: BindMount[];
  /** Container paths that get an empty tmpfs (e.g. /tmp). */
  tmpfs?: string[];
  /** Memory limit in bytes. */
  memoryBytes?: number;
  /** CPU limit in CPUs (e.g. 0.5). */
  cpus?: number;
  /** The container's cgroup, relative to the runtime's own. */
  cgroupsPath?: string;
  annotations?: Record<string, string>;
}

/** `runc spec`'s capability set: what an unprivileged container process keeps. */
export const DEFAULT_CAPABILITIES: readonly string[] = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/** `runc spec`'s mounts, in its order. */
export const DEFAULT_MOUNTS: readonly SpecMount[] = [
  { destination: '/proc', type: 'proc', source: 'proc' },
  {
    destination: '/dev',
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
  },
  {
    destination: '/dev/pts',
    type: 'devpts',
    source: 'devpts',
    options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
  },
  {
    destination: '/dev/shm',
    type: 'tmpfs',
    source: 'shm',
    options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
  },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  {
    destination: '/sys/fs/cgroup',
    type: 'cgroup',
    source: 'cgroup',
    options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
  },
];

export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/proc/scsi',
];

export const DEFAULT_READONLY_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

const CPU_PERIOD_US = 100_000;

/**
 * Builds config.json for a bundle whose root filesystem is `<bundle>/rootfs`.
 *
 * @example
 * const spec = runtimeSpec({ args: ['cat', '/etc/debian_version'], env: ['PATH=/usr/bin:/bin'], cwd: '/',
 *   user: { uid: 0, gid: 0, additionalGids: [] }, hostname: 'web-1', network: 'host' });
 * writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
 */
export function runtimeSpec(o: SpecOptions): RuntimeSpec {
  const caps = [...new Set(o.capabilities ?? [...DEFAULT_CAPABILITIES, ...(o.capAdd ?? [])])];
  const user: RuntimeSpec['process']['user'] = { uid: o.user.uid, gid: o.user.gid };
  if (o.user.additionalGids.length > 0) user.additionalGids = [...o.user.additionalGids];
  const namespaces = ['pid', ...(o.network === 'none' ? ['network'] : []), 'ipc', 'uts', 'mount'].map((type) => ({
    type,
  }));
  const spec: RuntimeSpec = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user,
      args: [...o.args],
      env: [...o.env],
      cwd: o.cwd,
      capabilities: { bounding: caps, effective: [...caps], permitted: [...caps], ambient: [...caps] },
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: o.readonlyRootfs ?? false },
    hostname: o.hostname,
    mounts: [
      ...DEFAULT_MOUNTS.map((m) => ({ ...m, ...(m.options ? { options: [...m.options] } : {}) })),
      ...extraMounts(o),
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces,
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  if (o.cgroupsPath !== undefined) spec.linux.cgroupsPath = o.cgroupsPath;
  if (o.memoryBytes !== undefined) spec.linux.resources.memory = { limit: o.memoryBytes, swap: o.memoryBytes };
  if (o.pidsLimit !== undefined) spec.linux.resources.pids = { limit: o.pidsLimit };
  if (o.seccomp) spec.linux.seccomp = o.seccomp;
  if (o.cpus !== undefined)
    spec.linux.resources.cpu = { quota: Math.max(1000, Math.round(o.cpus * CPU_PERIOD_US)), period: CPU_PERIOD_US };
  if (o.annotations) spec.annotations = { ...o.annotations };
  return spec;
}

function extraMounts(o: SpecOptions): SpecMount[] {
  const out: SpecMount[] = [];
  for (const dest of o.tmpfs ?? []) {
    out.push({ destination: dest, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] });
  }
  for (const b of o.binds ?? []) {
    out.push({
      destination: b.destination,
      type: 'bind',
      source: b.source,
      options: ['rbind', 'rprivate', b.readonly ? 'ro' : 'rw'],
    });
  }
  return out;
}
