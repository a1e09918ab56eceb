import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { isErrno } from '../errors.js';

/** Signals a container's process is stopped by unless it handles them (their default action ends a process). */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = [
  'SIGHUP',
  'SIGINT',
  'SIGQUIT',
  'SIGTERM',
  'SIGUSR1',
  'SIGUSR2',
  'SIGALRM',
  'SIGPIPE',
];

/**
 * Sends `signal` to a container's init process (its pid as the host sees it) and
 * returns what was actually sent.
 *
 * The kernel drops a signal sent to a PID namespace's init unless the init installed
 * a handler for it, so `sleep` or a shell as PID 1 would shrug off SIGTERM and Ctrl-C
 * forever. When the init neither catches nor ignores a signal whose default action is
 * to end the process, the default is honoured explicitly with SIGKILL: the process
 * ends as it would have outside a container. A process that handles the signal gets
 * it and shuts down its own way.
 */
export function signalInit(pid: number, signal: NodeJS.Signals): NodeJS.Signals | undefined {
  let sent = signal;
  if (STOP_SIGNALS.includes(signal) && !handles(pid, signal)) sent = 'SIGKILL';
  try {
    process.kill(pid, sent);
    return sent;
  } catch (err) {
    if (isErrno(err, 'ESRCH')) return undefined;
    throw err;
  }
}

/**
 * True when process `pid` catches, ignores or blocks `signal` (per /proc/PID/status);
 * true when unknown. Blocked counts: an init such as catatonit or tini blocks every
 * signal and reads them with signalfd or sigwait, then forwards them.
 */
export function handles(pid: number, signal: NodeJS.Signals): boolean {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return true;
  }
  const bit = 1n << BigInt(constants.signals[signal] - 1);
  const mask = (field: string): bigint =>
    BigInt(`0x${new RegExp(`^${field}:\\s*([0-9a-f]+)`, 'm').exec(status)?.[1] ?? '0'}`);
  return ((mask('SigCgt') | mask('SigIgn') | mask('SigBlk')) & bit) !== 0n;
}
