import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { FileAuthorizer } from '../server/auth/file-authorizer.js';
import { hashPassword, verifyPasswordHash } from './password.js';
import { parseGrant, parseUsersFile, prefixMatches, readUsersFile, writeUsersFile } from './users-file.js';
import { PASSWORDS, sampleAuthorizer, sampleUsers } from '../server/auth/testdata/users.js';

const repo = (name: string, ...actions: string[]) => ({ type: 'repository' as const, name, actions });

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-users-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('users file', () => {
  test('a prefix matches whole path segments; * and the empty prefix match everything', () => {
    assert.ok(prefixMatches('team/', 'team/app'));
    assert.ok(prefixMatches('team', 'team/app/x'));
    assert.ok(prefixMatches('team/app', 'team/app'));
    assert.ok(!prefixMatches('team/', 'teammate/app'));
    assert.ok(!prefixMatches('team/app', 'team/apple'));
    assert.ok(prefixMatches('*', 'anything/at/all'));
    assert.ok(prefixMatches('', 'x'));
  });

  test('--grant PREFIX:ACTIONS parses, and bad grants say how to write one', () => {
    assert.deepEqual(parseGrant('team/:pull,push'), { prefix: 'team/', actions: ['pull', 'push'] });
    assert.deepEqual(parseGrant('*:*'), { prefix: '*', actions: ['*'] });
    for (const bad of ['team/', 'team/:fly', 'Team/:pull', 'team/:'])
      assert.throws(() => parseGrant(bad), /PREFIX:ACTIONS/);
  });

  test('validation names the field that is wrong', () => {
    assert.throws(
      () => parseUsersFile({ users: { alice: { passwordHash: 'plain', grants: [] } } }),
      /users\.alice\.passwordHash: an argon2id hash .* or a bcrypt one/,
    );
    assert.throws(
      () =>
        parseUsersFile({ users: { 'a:b': { passwordHash: sampleUsers().users['alice']!.passwordHash, grants: [] } } }),
      /user name/,
    );
    assert.throws(
      () => parseUsersFile({ anonymous: { grants: [{ prefix: 'x/', actions: ['steal'] }] } }),
      /anonymous\.grants\.0\.actions/,
    );
    assert.deepEqual(parseUsersFile({}), { users: {}, anonymous: { grants: [] } });
  });

  test('written with mode 0600, sorted, and read back the same', async () => {
    await withDir(async (dir) => {
      const path = join(dir, 'registry', 'users.json');
      const users = sampleUsers();
      await writeUsersFile(path, { ...users, users: { zed: users.users['bob']!, ...users.users } });
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      const back = await readUsersFile(path);
      assert.deepEqual(Object.keys(back.users), ['alice', 'bob', 'zed']);
      assert.deepEqual(back.anonymous, users.anonymous);
      assert.doesNotMatch(
        await readFile(path, 'utf8'),
        new RegExp(PASSWORDS.alice),
        'no password in the file, only hashes',
      );
    });
  });

  test('a missing or broken file is a clear error', async () => {
    await withDir(async (dir) => {
      await assert.rejects(readUsersFile(join(dir, 'nope.json')), /no users file at .*slipway registry user add/);
      await writeFile(join(dir, 'bad.json'), '{ users: ');
      await assert.rejects(readUsersFile(join(dir, 'bad.json')), /bad\.json is not JSON/);
    });
  });
});

describe('passwords', () => {
  test('argon2id hashes and older bcrypt ones verify, wrong passwords and unknown users do not', async () => {
    const hash = await hashPassword('s3cret');
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(await verifyPasswordHash('s3cret', hash), true);
    assert.equal(await verifyPasswordHash('s3cret!', hash), false);
    assert.equal(
      await verifyPasswordHash('s3cret', bcrypt.hashSync('s3cret', 4)),
      true,
      'a bcrypt hash (checked on a worker thread)',
    );
    assert.equal(await verifyPasswordHash('nope', bcrypt.hashSync('s3cret', 4)), false);
    assert.equal(await verifyPasswordHash('s3cret', 'plain text'), false);
    assert.ok(
      parseUsersFile({ users: { a: { passwordHash: hash, grants: [] } } }),
      'an argon2id hash is a valid users file entry',
    );
    const authorizer = sampleAuthorizer();
    assert.equal(await authorizer.login('alice', PASSWORDS.alice), 'alice');
    assert.equal(await authorizer.login('alice', PASSWORDS.alice), 'alice', 'cached success still succeeds');
    assert.equal(await authorizer.login('alice', PASSWORDS.bob), undefined);
    assert.equal(await authorizer.login('mallory', 'x'), undefined);
    assert.equal(await authorizer.login('__proto__', 'x'), undefined);
  });

  test('an empty password is refused; long ones are hashed whole (no bcrypt 72-byte cut)', async () => {
    await assert.rejects(hashPassword(''), /empty/);
    const long = `${'x'.repeat(72)}tail`;
    const hash = await hashPassword(long);
    assert.equal(await verifyPasswordHash(long, hash), true);
    assert.equal(await verifyPasswordHash('x'.repeat(72), hash), false);
  });

  test('a good login behind a bcrypt hash rehashes it to argon2id in the users file', async () => {
    await withDir(async (dir) => {
      const path = join(dir, 'users.json');
      await writeUsersFile(path, sampleUsers());
      const authorizer = await FileAuthorizer.open(path);
      assert.equal(await authorizer.login('alice', 'wrong'), undefined);
      assert.match(
        (await readUsersFile(path)).users['alice']!.passwordHash,
        /^\$2b\$/,
        'a failed login changes nothing',
      );
      assert.equal(await authorizer.login('alice', PASSWORDS.alice), 'alice');
      const after = await readUsersFile(path);
      assert.match(after.users['alice']!.passwordHash, /^\$argon2id\$/);
      assert.match(after.users['bob']!.passwordHash, /^\$2b\$/, 'other users keep theirs until they log in');
      assert.deepEqual(after.users['alice']!.grants, sampleUsers().users['alice']!.grants);
      assert.equal(await authorizer.login('alice', PASSWORDS.alice), 'alice', 'the new hash verifies');
      assert.equal(
        await (await FileAuthorizer.open(path)).login('alice', PASSWORDS.alice),
        'alice',
        'and so does a server started afresh',
      );
    });
  });
});

describe('FileAuthorizer', () => {
  test('grants by prefix, never more than asked, anonymous grants for everyone', async () => {
    const a = sampleAuthorizer();
    assert.deepEqual(await a.authorize('alice', repo('team/app', 'pull', 'push')), repo('team/app', 'pull', 'push'));
    assert.deepEqual(await a.authorize('bob', repo('team/app', 'pull', 'push')), repo('team/app', 'pull'));
    assert.deepEqual(await a.authorize('bob', repo('other/app', 'pull')), repo('other/app'));
    assert.deepEqual(await a.authorize(undefined, repo('public/base', 'pull', 'push')), repo('public/base', 'pull'));
    assert.deepEqual(await a.authorize('bob', repo('public/base', 'pull')), repo('public/base', 'pull'));
    assert.deepEqual(await a.authorize(undefined, repo('team/app', 'pull')), repo('team/app'));
    assert.deepEqual(await a.authorize('nobody', repo('team/app', 'pull')), repo('team/app'));
  });

  test('catalog access only where the file says so', async () => {
    const a = sampleAuthorizer();
    const catalog = { type: 'registry' as const, name: 'catalog', actions: ['*'] };
    assert.deepEqual((await a.authorize('alice', catalog)).actions, ['*']);
    assert.deepEqual((await a.authorize('bob', catalog)).actions, []);
    assert.deepEqual((await a.authorize(undefined, catalog)).actions, []);
  });

  test('* grants every action', async () => {
    const users = sampleUsers();
    users.users['bob']!.grants = [{ prefix: '*', actions: ['*'] }];
    const a = new FileAuthorizer(users);
    assert.deepEqual(
      await a.authorize('bob', repo('any/repo', 'pull', 'push', 'delete')),
      repo('any/repo', 'pull', 'push', 'delete'),
    );
    assert.deepEqual(await a.authorize('bob', repo('any/repo', '*')), repo('any/repo', '*'));
  });

  test('an edited file takes effect without a restart; a broken edit keeps the last good one', async () => {
    await withDir(async (dir) => {
      const path = join(dir, 'users.json');
      const users = sampleUsers();
      await writeUsersFile(path, users);
      const errors: unknown[] = [];
      const a = await FileAuthorizer.open(path, { reloadIntervalMs: 0, onReloadError: (e) => errors.push(e) });
      assert.deepEqual((await a.authorize('bob', repo('team/app', 'push'))).actions, []);
      users.users['bob']!.grants.push({ prefix: 'team/', actions: ['push'] });
      await writeUsersFile(path, users);
      assert.deepEqual((await a.authorize('bob', repo('team/app', 'push'))).actions, ['push']);
      await writeFile(path, 'not json');
      assert.deepEqual((await a.authorize('bob', repo('team/app', 'push'))).actions, ['push']);
      assert.equal(errors.length, 1);
      assert.match(String(errors[0]), /not JSON/);
    });
  });

  test('open() on a missing file says how to create it', async () => {
    await withDir(async (dir) => {
      await assert.rejects(FileAuthorizer.open(join(dir, 'users.json')), /slipway registry user add/);
    });
  });
});
