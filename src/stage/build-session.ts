import { execFile } from 'node:child_process';
import { chmodSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readSync, watch, writeFileSync, writeSync, type FSWatcher } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SlipwayError } from '../errors.js';
import type { ContainerRuntime, ImageInput } from '../runtime/index.js';
import type { BindMount } from '../runtime/runtime-spec.js';

const run = promisify(execFile);

/** Where the session's control directory is mounted in the build container. */
export const CONTROL_DIR = '/slipway';

/**
 * The driver the build container runs: it reads job numbers from a FIFO (/slipway/queue,
 * held open read-write so it never sees an end of file), runs each job N.job in the
 * background (detect runs in parallel) with its output in N.out, and writes the exit
 * status to N.rc; "exit" waits for running jobs and ends it. One container serves every
 * detect and build of a staging: no container start per buildpack or phase, and no
 * polling on either side (the host learns of N.rc through inotify).
 */
const DRIVER = `#!/bin/sh
cd ${CONTROL_DIR}/jobs || exit 90
exec 3<> ../queue || exit 91
: > ../ready
while read -r n <&3; do
  [ "$n" = exit ] && { wait; exit 0; }
  ( sh "$n.job" > "$n.out" 2>&1; echo $? > "$n.rc.tmp"; mv "$n.rc.tmp" "$n.rc" ) &
done
`;

/** One command to run in the build container. */
export interface Job {
  argv: string[];
  env: string[];
  cwd: string;
}

export interface SessionOptions {
  image: ImageInput;
  /** uid:gid the buildpacks run as (the stack's CNB user). */
  user: { uid: number; gid: number };
  binds: BindMount[];
  /** Host directory for the control files (mounted at /slipway). */
  controlDir: string;
}

/**
 * A long-running build container executing jobs for the host-side lifecycle.
 *
 * @example
 *   const session = await BuildSession.start(runtime, options);
 *   const { exitCode } = await session.exec({ argv: ['/cnb/buildpacks/x/1/bin/detect'], env, cwd: '/workspace' }, (t) => process.stderr.write(t));
 *   await session.stop();
 */
export class BuildSession {
  #next = 0;
  #ended: { error?: unknown; exitCode?: number | null } | undefined;
  readonly #done: Promise<unknown>;

  private constructor(private readonly jobsDir: string, private readonly controlDir: string, done: Promise<{ exitCode?: number | null }>) {
    this.#done = done.then((r) => (this.#ended = { exitCode: r.exitCode ?? null }), (error: unknown) => (this.#ended = { error }));
  }

  static async start(runtime: ContainerRuntime, options: SessionOptions): Promise<BuildSession> {
    const jobs = join(options.controlDir, 'jobs');
    mkdirSync(jobs, { recursive: true });
    writeFileSync(join(options.controlDir, 'driver.sh'), DRIVER, { mode: 0o755 });
    await run('mkfifo', ['-m', '0666', join(options.controlDir, 'queue')]);
    for (const dir of [options.controlDir, jobs]) chmodSync(dir, 0o777);
    const done = runtime.run(options.image, {
      name: `slipway-build-${randomBytes(4).toString('hex')}`,
      entrypoint: '',
      args: ['/bin/sh', `${CONTROL_DIR}/driver.sh`],
      user: `${options.user.uid}:${options.user.gid}`,
      binds: [...options.binds, { source: options.controlDir, destination: CONTROL_DIR, readonly: false }],
      network: 'host',
      remove: true,
    }, { stdio: ['ignore', 'ignore', 'inherit'] });
    const session = new BuildSession(jobs, options.controlDir, done);
    await session.#waitFor(options.controlDir, () => existsSync(join(options.controlDir, 'ready')), 'the build container to start');
    return session;
  }

  /** Runs `job` in the container; `onOutput` gets its output (stdout and stderr merged) as it comes. */
  async exec(job: Job, onOutput?: (text: string) => void): Promise<{ exitCode: number; output: string }> {
    const n = String(this.#next++).padStart(5, '0');
    const script = `cd ${quote(job.cwd)} || exit 90\nexec env -i HOME="$HOME" ${job.env.map(quote).join(' ')} ${job.argv.map(quote).join(' ')}\n`;
    writeFileSync(join(this.jobsDir, `${n}.job`), script);
    this.#send(n);
    const out = join(this.jobsDir, `${n}.out`);
    const rc = join(this.jobsDir, `${n}.rc`);
    const chunks: Buffer[] = [];
    let offset = 0;
    const drain = () => {
      if (!existsSync(out)) return;
      const fd = openSync(out, 'r');
      try {
        const buf = Buffer.allocUnsafe(1 << 16);
        for (let n = readSync(fd, buf, 0, buf.length, offset); n > 0; n = readSync(fd, buf, 0, buf.length, offset)) {
          offset += n;
          const chunk = Buffer.from(buf.subarray(0, n));
          chunks.push(chunk);
          onOutput?.(chunk.toString('utf8'));
        }
      } finally {
        closeSync(fd);
      }
    };
    // Output is streamed as it is written: every change in the jobs dir drains it.
    await this.#waitFor(this.jobsDir, () => {
      drain();
      return existsSync(rc);
    }, `job ${job.argv[0]}`);
    drain();
    const exitCode = Number(readFileSync(rc, 'utf8').trim());
    return { exitCode, output: Buffer.concat(chunks).toString('utf8') };
  }

  /** Ends the container (waiting for jobs still running). */
  async stop(): Promise<void> {
    if (!this.#ended) {
      try {
        this.#send('exit');
      } catch {
        // The container is gone already: nothing to stop.
      }
    }
    await this.#done;
  }

  /** One line to the driver's FIFO; non-blocking, so a driver that is gone is an error, not a hang. */
  #send(line: string): void {
    let fd: number;
    try {
      fd = openSync(join(this.controlDir, 'queue'), constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      throw new SlipwayError('TOOL_FAILED', `the build container is not taking jobs (${(err as NodeJS.ErrnoException).code ?? err})`, { cause: err });
    }
    try {
      writeSync(fd, `${line}\n`);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Resolves once `ready()` holds, checked on every change in `dir` (inotify) and every
   * 100 ms (in case an event is missed); fails if the container ends first.
   */
  async #waitFor(dir: string, ready: () => boolean, what: string): Promise<void> {
    if (ready()) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (ready()) {
          finish();
          resolve();
        } else if (this.#ended) {
          finish();
          reject(new SlipwayError('TOOL_FAILED', `the build container ended (exit ${this.#ended.exitCode ?? '?'}) while waiting for ${what}${this.#ended.error ? `: ${(this.#ended.error as Error).message}` : ''}`, {
            cause: this.#ended.error,
          }));
        }
      };
      const watcher = watchOrNot(dir, check);
      const timer = setInterval(check, 100);
      const finish = () => {
        watcher?.close();
        clearInterval(timer);
      };
      void this.#done.then(check);
    });
  }
}

/** An inotify watch of `dir`, or none when the host has no watches left (the caller's timer still looks). */
function watchOrNot(dir: string, onChange: () => void): FSWatcher | undefined {
  try {
    // An error later (the dir removed under it) only ends the watch: the timer goes on.
    return watch(dir, onChange).on('error', () => undefined);
  } catch {
    return undefined;
  }
}

/** Single-quotes a word for /bin/sh. */
export function quote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
