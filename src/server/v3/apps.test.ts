import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BASE, World } from './testdata/world.js';

const inDev = (w: World, extra: Record<string, unknown> = {}) => ({
  name: 'worker',
  relationships: { space: { data: { guid: w.dev.guid } } },
  ...extra,
});

describe('v3 apps', () => {
  let w: World;
  beforeEach(async () => {
    w = await World.create();
  });
  afterEach(async () => {
    await w.close();
  });

  it("create (cf create-app): 201 with CF's shape; the lifecycle is buildpack on the default stack unless given", async () => {
    const res = await w.call('POST', '/v3/apps', 'spaceDeveloper', inDev(w));
    assert.equal(res.status, 201);
    const app = res.body;
    assert.equal(app.name, 'worker');
    assert.equal(app.state, 'STOPPED');
    assert.deepEqual(app.lifecycle, { type: 'buildpack', data: { buildpacks: [], stack: 'bookworm' } });
    assert.deepEqual(app.relationships, {
      space: { data: { guid: w.dev.guid } },
      current_droplet: { data: { guid: null } },
    });
    assert.deepEqual(app.links, {
      self: { href: `${BASE}/v3/apps/${app.guid}` },
      environment_variables: { href: `${BASE}/v3/apps/${app.guid}/environment_variables` },
      space: { href: `${BASE}/v3/spaces/${w.dev.guid}` },
    });
    const given = await w.call(
      'POST',
      '/v3/apps',
      'spaceDeveloper',
      inDev(w, {
        name: 'given',
        lifecycle: {
          type: 'buildpack',
          data: { buildpacks: ['ruby_buildpack', 'https://github.com/x/y.git'], stack: 'trixie' },
        },
      }),
    );
    assert.deepEqual(given.body.lifecycle.data, {
      buildpacks: ['ruby_buildpack', 'https://github.com/x/y.git'],
      stack: 'trixie',
    });
    const docker = await w.call(
      'POST',
      '/v3/apps',
      'spaceDeveloper',
      inDev(w, { name: 'img', lifecycle: { type: 'docker', data: {} } }),
    );
    assert.deepEqual(docker.body.lifecycle, { type: 'docker', data: {} });
  });

  it("CC's texts: a name taken in the space is CF-UniquenessError; an unknown stack or buildpack is 422", async () => {
    const taken = await w.call('POST', '/v3/apps', 'spaceDeveloper', inDev(w, { name: 'web' }));
    assert.equal(taken.status, 422);
    assert.deepEqual(taken.body.errors, [
      { code: 10016, title: 'CF-UniquenessError', detail: "App with the name 'web' already exists." },
    ]);
    const detail = async (body: unknown) =>
      (await w.call('POST', '/v3/apps', 'spaceDeveloper', body)).body.errors[0].detail;
    assert.equal(
      await detail(inDev(w, { lifecycle: { type: 'buildpack', data: { stack: 'windows' } } })),
      'Stack must be an existing stack',
    );
    assert.equal(
      await detail(inDev(w, { lifecycle: { type: 'buildpack', data: { buildpacks: ['nope_buildpack'] } } })),
      'Buildpack "nope_buildpack" must be an existing admin buildpack or a valid git URI',
    );
    assert.equal(await detail({ relationships: { space: { data: { guid: w.dev.guid } } } }), "Name can't be blank");
    assert.equal(
      await detail(inDev(w, { environment_variables: { VCAP_X: 'a' } })),
      'Environment variables cannot start with VCAP_',
    );
    assert.equal(
      await detail(inDev(w, { relationships: { space: { data: { guid: w.prod.guid } } } })),
      'Invalid space. Ensure that the space exists and you have access to it.',
    );
  });

  it('list: filters names, space_guids, organization_guids, label_selector; include=space,space.organization', async () => {
    await w.appIn(w.dev, 'batch', { tier: 'backend' });
    const names = async (query: string, who: Parameters<World['get']>[1] = 'admin') =>
      (await w.get(`/v3/apps?order_by=name&${query}`, who)).body.resources.map((a: { name: string }) => a.name);
    assert.deepEqual(await names(''), ['api', 'batch', 'web']);
    assert.deepEqual(await names('', 'spaceSupporter'), ['batch', 'web']);
    assert.deepEqual(await names('', 'orgAuditor'), []);
    assert.deepEqual(await names(`names=web&space_guids=${w.dev.guid}`), ['web']);
    assert.deepEqual(await names(`organization_guids=${w.globex.guid}`), ['api']);
    assert.deepEqual(await names('label_selector=tier%20in%20(frontend,backend)'), ['batch', 'web']);
    assert.deepEqual(await names('label_selector=tier!=frontend'), ['api', 'batch']);
    const inc = await w.get(`/v3/apps?names=web&include=space,space.organization`, 'spaceDeveloper');
    assert.deepEqual(
      inc.body.included.spaces.map((s: { guid: string }) => s.guid),
      [w.dev.guid],
    );
    assert.deepEqual(
      inc.body.included.organizations.map((o: { guid: string }) => o.guid),
      [w.acme.guid],
    );
    const first = await w.get(`/v3/apps?order_by=name&per_page=5000&space_guids=${w.dev.guid}`, 'spaceDeveloper');
    assert.equal(
      first.body.pagination.first.href,
      `${BASE}/v3/apps?order_by=name&page=1&per_page=5000&space_guids=${w.dev.guid}`,
    );
    const bad = await w.get('/v3/apps?lifecycle_type=lambda', 'admin');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].detail, "The query parameter is invalid: Invalid lifecycle_type: 'lambda'");
  });

  it('update: rename, lifecycle, metadata; audit.app.update', async () => {
    const res = await w.call('PATCH', `/v3/apps/${w.web.guid}`, 'spaceDeveloper', {
      name: 'website',
      lifecycle: { type: 'buildpack', data: { buildpacks: ['ruby_buildpack'] } },
      metadata: { labels: { tier: null, owner: 'me' } },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.name, 'website');
    assert.deepEqual(res.body.lifecycle.data, { buildpacks: ['ruby_buildpack'], stack: 'bookworm' });
    assert.deepEqual(res.body.metadata.labels, { owner: 'me' });
    assert.equal((await w.store.getApp(w.web.guid))?.slug, 'website');
    const toDocker = await w.call('PATCH', `/v3/apps/${w.web.guid}`, 'spaceDeveloper', {
      lifecycle: { type: 'docker', data: {} },
    });
    assert.equal(toDocker.status, 422);
    assert.equal(toDocker.body.errors[0].detail, 'Lifecycle type cannot be changed');
    const events = await w.get(`/v3/audit_events?types=audit.app.update&target_guids=${w.web.guid}`, 'spaceAuditor');
    assert.equal(events.body.pagination.total_results, 1);
    assert.deepEqual(events.body.resources[0].space, { guid: w.dev.guid });
  });

  it('environment variables: secret readers GET them, PATCH sets and removes (null), values censored in the audit', async () => {
    const get = await w.get(`/v3/apps/${w.web.guid}/environment_variables`, 'spaceDeveloper');
    assert.equal(get.status, 200);
    assert.deepEqual(get.body, {
      var: { SECRET: 'hunter2' },
      links: {
        self: { href: `${BASE}/v3/apps/${w.web.guid}/environment_variables` },
        app: { href: `${BASE}/v3/apps/${w.web.guid}` },
      },
    });
    const patch = await w.call('PATCH', `/v3/apps/${w.web.guid}/environment_variables`, 'spaceDeveloper', {
      var: { SECRET: null, DEBUG: 'true' },
    });
    assert.equal(patch.status, 200);
    assert.deepEqual(patch.body.var, { DEBUG: 'true' });
    const bad = await w.call('PATCH', `/v3/apps/${w.web.guid}/environment_variables`, 'spaceDeveloper', {
      var: { PORT: '1' },
    });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.errors[0].detail, 'Var cannot set PORT');
    const number = await w.call('PATCH', `/v3/apps/${w.web.guid}/environment_variables`, 'spaceDeveloper', {
      var: { N: 1 },
    });
    assert.equal(number.status, 422);
    const events = await w.get(`/v3/audit_events?target_guids=${w.web.guid}&order_by=created_at`, 'admin');
    assert.deepEqual(
      events.body.resources.map((e: { type: string }) => e.type),
      ['audit.app.environment_variables.show', 'audit.app.update'],
    );
    assert.deepEqual(events.body.resources[1].data, { request: { environment_variables: '[PRIVATE DATA HIDDEN]' } });
    assert.ok(!JSON.stringify(events.body).includes('hunter2'));
  });

  it("GET /env: the app's environment as an instance gets it (VCAP_APPLICATION), for secret readers", async () => {
    const res = await w.get(`/v3/apps/${w.web.guid}/env`, 'spaceDeveloper');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.environment_variables, { SECRET: 'hunter2' });
    assert.deepEqual(res.body.system_env_json, { VCAP_SERVICES: {} });
    const va = res.body.application_env_json.VCAP_APPLICATION;
    assert.equal(va.application_id, w.web.guid);
    assert.equal(va.space_name, 'dev');
    assert.equal(va.organization_name, 'acme');
    assert.equal(va.cf_api, BASE);
    assert.deepEqual(res.body.staging_env_json, {});
    const auditor = await w.get(`/v3/apps/${w.web.guid}/env`, 'spaceAuditor');
    assert.equal(auditor.status, 403);
    assert.ok(!JSON.stringify(auditor.body).includes('hunter2'));
  });

  it('in a suspended org only admins write: developers get 403', async () => {
    await w.call('PATCH', `/v3/organizations/${w.acme.guid}`, 'admin', { suspended: true });
    assert.equal((await w.call('POST', '/v3/apps', 'spaceDeveloper', inDev(w))).status, 403);
    assert.equal((await w.call('PATCH', `/v3/apps/${w.web.guid}`, 'spaceDeveloper', { name: 'x' })).status, 403);
    assert.equal((await w.call('DELETE', `/v3/apps/${w.web.guid}`, 'spaceDeveloper')).status, 403);
    assert.equal((await w.get(`/v3/apps/${w.web.guid}`, 'spaceDeveloper')).status, 200, 'reads go on');
    assert.equal((await w.call('POST', '/v3/apps', 'admin', inDev(w))).status, 201);
  });

  it('delete: a job that deletes the images, then the app; audit.app.delete-request', async () => {
    const res = await w.call('DELETE', `/v3/apps/${w.web.guid}`, 'spaceDeveloper');
    assert.equal(res.status, 202);
    assert.equal(res.body.links.app.href, `${BASE}/v3/apps/${w.web.guid}`);
    await w.app.jobs.idle();
    const job = await w.get(res.headers.get('location') ?? '', 'spaceDeveloper');
    assert.equal(job.body.state, 'COMPLETE');
    assert.equal(job.body.links.app, undefined, 'no link to what is gone');
    assert.equal(await w.store.getApp(w.web.guid), undefined);
    assert.deepEqual(
      w.images.deleted.map((apps) => apps.map((a) => a.guid)),
      [[w.web.guid]],
    );
    const events = await w.get(`/v3/audit_events?types=audit.app.delete-request`, 'spaceDeveloper');
    assert.equal(events.body.resources[0].target.name, 'web');
    assert.equal((await w.get(`/v3/apps/${w.web.guid}`, 'spaceDeveloper')).body.errors[0].detail, 'App not found');
  });

  it('an app whose images cannot be deleted stays, and the job is FAILED', async () => {
    w.images.fail = new Error('registry down');
    const res = await w.call('DELETE', `/v3/apps/${w.web.guid}`, 'spaceDeveloper');
    await w.app.jobs.idle();
    assert.equal((await w.get(res.headers.get('location') ?? '', 'spaceDeveloper')).body.state, 'FAILED');
    assert.ok(await w.store.getApp(w.web.guid));
  });
});
