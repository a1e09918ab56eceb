import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { newGuid, now } from '../src/platform/model.js';
import { SqlitePlatformStore } from '../src/platform/store/sqlite-platform-store.js';
import { LocalStore } from '../src/store/local-store.js';
import { commandExists, slipway, tempDir } from './helpers.js';
import {
  type InProcessPlatform,
  jwtClaims,
  makeImage,
  OCI_MANIFEST,
  ociCode,
  PlatformClient,
  type ServeProcess,
  skopeo,
  startInProcessPlatform,
  startServe,
  type TestImage,
} from './platform-world.js';

/**
 * The platform as tenants meet it, over real HTTP: orgs cannot see each other, renames
 * move the registry alias, suspended orgs take no writes, a deleted space takes its
 * repositories with it, revoked API tokens stop at once, a staging token pushes only to
 * its own app; and `slipway serve` (a child process) restarted, or killed with SIGKILL
 * in a burst of writes, loses nothing and keeps its database consistent.
 */

const haveSkopeo = commandExists('skopeo');

interface Tenant {
  org: string;
  space: string;
  app: string;
  /** The space developer: login and Authorization. */
  dev: { username: string; password: string; guid: string; auth: string };
}

/** An org with one space and app, and a space developer (organization_user + space_developer). */
async function tenant(c: PlatformClient, admin: string, org: string, app = 'web'): Promise<Tenant> {
  const orgGuid = await c.createOrg(admin, org);
  const space = await c.createSpace(admin, orgGuid, 'dev');
  const appGuid = await c.createApp(admin, space, app);
  const username = `${org}-dev`;
  const password = `pw-${org}-dev`;
  const guid = await c.createUser(admin, username, password);
  await c.orgRole(admin, guid, orgGuid, 'organization_user');
  await c.spaceRole(admin, guid, space, 'space_developer');
  return {
    org: orgGuid,
    space,
    app: appGuid,
    dev: { username, password, guid, auth: await c.login(username, password) },
  };
}

/** `Bearer` registry token for the scopes, logged in as `user` with `password` (undefined: anonymous). */
function regToken(c: PlatformClient, user: { username: string; password: string } | undefined, ...scopes: string[]) {
  return c.registryToken(user, scopes);
}

async function push(
  c: PlatformClient,
  login: { username: string; password: string },
  repo: string,
  tag: string,
  image: TestImage,
) {
  return c.pushImage(await regToken(c, login, `repository:${repo}:pull,push`), repo, tag, image);
}

async function pull(
  c: PlatformClient,
  login: { username: string; password: string } | undefined,
  repo: string,
  ref: string,
) {
  const token = await regToken(c, login, `repository:${repo}:pull`);
  return c.call('GET', `/v2/${repo}/manifests/${ref}`, token, undefined, { accept: OCI_MANIFEST });
}

describe('the platform over real HTTP (in-process server)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let p: InProcessPlatform;
  let c: PlatformClient;
  let admin: string;
  let adminLogin: { username: string; password: string };

  beforeEach(async () => {
    dir = await tempDir('platform');
    p = await startInProcessPlatform(join(dir.path, 'home'));
    c = new PlatformClient(p.url);
    admin = await c.login('admin', p.adminPassword);
    adminLogin = { username: 'admin', password: p.adminPassword };
  });
  afterEach(async () => {
    await p.close();
    await dir.cleanup();
  });

  it('orgs are isolated: the same names in two orgs, neither sees, pulls, pushes nor mounts the other', async () => {
    const a = await tenant(c, admin, 'alpha');
    const b = await tenant(c, admin, 'beta');
    const imgA = makeImage(['alpha-only']);
    const imgB = makeImage(['beta-only']);
    assert.equal((await push(c, a.dev, 'alpha/dev/web', 'v1', imgA)).status, 201);
    assert.equal((await push(c, b.dev, 'beta/dev/web', 'v1', imgB)).status, 201);

    // Each sees its own.
    const orgsOf = async (auth: string) =>
      (await c.ok('GET', '/v3/organizations', auth)).resources.map((o: { name: string }) => o.name);
    assert.deepEqual(await orgsOf(a.dev.auth), ['alpha']);
    assert.deepEqual(await orgsOf(b.dev.auth), ['beta']);
    assert.equal((await pull(c, a.dev, 'alpha/dev/web', 'v1')).text, imgA.manifest.toString());
    assert.equal((await pull(c, b.dev, 'beta/dev/web', 'v1')).text, imgB.manifest.toString());

    // Nothing of the other: API 404s, registry 404 NAME_UNKNOWN for names, GUIDs and digests.
    for (const path of [
      `/v3/organizations/${b.org}`,
      `/v3/spaces/${b.space}`,
      `/v3/apps/${b.app}`,
      `/v3/users/${b.dev.guid}`,
    ])
      assert.equal((await c.call('GET', path, a.dev.auth)).status, 404, path);
    assert.deepEqual(
      (await c.ok('GET', '/v3/apps', a.dev.auth)).resources.map((x: { guid: string }) => x.guid),
      [a.app],
    );
    for (const [repo, ref] of [
      ['beta/dev/web', 'v1'],
      ['beta/dev/web', imgB.digest],
      [`apps/${b.app}`, 'v1'],
    ] as const) {
      const res = await pull(c, a.dev, repo, ref);
      assert.equal(res.status, 404, `${repo}@${ref}`);
      assert.equal(ociCode(res), 'NAME_UNKNOWN');
    }
    const blob = await c.call(
      'GET',
      `/v2/beta/dev/web/blobs/${imgB.layerDigests[0]}`,
      await regToken(c, a.dev, 'repository:beta/dev/web:pull'),
    );
    assert.equal(blob.status, 404);
    assert.equal((await push(c, a.dev, 'beta/dev/web', 'mine', imgA)).status, 404);
    const catalog = await c.call('GET', '/v2/_catalog', await regToken(c, a.dev, 'registry:catalog:*'));
    assert.deepEqual(catalog.body.repositories, ['alpha/dev/web']);
    // Knowing beta's layer digest does not let alpha's developer mount it, named or not.
    const mountToken = await regToken(c, a.dev, 'repository:alpha/dev/web:pull,push', 'repository:beta/dev/web:pull');
    for (const q of [`mount=${imgB.layerDigests[0]}&from=beta/dev/web`, `mount=${imgB.layerDigests[0]}`]) {
      const res = await c.call('POST', `/v2/alpha/dev/web/blobs/uploads/?${q}`, mountToken);
      assert.equal(res.status, 202, q);
    }
    const head = await c.call(
      'HEAD',
      `/v2/alpha/dev/web/blobs/${imgB.layerDigests[0]}`,
      await regToken(c, a.dev, 'repository:alpha/dev/web:pull'),
    );
    assert.equal(head.status, 404, "beta's blob is not in alpha's repository");
    // An admin sees both.
    assert.deepEqual((await orgsOf(admin)).sort(), ['alpha', 'beta']);
  });

  it('renames move the alias ORG/SPACE/APP at once through the API, and within the name TTL when the store changes underneath', async () => {
    const t = await tenant(c, admin, 'acme');
    const img = makeImage(['renamed']);
    assert.equal((await push(c, t.dev, 'acme/dev/web', 'v1', img)).status, 201);
    const stored = await p.store.meta.listRepositories();
    assert.deepEqual(stored, [`apps/${t.app}`], 'kept under the app GUID');

    // Org renamed through the API: new name at once, the old one is nobody's.
    await c.ok('PATCH', `/v3/organizations/${t.org}`, admin, { name: 'Acme Corp' });
    assert.equal((await pull(c, t.dev, 'acme-corp/dev/web', 'v1')).text, img.manifest.toString());
    const old = await pull(c, t.dev, 'acme/dev/web', 'v1');
    assert.equal(old.status, 404);
    assert.equal(ociCode(old), 'NAME_UNKNOWN');
    // App renamed by its developer; a space renamed by the admin.
    await c.ok('PATCH', `/v3/apps/${t.app}`, t.dev.auth, { name: 'Front End' });
    await c.ok('PATCH', `/v3/spaces/${t.space}`, admin, { name: 'staging' });
    assert.equal((await pull(c, t.dev, 'acme-corp/staging/front-end', 'v1')).status, 200);
    assert.equal((await pull(c, t.dev, 'acme-corp/dev/front-end', 'v1')).status, 404);
    assert.equal((await pull(c, t.dev, 'acme-corp/staging/web', 'v1')).status, 404);
    const catalog = await c.call('GET', '/v2/_catalog', await regToken(c, t.dev, 'registry:catalog:*'));
    assert.deepEqual(catalog.body.repositories, ['acme-corp/staging/front-end']);
    // Pushing to the new name lands in the same repository.
    assert.equal((await push(c, t.dev, 'acme-corp/staging/front-end', 'v2', makeImage(['v2']))).status, 201);
    assert.deepEqual(await p.store.meta.listRepositories(), [`apps/${t.app}`]);
    // A new app may take the old name: it is another repository.
    const again = await c.createApp(t.dev.auth, t.space, 'web');
    assert.equal((await pull(c, t.dev, 'acme-corp/staging/web', 'v1')).status, 404, 'a new app has no images');
    assert.notEqual(again, t.app);

    // A rename the server did not make (another process on the same database): a name looked up is
    // trusted for the name TTL (~5 s), a name never looked up resolves at once.
    assert.equal((await pull(c, t.dev, 'acme-corp/staging/front-end', 'v1')).status, 200, 'looked up');
    await p.pstore.updateApp(t.app, { name: 'renamed-elsewhere', slug: 'renamed-elsewhere' });
    const t0 = Date.now();
    assert.equal(
      (await pull(c, t.dev, 'acme-corp/staging/renamed-elsewhere', 'v1')).status,
      200,
      'the new name at once',
    );
    let gone = 0;
    while (Date.now() - t0 < 10_000) {
      if ((await pull(c, t.dev, 'acme-corp/staging/front-end', 'v1')).status === 404) {
        gone = Date.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(gone > 0 && gone <= 6500, `the old name answered for ${gone || '10,000+'} ms (TTL 5 s)`);
  });

  it('a suspended org takes no writes from non-admins (API and registry push); reads go on; admins still write', async () => {
    const t = await tenant(c, admin, 'acme');
    const manager = await c.createUser(admin, 'manager', 'pw-manager');
    await c.orgRole(admin, manager, t.org, 'organization_manager');
    const mgr = await c.login('manager', 'pw-manager');
    const img = makeImage(['before']);
    assert.equal((await push(c, t.dev, 'acme/dev/web', 'v1', img)).status, 201);

    const suspend = await c.call('PATCH', `/v3/organizations/${t.org}`, mgr, { suspended: true });
    assert.equal(suspend.status, 403, 'only admins suspend');
    assert.equal((await c.ok('PATCH', `/v3/organizations/${t.org}`, admin, { suspended: true })).suspended, true);

    const refused: [string, string, string, unknown][] = [
      ['dev', 'POST', '/v3/apps', { name: 'new', relationships: { space: { data: { guid: t.space } } } }],
      ['dev', 'PATCH', `/v3/apps/${t.app}`, { name: 'renamed' }],
      ['dev', 'PATCH', `/v3/apps/${t.app}/environment_variables`, { var: { A: 'b' } }],
      ['dev', 'DELETE', `/v3/apps/${t.app}`, undefined],
      ['manager', 'POST', '/v3/spaces', { name: 'more', relationships: { organization: { data: { guid: t.org } } } }],
      ['manager', 'PATCH', `/v3/organizations/${t.org}`, { name: 'renamed' }],
      ['manager', 'PATCH', `/v3/spaces/${t.space}`, { name: 'renamed' }],
      ['manager', 'DELETE', `/v3/spaces/${t.space}`, undefined],
      [
        'manager',
        'POST',
        '/v3/roles',
        {
          type: 'organization_auditor',
          relationships: { user: { data: { guid: t.dev.guid } }, organization: { data: { guid: t.org } } },
        },
      ],
    ];
    for (const [who, method, path, body] of refused) {
      const res = await c.call(method, path, who === 'dev' ? t.dev.auth : mgr, body);
      assert.equal(res.status, 403, `${who} ${method} ${path}: ${res.text}`);
      assert.equal(res.body.errors[0].title, 'CF-NotAuthorized');
    }
    const denied = await push(c, t.dev, 'acme/dev/web', 'v2', makeImage(['during']));
    assert.equal(denied.status, 403);
    assert.equal(ociCode(denied), 'DENIED');
    const del = await c.call(
      'DELETE',
      `/v2/acme/dev/web/manifests/${img.digest}`,
      await regToken(c, t.dev, 'repository:acme/dev/web:delete'),
    );
    assert.equal(del.status, 403);
    // Reads go on.
    assert.equal((await c.call('GET', `/v3/apps/${t.app}`, t.dev.auth)).status, 200);
    assert.equal((await pull(c, t.dev, 'acme/dev/web', 'v1')).status, 200);
    // Admins still write.
    assert.equal((await push(c, adminLogin, 'acme/dev/web', 'by-admin', img)).status, 201);
    await c.createApp(admin, t.space, 'by-admin');
    // Unsuspended: the developer pushes again.
    await c.ok('PATCH', `/v3/organizations/${t.org}`, admin, { suspended: false });
    assert.equal((await push(c, t.dev, 'acme/dev/web', 'v2', makeImage(['after']))).status, 201);
  });

  it("deleting a space removes its apps' repositories: catalog and pulls 404, the store keeps no apps/GUID", async () => {
    const t = await tenant(c, admin, 'acme');
    const worker = await c.createApp(t.dev.auth, t.space, 'worker');
    const keep = await c.createSpace(admin, t.org, 'keep');
    const kept = await c.createApp(admin, keep, 'kept');
    for (const repo of ['acme/dev/web', 'acme/dev/worker', 'acme/keep/kept'])
      assert.equal((await push(c, adminLogin, repo, 'v1', makeImage([repo]))).status, 201);
    const adminCatalog = async () =>
      (await c.call('GET', '/v2/_catalog', await regToken(c, adminLogin, 'registry:catalog:*'))).body.repositories;
    assert.deepEqual(await adminCatalog(), ['acme/dev/web', 'acme/dev/worker', 'acme/keep/kept']);

    await c.ok('DELETE', `/v3/spaces/${t.space}`, admin); // waits for the job

    assert.deepEqual(await adminCatalog(), ['acme/keep/kept']);
    for (const repo of ['acme/dev/web', 'acme/dev/worker']) {
      assert.equal((await pull(c, adminLogin, repo, 'v1')).status, 404, repo);
      assert.equal((await pull(c, t.dev, repo, 'v1')).status, 404, repo);
    }
    const stored = await p.store.meta.listRepositories();
    assert.deepEqual(stored, [`apps/${kept}`]);
    assert.ok(!stored.includes(`apps/${t.app}`) && !stored.includes(`apps/${worker}`));
    assert.equal((await pull(c, adminLogin, 'acme/keep/kept', 'v1')).status, 200, 'the other space keeps its images');
    assert.equal((await c.call('GET', `/v3/apps/${worker}`, admin)).status, 404);
  });

  it('an API token works on the API and as a registry password until revoked, then on neither', async () => {
    const t = await tenant(c, admin, 'acme');
    const { token, guid } = await c.apiToken(t.dev.auth, t.space, 'ci');
    const bearer = `bearer ${token}`;
    const ci = { username: 'anything', password: token };
    assert.equal((await c.call('GET', `/v3/apps/${t.app}`, bearer)).status, 200);
    assert.equal((await push(c, ci, 'acme/dev/web', 'v1', makeImage(['ci']))).status, 201);
    const before = await regToken(c, ci, 'repository:acme/dev/web:pull');

    // Revoked by its owner (204), at once.
    assert.equal((await c.call('DELETE', `/v3/api_tokens/${guid}`, t.dev.auth)).status, 204);
    const api = await c.call('GET', `/v3/apps/${t.app}`, bearer);
    assert.equal(api.status, 401);
    assert.equal(api.body.errors[0].title, 'CF-InvalidAuthToken');
    // A registry login with it after: a token that grants nothing (404 for what it may no longer know).
    const later = await c.registryTokenAnswer(ci, ['repository:acme/dev/web:pull,push']);
    if (later.status === 200) {
      const granted = jwtClaims(later.body.token)['access'] as { actions: string[] }[];
      assert.deepEqual(
        granted.flatMap((a) => a.actions),
        [],
        'the token grants no action',
      );
      const res = await c.call('GET', '/v2/acme/dev/web/manifests/v1', `Bearer ${later.body.token}`, undefined, {
        accept: OCI_MANIFEST,
      });
      assert.equal(res.status, 404);
      assert.equal(
        (await c.pushImage(`Bearer ${later.body.token}`, 'acme/dev/web', 'v2', makeImage(['x']))).status,
        404,
      );
    } else assert.equal(later.status, 401);
    if (haveSkopeo || process.env['CI']) {
      const inspect = await skopeo([
        'inspect',
        '--raw',
        '--tls-verify=false',
        `--creds=ci:${token}`,
        `docker://${p.host}/acme/dev/web:v1`,
      ]);
      assert.equal(inspect.ok, false);
      assert.match(inspect.stderr, /unauthorized|401/i, 'a login not seen before is refused');
    }
    // A registry token issued before the revocation lives at most its expiry (5 minutes).
    const claims = jwtClaims(before) as { iat: number; exp: number; sub: string };
    assert.equal(claims.sub, `apitoken:${guid}`);
    assert.ok(claims.exp - claims.iat <= 300);
    // The list shows it revoked; the secret is never shown again.
    const listed = (await c.ok('GET', '/v3/api_tokens', t.dev.auth)).resources;
    assert.equal(listed.length, 1);
    assert.ok(listed[0].revoked_at);
    assert.equal(listed[0].token, undefined);
  });

  it('a revoked API token is refused at the registry login at once', async () => {
    const t = await tenant(c, admin, 'acme');
    const { token, guid } = await c.apiToken(t.dev.auth, t.space, 'ci');
    const ci = { username: 'ci', password: token };
    assert.equal((await c.registryTokenAnswer(ci, ['repository:acme/dev/web:pull'])).status, 200);
    assert.equal((await c.call('DELETE', `/v3/api_tokens/${guid}`, t.dev.auth)).status, 204);
    assert.equal((await c.registryTokenAnswer(ci, ['repository:acme/dev/web:pull'])).status, 401);
  });

  it("a staging token pulls the stack it builds from and pushes its own app's repository only; it reads no other space", async () => {
    const t = await tenant(c, admin, 'acme');
    const worker = await c.createApp(admin, t.space, 'worker');
    const qa = await c.createSpace(admin, t.org, 'qa');
    await c.createApp(admin, qa, 'checker');
    const other = await tenant(c, admin, 'globex', 'api');
    const stack = makeImage(['stack-run']);
    for (const [repo, img] of [
      ['stacks/tiny/run', stack],
      ['acme/dev/worker', makeImage(['worker'])],
      ['acme/qa/checker', makeImage(['checker'])],
      ['globex/dev/api', makeImage(['api'])],
    ] as const)
      assert.equal((await push(c, adminLogin, repo, 'v1', img)).status, 201, repo);

    const jwt = await p.tokens.issueStaging({
      appGuid: t.app,
      spaceGuid: t.space,
      orgGuid: t.org,
      repository: 'acme/dev/web',
    });
    const staging = { username: 'staging', password: jwt };

    if (haveSkopeo || process.env['CI']) {
      // What a build does: the stack's run image, mounted into the app's repository as its droplet.
      const creds = [
        `--src-creds=staging:${jwt}`,
        `--dest-creds=staging:${jwt}`,
        '--src-tls-verify=false',
        '--dest-tls-verify=false',
      ];
      const ok = await skopeo([
        'copy',
        ...creds,
        `docker://${p.host}/stacks/tiny/run:v1`,
        `docker://${p.host}/acme/dev/web:droplet`,
      ]);
      assert.ok(ok.ok, ok.stderr);
      for (const target of ['acme/dev/worker', 'globex/dev/api', 'stacks/tiny/run']) {
        const res = await skopeo([
          'copy',
          ...creds,
          `docker://${p.host}/stacks/tiny/run:v1`,
          `docker://${p.host}/${target}:droplet`,
        ]);
        assert.equal(res.ok, false, `staging pushed to ${target}`);
      }
    } else {
      assert.equal((await push(c, staging, 'acme/dev/web', 'droplet', stack)).status, 201);
    }
    assert.equal((await pull(c, adminLogin, 'acme/dev/web', 'droplet')).text, stack.manifest.toString());

    // Over HTTP, exactly: its own app 201, the app next door and another org's 404, the stack (read-only) 403.
    assert.equal((await push(c, staging, 'acme/dev/web', 'again', stack)).status, 201);
    for (const [repo, status, code] of [
      ['acme/dev/worker', 404, 'NAME_UNKNOWN'],
      ['globex/dev/api', 404, 'NAME_UNKNOWN'],
      ['stacks/tiny/run', 403, 'DENIED'],
    ] as const) {
      const res = await push(c, staging, repo, 'droplet', stack);
      assert.equal(res.status, status, repo);
      assert.equal(ociCode(res), code, repo);
    }
    for (const repo of ['acme/dev/worker', 'acme/qa/checker', 'globex/dev/api', `apps/${worker}`]) {
      const res = await pull(c, staging, repo, 'v1');
      assert.equal(res.status, 404, repo);
    }
    assert.equal((await pull(c, staging, 'stacks/tiny/run', 'v1')).status, 200);
    const catalog = await c.call('GET', '/v2/_catalog', await regToken(c, staging, 'registry:catalog:*'));
    assert.deepEqual(catalog.body.repositories, ['acme/dev/web', 'stacks/tiny/run']);
    // It may not delete (not even its own app's images), and it is no API caller.
    const del = await c.call(
      'DELETE',
      `/v2/acme/dev/web/manifests/${stack.digest}`,
      await regToken(c, staging, 'repository:acme/dev/web:delete'),
    );
    assert.equal(del.status, 403);
    assert.equal((await c.call('GET', `/v3/apps/${t.app}`, `bearer ${jwt}`)).status, 401);
    assert.equal((await c.call('GET', `/v3/apps/${other.app}`, `bearer ${jwt}`)).status, 401);
  });
});

// ---------------------------------------------------------------------------
// `slipway serve` as a child process

describe('slipway serve restarted, or killed during writes', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let passwordFile: string;
  let serve: ServeProcess | undefined;

  before(async () => {
    dir = await tempDir('platform-serve');
  });
  after(async () => {
    await serve?.stop();
    await dir.cleanup();
  });
  beforeEach(async (t) => {
    home = join(dir.path, t.name.replace(/\W+/g, '-').slice(0, 40));
    passwordFile = join(dir.path, 'admin-password');
    await writeFile(passwordFile, 'serve-admin-pw\n');
  });

  it('a restart loses nothing: orgs, users, roles, images, and every token stays valid', async () => {
    serve = await startServe(home, passwordFile);
    let c = new PlatformClient(serve.url);
    const admin = await c.login('admin', 'serve-admin-pw');
    const t = await tenant(c, admin, 'acme');
    const img = makeImage(['restart']);
    const devLogin = { username: t.dev.username, password: t.dev.password };
    assert.equal((await push(c, devLogin, 'acme/dev/web', 'v1', img)).status, 201);
    const { token: apiToken } = await c.apiToken(t.dev.auth, t.space, 'ci');
    const grant = (await c.passwordGrant(t.dev.username, t.dev.password)).body;
    const registryBefore = await regToken(c, devLogin, 'repository:acme/dev/web:pull');
    const snapshot = async (client: PlatformClient) => ({
      orgs: (await client.ok('GET', '/v3/organizations', admin)).resources.map((o: { guid: string }) => o.guid),
      users: (await client.ok('GET', '/v3/users?order_by=created_at', admin)).resources.map(
        (u: { guid: string }) => u.guid,
      ),
      roles: (await client.ok('GET', '/v3/roles', admin)).resources.map((x: { guid: string }) => x.guid),
      apps: (await client.ok('GET', '/v3/apps', admin)).resources.map((a: { guid: string; name: string }) => [
        a.guid,
        a.name,
      ]),
      events: (await client.ok('GET', '/v3/audit_events?per_page=5000', admin)).pagination.total_results,
    });
    const was = await snapshot(c);
    assert.equal(await serve.stop(), 0);

    serve = await startServe(home, passwordFile);
    c = new PlatformClient(serve.url);
    assert.deepEqual(await snapshot(c), was);
    // Tokens issued before the restart: the access token, the API token, the refresh token, a registry token.
    assert.equal((await c.call('GET', `/v3/apps/${t.app}`, t.dev.auth)).status, 200);
    assert.equal((await c.call('GET', `/v3/apps/${t.app}`, `bearer ${apiToken}`)).status, 200);
    const refreshed = await c.call(
      'POST',
      '/uaa/oauth/token',
      `Basic ${Buffer.from('cf:').toString('base64')}`,
      new URLSearchParams({ grant_type: 'refresh_token', refresh_token: grant.refresh_token }).toString(),
      { 'content-type': 'application/x-www-form-urlencoded' },
    );
    assert.equal(refreshed.status, 200, refreshed.text);
    const again = await c.call('GET', '/v2/acme/dev/web/manifests/v1', registryBefore, undefined, {
      accept: OCI_MANIFEST,
    });
    assert.equal(again.text, img.manifest.toString());
    // Passwords (the admin's was only set on the first start) and the image through a real client.
    await c.login('admin', 'serve-admin-pw');
    await writeFile(passwordFile, 'not-the-password\n');
    assert.equal((await c.passwordGrant('admin', 'serve-admin-pw')).status, 200, 'the first start made the admin');
    if (haveSkopeo || process.env['CI']) {
      const res = await skopeo([
        'inspect',
        '--raw',
        '--tls-verify=false',
        `--creds=ci:${apiToken}`,
        `docker://${serve.host}/acme/dev/web:v1`,
      ]);
      assert.equal(res.stdout, img.manifest.toString(), res.stderr);
    }
    assert.equal(await serve.stop(), 0);
    serve = undefined;
  });

  it('SIGKILL during a burst of writes: after a restart the database is consistent and the image store verifies', async () => {
    serve = await startServe(home, passwordFile);
    const c = new PlatformClient(serve.url);
    const admin = await c.login('admin', 'serve-admin-pw');
    const users: string[] = [];
    for (let i = 0; i < 4; i++) users.push(await c.createUser(admin, `burst-user-${i}`, 'pw-burst'));
    const adminLogin = { username: 'admin', password: 'serve-admin-pw' };
    let writes = 0;
    let stop = false;
    const errors: string[] = [];
    // Four writers: orgs with a space, roles and an app each, and image pushes into them; one deletes orgs.
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        try {
          const org = await c.createOrg(admin, `burst-${w}-${i}`);
          const space = await c.createSpace(admin, org, 'dev');
          const user = users[(w + i) % users.length] as string;
          await c.orgRole(admin, user, org, 'organization_user');
          await c.spaceRole(admin, user, space, 'space_developer');
          await c.createApp(admin, space, 'web');
          await push(c, adminLogin, `burst-${w}-${i}/dev/web`, 'v1', makeImage([`burst-${w}-${i}`]));
          if (w === 0 && i % 3 === 2) await c.call('DELETE', `/v3/organizations/${org}`, admin);
          writes += 1;
        } catch (err) {
          if (!stop) errors.push((err as Error).message);
          return;
        }
      }
    };
    let ended = 0;
    const running = [0, 1, 2, 3].map((w) => writer(w).finally(() => (ended += 1)));
    const deadline = Date.now() + 60_000;
    while (writes < 12 && ended === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(errors, [], 'the writers ran until the kill');
    assert.ok(writes >= 12, `${writes} writes before the kill`);
    stop = true;
    await serve.kill();
    await Promise.all(running);
    assert.ok(
      errors.every((e) => /fetch failed|ECONNRESET|socket|other side closed|ECONNREFUSED/i.test(e)),
      errors.join('\n'),
    );

    // Restarted: it serves, and resumes the jobs the kill interrupted.
    serve = await startServe(home, passwordFile);
    const after = new PlatformClient(serve.url);
    const admin2 = await after.login('admin', 'serve-admin-pw');
    const health = await after.call('GET', '/healthz');
    assert.equal(health.status, 200, health.text);
    await after.createOrg(admin2, 'after-the-kill');
    const orgs = (await after.ok('GET', '/v3/organizations?per_page=5000', admin2)).resources.length;
    assert.ok(orgs >= 12, `${orgs} orgs`);
    assert.equal(await serve.stop(), 0);
    serve = undefined;

    const orphans = await checkConsistent(home);
    // A kill between an org delete's database step and its images leaves these (the todo test below).
    if (orphans.length > 0) process.stdout.write(`# repositories left of deleted apps: ${orphans.join(' ')}\n`);
    const verify = await slipway(home, ['--json', 'verify']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.deepEqual(JSON.parse(verify.stdout).problems, []);
  });

  it('a space delete killed between its database step and its images: the restarted server removes the images', async () => {
    serve = await startServe(home, passwordFile);
    const c = new PlatformClient(serve.url);
    const admin = await c.login('admin', 'serve-admin-pw');
    const t = await tenant(c, admin, 'acme');
    assert.equal((await push(c, t.dev, 'acme/dev/web', 'v1', makeImage(['doomed']))).status, 201);
    assert.equal(await serve.stop(), 0);
    // What a SIGKILL right after the job's first step leaves: the job PROCESSING, the rows gone, the images not.
    const store = await SqlitePlatformStore.open(join(home, 'platform.sqlite'));
    const job = newGuid();
    await store.createJob({
      guid: job,
      createdAt: now(),
      updatedAt: now(),
      operation: 'space.delete',
      state: 'PROCESSING',
      errors: [],
      warnings: [],
      resourceGuid: t.space,
    });
    assert.deepEqual(
      (await store.deleteSpace(t.space)).apps.map((a) => a.guid),
      [t.app],
    );
    await store.close();

    serve = await startServe(home, passwordFile);
    const again = new PlatformClient(serve.url);
    await again.waitJob(`/v3/jobs/${job}`, await again.login('admin', 'serve-admin-pw'));
    assert.equal(await serve.stop(), 0);
    serve = undefined;
    const images = await LocalStore.open(home);
    try {
      assert.deepEqual(await images.meta.listRepositories(), [], 'the images of the deleted space are gone');
    } finally {
      await images.close();
    }
  });
});

/**
 * The platform database after a crash: SQLite's own checks (integrity, foreign keys),
 * then the PlatformStore's view: every space's org, every app's space, every role's
 * user, org and space exist; no job is left PROCESSING after the restart. Returns the
 * image repositories `apps/GUID` of apps that no longer exist (see the todo test below).
 */
async function checkConsistent(home: string): Promise<string[]> {
  const orphans: string[] = [];
  const file = join(home, 'platform.sqlite');
  const db = new Database(file, { readonly: true });
  try {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    assert.deepEqual(db.pragma('foreign_key_check'), []);
  } finally {
    db.close();
  }
  const store = await SqlitePlatformStore.open(file);
  const images = await LocalStore.open(home);
  try {
    const all = { page: 1, perPage: 100_000, orderBy: 'created_at' };
    const everything = { kind: 'all' } as const;
    const orgs = new Set((await store.listOrgs(all, {}, everything)).items.map((o) => o.guid));
    const spaces = (await store.listSpaces(all, {}, everything)).items;
    const spaceGuids = new Set(spaces.map((s) => s.guid));
    for (const s of spaces) assert.ok(orgs.has(s.orgGuid), `space ${s.guid} has no org`);
    for (const guid of orgs) assert.ok(await store.getOrg(guid));
    const apps = (await store.listApps(all, {}, everything)).items;
    for (const a of apps) assert.ok(spaceGuids.has(a.spaceGuid), `app ${a.guid} has no space`);
    for (const role of (await store.listRoles(all, {}, everything)).items) {
      assert.ok(await store.getUser(role.userGuid), `role ${role.guid} has no user`);
      assert.ok(role.orgGuid !== undefined && orgs.has(role.orgGuid), `role ${role.guid} has no org`);
      if (role.spaceGuid) assert.ok(spaceGuids.has(role.spaceGuid), `role ${role.guid} has no space`);
    }
    assert.deepEqual(await store.unfinishedJobs(), [], 'the restart finished the interrupted jobs');
    const appGuids = new Set(apps.map((a) => a.guid));
    for (const repo of await images.meta.listRepositories())
      if (repo.startsWith('apps/') && !appGuids.has(repo.slice(5))) orphans.push(repo);
  } finally {
    await store.close();
    await images.close();
  }
  return orphans;
}
