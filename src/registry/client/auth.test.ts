import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { isSlipwayError } from '../../errors.js';
import { digestOf } from '../../oci/digest.js';
import { setupAuth } from '../../server/auth/setup.js';
import { PASSWORDS, sampleUsers } from '../../server/auth/testdata/users.js';
import { writeUsersFile } from '../../auth/users-file.js';
import { createRegistryApp } from '../../server/registry/app.js';
import { serveRegistry, type RunningRegistry } from '../../server/registry/serve.js';
import { LocalStore } from '../../store/local-store.js';
import { RegistryAuth, parseChallenges } from './auth.js';
import { RegistryClient } from './client.js';

describe('parseChallenges', () => {
  test('reads quoted values holding commas, several challenges and escapes', () => {
    assert.deepEqual(
      parseChallenges(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push repository:c:pull"',
      ),
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.example/token',
            service: 'registry.example',
            scope: 'repository:a/b:pull,push repository:c:pull',
          },
        },
      ],
    );
    assert.deepEqual(
      parseChallenges('Basic realm="Registry Realm", Bearer realm="https://x/t",error="insufficient_scope"'),
      [
        { scheme: 'basic', params: { realm: 'Registry Realm' } },
        { scheme: 'bearer', params: { realm: 'https://x/t', error: 'insufficient_scope' } },
      ],
    );
    assert.deepEqual(parseChallenges('Bearer realm=https://x/t, service=reg , scope="a\\"b"'), [
      { scheme: 'bearer', params: { realm: 'https://x/t', service: 'reg', scope: 'a"b' } },
    ]);
    assert.deepEqual(parseChallenges(''), []);
  });
});

describe('RegistryClient with token auth', () => {
  let dir: string;
  let store: LocalStore;
  let registry: RunningRegistry;
  let host: string;
  let tokenRequests: URL[] = [];
  const countingFetch: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.pathname === '/token') tokenRequests.push(url);
    return fetch(input, init);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-client-auth-'));
    store = await LocalStore.open(join(dir, 'home'));
    const usersPath = join(dir, 'users.json');
    await writeUsersFile(usersPath, sampleUsers());
    const auth = await setupAuth({ mode: 'token', home: join(dir, 'home'), usersPath, service: 'slipway-test' });
    const app = createRegistryApp({ store, auth: auth.authenticator });
    app.route('/token', auth.tokenApp!);
    registry = await serveRegistry({ store, auth: auth.authenticator, addr: '127.0.0.1:0', app });
    host = new URL(registry.url).host;
  });
  after(async () => {
    await registry.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a user with push rights pushes and pulls; the token is fetched once per scope set and reused', async () => {
    tokenRequests = [];
    const client = new RegistryClient(host, {
      credentials: { username: 'alice', password: PASSWORDS.alice },
      fetch: countingFetch,
      backoffMs: 5,
    });
    const blob = randomBytes(2048);
    const digest = digestOf(blob);
    await client.putBlob('team/app', Readable.from([blob]), { digest, size: blob.length });
    assert.equal(await client.hasBlob('team/app', digest), true);
    const pushTokens = tokenRequests.filter((u) =>
      u.searchParams.getAll('scope').includes('repository:team/app:pull,push'),
    );
    assert.equal(pushTokens.length, 1, tokenRequests.map(String).join('\n'));
    assert.equal(pushTokens[0]!.searchParams.get('service'), 'slipway-test');
    // Requests refused at the same time share one token fetch.
    tokenRequests = [];
    const parallel = new RegistryClient(host, {
      credentials: { username: 'alice', password: PASSWORDS.alice },
      fetch: countingFetch,
    });
    assert.deepEqual(await Promise.all([1, 2, 3, 4].map(() => parallel.hasBlob('team/app', digest))), [
      true,
      true,
      true,
      true,
    ]);
    assert.equal(tokenRequests.length, 1, tokenRequests.map(String).join('\n'));
    const before = tokenRequests.length;
    await client.hasBlob('team/app', digest);
    await client.hasBlob('team/app', digest);
    assert.equal(tokenRequests.length, before, 'the pull token is cached');
  });

  test('the OAuth2 flow POSTs a password grant to the realm and uses its access_token', async () => {
    const methods: string[] = [];
    const recording: typeof fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.pathname === '/token') methods.push(init?.method ?? 'GET');
      return fetch(input, init);
    };
    const client = new RegistryClient(host, {
      credentials: { username: 'alice', password: PASSWORDS.alice },
      tokenFlow: 'oauth2',
      fetch: recording,
      backoffMs: 5,
    });
    const blob = Buffer.from('pushed with an oauth2 token');
    await client.putBlob('team/oauth', Readable.from([blob]), { digest: digestOf(blob), size: blob.length });
    assert.equal(await client.hasBlob('team/oauth', digestOf(blob)), true);
    assert.ok(methods.length > 0 && methods.every((m) => m === 'POST'), methods.join(','));
  });

  test('a wrong password and a missing push right are clear errors', async () => {
    const wrong = new RegistryClient(host, { credentials: { username: 'alice', password: 'nope' }, backoffMs: 5 });
    await assert.rejects(
      wrong.hasBlob('team/app', digestOf('x')),
      (err: unknown) => isSlipwayError(err) && /token request/.test((err as Error).message),
    );
    const bob = new RegistryClient(host, { credentials: { username: 'bob', password: PASSWORDS.bob }, backoffMs: 5 });
    const blob = Buffer.from('bob may not push');
    await assert.rejects(
      bob.putBlob('team/app', Readable.from([blob]), { digest: digestOf(blob), size: blob.length }),
      (err: unknown) => isSlipwayError(err) && /UNAUTHORIZED|DENIED/.test((err as Error).message),
    );
  });

  test('anonymous clients may pull public/ repositories but are refused elsewhere', async () => {
    const anon = new RegistryClient(host, { backoffMs: 5 });
    assert.equal(await anon.hasBlob('public/base', digestOf('nothing')), false);
    await assert.rejects(anon.hasBlob('team/app', digestOf('nothing')), (err: unknown) => isSlipwayError(err));
  });
});

describe('RegistryClient with basic auth', () => {
  let dir: string;
  let store: LocalStore;
  let registry: RunningRegistry;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-client-basic-'));
    store = await LocalStore.open(join(dir, 'home'));
    const usersPath = join(dir, 'users.json');
    await writeUsersFile(usersPath, sampleUsers());
    const auth = await setupAuth({ mode: 'basic', home: join(dir, 'home'), usersPath });
    registry = await serveRegistry({ store, auth: auth.authenticator, addr: '127.0.0.1:0' });
  });
  after(async () => {
    await registry.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('answers the Basic challenge with the credentials, and a wrong password is UNAUTHORIZED', async () => {
    const host = new URL(registry.url).host;
    const alice = new RegistryClient(host, {
      credentials: { username: 'alice', password: PASSWORDS.alice },
      backoffMs: 5,
    });
    const blob = Buffer.from('pushed with basic auth');
    await alice.putBlob('team/basic', Readable.from([blob]), { digest: digestOf(blob), size: blob.length });
    assert.equal(await alice.hasBlob('team/basic', digestOf(blob)), true);
    // Refused all at once before the scheme is known (a copy's blobs go in parallel): each is retried with Basic.
    const fresh = new RegistryClient(host, { credentials: { username: 'alice', password: PASSWORDS.alice } });
    const blobs = [1, 2, 3, 4].map((i) => Buffer.from(`concurrent basic ${i}`));
    assert.deepEqual(await Promise.all(blobs.map((b) => fresh.hasBlob('team/basic', digestOf(b)))), [
      false,
      false,
      false,
      false,
    ]);
    const wrong = new RegistryClient(host, { credentials: { username: 'alice', password: 'nope' }, backoffMs: 5 });
    await assert.rejects(
      wrong.listTags('team/basic'),
      (err: unknown) => isSlipwayError(err) && /UNAUTHORIZED/.test((err as Error).message),
    );
  });
});

describe('RegistryAuth token cache', () => {
  test('caches a token per scope set until expires_in (default 60 s), then fetches a new one', async () => {
    let now = 1_000_000;
    const asked: URL[] = [];
    const tokenFetch: typeof fetch = async (input) => {
      const url = new URL(String(input));
      asked.push(url);
      const body = url.searchParams.getAll('scope').includes('repository:short:pull')
        ? { access_token: `t${asked.length}`, expires_in: 30 }
        : { token: `t${asked.length}` };
      return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json' } });
    };
    const auth = new RegistryAuth({ fetch: tokenFetch, now: () => now, credentials: { username: 'u', password: 'p' } });
    assert.equal(auth.authorize(['repository:a:pull']), undefined);
    assert.equal(
      await auth.challenge('Bearer realm="http://auth.test/token",service="svc",scope="repository:a:pull"', [
        'repository:a:pull',
      ]),
      true,
    );
    assert.equal(auth.authorize(['repository:a:pull']), 'Bearer t1');
    assert.equal(asked[0]!.searchParams.get('service'), 'svc');
    assert.deepEqual(asked[0]!.searchParams.getAll('scope'), ['repository:a:pull']);
    await auth.prepare(['repository:short:pull']);
    assert.equal(auth.authorize(['repository:short:pull']), 'Bearer t2');
    now += 40_000;
    assert.equal(auth.authorize(['repository:short:pull']), undefined, 'expired after expires_in');
    assert.equal(auth.authorize(['repository:a:pull']), 'Bearer t1', 'still valid under the 60 s default');
    now += 30_000;
    assert.equal(auth.authorize(['repository:a:pull']), undefined);
    await auth.prepare(['repository:a:pull']);
    assert.equal(auth.authorize(['repository:a:pull']), 'Bearer t3');
    assert.equal(asked.length, 3);
  });

  test('the OAuth2 flow falls back to GET when the realm refuses POST', async () => {
    const methods: string[] = [];
    const realm: typeof fetch = async (_input, init) => {
      methods.push(init?.method ?? 'GET');
      return init?.method === 'POST'
        ? new Response('', { status: 405 })
        : new Response(JSON.stringify({ token: 'from-get' }), { status: 200 });
    };
    const auth = new RegistryAuth({ fetch: realm, tokenFlow: 'oauth2', credentials: { username: 'u', password: 'p' } });
    assert.equal(
      await auth.challenge('Bearer realm="http://auth.test/token",service="svc"', ['repository:a:pull']),
      true,
    );
    assert.equal(auth.authorize(['repository:a:pull']), 'Bearer from-get');
    assert.deepEqual(methods, ['POST', 'GET']);
  });

  test('falls back to Basic when the registry asks for it, once', async () => {
    const auth = new RegistryAuth({ credentials: { username: 'u', password: 'p' } });
    assert.equal(await auth.challenge('Basic realm="registry"', []), true);
    assert.equal(auth.authorize([]), `Basic ${Buffer.from('u:p').toString('base64')}`);
    assert.equal(await auth.challenge('Basic realm="registry"', []), false);
    assert.equal(await new RegistryAuth().challenge('Basic realm="registry"', []), false);
  });
});
