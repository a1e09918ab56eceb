import { availableParallelism } from 'node:os';
import { SlipwayError } from '../errors.js';

/**
 * What one build may use. Every limit has a flag (`slipway build --timeout --memory
 * --pids-limit --cpus --disk-limit`), a default, and an exit status for the build that
 * reached it (CPU time is throttled, never fatal). The statuses sit in the range the
 * CNB platform spec leaves to the builder's own failures (50, 52-59).
 */
export interface SandboxLimits {
  /** Wall time of the whole sandboxed part of a build. */
  timeoutMs: number;
  /** Memory of all the build's processes (page cache and tmpfs included), swap none. */
  memoryBytes: number;
  /** Processes and threads at once: a fork bomb stops here. */
  pids: number;
  /** CPUs' worth of time per period (throttled, not fatal). */
  cpus: number;
  /** Bytes the build may have on disk at once: app copy, layers, cache, its writable root. */
  diskBytes: number;
}

export const GiB = 1024 ** 3;

export const DEFAULT_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  timeoutMs: 30 * 60_000,
  memoryBytes: 4 * GiB,
  pids: 4096,
  cpus: availableParallelism(),
  diskBytes: 10 * GiB,
});

export type LimitName = 'timeout' | 'memory' | 'pids' | 'disk';

/** The exit status of a build that reached a limit. */
export const LIMIT_EXIT_CODES: Readonly<Record<LimitName, number>> = Object.freeze({
  timeout: 52,
  memory: 53,
  pids: 54,
  disk: 55,
});

const FLAGS: Record<LimitName, string> = {
  timeout: '--timeout',
  memory: '--memory',
  pids: '--pids-limit',
  disk: '--disk-limit',
};

/** A build stopped at one of its limits: LIMIT_EXCEEDED, with the limit, its value and the exit status. */
export class LimitExceeded extends SlipwayError {
  readonly limit: LimitName;
  readonly exitCode: number;

  constructor(limit: LimitName, what: string) {
    super('LIMIT_EXCEEDED', `the build was stopped: ${what} (raise it with ${FLAGS[limit]})`, {
      detail: { limit, exitCode: LIMIT_EXIT_CODES[limit] },
    });
    this.name = 'LimitExceeded';
    this.limit = limit;
    this.exitCode = LIMIT_EXIT_CODES[limit];
  }
}

/** The limits with the caller's overrides, each checked. */
export function resolveLimits(overrides: Partial<SandboxLimits> = {}): SandboxLimits {
  const limits = {
    ...DEFAULT_LIMITS,
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  } as SandboxLimits;
  const positive = (name: string, v: number) => {
    if (!Number.isFinite(v) || v <= 0)
      throw new SlipwayError('INVALID_ARGUMENT', `${name} must be a positive number, not ${v}`, {
        detail: { [name]: v },
      });
  };
  positive('timeout', limits.timeoutMs);
  positive('memory', limits.memoryBytes);
  positive('pids-limit', limits.pids);
  positive('cpus', limits.cpus);
  positive('disk-limit', limits.diskBytes);
  if (limits.memoryBytes < 64 << 20)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      'memory must be at least 64m: a build container needs that much to start',
    );
  if (limits.diskBytes < 64 << 20) throw new SlipwayError('INVALID_ARGUMENT', 'disk-limit must be at least 64m');
  if (limits.pids < 16) throw new SlipwayError('INVALID_ARGUMENT', 'pids-limit must be at least 16');
  return limits;
}

/** Parses a duration: seconds, or with an s/m/h suffix (`90s`, `30m`, `2h`). */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `duration "${value}" must be a number of seconds or end in s, m or h (e.g. 30m)`,
      { detail: { value } },
    );
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * scale);
}

/** A size for humans: 4 GiB, 512 MiB. */
export function formatBytes(n: number): string {
  if (n >= GiB && n % (GiB / 4) === 0) return `${n / GiB} GiB`;
  return `${Math.round(n / (1 << 20))} MiB`;
}
