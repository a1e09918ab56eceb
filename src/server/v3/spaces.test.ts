import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BASE, World } from './testdata/world.js';

describe('v3 spaces', () => {
  let w: World;
  beforeEach(async () => {
    w = await World.create();
  });
  afterEach(async () => {
    await w.close();
  });

  it("a space has CF's shape with relationships.organization and absolute links", async () => {
    const res = await w.get(`/v3/spaces/${w.dev.guid}`, 'spaceAuditor');
    assert.equal(res.status, 200);
    assert.equal(res.body.name, 'dev');
    assert.deepEqual(res.body.relationships, { organization: { data: { guid: w.acme.guid } }, quota: { data: null } });
    assert.deepEqual(res.body.links, {
      self: { href: `${BASE}/v3/spaces/${w.dev.guid}` },
      organization: { href: `${BASE}/v3/organizations/${w.acme.guid}` },
    });
    assert.deepEqual(res.body.metadata, { labels: {}, annotations: {} });
  });

  it('org-only roles do not see spaces; org managers see all of their org; the list is filtered in the store', async () => {
    const staging = await w.space(w.acme, 'staging');
    const names = async (who: Parameters<World['get']>[1]) =>
      (await w.get('/v3/spaces?order_by=name', who)).body.resources.map((s: { name: string }) => s.name);
    assert.deepEqual(await names('orgManager'), ['dev', 'staging']);
    assert.deepEqual(await names('spaceDeveloper'), ['dev']);
    assert.deepEqual(await names('orgAuditor'), []);
    assert.deepEqual(await names('otherOrgDeveloper'), ['prod']);
    assert.deepEqual(await names('adminReadOnly'), ['dev', 'prod', 'staging']);
    assert.equal((await w.get(`/v3/spaces/${staging.guid}`, 'spaceDeveloper')).status, 404);
  });

  it('filters: names and organization_guids (what the cf CLI sends for SpaceByName), kept in the links', async () => {
    await w.space(w.acme, 'qa');
    const res = await w.get(`/v3/spaces?names=dev&organization_guids=${w.acme.guid}&page=1&per_page=1`, 'admin');
    assert.equal(res.status, 200);
    assert.equal(res.body.pagination.total_results, 1);
    assert.equal(res.body.resources[0].guid, w.dev.guid);
    assert.equal(
      res.body.pagination.first.href,
      `${BASE}/v3/spaces?names=dev&organization_guids=${w.acme.guid}&page=1&per_page=1`,
    );
    const byOrg = await w.get(`/v3/spaces?organization_guids=${w.acme.guid},${w.globex.guid}&order_by=name`, 'admin');
    assert.deepEqual(
      byOrg.body.resources.map((s: { name: string }) => s.name),
      ['dev', 'prod', 'qa'],
    );
  });

  it('include=organization (or org) adds included.organizations', async () => {
    for (const include of ['organization', 'org']) {
      const list = await w.get(`/v3/spaces?include=${include}`, 'spaceDeveloper');
      assert.deepEqual(
        list.body.included.organizations.map((o: { guid: string }) => o.guid),
        [w.acme.guid],
      );
      assert.equal(list.body.included.organizations[0].links.self.href, `${BASE}/v3/organizations/${w.acme.guid}`);
    }
    const one = await w.get(`/v3/spaces/${w.dev.guid}?include=organization`, 'spaceDeveloper');
    assert.equal(one.body.included.organizations[0].name, 'acme');
    const bad = await w.get('/v3/spaces?include=apps', 'admin');
    assert.equal(bad.status, 400);
    assert.equal(
      bad.body.errors[0].detail,
      "The query parameter is invalid: Invalid included resource: 'apps'. Valid included resources are: 'org', 'organization'",
    );
    const unknown = await w.get(`/v3/spaces/${w.dev.guid}?names=x`, 'admin');
    assert.equal(unknown.status, 400);
  });

  it('create: 201; "Name must be unique per organization" (the cf CLI matches it); no role for the creator', async () => {
    const body = { name: 'qa', relationships: { organization: { data: { guid: w.acme.guid } } } };
    const res = await w.call('POST', '/v3/spaces', 'orgManager', body);
    assert.equal(res.status, 201);
    assert.equal(res.body.relationships.organization.data.guid, w.acme.guid);
    const roles = await w.store.rolesOf(w.users.orgManager.guid);
    assert.ok(!roles.some((r) => r.spaceGuid === res.body.guid), 'the cf CLI gives the roles it wants');
    const again = await w.call('POST', '/v3/spaces', 'orgManager', { ...body, name: 'QA' });
    assert.equal(again.status, 422);
    assert.match(again.body.errors[0].detail, /Name must be unique per organization/);
    const missing = await w.call('POST', '/v3/spaces', 'admin', { name: 'x' });
    assert.equal(missing.status, 422);
    assert.equal(missing.body.errors[0].detail, "Relationships can't be blank");
    const noOrg = await w.call('POST', '/v3/spaces', 'admin', {
      name: 'x',
      relationships: { organization: { data: { guid: 'nope' } } },
    });
    assert.equal(noOrg.status, 422);
    assert.equal(
      noOrg.body.errors[0].detail,
      'Invalid organization. Ensure the organization exists and you have access to it.',
    );
  });

  it('update renames (the registry slug follows) and records audit.space.update', async () => {
    const res = await w.call('PATCH', `/v3/spaces/${w.dev.guid}`, 'spaceManager', { name: 'Development' });
    assert.equal(res.status, 200);
    assert.equal(res.body.name, 'Development');
    assert.equal((await w.store.getSpace(w.dev.guid))?.slug, 'development');
    const events = await w.get(`/v3/audit_events?types=audit.space.update&space_guids=${w.dev.guid}`, 'admin');
    assert.equal(events.body.pagination.total_results, 1);
    assert.deepEqual(events.body.resources[0].space, { guid: w.dev.guid });
    assert.deepEqual(events.body.resources[0].organization, { guid: w.acme.guid });
  });

  it('in a suspended org, org managers may no longer rename spaces; admins still may', async () => {
    await w.call('PATCH', `/v3/organizations/${w.acme.guid}`, 'admin', { suspended: true });
    assert.equal((await w.call('PATCH', `/v3/spaces/${w.dev.guid}`, 'orgManager', { name: 'x' })).status, 403);
    assert.equal((await w.call('PATCH', `/v3/spaces/${w.dev.guid}`, 'admin', { name: 'x' })).status, 200);
    const create = await w.call('POST', '/v3/spaces', 'orgManager', {
      name: 'y',
      relationships: { organization: { data: { guid: w.acme.guid } } },
    });
    assert.equal(create.status, 403);
  });

  it('delete: a job that removes the apps, their images and the space roles, and leaves the org', async () => {
    const res = await w.call('DELETE', `/v3/spaces/${w.dev.guid}`, 'orgManager');
    assert.equal(res.status, 202);
    assert.match(res.headers.get('location') ?? '', /^https:\/\/api\.example\.com\/v3\/jobs\//);
    await w.app.jobs.idle();
    const job = await w.get(res.headers.get('location') ?? '', 'orgManager');
    assert.equal(job.body.state, 'COMPLETE');
    assert.equal(await w.store.getSpace(w.dev.guid), undefined);
    assert.equal(await w.store.getApp(w.web.guid), undefined);
    assert.deepEqual(
      w.images.deleted.map((apps) => apps.map((a) => a.name)),
      [['web']],
    );
    const devRoles = await w.store.rolesOf(w.users.spaceDeveloper.guid);
    assert.deepEqual(
      devRoles.map((r) => r.type),
      ['organization_user'],
    );
    assert.ok(await w.store.getOrg(w.acme.guid));
    const events = await w.get(`/v3/audit_events?types=audit.space.delete-request`, 'admin');
    assert.equal(events.body.resources[0].target.guid, w.dev.guid);
    assert.deepEqual(events.body.resources[0].data, { request: { recursive: true } });
  });
});
