import { SlipwayError } from '../../errors.js';

export interface LoginLimits {
  /** Password checks a client address may fail before it has to wait. Default 10 (several users behind one NAT). */
  freePerAddress: number;
  /** Password checks a user name may fail (from anywhere) before it has to wait. Default 5. */
  freePerUser: number;
  /** The first wait; each further failure doubles it. Default 1 s. */
  baseDelayMs: number;
  /** The longest wait. Default 15 minutes. */
  maxDelayMs: number;
  /** Failures are forgotten once nothing was tried for this long. Default 1 hour. */
  forgetAfterMs: number;
  /** Addresses and user names tracked at most (the least recently seen go first). Default 100,000. */
  maxEntries: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  freePerAddress: 10,
  freePerUser: 5,
  baseDelayMs: 1000,
  maxDelayMs: 15 * 60_000,
  forgetAfterMs: 60 * 60_000,
  maxEntries: 100_000,
};

interface Tally {
  failures: number;
  lastAt: number;
}

/** One password check let through: report how it ended, exactly once. */
export interface LoginAttempt {
  succeeded(): void;
  failed(): void;
}

/**
 * Limits password guessing per client address and per user name, with exponential
 * backoff: after the free attempts each failure doubles the wait before the next
 * check (1 s, 2 s, 4 s, ... up to maxDelayMs). While a wait runs, a login is refused
 * with TOO_MANY_REQUESTS (429, `Retry-After`) before its password is looked at, so
 * guessing costs the server no hashing. An attempt counts as failed from the moment
 * it starts (undone when it succeeds), so attempts sent at once cannot slip past the
 * limit; a success clears the user's failures.
 *
 * Per-user limits mean an attacker can make a user wait for a new login; the login
 * guard's cache of recent successes keeps that user's signed-in clients working.
 *
 * @example
 * const attempt = limiter.begin('203.0.113.7', 'alice'); // throws when it must wait
 * (await verify()) ? attempt.succeeded() : attempt.failed();
 */
export class LoginLimiter {
  readonly #limits: LoginLimits;
  readonly #tallies = new Map<string, Tally>();
  readonly #now: () => number;

  constructor(limits: Partial<LoginLimits> = {}, now: () => number = Date.now) {
    this.#limits = { ...DEFAULT_LOGIN_LIMITS, ...limits };
    this.#now = now;
  }

  /** Lets one password check through, or throws TOO_MANY_REQUESTS with `detail.retryAfterSeconds`. */
  begin(address: string | undefined, user: string): LoginAttempt {
    const now = this.#now();
    const keys: [string, number][] = [[`user:${user}`, this.#limits.freePerUser]];
    if (address !== undefined) keys.push([`addr:${address}`, this.#limits.freePerAddress]);
    const waitMs = Math.max(...keys.map(([key, free]) => this.#waitMs(key, free, now)));
    if (waitMs > 0) {
      const retryAfterSeconds = Math.ceil(waitMs / 1000);
      throw new SlipwayError('TOO_MANY_REQUESTS', `too many failed logins: try again in ${retryAfterSeconds} s`, {
        detail: { retryAfterSeconds },
      });
    }
    for (const [key] of keys) this.#count(key, now);
    let settled = false;
    return {
      succeeded: () => {
        if (settled) return;
        settled = true;
        this.#tallies.delete(keys[0]![0]);
        if (keys[1] !== undefined) this.#uncount(keys[1][0]);
      },
      failed: () => {
        settled = true;
      },
    };
  }

  /** How long `key` must still wait before its next check (0: it may go). */
  #waitMs(key: string, free: number, now: number): number {
    const tally = this.#fresh(key, now);
    if (tally === undefined || tally.failures < free) return 0;
    const delay = Math.min(this.#limits.baseDelayMs * 2 ** (tally.failures - free), this.#limits.maxDelayMs);
    return Math.max(0, tally.lastAt + delay - now);
  }

  #count(key: string, now: number): void {
    const tally = this.#fresh(key, now) ?? { failures: 0, lastAt: now };
    tally.failures++;
    tally.lastAt = now;
    // Re-inserted: the Map's first entries are the least recently seen.
    this.#tallies.delete(key);
    this.#tallies.set(key, tally);
    while (this.#tallies.size > this.#limits.maxEntries)
      this.#tallies.delete(this.#tallies.keys().next().value as string);
  }

  #uncount(key: string): void {
    const tally = this.#tallies.get(key);
    if (tally === undefined) return;
    if (--tally.failures <= 0) this.#tallies.delete(key);
  }

  /** The key's tally, unless it is old enough to be forgotten. */
  #fresh(key: string, now: number): Tally | undefined {
    const tally = this.#tallies.get(key);
    if (tally !== undefined && now - tally.lastAt > this.#limits.forgetAfterMs) {
      this.#tallies.delete(key);
      return undefined;
    }
    return tally;
  }
}
