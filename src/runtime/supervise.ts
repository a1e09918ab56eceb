import type { ChildProcess, StdioOptions } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { SlipwayError } from '../errors.js';
import { ownerString } from '../store/owner.js';
import { unmountOverlay } from './overlay-mount.js';
import { lastRuncError, startFailureStatus, type Runc } from './runc.js';
import { signalInit } from './signals.js';
import { holdTermination } from './termination.js';
import type { RuntimeState } from './state.js';
import type { PhaseTimes } from './phase-times.js';

/** Signals a waiting `slipway run` (or a supervisor) passes on to the container. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
const PID_POLL_MS = 5;

export interface SuperviseOptions {
  stdio: StdioOptions;
  /** Remove the container's record and directory once it exited. */
  remove?: boolean;
  /** Called once the container's init runs, with its host pid and the runc child (whose stdio pipes are the container's). */
  onStart?: (initPid: number, child: ChildProcess) => void;
  /**
   * Pass this process's signals on to the container (default). False when the caller
   * ends the container itself on a signal (a build session: see holdTermination).
   */
  forwardSignals?: boolean;
  /** Kill the container when this process dies, even by SIGKILL (foreground runs and builds; see Runc.watchdog). */
  watchdog?: boolean;
  /** Marks the phases: runc until the init runs, the process, the cleanup. */
  times?: PhaseTimes;
}

/**
 * Starts a prepared container with runc and waits for it: records it running with
 * its init pid, forwards this process's signals to it (a second Ctrl-C or SIGTERM
 * kills it), and once it exited unmounts its root filesystem and records the exit
 * code. Returns the exit code (128+N when signal N ended it).
 */
export async function superviseContainer(
  state: RuntimeState,
  runc: Runc,
  name: string,
  dir: string,
  options: SuperviseOptions,
): Promise<number | null> {
  const record = state.container(name);
  if (!record) throw new SlipwayError('NOT_FOUND', `there is no container ${name}`, { detail: { name } });
  const pidFile = join(dir, 'init.pid');
  const logFile = join(dir, 'runc.log');
  rmSync(pidFile, { force: true });
  rmSync(logFile, { force: true });
  const child = runc.run(record.id, dir, { pidFile, logFile, stdio: options.stdio });
  const watchdog = options.watchdog ? runc.watchdog(record.id, join(dir, 'rootfs')) : undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + constants.signals[signal] : null)));
    child.once('error', () => resolve(null));
  });

  let initPid: number | undefined;
  const received = new Set<NodeJS.Signals>();
  const forward = (signal: NodeJS.Signals): void => {
    const again = received.has(signal) && (signal === 'SIGINT' || signal === 'SIGTERM');
    received.add(signal);
    if (initPid !== undefined) signalInit(initPid, again ? 'SIGKILL' : signal);
    else child.kill(again ? 'SIGKILL' : signal); // not started yet: runc passes it on once it can
  };
  const forwarding = options.forwardSignals !== false;
  if (forwarding) for (const s of FORWARDED) process.on(s, forward);
  // A broken pipe ends this process, and the container with it (signals are forwarded above).
  const release = forwarding
    ? holdTermination({
        signals: false,
        abort: () => (initPid !== undefined ? signalInit(initPid, 'SIGKILL') : child.kill('SIGKILL')),
      })
    : () => undefined;
  try {
    let done = false;
    void exited.then(() => (done = true));
    while (!done && initPid === undefined) {
      initPid = readPid(pidFile);
      if (initPid === undefined) await Promise.race([exited, new Promise((r) => setTimeout(r, PID_POLL_MS))]);
    }
    options.times?.mark('runc create and start');
    if (initPid !== undefined) {
      state.markRunning(name, ownerString(), initPid);
      options.onStart?.(initPid, child);
      // Signals that came before the pid was known went to runc; repeat none.
    }
    let code = await exited;
    options.times?.mark('process, to its exit');
    // runc could not start the process (its error is on stderr or in the log): exit as docker does.
    const error =
      initPid === undefined && code !== 0 ? (lastRuncError(logFile) ?? 'the container did not start') : undefined;
    if (error !== undefined) code = startFailureStatus(error) ?? code;
    await unmountOverlay(dir);
    if (options.remove) {
      state.removeContainer(name);
      rmSync(dir, { recursive: true, force: true });
    } else {
      state.markExited(name, code, error);
    }
    options.times?.mark('unmount and cleanup');
    return code;
  } finally {
    if (forwarding) for (const s of FORWARDED) process.off(s, forward);
    release();
    watchdog?.done();
  }
}

function readPid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}
