import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { bearerAuthenticator } from './bearer.js';
import { parseScopes } from '../../auth/scope.js';
import { generateTokenKey, loadOrCreateTokenKey, type TokenKey } from '../../auth/token-key.js';
import { createTokenApp } from './token-routes.js';
import { TokenService } from './token-service.js';
import { PASSWORDS, basicHeader, guardedApp, sampleAuthorizer } from './testdata/users.js';

const key = await generateTokenKey();
const tokens = new TokenService({ key, authorizer: sampleAuthorizer(), service: 'registry.test' });

/** The token endpoint at /token and a guarded route at /check, on one origin, as the server mounts them. */
const app = new Hono();
app.route('/token', createTokenApp(tokens));
app.route('/', guardedApp(bearerAuthenticator(tokens)));

const ORIGIN = 'http://registry.test:5000';

async function getToken(
  query: string,
  authorization?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.request(
    `${ORIGIN}/token?${query}`,
    authorization === undefined ? {} : { headers: { Authorization: authorization } },
  );
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function postToken(
  form: Record<string, string | string[]>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) for (const value of [v].flat()) params.append(k, value);
  const res = await app.request(`${ORIGIN}/token`, {
    method: 'POST',
    body: params.toString(),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function check(need: string, token?: string): Promise<Response> {
  return app.request(
    `${ORIGIN}/check?need=${encodeURIComponent(need)}`,
    token === undefined ? {} : { headers: { Authorization: `Bearer ${token}` } },
  );
}

const alice = basicHeader('alice', PASSWORDS.alice);

/** A token signed by `signingKey` with the given claims, to forge expired, foreign and odd tokens. */
function forge(
  signingKey: TokenKey,
  claims: Record<string, unknown>,
  times: { iat?: number; exp?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ access: [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }], ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: signingKey.kid })
    .setIssuer('slipway')
    .setAudience('registry.test')
    .setSubject('alice')
    .setJti('forged')
    .setIssuedAt(times.iat ?? now)
    .setNotBefore(times.iat ?? now)
    .setExpirationTime(times.exp ?? now + 300)
    .sign(signingKey.privateKey);
}

type OciErrors = { errors: { code: string; message: string }[] };

describe('bearer challenges', () => {
  test('no token: 401 naming realm, service and the scope the request needs', async () => {
    const res = await check('repository:team/app:pull,push');
    assert.equal(res.status, 401);
    assert.equal(
      res.headers.get('www-authenticate'),
      `Bearer realm="${ORIGIN}/token",service="registry.test",scope="repository:team/app:pull,push"`,
    );
    assert.equal(((await res.json()) as OciErrors).errors[0]!.code, 'UNAUTHORIZED');
  });

  test('the version check has no scope in its challenge; a mount lists both repositories separated by a space', async () => {
    const ping = await app.request(`${ORIGIN}/check`);
    assert.equal(ping.headers.get('www-authenticate'), `Bearer realm="${ORIGIN}/token",service="registry.test"`);
    const mount = await check('repository:public/base:pull repository:team/app:pull,push');
    assert.match(
      mount.headers.get('www-authenticate') ?? '',
      /,scope="repository:public\/base:pull repository:team\/app:pull,push"$/,
    );
  });

  test('a configured realm wins over the request origin', async () => {
    const res = await guardedApp(bearerAuthenticator(tokens, { realm: 'https://auth.example/token' })).request(
      '/check',
    );
    assert.match(
      res.headers.get('www-authenticate') ?? '',
      /^Bearer realm="https:\/\/auth\.example\/token",service="registry\.test"$/,
    );
  });
});

describe('token endpoint, GET (skopeo, podman, docker)', () => {
  test('with Basic auth: the token grants what was asked and allowed, and opens the route', async () => {
    const { status, body } = await getToken('service=registry.test&scope=repository:team/app:pull,push', alice);
    assert.equal(status, 200);
    assert.equal(body['token'], body['access_token']);
    assert.equal(body['expires_in'], 300);
    assert.match(String(body['issued_at']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const res = await check('repository:team/app:pull,push', String(body['token']));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      user: 'alice',
      granted: [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }],
    });
  });

  test("the JWT carries Docker's claims: iss, aud, sub, exp, nbf, iat, jti and access", async () => {
    const { body } = await getToken('service=registry.test&scope=repository:team/app:pull', alice);
    const claims = decodeJwt(String(body['token']));
    assert.equal(claims.iss, 'slipway');
    assert.equal(claims.aud, 'registry.test');
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.exp! - claims.iat!, 300);
    assert.equal(claims.nbf, claims.iat);
    assert.match(String(claims.jti), /^[0-9a-f-]{36}$/);
    assert.deepEqual(claims['access'], [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    assert.deepEqual(decodeProtectedHeader(String(body['token'])), { alg: 'ES256', typ: 'JWT', kid: key.kid });
  });

  test('one scope= per scope, and one scope= holding several separated by spaces, both grant all', async () => {
    const want = [
      { type: 'repository', name: 'team/a', actions: ['pull'] },
      { type: 'repository', name: 'team/b', actions: ['pull', 'push'] },
    ];
    const many = await getToken(
      'service=registry.test&scope=repository:team/a:pull&scope=repository:team/b:pull,push',
      alice,
    );
    assert.deepEqual(decodeJwt(String(many.body['token']))['access'], want);
    const spaced = await getToken(
      'service=registry.test&scope=repository:team/a:pull+repository:team/b:pull,push',
      alice,
    );
    assert.deepEqual(decodeJwt(String(spaced.body['token']))['access'], want);
    const encoded = await getToken(
      'service=registry.test&scope=repository%3Ateam%2Fa%3Apull%20repository%3Ateam%2Fb%3Apull%2Cpush',
      alice,
    );
    assert.deepEqual(decodeJwt(String(encoded.body['token']))['access'], want);
  });

  test('anonymous: a token for public/ pulls; asking for more yields less, not an error', async () => {
    const { status, body } = await getToken(
      'service=registry.test&scope=repository:public/base:pull,push&scope=repository:team/app:pull',
    );
    assert.equal(status, 200);
    const claims = decodeJwt(String(body['token']));
    assert.equal(claims.sub, '');
    assert.deepEqual(claims['access'], [{ type: 'repository', name: 'public/base', actions: ['pull'] }]);
    assert.equal((await check('repository:public/base:pull', String(body['token']))).status, 200);
    const push = await check('repository:public/base:pull,push', String(body['token']));
    assert.equal(push.status, 401);
    assert.match(push.headers.get('www-authenticate') ?? '', /,error="insufficient_scope"$/);
    assert.equal((await check('repository:team/app:pull', String(body['token']))).status, 401);
  });

  test('docker login: offline_token=true&client_id=docker adds a refresh token for a signed-in user', async () => {
    const { body } = await getToken('account=alice&client_id=docker&offline_token=true&service=registry.test', alice);
    assert.equal(typeof body['refresh_token'], 'string');
    assert.deepEqual(decodeJwt(String(body['token']))['access'], []);
    const anonymous = await getToken('client_id=docker&offline_token=true&service=registry.test');
    assert.equal(anonymous.body['refresh_token'], undefined);
  });

  test('catalog scope: granted to alice only', async () => {
    const a = await getToken('service=registry.test&scope=registry:catalog:*', alice);
    assert.deepEqual(decodeJwt(String(a.body['token']))['access'], [
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    assert.equal((await check('registry:catalog:*', String(a.body['token']))).status, 200);
    const b = await getToken('service=registry.test&scope=registry:catalog:*', basicHeader('bob', PASSWORDS.bob));
    assert.deepEqual(decodeJwt(String(b.body['token']))['access'], []);
  });

  test('wrong password: 401 with a Basic challenge; another service: 400', async () => {
    const res = await app.request(`${ORIGIN}/token?service=registry.test&scope=repository:team/app:pull`, {
      headers: { Authorization: basicHeader('alice', 'nope') },
    });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="slipway"');
    assert.equal(((await res.json()) as OciErrors).errors[0]!.code, 'UNAUTHORIZED');
    const other = await getToken('service=elsewhere&scope=repository:team/app:pull', alice);
    assert.equal(other.status, 400);
    assert.match(JSON.stringify(other.body), /registry\.test/);
  });
});

describe('token endpoint, OAuth2 POST (containerd)', () => {
  test('grant_type=password answers access_token, scope and, offline, a refresh token', async () => {
    const { status, body } = await postToken({
      grant_type: 'password',
      username: 'alice',
      password: PASSWORDS.alice,
      service: 'registry.test',
      client_id: 'containerd-client',
      scope: 'repository:team/app:pull,push repository:public/base:pull',
      access_type: 'offline',
    });
    assert.equal(status, 200);
    assert.equal(typeof body['access_token'], 'string');
    assert.equal(body['scope'], 'repository:team/app:pull,push repository:public/base:pull');
    assert.equal(typeof body['refresh_token'], 'string');
    assert.equal((await check('repository:team/app:pull,push', String(body['access_token']))).status, 200);
  });

  test('grant_type=refresh_token: a fresh access token for the same user', async () => {
    const first = await getToken('offline_token=true&client_id=docker&service=registry.test', alice);
    const { status, body } = await postToken({
      grant_type: 'refresh_token',
      refresh_token: String(first.body['refresh_token']),
      service: 'registry.test',
      scope: 'repository:team/app:pull',
    });
    assert.equal(status, 200);
    assert.equal(decodeJwt(String(body['access_token'])).sub, 'alice');
    assert.deepEqual(decodeJwt(String(body['access_token']))['access'], [
      { type: 'repository', name: 'team/app', actions: ['pull'] },
    ]);
  });

  test('errors are OAuth2 errors with the statuses containerd falls back to GET on', async () => {
    const wrong = await postToken({
      grant_type: 'password',
      username: 'alice',
      password: 'nope',
      service: 'registry.test',
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body['error'], 'invalid_grant');
    const unsupported = await postToken({ grant_type: 'client_credentials' });
    assert.equal(unsupported.status, 400);
    assert.equal(unsupported.body['error'], 'unsupported_grant_type');
    const badRefresh = await postToken({ grant_type: 'refresh_token', refresh_token: 'garbage' });
    assert.equal(badRefresh.status, 401);
    const json = await app.request(`${ORIGIN}/token`, {
      method: 'POST',
      body: '{}',
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(json.status, 400);
  });
});

describe('token verification', () => {
  test('an expired token is 401 invalid_token, with the scope to ask for again', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await forge(key, {}, { iat: now - 600, exp: now - 300 });
    const res = await check('repository:team/app:pull', expired);
    assert.equal(res.status, 401);
    assert.equal(
      res.headers.get('www-authenticate'),
      `Bearer realm="${ORIGIN}/token",service="registry.test",scope="repository:team/app:pull",error="invalid_token"`,
    );
    assert.match(((await res.json()) as OciErrors).errors[0]!.message, /"exp" claim/);
  });

  test('a token signed by another key, or tampered with, is 401 invalid_token', async () => {
    const foreign = await forge(await generateTokenKey(), {});
    const res = await check('repository:team/app:pull', foreign);
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"$/);
    const good = await forge(key, {});
    const [h, , s] = good.split('.');
    const payload = Buffer.from(
      JSON.stringify({ ...decodeJwt(good), access: [{ type: 'registry', name: 'catalog', actions: ['*'] }] }),
    ).toString('base64url');
    assert.equal((await check('registry:catalog:*', `${h}.${payload}.${s}`)).status, 401);
    assert.equal((await check('repository:team/app:pull', 'not.a.jwt')).status, 401);
  });

  test('a token for another audience, or a refresh token, does not open the registry', async () => {
    const otherAudience = await new SignJWT({ access: [] })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('slipway')
      .setAudience('elsewhere')
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime('5m')
      .setJti('x')
      .sign(key.privateKey);
    assert.equal((await check('repository:team/app:pull', otherAudience)).status, 401);
    const refresh = await tokens.issueRefreshToken('alice');
    const res = await check('repository:team/app:pull', refresh);
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"$/);
  });

  test('a valid token without the action is 401 insufficient_scope naming what was needed', async () => {
    const { body } = await getToken(
      'service=registry.test&scope=repository:team/app:pull',
      basicHeader('bob', PASSWORDS.bob),
    );
    const res = await check('repository:team/app:pull,push', String(body['token']));
    assert.equal(res.status, 401);
    assert.equal(
      res.headers.get('www-authenticate'),
      `Bearer realm="${ORIGIN}/token",service="registry.test",scope="repository:team/app:pull,push",error="insufficient_scope"`,
    );
  });

  test('expiry is configurable', async () => {
    const short = new TokenService({
      key,
      authorizer: sampleAuthorizer(),
      service: 'registry.test',
      expirySeconds: 1,
      clockToleranceSeconds: 0,
    });
    const issued = await short.issue('alice', parseScopes(['repository:team/app:pull']));
    assert.equal(issued.expiresIn, 1);
    await short.verify(issued.token);
    await new Promise((r) => setTimeout(r, 2100));
    await assert.rejects(short.verify(issued.token), /"exp" claim/, 'a cached verification expires with its token');
  });
});

describe('signing key', () => {
  test('generated on first start with mode 0600 and reused afterwards', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-key-'));
    try {
      const path = join(dir, 'registry', 'token-key.jwk');
      const [a, b] = await Promise.all([loadOrCreateTokenKey(path), loadOrCreateTokenKey(path)]);
      assert.equal(a.kid, b.kid, 'two servers starting at once agree on one key');
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      const again = await loadOrCreateTokenKey(path);
      assert.equal(again.kid, a.kid);
      const service = new TokenService({ key: a, authorizer: sampleAuthorizer(), service: 's' });
      const restarted = new TokenService({ key: again, authorizer: sampleAuthorizer(), service: 's' });
      assert.equal(
        (await restarted.verify((await service.issue('alice', [])).token)).user,
        'alice',
        'tokens survive a restart',
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
