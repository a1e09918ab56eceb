import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BASE, World } from './testdata/world.js';

/** Organizations against CF v3's documented shapes, pagination, filters, errors, audit and the delete job. */
describe('v3 organizations', () => {
  let w: World;
  beforeEach(async () => {
    w = await World.create();
  });
  afterEach(async () => {
    await w.close();
  });

  it("an org has CF's shape: guid, times, name, suspended, relationships, metadata, absolute links", async () => {
    const res = await w.get(`/v3/organizations/${w.acme.guid}`, 'orgUser');
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body).sort(), [
      'created_at',
      'guid',
      'links',
      'metadata',
      'name',
      'relationships',
      'suspended',
      'updated_at',
    ]);
    assert.equal(res.body.guid, w.acme.guid);
    assert.equal(res.body.name, 'acme');
    assert.equal(res.body.suspended, false);
    assert.match(res.body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(res.body.metadata, { labels: {}, annotations: {} });
    assert.deepEqual(res.body.relationships, { quota: { data: null } });
    assert.deepEqual(res.body.links.self, { href: `${BASE}/v3/organizations/${w.acme.guid}` });
  });

  it('a list is what the caller reads: everything for global readers, their orgs for members', async () => {
    const names = async (who: Parameters<World['get']>[1]) =>
      (await w.get('/v3/organizations?order_by=name', who)).body.resources.map((o: { name: string }) => o.name);
    assert.deepEqual(await names('globalAuditor'), ['acme', 'globex']);
    assert.deepEqual(await names('orgBillingManager'), ['acme']);
    assert.deepEqual(await names('spaceSupporter'), ['acme']);
    assert.deepEqual(await names('otherOrgDeveloper'), ['globex']);
    const nobody = await w.user('nobody');
    assert.deepEqual(await names(nobody), []);
  });

  it('pagination: total_pages, first/last/next/previous as absolute hrefs that keep per_page, order_by and filters', async () => {
    for (const n of ['b', 'c', 'd', 'e', 'f']) await w.call('POST', '/v3/organizations', 'admin', { name: `org-${n}` });
    const all = 'acme,globex,org-b,org-c,org-d,org-e,org-f';
    const first = await w.get(`/v3/organizations?names=${all}&order_by=-name&per_page=2`, 'admin');
    assert.equal(first.status, 200);
    const q = (page: number) =>
      `names=acme%2Cglobex%2Corg-b%2Corg-c%2Corg-d%2Corg-e%2Corg-f&order_by=-name&page=${page}&per_page=2`;
    assert.deepEqual(first.body.pagination, {
      total_results: 7,
      total_pages: 4,
      first: { href: `${BASE}/v3/organizations?${q(1)}` },
      last: { href: `${BASE}/v3/organizations?${q(4)}` },
      next: { href: `${BASE}/v3/organizations?${q(2)}` },
      previous: null,
    });
    assert.deepEqual(
      first.body.resources.map((o: { name: string }) => o.name),
      ['org-f', 'org-e'],
    );
    // Following next as the cf CLI does: verbatim, to the end.
    const seen: string[] = [];
    let href: string | null = first.body.pagination.first.href;
    let pages = 0;
    while (href) {
      const page = await w.get(href, 'admin');
      seen.push(...page.body.resources.map((o: { name: string }) => o.name));
      if (pages > 0) assert.ok(page.body.pagination.previous);
      href = page.body.pagination.next?.href ?? null;
      pages += 1;
    }
    assert.equal(pages, 4);
    assert.deepEqual(seen, ['org-f', 'org-e', 'org-d', 'org-c', 'org-b', 'globex', 'acme']);
  });

  it('no results is one page: total_pages 1, next and previous null', async () => {
    const res = await w.get('/v3/organizations?names=none', 'admin');
    assert.deepEqual(res.body.pagination, {
      total_results: 0,
      total_pages: 1,
      first: { href: `${BASE}/v3/organizations?names=none&page=1&per_page=50` },
      last: { href: `${BASE}/v3/organizations?names=none&page=1&per_page=50` },
      next: null,
      previous: null,
    });
    assert.deepEqual(res.body.resources, []);
  });

  it('page and per_page are checked as CC checks them (400 CF-BadQueryParameter)', async () => {
    const bad = async (query: string, detail: string) => {
      const res = await w.get(`/v3/organizations?${query}`, 'admin');
      assert.equal(res.status, 400, query);
      assert.deepEqual(res.body.errors, [
        { code: 10005, title: 'CF-BadQueryParameter', detail: `The query parameter is invalid: ${detail}` },
      ]);
    };
    await bad('per_page=0', 'Per page must be a positive integer');
    await bad('per_page=5001', 'Per page must be between 1 and 5000');
    await bad('per_page=ten', 'Per page must be a positive integer');
    await bad('page=0', 'Page must be a positive integer');
    await bad('order_by=size', "Order by can only be: 'created_at', 'updated_at', 'name'");
    await bad(
      'colour=red&names=acme',
      "Unknown query parameter(s): 'colour'. Valid parameters are: 'page', 'per_page', 'order_by', 'guids', 'names', 'label_selector'",
    );
    assert.equal((await w.get('/v3/organizations?per_page=5000', 'admin')).status, 200);
    assert.equal((await w.get('/v3/organizations?per_page=1', 'admin')).body.resources.length, 1);
    // A page past the end is empty, with previous set.
    const past = await w.get('/v3/organizations?page=9&per_page=1', 'admin');
    assert.equal(past.status, 200);
    assert.deepEqual(past.body.resources, []);
    assert.ok(past.body.pagination.previous);
  });

  it('order_by name, -name, created_at and -created_at', async () => {
    await w.call('POST', '/v3/organizations', 'admin', { name: 'Zeta' });
    await w.call('POST', '/v3/organizations', 'admin', { name: 'beta' });
    const order = async (by: string) =>
      (await w.get(`/v3/organizations?order_by=${by}`, 'admin')).body.resources.map((o: { name: string }) => o.name);
    assert.deepEqual(await order('name'), ['acme', 'beta', 'globex', 'Zeta']);
    assert.deepEqual(await order('-name'), ['Zeta', 'globex', 'beta', 'acme']);
    assert.deepEqual(await order('created_at'), ['acme', 'globex', 'Zeta', 'beta']);
    assert.deepEqual(await order('-created_at'), ['beta', 'Zeta', 'globex', 'acme']);
  });

  it('filters: names and guids as comma lists (a comma inside a name double-encoded, as the cf CLI sends it)', async () => {
    const odd = await w.call('POST', '/v3/organizations', 'admin', { name: 'a,b' });
    assert.equal(odd.status, 201);
    const byName = await w.get('/v3/organizations?names=a%252Cb', 'admin');
    assert.deepEqual(
      byName.body.resources.map((o: { name: string }) => o.name),
      ['a,b'],
    );
    assert.equal(byName.body.pagination.first.href, `${BASE}/v3/organizations?names=a%252Cb&page=1&per_page=50`);
    const byGuid = await w.get(`/v3/organizations?guids=${w.globex.guid},${odd.body.guid}&order_by=name`, 'admin');
    assert.deepEqual(
      byGuid.body.resources.map((o: { name: string }) => o.name),
      ['a,b', 'globex'],
    );
    // A guid the caller may not read is filtered out, not an error.
    const hidden = await w.get(`/v3/organizations?guids=${w.globex.guid}`, 'orgUser');
    assert.equal(hidden.body.pagination.total_results, 0);
  });

  it('label_selector: =, !=, in, notin, exists and !; an invalid selector is 400', async () => {
    const label = (guid: string, labels: Record<string, string | null>) =>
      w.call('PATCH', `/v3/organizations/${guid}`, 'admin', { metadata: { labels } });
    assert.equal((await label(w.acme.guid, { env: 'prod', tier: 'web' })).status, 200);
    assert.equal((await label(w.globex.guid, { env: 'dev' })).status, 200);
    const names = async (selector: string) =>
      (
        await w.get(`/v3/organizations?order_by=name&label_selector=${encodeURIComponent(selector)}`, 'admin')
      ).body.resources.map((o: { name: string }) => o.name);
    assert.deepEqual(await names('env=prod'), ['acme']);
    assert.deepEqual(await names('env!=prod'), ['globex']);
    assert.deepEqual(await names('env in (prod,dev)'), ['acme', 'globex']);
    assert.deepEqual(await names('env notin (prod)'), ['globex']);
    assert.deepEqual(await names('tier'), ['acme']);
    assert.deepEqual(await names('!tier'), ['globex']);
    assert.deepEqual(await names('env=prod,tier=web'), ['acme']);
    const bad = await w.get('/v3/organizations?label_selector=env%3D%3D%3D', 'admin');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.errors[0].code, 10005);
    const kept = await w.get('/v3/organizations?label_selector=env%3Dprod', 'admin');
    assert.equal(
      kept.body.pagination.first.href,
      `${BASE}/v3/organizations?label_selector=env%3Dprod&page=1&per_page=50`,
    );
  });

  it("create: 201 with CF's shape; the name is unique (\"Organization 'x' already exists.\"); CC's texts for bad input", async () => {
    const created = await w.call('POST', '/v3/organizations', 'admin', {
      name: 'initech',
      suspended: false,
      metadata: { labels: { team: 'a' }, annotations: { note: 'hi' } },
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.name, 'initech');
    assert.deepEqual(created.body.metadata, { labels: { team: 'a' }, annotations: { note: 'hi' } });
    const again = await w.call('POST', '/v3/organizations', 'admin', { name: 'initech' });
    assert.equal(again.status, 422);
    assert.deepEqual(again.body.errors, [
      { code: 10008, title: 'CF-UnprocessableEntity', detail: "Organization 'initech' already exists." },
    ]);
    const invalid = async (body: unknown, detail: string) => {
      const res = await w.call('POST', '/v3/organizations', 'admin', body);
      assert.equal(res.status, 422, JSON.stringify(body));
      assert.equal(res.body.errors[0].detail, detail);
      assert.equal(res.body.errors[0].code, 10008);
    };
    await invalid({}, "Name can't be blank");
    await invalid({ name: 5 }, 'Name must be a string');
    await invalid({ name: 'x'.repeat(256) }, 'Name is too long (maximum is 255 characters)');
    await invalid({ name: 'ok', colour: 'red' }, "Unknown field(s): 'colour'");
    await invalid({ name: 'ok', suspended: 'yes' }, 'Suspended must be a boolean');
    await invalid(
      { name: 'ok', metadata: { labels: { 'bad key!': 'x' } } },
      "Metadata label key error: 'bad key!' contains invalid characters",
    );
  });

  it('a non-admin creator is refused (403); a non-admin may not suspend', async () => {
    const res = await w.call('POST', '/v3/organizations', 'orgManager', { name: 'mine' });
    assert.equal(res.status, 403);
    assert.deepEqual(res.body.errors, [
      { code: 10003, title: 'CF-NotAuthorized', detail: 'You are not authorized to perform the requested action' },
    ]);
    const suspend = await w.call('PATCH', `/v3/organizations/${w.acme.guid}`, 'orgManager', { suspended: true });
    assert.equal(suspend.status, 403);
  });

  it('update: rename, metadata merged (null removes a key), suspend by an admin', async () => {
    await w.call('PATCH', `/v3/organizations/${w.acme.guid}`, 'admin', {
      metadata: { labels: { a: '1', b: '2' }, annotations: { x: 'y' } },
    });
    const res = await w.call('PATCH', `/v3/organizations/${w.acme.guid}`, 'orgManager', {
      name: 'acme-corp',
      metadata: { labels: { a: null, c: '3' } },
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.name, 'acme-corp');
    assert.deepEqual(res.body.metadata, { labels: { b: '2', c: '3' }, annotations: { x: 'y' } });
    assert.equal((await w.store.getOrg(w.acme.guid))?.slug, 'acme-corp');
    const suspended = await w.call('PATCH', `/v3/organizations/${w.acme.guid}`, 'admin', { suspended: true });
    assert.equal(suspended.body.suspended, true);
    const taken = await w.call('PATCH', `/v3/organizations/${w.acme.guid}`, 'admin', { name: 'globex' });
    assert.equal(taken.status, 422);
    assert.equal(taken.body.errors[0].detail, "Organization 'globex' already exists.");
  });

  it("every write records CC's audit event with actor, target, org and request", async () => {
    const created = await w.call('POST', '/v3/organizations', 'admin', { name: 'audited' });
    await w.call('PATCH', `/v3/organizations/${created.body.guid}`, 'admin', { name: 'audited-2' });
    await w.call('DELETE', `/v3/organizations/${created.body.guid}`, 'admin');
    const events = await w.get(`/v3/audit_events?target_guids=${created.body.guid}&order_by=created_at`, 'admin');
    assert.deepEqual(
      events.body.resources.map((e: { type: string }) => e.type),
      ['audit.organization.create', 'audit.organization.update', 'audit.organization.delete-request'],
    );
    const [create] = events.body.resources;
    assert.deepEqual(create.actor, { guid: w.users.admin.guid, type: 'user', name: 'admin' });
    assert.deepEqual(create.target, { guid: created.body.guid, type: 'organization', name: 'audited' });
    assert.deepEqual(create.organization, { guid: created.body.guid });
    assert.equal(create.space, null);
    assert.deepEqual(create.data, { request: { name: 'audited' } });
  });

  it('delete: 202 with an absolute Location; the job completes; spaces, apps and roles are gone; the images of the apps are deleted', async () => {
    const extra = await w.appIn(w.dev, 'worker');
    const res = await w.call('DELETE', `/v3/organizations/${w.acme.guid}`, 'admin');
    assert.equal(res.status, 202);
    const location = res.headers.get('location') ?? '';
    assert.match(location, /^https:\/\/api\.example\.com\/v3\/jobs\/[0-9a-f-]{36}$/);
    assert.equal(res.body.operation, 'organization.delete');
    assert.equal(res.body.links.self.href, location);
    await w.app.jobs.idle();
    const job = await w.get(location, 'orgUser');
    assert.equal(job.status, 200);
    assert.equal(job.body.state, 'COMPLETE');
    assert.deepEqual(job.body.errors, []);
    assert.equal(await w.store.getOrg(w.acme.guid), undefined);
    assert.equal(await w.store.getSpace(w.dev.guid), undefined);
    assert.equal(await w.store.getApp(w.web.guid), undefined);
    assert.deepEqual(await w.store.rolesOf(w.users.spaceDeveloper.guid), []);
    assert.deepEqual(
      w.images.deleted.map((apps) => apps.map((a) => a.guid).sort()),
      [[w.web.guid, extra.guid].sort()],
    );
    assert.ok(await w.store.getOrg(w.globex.guid), 'other orgs stay');
    assert.equal((await w.get(`/v3/organizations/${w.acme.guid}`, 'admin')).status, 404);
  });

  it('a delete whose images cannot be deleted ends FAILED with a CF error', async () => {
    w.images.fail = new Error('registry down');
    const res = await w.call('DELETE', `/v3/organizations/${w.acme.guid}`, 'admin');
    await w.app.jobs.idle();
    const job = await w.get(res.headers.get('location') ?? '', 'admin');
    assert.equal(job.body.state, 'FAILED');
    assert.deepEqual(job.body.errors, [{ code: 10001, title: 'CF-ServerError', detail: 'Server error' }]);
  });

  it('a job left PROCESSING by a stop runs again at start', async () => {
    await w.store.createJob({
      guid: 'f0f0f0f0-0000-4000-8000-000000000001',
      ...w.stamp(),
      operation: 'organization.delete',
      state: 'PROCESSING',
      errors: [],
      warnings: [],
      resourceGuid: w.acme.guid,
    });
    assert.equal(await w.app.jobs.resumeUnfinished(), 1);
    await w.app.jobs.idle();
    assert.equal((await w.store.getJob('f0f0f0f0-0000-4000-8000-000000000001'))?.state, 'COMPLETE');
    assert.equal(await w.store.getOrg(w.acme.guid), undefined);
    assert.equal(w.images.deleted.length, 1);
  });

  it('an unknown job is 404 "Job not found"', async () => {
    const res = await w.get('/v3/jobs/00000000-0000-4000-8000-000000000000', 'admin');
    assert.equal(res.status, 404);
    assert.deepEqual(res.body.errors, [{ code: 10010, title: 'CF-ResourceNotFound', detail: 'Job not found' }]);
  });

  it('what the caller may not see is 404 "Organization not found", the same as what does not exist', async () => {
    const hidden = await w.get(`/v3/organizations/${w.acme.guid}`, 'otherOrgDeveloper');
    const missing = await w.get('/v3/organizations/00000000-0000-4000-8000-000000000000', 'otherOrgDeveloper');
    assert.equal(hidden.status, 404);
    assert.deepEqual(hidden.body, missing.body);
    assert.equal(hidden.body.errors[0].detail, 'Organization not found');
  });
});
