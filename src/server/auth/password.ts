import { createHmac, randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { SlipwayError } from '../../errors.js';

/** bcrypt cost: about 0.1 s per hash in bcryptjs here, a brake on guessing. */
export const BCRYPT_ROUNDS = 10;

/**
 * Hashes a password for the users file. bcrypt ignores bytes past 72, so longer
 * passwords are refused rather than silently shortened.
 */
export async function hashPassword(password: string, rounds = BCRYPT_ROUNDS): Promise<string> {
  if (password === '') throw new SlipwayError('INVALID_ARGUMENT', 'the password is empty');
  if (bcrypt.truncates(password)) throw new SlipwayError('INVALID_ARGUMENT', 'the password is longer than 72 bytes, which bcrypt cannot use whole: choose a shorter one');
  return bcrypt.hash(password, rounds);
}

/**
 * Checks passwords against bcrypt hashes, remembering recent successes. Clients send
 * Basic credentials on every request (skopeo pushes make dozens), and a bcrypt check
 * costs ~0.1 s of CPU, so a success is cached for `ttlMs`. The cache key is an HMAC
 * under a per-process random key: no password, or anything that could be tested
 * against one offline, is kept. A changed hash (new password) misses the cache.
 */
export class PasswordChecker {
  readonly #secret = randomBytes(32);
  readonly #verified = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  #dummyHash: Promise<string> | undefined;

  constructor(options: { ttlMs?: number; maxEntries?: number } = {}) {
    this.#ttlMs = options.ttlMs ?? 5 * 60_000;
    this.#maxEntries = options.maxEntries ?? 1024;
  }

  /** True when `password` matches `hash`; with no hash (unknown user) it takes as long and says false. */
  async verify(user: string, password: string, hash: string | undefined): Promise<boolean> {
    if (hash === undefined) {
      // Spend the same time as a real check, so timing does not reveal which users exist.
      await bcrypt.compare(password, await this.#dummy());
      return false;
    }
    const key = createHmac('sha256', this.#secret).update(user).update('\0').update(password).update('\0').update(hash).digest('base64');
    const until = this.#verified.get(key);
    if (until !== undefined && until > Date.now()) return true;
    if (!(await bcrypt.compare(password, hash))) return false;
    this.#remember(key);
    return true;
  }

  #remember(key: string): void {
    this.#verified.delete(key);
    this.#verified.set(key, Date.now() + this.#ttlMs);
    // Map keeps insertion order: the first key is the oldest.
    while (this.#verified.size > this.#maxEntries) this.#verified.delete(this.#verified.keys().next().value as string);
  }

  #dummy(): Promise<string> {
    this.#dummyHash ??= bcrypt.hash(randomBytes(16).toString('hex'), BCRYPT_ROUNDS);
    return this.#dummyHash;
  }
}
