import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf } from '../../oci/digest.js';
import { LocalStore } from '../../store/local-store.js';
import { createRegistryApp, type RegistryApp } from '../registry/app.js';
import { basicAuthenticator } from './basic.js';
import { bearerAuthenticator } from './bearer.js';
import { generateTokenKey } from '../../auth/token-key.js';
import { createTokenApp } from './token-routes.js';
import { TokenService } from './token-service.js';
import { PASSWORDS, basicHeader, sampleAuthorizer } from './testdata/users.js';

/** The registry routes with the real authenticators, in process: what the routes ask for, and what the clients get. */
describe('registry routes behind auth', () => {
  let dir: string;
  let store: LocalStore;
  let tokenApp: RegistryApp;
  let basicApp: RegistryApp;
  const ORIGIN = 'http://registry.test';
  const blob = Buffer.from('a layer behind auth');
  const digest = digestOf(blob);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-registry-auth-'));
    store = await LocalStore.open(join(dir, 'home'));
    const tokens = new TokenService({
      key: await generateTokenKey(),
      authorizer: sampleAuthorizer(),
      service: 'registry.test',
    });
    tokenApp = createRegistryApp({ store, auth: bearerAuthenticator(tokens) });
    tokenApp.route('/token', createTokenApp(tokens));
    basicApp = createRegistryApp({ store, auth: basicAuthenticator(sampleAuthorizer()) });
  });
  after(async () => {
    await tokenApp.close();
    await basicApp.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function token(scope: string, authorization?: string): Promise<string> {
    const res = await tokenApp.request(
      `${ORIGIN}/token?service=registry.test&scope=${encodeURIComponent(scope)}`,
      authorization ? { headers: { Authorization: authorization } } : {},
    );
    return ((await res.json()) as { token: string }).token;
  }
  const push = (app: RegistryApp, repo: string, authorization?: string) =>
    app.request(`${ORIGIN}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      body: blob,
      headers: {
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(blob.length),
        ...(authorization ? { Authorization: authorization } : {}),
      },
    });

  test('a push is challenged with the pull,push scope, then succeeds with the token the challenge leads to', async () => {
    const denied = await push(tokenApp, 'team/app');
    assert.equal(denied.status, 401);
    const challenge = denied.headers.get('www-authenticate') ?? '';
    assert.equal(
      challenge,
      `Bearer realm="${ORIGIN}/token",service="registry.test",scope="repository:team/app:pull,push"`,
    );
    assert.deepEqual(
      ((await denied.json()) as { errors: { code: string }[] }).errors.map((e) => e.code),
      ['UNAUTHORIZED'],
    );
    const scope = /scope="([^"]+)"/.exec(challenge)![1]!;
    const ok = await push(tokenApp, 'team/app', `Bearer ${await token(scope, basicHeader('alice', PASSWORDS.alice))}`);
    assert.equal(ok.status, 201);
  });

  test('a pull-only token gets insufficient_scope on push; the version check passes with any valid token', async () => {
    const bob = await token('repository:team/app:pull,push', basicHeader('bob', PASSWORDS.bob));
    const res = await push(tokenApp, 'team/app', `Bearer ${bob}`);
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /error="insufficient_scope"$/);
    assert.equal(
      (await tokenApp.request(`${ORIGIN}/v2/team/app/blobs/${digest}`, { headers: { Authorization: `Bearer ${bob}` } }))
        .status,
      200,
    );
    assert.equal(
      (await tokenApp.request(`${ORIGIN}/v2/`, { headers: { Authorization: `Bearer ${bob}` } })).status,
      200,
    );
    assert.equal((await tokenApp.request(`${ORIGIN}/v2/`)).status, 401);
  });

  test('the catalog asks for registry:catalog:*', async () => {
    const res = await tokenApp.request(`${ORIGIN}/v2/_catalog`);
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /scope="registry:catalog:\*"/);
    const alice = await token('registry:catalog:*', basicHeader('alice', PASSWORDS.alice));
    assert.equal(
      (await tokenApp.request(`${ORIGIN}/v2/_catalog`, { headers: { Authorization: `Bearer ${alice}` } })).status,
      200,
    );
  });

  test('basic: anonymous pull of public/ per prefix, 403 DENIED for a signed-in user without push', async () => {
    assert.equal(
      (await push(basicApp, 'public/base', basicHeader('alice', PASSWORDS.alice))).status,
      403,
      'alice has no grant on public/ beyond pull',
    );
    assert.equal((await push(basicApp, 'team/basic', basicHeader('alice', PASSWORDS.alice))).status, 201);
    const denied = await push(basicApp, 'team/basic', basicHeader('bob', PASSWORDS.bob));
    assert.equal(denied.status, 403);
    assert.equal(((await denied.json()) as { errors: { code: string }[] }).errors[0]!.code, 'DENIED');
    assert.equal(
      (await basicApp.request(`${ORIGIN}/v2/public/base/tags/list`)).status,
      404,
      'anonymous passes auth for public/ (the repository does not exist)',
    );
    assert.equal((await basicApp.request(`${ORIGIN}/v2/team/basic/tags/list`)).status, 401);
  });
});
