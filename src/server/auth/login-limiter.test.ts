import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isSlipwayError } from '../../errors.js';
import { LoginGuard } from './login-guard.js';
import { LoginLimiter } from './login-limiter.js';
import type { Access, Authorizer } from './types.js';

/** The seconds to wait a refused begin() names, or 0 when it was let through. */
function waitOf(limiter: LoginLimiter, address: string | undefined, user: string): number {
  try {
    limiter.begin(address, user).failed();
    return 0;
  } catch (err) {
    assert.ok(isSlipwayError(err, 'TOO_MANY_REQUESTS'), String(err));
    return err.detail!['retryAfterSeconds'] as number;
  }
}

describe('login limiter', () => {
  test('free attempts, then a wait that doubles with each failure, up to the maximum', () => {
    let now = 1_000_000;
    const limiter = new LoginLimiter(
      { freePerUser: 3, freePerAddress: 100, baseDelayMs: 1000, maxDelayMs: 8000 },
      () => now,
    );
    for (let i = 0; i < 3; i++) assert.equal(waitOf(limiter, 'a', 'alice'), 0, `free attempt ${i + 1}`);
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const wait = waitOf(limiter, 'a', 'alice');
      assert.ok(wait > 0, 'refused while waiting');
      waits.push(wait);
      assert.equal(waitOf(limiter, 'a', 'alice'), wait, 'a refused attempt does not lengthen the wait');
      now += wait * 1000;
      assert.equal(waitOf(limiter, 'a', 'alice'), 0, 'let through once the wait is over');
    }
    assert.deepEqual(waits, [1, 2, 4, 8, 8, 8]);
  });

  test('per address across users, per user across addresses; a success clears the user and its own count', () => {
    const now = 5_000_000;
    const limiter = new LoginLimiter({ freePerUser: 2, freePerAddress: 3 }, () => now);
    for (const user of ['u1', 'u2', 'u3']) assert.equal(waitOf(limiter, '10.0.0.1', user), 0);
    assert.ok(waitOf(limiter, '10.0.0.1', 'u4') > 0, 'the address guessed 3 names');
    assert.equal(waitOf(limiter, '10.0.0.2', 'u4'), 0, 'another address may');
    assert.equal(waitOf(limiter, '10.0.0.3', 'u1'), 0);
    assert.ok(waitOf(limiter, '10.0.0.4', 'u1') > 0, 'u1 failed twice, from two addresses');
    const fresh = new LoginLimiter({ freePerUser: 2, freePerAddress: 3 }, () => now);
    fresh.begin('b', 'bob').failed();
    fresh.begin('b', 'bob').succeeded();
    assert.equal(waitOf(fresh, 'b', 'bob'), 0, 'a success cleared bob');
    assert.equal(waitOf(fresh, 'b', 'bob'), 0);
    assert.ok(waitOf(fresh, 'b', 'bob') > 0);
  });

  test('attempts count from their start: concurrent ones cannot slip past the limit; old failures are forgotten', () => {
    let now = 0;
    const limiter = new LoginLimiter({ freePerUser: 2, forgetAfterMs: 60_000 }, () => now);
    const a = limiter.begin(undefined, 'carol');
    const b = limiter.begin(undefined, 'carol');
    assert.throws(() => limiter.begin(undefined, 'carol'), /too many failed logins/);
    a.failed();
    b.failed();
    now += 61_000;
    assert.equal(waitOf(limiter, undefined, 'carol'), 0, 'forgotten after an hour without attempts');
  });
});

describe('login guard', () => {
  class CountingAuthorizer implements Authorizer {
    checks = 0;
    password = 'right';
    async authorize(_user: string | undefined, requested: Access): Promise<Access> {
      return requested;
    }
    async login(user: string, password: string): Promise<string | undefined> {
      this.checks++;
      await new Promise((r) => setTimeout(r, 5));
      return password === this.password ? user : undefined;
    }
  }

  test('a success is remembered; parallel identical logins share one check', async () => {
    const authorizer = new CountingAuthorizer();
    const guard = new LoginGuard(authorizer);
    assert.deepEqual(
      await Promise.all(Array.from({ length: 10 }, () => guard.login('a', 'alice', 'right'))),
      Array(10).fill('alice'),
    );
    assert.equal(authorizer.checks, 1);
    assert.equal(await guard.login('a', 'alice', 'right'), 'alice');
    assert.equal(authorizer.checks, 1, 'answered from memory');
    assert.equal(await guard.login('a', 'alice', 'wrong'), undefined);
    assert.equal(authorizer.checks, 2);
  });

  test('remembered credentials get in while the user is under attack; strangers wait', async () => {
    const authorizer = new CountingAuthorizer();
    const guard = new LoginGuard(authorizer, { limits: { freePerUser: 3 }, cacheTtlMs: 0 });
    assert.equal(await guard.login('10.0.0.1', 'alice', 'right'), 'alice');
    for (let i = 0; i < 3; i++) assert.equal(await guard.login('10.6.6.6', 'alice', `guess${i}`), undefined);
    await assert.rejects(guard.login('10.6.6.6', 'alice', 'guess'), /too many failed logins/);
    const before = authorizer.checks;
    assert.equal(
      await guard.login('10.0.0.1', 'alice', 'right'),
      'alice',
      'the signed-in client is checked again, not limited',
    );
    assert.equal(authorizer.checks, before + 1);
    // Trust is in the credentials, not the address: whoever sends them knows the password.
    assert.equal(await guard.login('10.0.0.9', 'alice', 'right'), 'alice');
    authorizer.password = 'changed';
    assert.equal(await guard.login('10.0.0.1', 'alice', 'right'), undefined, 'an old password stops working');
    await assert.rejects(
      guard.login('10.0.0.1', 'alice', 'right'),
      /too many failed logins/,
      'and is no longer trusted',
    );
  });
});
