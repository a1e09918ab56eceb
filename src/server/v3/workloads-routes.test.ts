import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BASE } from './testdata/world.js';
import { DOMAIN, WorkloadWorld } from './testdata/workload-world.js';

describe('v3 workloads: domains, routes and destinations (cf routes, cf map-route)', () => {
  let x: WorkloadWorld;
  let domainGuid: string;
  beforeEach(async () => {
    x = await WorkloadWorld.create();
    await x.app.ready();
    const domains = await x.get(`/v3/domains?names=${DOMAIN}&page=1&per_page=1`, 'spaceDeveloper');
    domainGuid = domains.body.resources[0].guid;
  });
  afterEach(async () => {
    await x.close();
  });

  const create = (who: Parameters<WorkloadWorld['call']>[2], host: string | undefined, path?: string, space?: string) =>
    x.call('POST', '/v3/routes', who, {
      ...(host === undefined ? {} : { host }),
      ...(path === undefined ? {} : { path }),
      relationships: { space: { data: { guid: space ?? x.w.dev.guid } }, domain: { data: { guid: domainGuid } } },
    });

  it("the shared default domain in CF's shape; map-route's sequence with empty hosts= and paths=", async () => {
    const d = await x.get(`/v3/domains/${domainGuid}`, 'spaceAuditor');
    assert.equal(d.body.name, DOMAIN);
    assert.deepEqual(d.body.supported_protocols, ['http']);
    assert.equal(d.body.router_group, null);
    assert.equal((await x.get(`/v3/domains/${domainGuid}`, 'anonymous')).status, 401);

    // map-route: the route is looked up with empty filters, created, then the app is mapped.
    const lookup = `/v3/routes?domain_guids=${domainGuid}&hosts=web&page=1&paths=&per_page=1`;
    assert.deepEqual((await x.get(lookup, 'spaceDeveloper')).body.resources, []);
    const made = await create('spaceDeveloper', 'web');
    assert.equal(made.status, 201);
    const route = made.body;
    assert.equal(route.url, `web.${DOMAIN}`);
    assert.equal(route.protocol, 'http');
    assert.equal(route.port, null);
    assert.deepEqual(route.options, {});
    assert.deepEqual(route.destinations, []);
    assert.deepEqual(route.relationships, {
      space: { data: { guid: x.w.dev.guid } },
      domain: { data: { guid: domainGuid } },
    });
    assert.equal(route.links.destinations.href, `${BASE}/v3/routes/${route.guid}/destinations`);
    assert.deepEqual(
      (await x.get(lookup, 'spaceDeveloper')).body.resources.map((r: any) => r.guid),
      [route.guid],
    );
    // paths= means the empty path: a route with a path is not found by it.
    const withPath = await create('spaceDeveloper', 'web', '/api');
    assert.equal(withPath.body.url, `web.${DOMAIN}/api`);
    assert.deepEqual(
      (await x.get(lookup, 'spaceDeveloper')).body.resources.map((r: any) => r.guid),
      [route.guid],
    );
    const both = await x.get(`/v3/routes?hosts=web&paths=,%2Fapi&per_page=5000`, 'spaceDeveloper');
    assert.equal(both.body.resources.length, 2);

    const mapped = await x.call('POST', `/v3/routes/${route.guid}/destinations`, 'spaceDeveloper', {
      destinations: [{ app: { guid: x.w.web.guid } }],
    });
    assert.equal(mapped.status, 200);
    assert.equal(mapped.body.destinations.length, 1);
    const dest = mapped.body.destinations[0];
    assert.deepEqual(dest.app, { guid: x.w.web.guid, process: { type: 'web' } });
    assert.equal(dest.port, 8080);
    assert.equal(dest.protocol, 'http1');
    // Mapping again keeps the one destination.
    const again = await x.call('POST', `/v3/routes/${route.guid}/destinations`, 'spaceDeveloper', {
      destinations: [{ app: { guid: x.w.web.guid } }],
    });
    assert.equal(again.body.destinations.length, 1);

    // cf routes / cf apps: by space, by app; the route shows its destinations.
    const bySpace = await x.get(`/v3/routes?per_page=5000&space_guids=${x.w.dev.guid}`, 'spaceManager');
    assert.equal(bySpace.body.resources.length, 2);
    const byApp = await x.get(`/v3/routes?app_guids=${x.w.web.guid}`, 'spaceDeveloper');
    assert.deepEqual(
      byApp.body.resources.map((r: any) => r.url),
      [`web.${DOMAIN}`],
    );
    assert.equal(byApp.body.resources[0].destinations[0].guid, dest.guid);
    const appRoutes = await x.get(`/v3/apps/${x.w.web.guid}/routes`, 'spaceAuditor');
    assert.deepEqual(
      appRoutes.body.resources.map((r: any) => r.guid),
      [route.guid],
    );
    const srb = await x.get(
      `/v3/service_route_bindings?include=service_instance&route_guids=${route.guid}`,
      'spaceDeveloper',
    );
    assert.equal(srb.status, 200);
    assert.deepEqual(srb.body.resources, []);

    // The org's auditor sees the space's routes (CC's ROLES_FOR_ROUTE_READING), not its apps.
    assert.equal((await x.get(`/v3/routes/${route.guid}`, 'orgAuditor')).status, 200);
    assert.equal((await x.get('/v3/routes', 'orgAuditor')).body.resources.length, 2);
    assert.equal((await x.get(`/v3/apps/${x.w.web.guid}`, 'orgAuditor')).status, 404);
    assert.equal((await x.get(`/v3/routes/${route.guid}`, 'otherOrgDeveloper')).status, 404);
    assert.equal((await x.get('/v3/routes', 'otherOrgDeveloper')).body.resources.length, 0);

    // unmap: 204; the events say map-route and unmap-route.
    const gone = await x.call('DELETE', `/v3/routes/${route.guid}/destinations/${dest.guid}`, 'spaceSupporter');
    assert.equal(gone.status, 204);
    assert.equal(gone.body, undefined);
    const twice = await x.call('DELETE', `/v3/routes/${route.guid}/destinations/${dest.guid}`, 'spaceDeveloper');
    assert.equal(twice.status, 422);
    assert.equal(
      twice.body.errors[0].detail,
      'Unable to unmap route from destination. Ensure the route has a destination with this guid.',
    );
    const events = await x.get(`/v3/audit_events?target_guids=${x.w.web.guid}`, 'admin');
    const types = events.body.resources.map((e: any) => e.type);
    assert.ok(types.includes('audit.app.map-route'));
    assert.ok(types.includes('audit.app.unmap-route'));
    const routeEvents = await x.get(`/v3/audit_events?types=audit.route.create`, 'admin');
    assert.equal(routeEvents.body.resources.length, 2);
  });

  it("CC's texts: Route already exists (here: CF-UnprocessableEntity; another space's: CF-RouteTaken), a host is needed, bad input", async () => {
    assert.equal((await create('spaceDeveloper', 'taken')).status, 201);
    const here = await create('spaceDeveloper', 'taken');
    assert.equal(here.status, 422);
    assert.deepEqual(here.body.errors, [
      {
        code: 10008,
        title: 'CF-UnprocessableEntity',
        detail: `Route already exists with host 'taken' for domain '${DOMAIN}'.`,
      },
    ]);
    const elsewhere = await create('otherOrgDeveloper', 'taken', undefined, x.w.prod.guid);
    assert.equal(elsewhere.status, 422);
    assert.deepEqual(elsewhere.body.errors, [
      {
        code: 210003,
        title: 'CF-RouteTaken',
        detail: `Route already exists with host 'taken' for domain '${DOMAIN}'.`,
      },
    ]);
    assert.equal(
      (await create('spaceDeveloper', '')).body.errors[0].detail,
      'Missing host. Routes in shared domains must have a host defined.',
    );
    assert.equal((await create('spaceDeveloper', 'a b')).status, 422);
    assert.equal((await create('spaceDeveloper', 'ok', 'nopath')).body.errors[0].detail, "Path must begin with '/'");
    const noSpace = await create('otherOrgDeveloper', 'mine');
    assert.equal(
      noSpace.body.errors[0].detail,
      'Invalid space. Ensure that the space exists and you have access to it.',
    );
    const noDomain = await x.call('POST', '/v3/routes', 'spaceDeveloper', {
      host: 'x',
      relationships: { space: { data: { guid: x.w.dev.guid } }, domain: { data: { guid: 'nope' } } },
    });
    assert.equal(
      noDomain.body.errors[0].detail,
      'Invalid domain. Ensure that the domain exists and you have access to it.',
    );
    assert.equal((await x.get('/v3/routes/nope', 'admin')).body.errors[0].detail, 'Route not found');
    assert.equal((await x.get('/v3/routes?colour=blue', 'admin')).status, 400);
  });

  it('destinations: apps of the route space only, apps the caller sees; deleting a route is a job', async () => {
    const route = (await create('spaceDeveloper', 'api')).body;
    const foreign = await x.call('POST', `/v3/routes/${route.guid}/destinations`, 'spaceDeveloper', {
      destinations: [{ app: { guid: x.w.api.guid } }],
    });
    assert.equal(foreign.status, 422);
    assert.equal(
      foreign.body.errors[0].detail,
      `App(s) with guid(s) "${x.w.api.guid}" do not exist or you do not have access.`,
    );
    const admin = await x.call('POST', `/v3/routes/${route.guid}/destinations`, 'admin', {
      destinations: [{ app: { guid: x.w.api.guid } }],
    });
    assert.equal(
      admin.body.errors[0].detail,
      "Routes destinations must be in either the route's space or the route's shared spaces",
    );
    const listed = await x.get(`/v3/routes/${route.guid}/destinations`, 'spaceAuditor');
    assert.deepEqual(listed.body.destinations, []);
    assert.equal(listed.body.links.route.href, `${BASE}/v3/routes/${route.guid}`);

    const del = await x.call('DELETE', `/v3/routes/${route.guid}`, 'spaceDeveloper');
    assert.equal(del.status, 202);
    const job = await x.job(del.headers.get('location')!);
    assert.equal(job.body.state, 'COMPLETE');
    assert.equal(job.body.operation, 'route.delete');
    assert.equal((await x.get(`/v3/routes/${route.guid}`, 'spaceDeveloper')).status, 404);
  });

  it('permissions: developers and supporters create, map and delete routes (CC: can_manage_apps); managers, auditors 403; other orgs 404', async () => {
    const route = (await create('spaceDeveloper', 'perm')).body;
    const map = (who: Parameters<WorkloadWorld['call']>[2]) =>
      x.call('POST', `/v3/routes/${route.guid}/destinations`, who, { destinations: [{ app: { guid: x.w.web.guid } }] });
    assert.equal((await create('spaceSupporter', 'bysupporter')).status, 201);
    for (const who of ['spaceManager', 'spaceAuditor', 'orgManager', 'adminReadOnly', 'globalAuditor'] as const) {
      assert.equal((await create(who, `by-${who.toLowerCase()}`)).status, 403, who);
      assert.equal((await map(who)).status, 403, who);
      assert.equal((await x.call('DELETE', `/v3/routes/${route.guid}`, who)).status, 403, who);
    }
    assert.equal((await map('orgAuditor')).status, 403);
    for (const who of ['otherOrgDeveloper', 'orgUser', 'orgBillingManager'] as const) {
      assert.equal((await map(who)).status, 404, who);
      assert.equal((await x.call('DELETE', `/v3/routes/${route.guid}`, who)).status, 404, who);
    }
    assert.equal((await map('spaceSupporter')).status, 200);
  });
});
