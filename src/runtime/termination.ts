import { constants } from 'node:os';
import { SlipwayError, isErrno } from '../errors.js';

/**
 * What ends this process early: a signal of the terminal or of a process manager, or a
 * broken pipe on its own stdout or stderr (`slipway build | head`), taken as SIGPIPE.
 */
export type TerminationReason = 'SIGINT' | 'SIGTERM' | 'SIGHUP' | 'SIGPIPE';

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
/** How long the work in flight has to unwind (its own finally blocks) before the forced cleanups run. */
const UNWIND_MS = 10_000;

/** Something that must not outlive this process: a container, a mounted volume. */
export interface TerminationHold {
  /**
   * True: SIGINT, SIGTERM and SIGHUP end the work (a build). False: only a broken pipe
   * does; signals are the holder's own business (a foreground run forwards them).
   */
  signals: boolean;
  /** Called at once when termination starts: make the work in flight fail fast (kill the container). */
  abort?: (reason: TerminationReason) => void;
  /** Called when the work did not unwind in time, or on a second signal: remove what is left, whatever state it is in. */
  cleanup?: () => Promise<void> | void;
}

/** The error of work stopped because this process is being terminated; its exit status is 128+N, as a shell reports it. */
export class Interrupted extends SlipwayError {
  readonly exitCode: number;
  constructor(readonly reason: TerminationReason) {
    super('INTERRUPTED', reason === 'SIGPIPE' ? 'interrupted (broken pipe)' : `interrupted (${reason})`, {
      detail: { signal: reason },
    });
    this.exitCode = exitStatus(reason);
  }
}

const holds = new Set<TerminationHold>();
let reason: TerminationReason | undefined;
let installedSignals = false;
let installedPipes = false;
let forced = false;

/**
 * Keeps `hold` in mind until the returned release is called: while any hold is kept, a
 * terminating signal (for holds that take signals, unless another listener of the
 * process takes it: `slipway serve` and `worker` drain their builds on SIGTERM) or a
 * broken pipe on stdout/stderr does not end the process at once. Every hold is aborted, the work unwinds and
 * releases its holds (its finally blocks clean up) and fails with Interrupted, whose
 * exit status is 128+N; what has not unwound after 10 s, or at a second signal, is
 * cleaned up by force and the process exits.
 *
 * @example
 *   const release = holdTermination({ signals: true, abort: () => kill(pid) });
 *   try { await build(); } finally { release(); }
 */
export function holdTermination(hold: TerminationHold): () => void {
  holds.add(hold);
  install();
  if (reason !== undefined) hold.abort?.(reason);
  return () => {
    if (!holds.delete(hold)) return;
    install();
  };
}

/** Why this process is terminating, or undefined while it is not. */
export function terminationReason(): TerminationReason | undefined {
  return reason;
}

/** Throws Interrupted once termination started: work about to begin (a container start) checks it first. */
export function throwIfTerminating(): void {
  if (reason !== undefined) throw new Interrupted(reason);
}

export function exitStatus(r: TerminationReason): number {
  return 128 + constants.signals[r];
}

function install(): void {
  const wantSignals = reason !== undefined || [...holds].some((h) => h.signals);
  if (wantSignals !== installedSignals) {
    for (const s of SIGNALS) wantSignals ? process.on(s, onSignal) : process.off(s, onSignal);
    installedSignals = wantSignals;
  }
  // Once terminating, the pipe listeners stay: a later write to the broken pipe must not crash the unwinding.
  const wantPipes = reason !== undefined || holds.size > 0;
  if (wantPipes !== installedPipes) {
    for (const stream of [process.stdout, process.stderr])
      wantPipes ? stream.on('error', onStreamError) : stream.off('error', onStreamError);
    installedPipes = wantPipes;
  }
}

function onSignal(signal: NodeJS.Signals): void {
  if (reason !== undefined) {
    // A second signal: no more waiting.
    if (signal !== 'SIGHUP') void force();
    return;
  }
  const signalHolds = [...holds].filter((h) => h.signals);
  if (signalHolds.length === 0) return; // holds that forward signals themselves
  // Someone else handles this signal too (a server's graceful stop, which waits for its builds): theirs to decide.
  if (process.listenerCount(signal) > 1) return;
  start(signal as TerminationReason);
}

function onStreamError(err: unknown): void {
  if (!isErrno(err, 'EPIPE') || reason !== undefined) return;
  start('SIGPIPE');
}

function start(r: TerminationReason): void {
  reason = r;
  install();
  process.exitCode = exitStatus(r);
  for (const h of [...holds]) {
    try {
      h.abort?.(r);
    } catch {
      // the forced cleanup still comes
    }
  }
  // Work that unwound ends the process its own way (a CLI reports and exits 128+N, a server drains); stuck work is forced.
  setTimeout(() => {
    if (holds.size > 0) void force();
  }, UNWIND_MS).unref();
}

async function force(): Promise<void> {
  if (forced) return;
  forced = true;
  for (const h of [...holds].reverse()) {
    try {
      await h.cleanup?.();
    } catch {
      // best effort: slipway gc sweeps what is left
    }
  }
  process.exit(exitStatus(reason ?? 'SIGTERM'));
}
