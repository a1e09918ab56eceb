import { randomBytes } from 'node:crypto';
import { Algorithm, hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { SlipwayError } from '../errors.js';
import { BcryptWorker } from './bcrypt-worker.js';
import { ARGON2ID_HASH_RE, BCRYPT_HASH_RE } from './users-file.js';

/**
 * argon2id with OWASP's first recommended setting (19 MiB, 2 passes, 1 lane): about
 * 15 ms per hash here, computed on libuv's thread pool, never on the event loop.
 */
export const ARGON2_OPTIONS = {
  algorithm: Algorithm.Argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

/** Hashes a password for the users file (argon2id, a PHC string `$argon2id$v=19$...`). */
export async function hashPassword(password: string): Promise<string> {
  if (password === '') throw new SlipwayError('INVALID_ARGUMENT', 'the password is empty');
  return argon2Hash(password, ARGON2_OPTIONS);
}

/** True for a hash from before argon2id (bcrypt): it is replaced at the user's next good login. */
export function needsRehash(hash: string): boolean {
  return !ARGON2ID_HASH_RE.test(hash);
}

const bcrypt = new BcryptWorker();

/** True when `password` matches `hash` (argon2id, or a bcrypt hash of an older users file); false for any other hash. */
export async function verifyPasswordHash(password: string, hash: string): Promise<boolean> {
  if (ARGON2ID_HASH_RE.test(hash)) return argon2Verify(hash, password).catch(() => false);
  if (BCRYPT_HASH_RE.test(hash)) return bcrypt.compare(password, hash);
  return false;
}

/**
 * Checks passwords against the users file's hashes, spending as long on an unknown
 * user (a check against a hash of a random password) so that timing does not tell
 * which users exist. Caching successes and limiting attempts is the login guard's
 * business (login-guard.ts), not this.
 */
export class PasswordChecker {
  #dummyHash: Promise<string> | undefined;

  /** True when `password` matches `hash`; with no hash (unknown user) it takes as long and says false. */
  async verify(password: string, hash: string | undefined): Promise<boolean> {
    if (hash === undefined) {
      await verifyPasswordHash(password, await this.#dummy());
      return false;
    }
    return verifyPasswordHash(password, hash);
  }

  #dummy(): Promise<string> {
    this.#dummyHash ??= argon2Hash(randomBytes(16).toString('hex'), ARGON2_OPTIONS);
    return this.#dummyHash;
  }
}
