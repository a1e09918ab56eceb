import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseAuthMode, isLoopback, setupAuth } from './setup.js';
import { allowAll } from './types.js';
import { writeUsersFile } from '../../auth/users-file.js';
import { PASSWORDS, basicHeader, guardedApp, sampleUsers } from './testdata/users.js';

describe('auth setup', () => {
  test('loopback addresses are recognised; all-interfaces and other hosts are not', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1'])
      assert.ok(isLoopback(host), host);
    for (const host of ['0.0.0.0', '::', '[::]', '10.0.0.5', 'registry.example', ''])
      assert.ok(!isLoopback(host), host);
  });

  test('no --auth: anonymous on loopback only; elsewhere a clear refusal', () => {
    assert.equal(chooseAuthMode('127.0.0.1', undefined), 'none');
    assert.throws(
      () => chooseAuthMode('0.0.0.0', undefined),
      /refusing to serve 0\.0\.0\.0 without authentication.*--auth none/,
    );
    assert.equal(chooseAuthMode('0.0.0.0', 'none'), 'none', 'an explicit --auth none is obeyed');
    assert.equal(chooseAuthMode('0.0.0.0', 'token'), 'token');
    assert.throws(() => chooseAuthMode('127.0.0.1', 'ldap'), /none, basic, token/);
  });

  test('token mode: users from the home, a key generated there, a token app to mount', async () => {
    const home = await mkdtemp(join(tmpdir(), 'slipway-setup-'));
    try {
      await assert.rejects(setupAuth({ mode: 'token', home }), /no users file/);
      await writeUsersFile(join(home, 'registry', 'users.json'), sampleUsers());
      const token = await setupAuth({ mode: 'token', home, service: 'svc' });
      assert.ok(token.tokenApp);
      assert.equal(token.usersPath, join(home, 'registry', 'users.json'));
      assert.equal((await stat(join(home, 'registry', 'token-key.jwk'))).mode & 0o777, 0o600);
      const res = await token.tokenApp.request('/?service=svc&scope=repository:public/x:pull');
      assert.equal(res.status, 200);
      const basic = await setupAuth({ mode: 'basic', home });
      assert.equal(basic.tokenApp, undefined);
      assert.equal((await setupAuth({ mode: 'none', home })).authenticator, allowAll);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  test('token mode: a signed-in user outside the grant gets 403 DENIED naming the action; anonymous still 401', async () => {
    const home = await mkdtemp(join(tmpdir(), 'slipway-setup-'));
    try {
      await writeUsersFile(join(home, 'registry', 'users.json'), sampleUsers());
      const setup = await setupAuth({ mode: 'token', home, service: 'svc' });
      const app = guardedApp(setup.authenticator);
      const token = async (scope: string, authorization?: string) => {
        const res = await setup.tokenApp!.request(
          `/?service=svc&scope=${encodeURIComponent(scope)}`,
          authorization ? { headers: { Authorization: authorization } } : {},
        );
        return ((await res.json()) as { token: string }).token;
      };
      const need = 'repository:team/app:pull,push';
      const bob = await token(need, basicHeader('bob', PASSWORDS.bob));
      const denied = await app.request(`http://r.test/check?need=${need}`, {
        headers: { Authorization: `Bearer ${bob}` },
      });
      assert.equal(denied.status, 403);
      assert.equal(denied.headers.get('www-authenticate'), null, 'no challenge: logging in again would not help');
      const body = (await denied.json()) as { errors: { code: string; message: string; detail: unknown[] }[] };
      assert.equal(body.errors[0]!.code, 'DENIED');
      assert.match(body.errors[0]!.message, /repository:team\/app:push/);
      assert.deepEqual(body.errors[0]!.detail, [{ Type: 'repository', Name: 'team/app', Action: 'push' }]);
      // A token that merely lacks a scope the user has: 401 insufficient_scope, a new token helps.
      const alicePull = await token('repository:team/app:pull', basicHeader('alice', PASSWORDS.alice));
      const narrow = await app.request(`http://r.test/check?need=${need}`, {
        headers: { Authorization: `Bearer ${alicePull}` },
      });
      assert.equal(narrow.status, 401);
      assert.match(narrow.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);
      // Anonymous: 401 with the challenge, so the client logs in.
      const anonymous = await token(need);
      const anon = await app.request(`http://r.test/check?need=${need}`, {
        headers: { Authorization: `Bearer ${anonymous}` },
      });
      assert.equal(anon.status, 401);
      assert.match(anon.headers.get('www-authenticate') ?? '', /^Bearer realm=/);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
