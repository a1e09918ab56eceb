import { createHmac, randomBytes } from 'node:crypto';
import { LoginLimiter, type LoginLimits } from './login-limiter.js';
import type { Authorizer } from './types.js';

export interface LoginGuardOptions {
  limits?: Partial<LoginLimits>;
  /** How long a success is taken on trust without asking the Authorizer again. Default 60 s. */
  cacheTtlMs?: number;
  /** How long credentials once good skip the attempt limits (they are still checked). Default 24 hours. */
  trustTtlMs?: number;
  /** Credentials remembered at most. Default 4096. */
  maxCached?: number;
}

interface Known {
  user: string;
  /** The subject the credentials proved. */
  subject: string;
  /** Until then a request with these credentials is let in at once. */
  verifiedUntil: number;
  /** Until then they are checked again without counting against the limits. */
  trustedUntil: number;
}

/**
 * Every password login (Basic on each registry request, the token endpoint) goes
 * through here: recent successes are answered from memory, everything else is
 * limited per client address and user (login-limiter.ts) before the Authorizer hashes
 * anything.
 *
 * Clients send Basic credentials on every request (a push makes dozens) and argon2id
 * costs ~15 ms, so a success is remembered for `cacheTtlMs` (a password change
 * through this process forgets its user's at once: `forget`). Remembered credentials also skip the limits (still re-checked) for
 * `trustTtlMs`: an attacker hammering a user's name or sharing its address makes
 * strangers wait, not a client that already proved the password. The memory holds
 * HMACs under a per-process random key: no password, nothing testable offline.
 * Identical credentials checked at once share one check (a client's parallel requests).
 */
export class LoginGuard {
  readonly #authorizer: Authorizer;
  readonly #limiter: LoginLimiter;
  readonly #secret = randomBytes(32);
  readonly #known = new Map<string, Known>();
  readonly #checking = new Map<string, Promise<string | undefined>>();
  readonly #cacheTtlMs: number;
  readonly #trustTtlMs: number;
  readonly #maxCached: number;

  constructor(authorizer: Authorizer, options: LoginGuardOptions = {}) {
    this.#authorizer = authorizer;
    this.#limiter = new LoginLimiter(options.limits);
    this.#cacheTtlMs = options.cacheTtlMs ?? 60_000;
    this.#trustTtlMs = options.trustTtlMs ?? 24 * 3600_000;
    this.#maxCached = options.maxCached ?? 4096;
  }

  /**
   * The subject the password proves (see Authorizer.login), undefined when it is wrong;
   * throws TOO_MANY_REQUESTS (with `detail.retryAfterSeconds`) when this address or
   * user must wait first.
   */
  async login(address: string | undefined, user: string, password: string): Promise<string | undefined> {
    const key = createHmac('sha256', this.#secret).update(user).update('\0').update(password).digest('base64');
    const known = this.#known.get(key);
    const now = Date.now();
    if (known !== undefined && known.verifiedUntil > now) {
      // Remembered, unless what it proved was revoked since (an API token, a deleted user).
      if (!this.#authorizer.stillValid || (await this.#authorizer.stillValid(known.subject))) return known.subject;
      this.#known.delete(key);
      return undefined;
    }
    const checking = this.#checking.get(key);
    if (checking !== undefined) return checking;
    const trusted = known !== undefined && known.trustedUntil > now;
    // Limits are asked before the check starts: a refused login costs no hashing.
    const attempt = trusted ? undefined : this.#limiter.begin(address, user);
    const check = this.#authorizer
      .login(user, password)
      .then(
        (subject) => {
          if (subject !== undefined) {
            attempt?.succeeded();
            this.#remember(key, user, subject, trusted ? known.trustedUntil : Date.now() + this.#trustTtlMs);
          } else {
            attempt?.failed();
            this.#known.delete(key);
          }
          return subject;
        },
        (err: unknown) => {
          attempt?.failed();
          throw err;
        },
      )
      .finally(() => this.#checking.delete(key));
    this.#checking.set(key, check);
    return check;
  }

  /** Forgets every remembered login of `user` (its password changed: the old one must fail now). */
  forget(user: string): void {
    for (const [key, known] of this.#known) if (known.user === user) this.#known.delete(key);
  }

  #remember(key: string, user: string, subject: string, trustedUntil: number): void {
    this.#known.delete(key);
    this.#known.set(key, { user, subject, verifiedUntil: Date.now() + this.#cacheTtlMs, trustedUntil });
    // Map keeps insertion order: the first key is the least recently verified.
    while (this.#known.size > this.#maxCached) this.#known.delete(this.#known.keys().next().value as string);
  }
}
