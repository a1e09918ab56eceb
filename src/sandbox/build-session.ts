import type { ChildProcess } from 'node:child_process';
import { closeSync, chmodSync, mkdirSync, readSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { SlipwayError } from '../errors.js';
import type { ContainerRuntime, ImageInput } from '../runtime/index.js';
import type { BindMount } from '../runtime/runtime-spec.js';
import type { BuildVolume } from './build-volume.js';
import { CgroupWatch, type CgroupEvents } from './cgroup-events.js';
import { ConfinedDir } from '../fs/confined-dir.js';
import { LimitExceeded, formatBytes, type SandboxLimits } from './limits.js';
import { OutboundNetwork, SANDBOX_NAMESERVER, type BuildNetwork } from './network.js';
import { buildSeccomp } from './seccomp.js';
import { Interrupted, holdTermination, terminationReason, throwIfTerminating } from '../runtime/termination.js';

/** Where the session's control directory is mounted in the build container (read-only). */
export const CONTROL_DIR = '/slipway';
/** Where the job output files are (the only place of /slipway the container may write to, and only into files the host made). */
export const OUTPUT_DIR = `${CONTROL_DIR}/out`;

/** The capabilities a root build (full-filesystem staging) gets: what apt-get and dpkg need, nothing more. */
export const ROOT_BUILD_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_SETUID',
  'CAP_SETGID',
  'CAP_KILL',
];

/** How often the limits the kernel counts (OOM kills, refused forks, a full volume) are looked at. */
const WATCH_MS = 250;
/** The output of one job kept in memory for the caller (the rest is streamed, never held). */
const KEPT_OUTPUT = 4 << 20;

/**
 * The driver the build container runs as its init: one job number per line on its
 * stdin (a pipe from the host), each job /slipway/N.job run in the background (detect
 * runs in parallel) with its output in the file the host made for it, and "N STATUS"
 * on its stdout (a pipe to the host) when it ends; "exit" waits for running jobs.
 * No file the host reads or writes by name is in a place the container can change:
 * /slipway is mounted read-only, /slipway/out is owned by root (the build user can
 * only write into the files the host created there, and the host reads those through
 * the descriptors it kept).
 */
const DRIVER = `#!/bin/sh
cd ${CONTROL_DIR} || exit 90
echo ready
while read -r n; do
  case "$n" in
    exit) wait; exit 0 ;;
    ''|*[!0-9]*) continue ;;
  esac
  ( sh "./$n.job" < /dev/null > "out/$n.out" 2>&1; echo "$n $?" ) &
done
`;

/** One command to run in the build container. */
export interface Job {
  argv: string[];
  env: string[];
  cwd: string;
  /** Keep the job's stdout apart (its `stdout` in the result); stderr alone is streamed then. */
  captureStdout?: boolean;
}

export interface JobResult {
  exitCode: number;
  /** What the job wrote (stdout and stderr merged, or stderr alone with captureStdout), up to its last 4 MiB. */
  output: string;
  stdout?: string;
}

export interface SessionOptions {
  image: ImageInput;
  /** uid:gid the jobs run as. */
  user: { uid: number; gid: number };
  binds: BindMount[];
  /** Host directory for the control files (mounted read-only at /slipway): one the host made, on the build's volume. */
  controlDir: string;
  network: BuildNetwork;
  limits: SandboxLimits;
  /** The build's disk: the container's writable root lives there too. */
  volume: BuildVolume;
  /** Capabilities of the jobs (default none). */
  capabilities?: readonly string[];
  /** Environment of the driver (jobs get their own). */
  env?: string[];
}

/** A file the host made for a job to write (a build plan), read back through the host's descriptor. */
export interface OutputFile {
  /** Its path in the container. */
  path: string;
  read(): string;
  close(): void;
}

/**
 * A long-running, sandboxed build container executing jobs for the host-side
 * lifecycle: its own network namespace (outbound through slirp4netns, or none), no
 * capabilities (or only apt's for a root build), NoNewPrivs, a seccomp allowlist, and
 * limits on wall time, memory, processes, CPU and disk; reaching one stops the build
 * with a LimitExceeded error.
 *
 * @example
 *   const session = await BuildSession.start(runtime, options);
 *   const { exitCode } = await session.exec({ argv: ['/cnb/buildpacks/x/1/bin/detect'], env, cwd: '/workspace' }, (t) => process.stderr.write(t));
 *   await session.stop();
 */
export class BuildSession {
  #next = 0;
  #ended: { error?: unknown; exitCode?: number | null } | undefined;
  #stopped: LimitExceeded | SlipwayError | undefined;
  #release: () => void = () => undefined;
  readonly #done: Promise<unknown>;
  readonly #results = new Map<string, (status: number) => void>();
  readonly #waiters = new Set<() => void>();
  #stdin: Writable | undefined;
  #initPid: number | undefined;
  #cgroups: CgroupWatch | undefined;
  #seen: CgroupEvents = { oomKills: 0, pidsRefused: 0 };
  #network: OutboundNetwork | undefined;
  #timers: NodeJS.Timeout[] = [];
  #stderr = '';
  readonly #out: ConfinedDir;
  /** The container's writable layer on the build's volume; it outlives the container (full-filesystem staging reads it). */
  readonly upperDir: string;

  private constructor(
    private readonly options: SessionOptions,
    done: Promise<{ exitCode?: number | null }>,
    out: ConfinedDir,
    scratch: string,
  ) {
    this.#out = out;
    this.upperDir = join(scratch, 'upper');
    this.#done = done
      .then(
        (r) => (this.#ended = { exitCode: r.exitCode ?? null }),
        (error: unknown) => (this.#ended = { error }),
      )
      .finally(() => this.#wake());
  }

  static async start(runtime: ContainerRuntime, options: SessionOptions): Promise<BuildSession> {
    const { controlDir } = options;
    mkdirSync(join(controlDir, 'out'), { recursive: true, mode: 0o755 });
    chmodSync(controlDir, 0o755);
    chmodSync(join(controlDir, 'out'), 0o755);
    writeFileSync(join(controlDir, 'driver.sh'), DRIVER, { mode: 0o755 });
    const netFiles: BindMount[] = [];
    if (options.network === 'outbound') {
      writeFileSync(join(controlDir, 'resolv.conf'), `nameserver ${SANDBOX_NAMESERVER}\n`);
      netFiles.push({ source: join(controlDir, 'resolv.conf'), destination: '/etc/resolv.conf', readonly: true });
    }
    writeFileSync(join(controlDir, 'hosts'), '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
    netFiles.push({ source: join(controlDir, 'hosts'), destination: '/etc/hosts', readonly: true });
    const scratch = join(options.volume.mountPoint, `root-${randomBytes(4).toString('hex')}`);
    mkdirSync(scratch, { mode: 0o700 });

    let started!: (child: ChildProcess, pid: number) => void;
    const running = new Promise<{ child: ChildProcess; pid: number }>(
      (resolve) => (started = (child, pid) => resolve({ child, pid })),
    );
    const { limits } = options;
    throwIfTerminating();
    const name = `slipway-build-${randomBytes(4).toString('hex')}`;
    const done = runtime.run(
      options.image,
      {
        name,
        entrypoint: '',
        args: ['/bin/sh', `${CONTROL_DIR}/driver.sh`],
        user: `${options.user.uid}:${options.user.gid}`,
        binds: [
          ...options.binds,
          { source: controlDir, destination: CONTROL_DIR, readonly: true },
          { source: join(controlDir, 'out'), destination: OUTPUT_DIR, readonly: false },
          ...netFiles,
        ],
        ...(options.env ? { env: options.env } : {}),
        hostname: 'build',
        network: 'none',
        capabilities: options.capabilities ?? [],
        seccomp: buildSeccomp(),
        pidsLimit: limits.pids,
        memoryBytes: limits.memoryBytes,
        cpus: limits.cpus,
        scratchDir: scratch,
        remove: true,
      },
      { stdio: ['pipe', 'pipe', 'pipe'], onStart: (pid, child) => started(child, pid), forwardSignals: false },
    );
    const session = new BuildSession(options, done, ConfinedDir.open(join(controlDir, 'out')), scratch);
    // The build container dies with this process: a signal or a broken pipe kills it, and the build fails as interrupted.
    session.#release = holdTermination({
      signals: true,
      abort: (reason) => void session.#kill(new Interrupted(reason)),
      cleanup: async () => {
        session.#kill(new Interrupted(terminationReason() ?? 'SIGTERM')).catch(() => undefined);
        await runtime.remove(name, { force: true });
      },
    });
    try {
      const { child, pid } = await Promise.race([
        running,
        session.#done.then(() => session.#endedError('the build container to start')),
      ]);
      session.#attach(child, pid);
      if (options.network === 'outbound') session.#network = await OutboundNetwork.attach(pid);
      await session.#until(() => session.#ready, 'the build container to start');
      return session;
    } catch (err) {
      await session.#kill(undefined);
      throw err;
    }
  }

  #ready = false;

  #attach(child: ChildProcess, pid: number): void {
    this.#initPid = pid;
    this.#stdin = child.stdin!;
    this.#stdin.on('error', () => undefined); // the container ended: #done says so
    let pending = '';
    (child.stdout as Readable).on('data', (d: Buffer) => {
      pending += d.toString('utf8');
      if (pending.length > 1 << 16) pending = pending.slice(-(1 << 12)); // noise from a job cannot grow it
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        this.#onLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
    (child.stderr as Readable).on(
      'data',
      (d: Buffer) => (this.#stderr = (this.#stderr + d.toString('utf8')).slice(-4000)),
    );
    try {
      this.#cgroups = CgroupWatch.forPid(pid);
    } catch {
      // The container ended already: #done reports it.
    }
    const { limits } = this.options;
    this.#timers.push(
      setTimeout(
        () =>
          void this.#kill(
            new LimitExceeded('timeout', `it ran longer than its time limit of ${formatSeconds(limits.timeoutMs)}`),
          ),
        limits.timeoutMs,
      ),
    );
    this.#timers.push(setInterval(() => this.#checkLimits(), WATCH_MS));
    for (const t of this.#timers) t.unref();
  }

  #onLine(line: string): void {
    if (line === 'ready') {
      this.#ready = true;
      this.#wake();
      return;
    }
    const m = /^(\d{1,9}) (\d{1,3})$/.exec(line);
    const resolve = m ? this.#results.get(m[1]!) : undefined;
    if (!resolve) return; // not a job of ours in flight: ignored
    this.#results.delete(m![1]!);
    resolve(Number(m![2]));
  }

  /** Runs `job` in the container; `onOutput` gets its output as it comes. */
  async exec(job: Job, onOutput?: (text: string) => void): Promise<JobResult> {
    this.#throwIfStopped();
    throwIfTerminating();
    const n = String(this.#next++).padStart(5, '0');
    const { uid, gid } = this.options.user;
    const outFd = this.#out.createFile(`${n}.out`, { uid, gid, mode: 0o600 });
    const stdoutFile = job.captureStdout ? this.outputFile(`${n}.stdout`) : undefined;
    const before = this.#cgroups?.read();
    try {
      const redirect = stdoutFile ? `exec > ${quote(stdoutFile.path)}\n` : '';
      const script = `cd ${quote(job.cwd)} || exit 90\n${redirect}exec env -i HOME="$HOME" ${job.env.map(quote).join(' ')} ${job.argv.map(quote).join(' ')}\n`;
      writeFileSync(join(this.options.controlDir, `${n}.job`), script, { mode: 0o644 });
      const status = new Promise<number>((resolve) => this.#results.set(n, resolve));
      this.#stdin!.write(`${n}\n`);
      const kept = new TailBuffer(KEPT_OUTPUT);
      let offset = 0;
      const buf = Buffer.allocUnsafe(1 << 16);
      const drain = () => {
        for (
          let got = readSync(outFd, buf, 0, buf.length, offset);
          got > 0;
          got = readSync(outFd, buf, 0, buf.length, offset)
        ) {
          offset += got;
          const chunk = Buffer.from(buf.subarray(0, got));
          kept.push(chunk);
          onOutput?.(chunk.toString('utf8'));
        }
      };
      let exitCode: number | undefined;
      void status.then((s) => {
        exitCode = s;
        this.#wake();
      });
      // Output is streamed as it is written: every change in the output dir drains it (the timer, when inotify has no watch left).
      const watcher = watchOrNot(join(this.options.controlDir, 'out'), () => {
        drain();
        this.#wake();
      });
      try {
        await this.#until(() => {
          drain();
          return exitCode !== undefined;
        }, `job ${job.argv[0]}`);
      } finally {
        watcher?.close();
      }
      drain();
      this.#results.delete(n);
      if (exitCode !== 0) this.#explainFailure(before);
      return { exitCode: exitCode!, output: kept.text(), ...(stdoutFile ? { stdout: stdoutFile.read() } : {}) };
    } finally {
      closeSync(outFd);
      stdoutFile?.close();
    }
  }

  /** A new file in the output dir the jobs may write (a detect's build plan), read back through the host's own descriptor. */
  outputFile(name: string): OutputFile {
    const { uid, gid } = this.options.user;
    const fd = this.#out.createFile(name, { uid, gid, mode: 0o600 });
    return {
      path: `${OUTPUT_DIR}/${name}`,
      read: () => readAll(fd, KEPT_OUTPUT),
      close: () => closeSync(fd),
    };
  }

  /** Ends the container (waiting for jobs still running), and its network. */
  async stop(): Promise<void> {
    if (!this.#ended && this.#stdin && !this.#stdin.destroyed) this.#stdin.end('exit\n');
    const grace = setTimeout(() => void this.#kill(undefined), 10_000);
    try {
      await this.#done;
    } finally {
      clearTimeout(grace);
      this.#cleanup();
    }
    this.#throwIfStopped();
  }

  /** The build container's init, or undefined before it started. */
  get initPid(): number | undefined {
    return this.#initPid;
  }

  #checkLimits(): void {
    if (this.#stopped || this.#ended) return;
    const now = this.#cgroups?.read();
    if (now && now.pidsRefused > this.#seen.pidsRefused) {
      void this.#kill(this.#pidsExceeded());
    } else if (this.options.volume.isFull()) {
      void this.#kill(
        new LimitExceeded('disk', `it filled its disk limit of ${formatBytes(this.options.limits.diskBytes)}`),
      );
    }
    if (now) this.#seen = now;
  }

  #pidsExceeded(): LimitExceeded {
    return new LimitExceeded(
      'pids',
      `it reached its limit of ${this.options.limits.pids} processes (a fork bomb, or too much parallelism)`,
    );
  }

  /** After a failed job: was it a limit? (The memory limit kills a process, which then fails its job.) */
  #explainFailure(before: CgroupEvents | undefined): void {
    const now = this.#cgroups?.read();
    if (before && now && now.oomKills > before.oomKills) {
      throw new LimitExceeded(
        'memory',
        `a process ran out of its memory limit of ${formatBytes(this.options.limits.memoryBytes)} and was killed`,
      );
    }
    // A job can fail on a refused fork before the watch's next tick saw the counter move.
    if (before && now && now.pidsRefused > before.pidsRefused) throw this.#pidsExceeded();
    if (this.options.volume.isFull())
      throw new LimitExceeded('disk', `it filled its disk limit of ${formatBytes(this.options.limits.diskBytes)}`);
    this.#throwIfStopped();
  }

  async #kill(reason: LimitExceeded | Interrupted | undefined): Promise<void> {
    if (reason && !this.#stopped) this.#stopped = reason;
    if (this.#initPid !== undefined && !this.#ended) {
      try {
        process.kill(this.#initPid, 'SIGKILL'); // init of its pid namespace: every process of the build goes with it
      } catch {
        // gone already
      }
    }
    this.#wake();
    await this.#done;
    this.#cleanup();
  }

  #cleanup(): void {
    this.#release();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
    this.#network?.stop();
    this.#network = undefined;
    try {
      this.#out.close();
    } catch {
      // closed before
    }
  }

  #throwIfStopped(): void {
    if (this.#stopped) throw this.#stopped;
  }

  #endedError(what: string): never {
    const reason = terminationReason();
    if (reason !== undefined) throw new Interrupted(reason);
    const e = this.#ended;
    const detail = this.#stderr.trim()
      ? `: ${this.#stderr.trim().split('\n').slice(-3).join(' / ')}`
      : e?.error
        ? `: ${(e.error as Error).message}`
        : '';
    throw new SlipwayError(
      'TOOL_FAILED',
      `the build container ended (exit ${e?.exitCode ?? '?'}) while waiting for ${what}${detail}`,
      { cause: e?.error },
    );
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Resolves once `ready()` holds (checked on every wake-up and every 100 ms); fails if the build was stopped or the container ended first. */
  async #until(ready: () => boolean, what: string): Promise<void> {
    if (ready()) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        try {
          if (ready()) return finish(resolve);
          if (this.#stopped) return finish(() => reject(this.#stopped));
          if (this.#ended) this.#endedError(what);
        } catch (err) {
          finish(() => reject(err));
        }
      };
      const timer = setInterval(check, 100);
      const finish = (then: () => void) => {
        clearInterval(timer);
        this.#waiters.delete(check);
        then();
      };
      this.#waiters.add(check);
    });
  }
}

/** An inotify watch of `dir`, or none when the host has no watches left (the caller's timer still looks). */
function watchOrNot(dir: string, onChange: () => void): FSWatcher | undefined {
  try {
    return watch(dir, onChange).on('error', () => undefined);
  } catch {
    return undefined;
  }
}

function readAll(fd: number, max: number): string {
  const chunks: Buffer[] = [];
  let total = 0;
  const buf = Buffer.allocUnsafe(1 << 16);
  for (let n = readSync(fd, buf, 0, buf.length, 0); n > 0 && total < max; n = readSync(fd, buf, 0, buf.length, total)) {
    chunks.push(Buffer.from(buf.subarray(0, n)));
    total += n;
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8');
}

/** The last `max` bytes pushed. */
class TailBuffer {
  #chunks: Buffer[] = [];
  #size = 0;
  constructor(private readonly max: number) {}
  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - this.#chunks[0]!.length >= this.max) this.#size -= this.#chunks.shift()!.length;
  }
  text(): string {
    const all = Buffer.concat(this.#chunks);
    return all.subarray(Math.max(0, all.length - this.max)).toString('utf8');
  }
}

function formatSeconds(ms: number): string {
  return ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

/** Single-quotes a word for /bin/sh. */
export function quote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
