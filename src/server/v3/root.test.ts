import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createV3App } from './app.js';
import { V3_ROUTES } from './routes/index.js';
import { testOnlyAuthenticate } from './testdata/test-auth.js';
import { BASE, STACKS, World } from './testdata/world.js';

describe('v3 root documents, errors and the OpenAPI document', () => {
  let w: World;
  before(async () => {
    w = await World.create();
  });
  after(async () => {
    await w.close();
  });

  it('GET / links the v3 API with a semver version, login and uaa at <base>/uaa, without a token', async () => {
    const res = await w.get('/');
    assert.equal(res.status, 200);
    const links = res.body.links;
    assert.deepEqual(links.self, { href: BASE });
    assert.equal(links.cloud_controller_v3.href, `${BASE}/v3`);
    assert.match(links.cloud_controller_v3.meta.version, /^\d+\.\d+\.\d+$/);
    assert.equal(links.cloud_controller_v3.meta.version, '3.180.0');
    assert.deepEqual(links.login, { href: `${BASE}/uaa` });
    assert.deepEqual(links.uaa, { href: `${BASE}/uaa` });
    assert.equal(res.body.cf_on_k8s, undefined);
  });

  it('GET / with a bad token still answers (the root is public)', async () => {
    const res = await w.app.request(`${BASE}/`, { headers: { authorization: 'bearer nonsense' } });
    assert.equal(res.status, 200);
  });

  it('GET /v3 and /v3/info answer CF shapes with absolute links', async () => {
    const v3 = await w.get('/v3');
    assert.equal(v3.status, 200);
    assert.equal(v3.body.links.self.href, `${BASE}/v3`);
    for (const r of ['apps', 'organizations', 'spaces', 'roles', 'users', 'stacks', 'buildpacks', 'audit_events'])
      assert.equal(v3.body.links[r].href, `${BASE}/v3/${r}`);
    const info = await w.get('/v3/info');
    assert.equal(info.status, 200);
    assert.equal(info.body.links.self.href, `${BASE}/v3/info`);
    for (const k of [
      'build',
      'cli_version',
      'custom',
      'description',
      'name',
      'version',
      'osbapi_version',
      'rate_limits',
    ])
      assert.ok(k in info.body, k);
  });

  it('the base URL is the request scheme and host (X-Forwarded-Proto first) without publicUrl', async () => {
    const app = createV3App({
      store: w.store,
      authenticate: testOnlyAuthenticate(w.store),
      stacks: { list: async () => STACKS },
      images: w.images,
    });
    const plain: any = await (await app.request('http://10.0.0.5:8080/')).json();
    assert.equal(plain.links.cloud_controller_v3.href, 'http://10.0.0.5:8080/v3');
    const proxied: any = await (
      await app.request('http://10.0.0.5:8080/v3', {
        headers: { 'x-forwarded-proto': 'https', host: 'api.example.org' },
      })
    ).json();
    assert.equal(proxied.links.self.href, 'https://api.example.org/v3');
  });

  it('an unknown route is 404 CF-NotFound "Unknown request" (the cf CLI matches the text)', async () => {
    for (const path of ['/v3/nothing', '/v2/info', '/v3/organizations/x/nope']) {
      const res = await w.get(path, 'admin');
      assert.equal(res.status, 404, path);
      assert.deepEqual(res.body, { errors: [{ code: 10000, title: 'CF-NotFound', detail: 'Unknown request' }] });
    }
  });

  it('no token is 401 CF-NotAuthenticated; a bad token is 401 CF-InvalidAuthToken', async () => {
    const none = await w.get('/v3/apps');
    assert.equal(none.status, 401);
    assert.deepEqual(none.body.errors, [{ code: 10002, title: 'CF-NotAuthenticated', detail: 'Authentication error' }]);
    const bad = await w.app.request(`${BASE}/v3/apps`, { headers: { authorization: 'bearer expired' } });
    assert.equal(bad.status, 401);
    assert.deepEqual(((await bad.json()) as any).errors, [
      { code: 1000, title: 'CF-InvalidAuthToken', detail: 'Invalid Auth Token' },
    ]);
  });

  it('a body that is not a JSON object is 400 CF-MessageParseError; every answer is JSON', async () => {
    for (const body of ['{nope', '[1,2]', '"x"']) {
      const res = await w.call('POST', '/v3/organizations', 'admin', body);
      assert.equal(res.status, 400);
      assert.deepEqual(res.body.errors, [
        {
          code: 1001,
          title: 'CF-MessageParseError',
          detail: 'Request invalid due to parse error: invalid request body',
        },
      ]);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    }
  });

  it('a body over 1 MiB is refused with CF error JSON', async () => {
    const res = await w.call(
      'POST',
      '/v3/organizations',
      'admin',
      JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 1) }),
    );
    assert.equal(res.status, 413);
    assert.equal(res.body.errors[0].title, 'CF-RequestTooLarge');
  });

  it('X-VCAP-Request-ID is echoed (or made) and recorded in the audit event', async () => {
    const res = await w.app.request(`${BASE}/v3/organizations`, {
      method: 'POST',
      headers: {
        authorization: `bearer test-${w.users.admin.guid}`,
        'content-type': 'application/json',
        'x-vcap-request-id': 'req-42',
      },
      body: JSON.stringify({ name: 'traced' }),
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('x-vcap-request-id'), 'req-42');
    const org: any = await res.json();
    const events = await w.store.listEvents(
      { page: 1, perPage: 10, orderBy: 'created_at' },
      { targetGuids: [org.guid] },
      { kind: 'all' },
    );
    assert.equal(events.items[0]?.requestId, 'req-42');
    const made = await w.get('/v3/organizations', 'admin');
    assert.match(made.headers.get('x-vcap-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  it('/v3/openapi.json is an OpenAPI 3.1 document with every route of the table, and its refs resolve', async () => {
    const res = await w.get('/v3/openapi.json');
    assert.equal(res.status, 200);
    const doc = res.body;
    assert.equal(doc.openapi, '3.1.0');
    assert.match(doc.info.version, /^\d+\.\d+\.\d+$/);
    assert.deepEqual(doc.servers, [{ url: BASE }]);
    for (const route of V3_ROUTES) {
      const op = doc.paths[route.path]?.[route.method];
      assert.ok(op, `${route.method} ${route.path}`);
      assert.equal(op.operationId, route.operationId);
      for (const status of Object.keys(route.responses))
        assert.ok(op.responses[status], `${route.operationId} ${status}`);
      if (route.body) assert.ok(op.requestBody.content['application/json'].schema, route.operationId);
    }
    const ids = V3_ROUTES.map((r) => r.operationId);
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
    // Query parameters come from the list messages.
    const listApps = doc.paths['/v3/apps'].get.parameters.map((p: { name: string }) => p.name);
    for (const p of ['page', 'per_page', 'order_by', 'names', 'space_guids', 'label_selector', 'include'])
      assert.ok(listApps.includes(p), p);
    // Every $ref points into components.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1] as string);
    assert.ok(refs.length > 10);
    for (const ref of refs) {
      const name = ref.replace('#/components/schemas/', '');
      assert.ok(ref.startsWith('#/components/schemas/') && doc.components.schemas[name], ref);
    }
    assert.ok(doc.components.schemas.Organization.properties.links);
    assert.ok(doc.paths['/v3/roles'].post.requestBody.content['application/json'].schema.properties.type);
  });
});
