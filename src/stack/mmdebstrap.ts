import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { SlipwayError } from '../errors.js';
import { silentProgress, type Progress } from '../progress.js';
import type { StackUser } from './request.js';

/**
 * Runs Debian's mmdebstrap to make a root filesystem directory. Root mode, minbase,
 * documentation and man pages left out (copyright files kept), the stack user
 * added, and the two files mmdebstrap copies from the host (resolv.conf, hostname)
 * made host-independent, so the same mirror state gives the same tree.
 */
export interface MmdebstrapOptions {
  suite: string;
  mirror: string;
  /** Packages beyond minbase. */
  include: string[];
  user: StackUser;
  /** An empty (or absent) directory to bootstrap into. */
  target: string;
  /** Seconds since the epoch for SOURCE_DATE_EPOCH. */
  sourceDateEpoch: number;
  /** Shown before each step mmdebstrap reports ("run image", "build image"). */
  label?: string;
  progress?: Progress;
  signal?: AbortSignal;
}

/** Paths dpkg does not install, as debian:*-slim leaves them out: what a container image needs least. */
const DPKG_EXCLUDES = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/groff/*',
  'path-exclude=/usr/share/lintian/*',
  'path-exclude=/usr/share/linda/*',
  'path-exclude=/usr/share/locale/*',
  'path-include=/usr/share/locale/locale.alias',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
];

/**
 * mmdebstrap's hook that merges /usr up front and installs usr-is-merged, where the
 * suite has it (bookworm on). Without it apt satisfies init-system-helpers with
 * `usrmerge`, which pulls in the whole of perl (~50 MB) for a one-time conversion.
 */
const MERGED_USR_HOOK = '/usr/share/mmdebstrap/hooks/maybe-merged-usr';

/** The arguments for one bootstrap (exported for tests and for the cache key). */
export function mmdebstrapArgs(
  o: Pick<MmdebstrapOptions, 'suite' | 'mirror' | 'include' | 'user' | 'target'>,
): string[] {
  const { name, uid, gid } = o.user;
  return [
    '--variant=minbase',
    '--mode=root',
    '--format=directory',
    ...(existsSync(MERGED_USR_HOOK) ? [`--hook-dir=${MERGED_USR_HOOK}`] : []),
    ...(o.include.length ? [`--include=${o.include.join(',')}`] : []),
    ...DPKG_EXCLUDES.map((e) => `--dpkgopt=${e}`),
    // The user buildpacks and apps run as (names and numbers are checked in request.ts).
    `--customize-hook=chroot "$1" sh -c 'getent group ${gid} >/dev/null || groupadd --gid ${gid} ${name}; useradd --no-log-init --uid ${uid} --gid ${gid} --create-home --shell /bin/bash ${name}'`,
    // Container runtimes mount their own; the host's must not end up in the image.
    `--customize-hook=: > "$1/etc/resolv.conf"`,
    `--customize-hook=echo localhost > "$1/etc/hostname"`,
    o.suite,
    o.target,
    o.mirror,
  ];
}

/** mmdebstrap's info lines not worth showing as progress. */
const NOISE =
  /^(using |main\(\) received|running --customize-hook|chroot architecture|finding correct signed-by|automatically chosen)/;

/** Runs mmdebstrap; throws PACKAGE_UNKNOWN, SUITE_UNKNOWN, MIRROR_UNREACHABLE, TOOL_MISSING or TOOL_FAILED. */
export async function runMmdebstrap(o: MmdebstrapOptions): Promise<void> {
  const progress = o.progress ?? silentProgress;
  const label = o.label ?? 'mmdebstrap';
  const env = {
    ...process.env,
    SOURCE_DATE_EPOCH: String(o.sourceDateEpoch),
    LC_ALL: 'C.UTF-8',
    DEBIAN_FRONTEND: 'noninteractive',
  };
  const child = spawn('mmdebstrap', mmdebstrapArgs(o), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  // SIGTERM, never SIGKILL: mmdebstrap unmounts /proc, /sys and /dev/pts of the chroot on TERM.
  // It finishes the step in progress first (measured: ~80 s into a bootstrap), so a stop
  // saves no time, but leaves nothing mounted or half-written behind.
  const abort = () => child.kill('SIGTERM');
  o.signal?.addEventListener('abort', abort, { once: true });
  const lines: string[] = [];
  let partial = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    const parts = (partial + text).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      if (lines.length > 400) lines.shift();
      const info = /^I: (.*?)\.*$/.exec(line);
      if (info && !NOISE.test(info[1]!)) progress.log(`${label}: ${info[1]}`);
    }
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (err) => {
      reject(
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? new SlipwayError(
              'TOOL_MISSING',
              'mmdebstrap is not installed: apt-get install mmdebstrap (or make the stack --from-rootfs / --from-image)',
              { cause: err },
            )
          : err,
      );
    });
    child.once('close', (c) => resolve(c));
  }).finally(() => o.signal?.removeEventListener('abort', abort));
  if (partial) lines.push(partial);
  if (code === 0) return;
  if (o.signal?.aborted)
    throw new SlipwayError('TOOL_FAILED', `${label}: mmdebstrap was stopped`, { detail: { aborted: true } });
  throw mmdebstrapError(lines, o, code);
}

/** Turns mmdebstrap's (apt's) messages into the error that says what to fix. */
export function mmdebstrapError(
  lines: string[],
  o: Pick<MmdebstrapOptions, 'suite' | 'mirror' | 'label'>,
  code: number | null,
): SlipwayError {
  const missing = new Set<string>();
  for (const line of lines) {
    const m =
      /^E: Unable to locate package (\S+)/.exec(line) ??
      /^E: Package '([^']+)' has no installation candidate/.exec(line);
    if (m) missing.add(m[1]!);
  }
  if (missing.size) return packageUnknown([...missing], o.suite, o.mirror);
  const text = lines.join('\n');
  if (/does not have a Release file/.test(text)) {
    return new SlipwayError(
      'SUITE_UNKNOWN',
      `Debian suite "${o.suite}" does not exist on ${o.mirror}: use a suite such as bookworm or trixie`,
      { detail: { suite: o.suite, mirror: o.mirror } },
    );
  }
  if (/Could not (connect|resolve)|Failed to fetch|Temporary failure resolving/.test(text)) {
    return new SlipwayError(
      'MIRROR_UNREACHABLE',
      `cannot download from the Debian mirror ${o.mirror}: check the --mirror URL and the network`,
      { detail: { mirror: o.mirror } },
    );
  }
  const errors = lines
    .filter((l) => l.startsWith('E: '))
    .slice(-5)
    .join('\n  ');
  return new SlipwayError(
    'TOOL_FAILED',
    `${o.label ?? 'mmdebstrap'}: mmdebstrap exited with ${code}${errors ? `:\n  ${errors}` : ''}`,
    { detail: { exitCode: code, log: lines.slice(-40) } },
  );
}

export function packageUnknown(names: string[], suite: string, mirror: string): SlipwayError {
  const list = names.map((n) => `"${n}"`).join(', ');
  return new SlipwayError(
    'PACKAGE_UNKNOWN',
    `no package ${list} in Debian ${suite} (main) on ${mirror}: check the spelling (apt-cache search NAME) or drop it from --run-packages / --build-packages`,
    {
      detail: { packages: names, suite, mirror },
    },
  );
}

/** mmdebstrap's version ("1.3.5"), part of the cache key: another version may build another tree. */
export async function mmdebstrapVersion(): Promise<string> {
  const child = spawn('mmdebstrap', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (t: string) => (out += t));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (err) =>
      reject(
        new SlipwayError(
          'TOOL_MISSING',
          'mmdebstrap is not installed: apt-get install mmdebstrap (or make the stack --from-rootfs / --from-image)',
          { cause: err },
        ),
      ),
    );
    child.once('close', resolve);
  });
  if (code !== 0) throw new SlipwayError('TOOL_FAILED', `mmdebstrap --version exited with ${code}`);
  return out.trim().replace(/^mmdebstrap\s+/, '');
}

/** Mount points at or under `dir` (a bootstrap stopped hard may leave /proc or /sys mounted). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  return text
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}
