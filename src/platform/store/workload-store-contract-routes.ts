import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSlipwayError } from '../../errors.js';
import { newGuid } from '../model.js';
import { ALL, q, refused } from './platform-store-fixture.js';
import type { WorkloadHarness } from './workload-store-fixture.js';

/** The WorkloadStore contract, part 3: domains, routes, destinations and the routing table. */
export function routesContract(h: WorkloadHarness): void {
  describe('domains', () => {
    it('creates shared and private domains, names unique regardless of case', async () => {
      const acme = await h.fx.org('acme');
      const shared = await h.fx.domain('apps.example.com');
      const own = await h.fx.domain('acme.example.com', acme);
      assert.deepEqual(await h.workloads.getDomain(shared.guid), shared);
      assert.equal(own.orgGuid, acme.guid);
      assert.equal(shared.orgGuid, undefined);
      assert.deepEqual(await h.workloads.findDomain('APPS.example.com'), shared);
      assert.equal(await h.workloads.findDomain('nope.example.com'), undefined);
      await refused(
        h.fx.domain('Apps.Example.com'),
        'CONFLICT',
        'The domain name "Apps.Example.com" is already in use',
        'name',
      );
      await refused(
        h.workloads.createDomain(h.fx.domainValue('x.example.com', { orgGuid: newGuid() })),
        'NOT_FOUND',
        undefined,
        'organization',
      );
      const internal = await h.workloads.createDomain(h.fx.domainValue('apps.internal', { internal: true }));
      assert.equal(internal.internal, true);
      const list = async (filter: Parameters<typeof h.workloads.listDomains>[1], orderBy = 'created_at') =>
        (await h.workloads.listDomains(q({ orderBy }), filter, ALL)).items.map((d) => d.name);
      assert.deepEqual(await list({}), ['apps.example.com', 'acme.example.com', 'apps.internal']);
      assert.deepEqual(await list({}, 'name'), ['acme.example.com', 'apps.example.com', 'apps.internal']);
      assert.deepEqual(await list({ names: ['APPS.INTERNAL'] }), ['apps.internal']);
      assert.deepEqual(await list({ guids: [own.guid] }), ['acme.example.com']);
    });
  });

  describe('routes', () => {
    it('creates, finds and deletes a route; a path makes another route', async () => {
      const { space } = await h.fx.world();
      const domain = await h.fx.domain('apps.example.com');
      const route = await h.fx.route(space, domain, 'web');
      assert.deepEqual(await h.workloads.getRoute(route.guid), route);
      assert.deepEqual(await h.workloads.findRoute(domain.guid, 'web', ''), route);
      const api = await h.fx.route(space, domain, 'web', '/api');
      assert.deepEqual(await h.workloads.findRoute(domain.guid, 'web', '/api'), api);
      await h.fx.route(space, domain, '');
      assert.equal(await h.workloads.findRoute(domain.guid, 'other', ''), undefined);
      assert.equal(await h.workloads.deleteRoute(route.guid), true);
      assert.equal(await h.workloads.deleteRoute(route.guid), false);
      assert.equal(await h.workloads.getRoute(route.guid), undefined);
      await h.fx.route(space, domain, 'web');
    });

    it('answers a route taken in the same space in CC\'s words (the cf CLI matches "Route already exists")', async () => {
      const { space } = await h.fx.world();
      const domain = await h.fx.domain('apps.example.com');
      await h.fx.route(space, domain, 'web');
      await h.fx.route(space, domain, 'web', '/api');
      await h.fx.route(space, domain, '');
      await h.fx.route(space, domain, '', '/docs');
      const taken = async (host: string, path: string, message: string) => {
        await refused(h.fx.route(space, domain, host, path), 'CONFLICT', message, 'host');
      };
      await taken('web', '', "Route already exists with host 'web' for domain 'apps.example.com'.");
      await taken('web', '/api', "Route already exists with host 'web' and path '/api' for domain 'apps.example.com'.");
      await taken('', '', "Route already exists for domain 'apps.example.com'.");
      await taken('', '/docs', "Route already exists with path '/docs' for domain 'apps.example.com'.");
    });

    it('answers CF-RouteTaken for a route held by another space, naming nothing of it', async () => {
      const acme = await h.fx.org('acme');
      const mine = await h.fx.space(acme, 'dev');
      const other = await h.fx.org('other');
      const theirs = await h.fx.space(other, 'far');
      const domain = await h.fx.domain('apps.example.com');
      await h.fx.route(theirs, domain, 'web');
      await assert.rejects(h.fx.route(mine, domain, 'web'), (err: unknown) => {
        assert.ok(isSlipwayError(err, 'CONFLICT'), String(err));
        assert.equal(err.message, 'The host is taken: web');
        assert.equal(err.detail?.['cf'], 'RouteTaken');
        assert.equal(err.detail?.['field'], 'host');
        assert.ok(!JSON.stringify(err.detail).includes(theirs.guid), 'the other space is not named');
        return true;
      });
      await h.fx.route(theirs, domain, '');
      await refused(h.fx.route(mine, domain, ''), 'CONFLICT', 'The host is taken: apps.example.com');
    });

    it("refuses a route in a space or on a domain that does not exist, or on another org's private domain", async () => {
      const acme = await h.fx.org('acme');
      const dev = await h.fx.space(acme, 'dev');
      const other = await h.fx.org('other');
      const shared = await h.fx.domain('apps.example.com');
      const theirs = await h.fx.domain('other.example.com', other);
      const ours = await h.fx.domain('acme.example.com', acme);
      await refused(
        h.workloads.createRoute(h.fx.routeValue({ ...dev, guid: newGuid() }, shared, 'web')),
        'NOT_FOUND',
        'Invalid space. Ensure that the space exists and you have access to it.',
        'space',
      );
      await refused(
        h.workloads.createRoute(h.fx.routeValue(dev, { ...shared, guid: newGuid() }, 'web')),
        'NOT_FOUND',
        'Invalid domain. Ensure that the domain exists and you have access to it.',
        'domain',
      );
      await refused(
        h.fx.route(dev, theirs, 'web'),
        'INVALID_ARGUMENT',
        "Invalid domain. Domain 'other.example.com' is not available in organization 'acme'.",
        'domain',
      );
      assert.equal((await h.fx.route(dev, ours, 'web')).domainGuid, ours.guid);
    });

    it('lists routes by space, org, domain, host, path, app and guid', async () => {
      const acme = await h.fx.org('acme');
      const dev = await h.fx.space(acme, 'dev');
      const prod = await h.fx.space(acme, 'prod');
      const other = await h.fx.org('other');
      const far = await h.fx.space(other, 'far');
      const d1 = await h.fx.domain('apps.example.com');
      const d2 = await h.fx.domain('apps.example.org');
      const web = await h.fx.app(dev, 'web');
      const r1 = await h.fx.route(dev, d1, 'web');
      const r2 = await h.fx.route(prod, d1, 'web', '/v2');
      const r3 = await h.fx.route(far, d2, 'web');
      const r4 = await h.fx.route(dev, d2, 'api');
      await h.workloads.addDestinations(r4.guid, [h.fx.destinationValue(r4, web)]);
      await h.workloads.addDestinations(r1.guid, [h.fx.destinationValue(r1, web)]);
      const list = async (filter: Parameters<typeof h.workloads.listRoutes>[1], orderBy = 'created_at') =>
        (await h.workloads.listRoutes(q({ orderBy }), filter, ALL)).items.map((r) => r.guid);
      assert.deepEqual(await list({}), [r1.guid, r2.guid, r3.guid, r4.guid]);
      assert.deepEqual(await list({}, '-created_at'), [r4.guid, r3.guid, r2.guid, r1.guid]);
      assert.deepEqual(await list({ spaceGuids: [dev.guid] }), [r1.guid, r4.guid]);
      assert.deepEqual(await list({ organizationGuids: [acme.guid] }), [r1.guid, r2.guid, r4.guid]);
      assert.deepEqual(await list({ domainGuids: [d2.guid] }), [r3.guid, r4.guid]);
      assert.deepEqual(await list({ hosts: ['web'] }), [r1.guid, r2.guid, r3.guid]);
      assert.deepEqual(await list({ hosts: ['web'], paths: ['/v2'] }), [r2.guid]);
      assert.deepEqual(await list({ domainGuids: [d1.guid], hosts: ['web'], paths: [''] }), [r1.guid]);
      assert.deepEqual(await list({ appGuids: [web.guid] }), [r1.guid, r4.guid]);
      assert.deepEqual(await list({ appGuids: [] }), []);
      assert.deepEqual(await list({ guids: [r3.guid] }), [r3.guid]);
    });
  });

  describe('route destinations', () => {
    it('adds destinations (the same one twice is kept once), answers them all, removes one', async () => {
      const { space, app } = await h.fx.world();
      const api = await h.fx.app(space, 'api');
      const domain = await h.fx.domain('apps.example.com');
      const route = await h.fx.route(space, domain, 'web');
      const a = h.fx.destinationValue(route, app);
      const b = h.fx.destinationValue(route, api, { port: 9000, protocol: 'http2' });
      assert.deepEqual(await h.workloads.addDestinations(route.guid, [a]), [a]);
      const twice = h.fx.destinationValue(route, app);
      assert.deepEqual(
        await h.workloads.addDestinations(route.guid, [twice, b]),
        [a, b],
        'the same destination: kept once',
      );
      const worker = h.fx.destinationValue(route, app, { processType: 'worker' });
      const port8080 = h.fx.destinationValue(route, app, { port: 8080 });
      assert.deepEqual(await h.workloads.addDestinations(route.guid, [worker, port8080]), [a, b, worker]);
      assert.deepEqual(await h.workloads.destinationsOf(route.guid), [a, b, worker]);
      assert.equal(await h.workloads.removeDestination(route.guid, b.guid), true);
      assert.equal(await h.workloads.removeDestination(route.guid, b.guid), false);
      const otherRoute = await h.fx.route(space, domain, 'other');
      assert.equal(await h.workloads.removeDestination(otherRoute.guid, a.guid), false, "only the route's own");
      assert.deepEqual(await h.workloads.destinationsOf(route.guid), [a, worker]);
      assert.deepEqual(await h.workloads.destinationsOf(newGuid()), []);
    });

    it('refuses destinations to a route or apps that do not exist, adding none of them', async () => {
      const { space, app } = await h.fx.world();
      const domain = await h.fx.domain('apps.example.com');
      const route = await h.fx.route(space, domain, 'web');
      const ghost = newGuid();
      await refused(
        h.workloads.addDestinations(route.guid, [
          h.fx.destinationValue(route, app),
          h.fx.destinationValue(route, { ...app, guid: ghost }),
        ]),
        'NOT_FOUND',
        `App(s) with guid(s) "${ghost}" do not exist.`,
        'app',
      );
      assert.deepEqual(await h.workloads.destinationsOf(route.guid), []);
      await refused(
        h.workloads.addDestinations(newGuid(), [h.fx.destinationValue(route, app)]),
        'NOT_FOUND',
        'Route not found',
        'route',
      );
    });
  });

  describe('the routing table', () => {
    it('answers every route with its domain and destinations, routes in creation order', async () => {
      const { space, app } = await h.fx.world();
      const api = await h.fx.app(space, 'api');
      const d1 = await h.fx.domain('apps.example.com');
      const d2 = await h.fx.domain('apps.example.org');
      const r1 = await h.fx.route(space, d1, 'web');
      const r2 = await h.fx.route(space, d2, 'api', '/v1');
      const r3 = await h.fx.route(space, d1, 'idle');
      const x1 = h.fx.destinationValue(r1, app);
      const x2 = h.fx.destinationValue(r1, api, { port: 9000 });
      const x3 = h.fx.destinationValue(r2, api);
      await h.workloads.addDestinations(r2.guid, [x3]);
      await h.workloads.addDestinations(r1.guid, [x1, x2]);
      assert.deepEqual(await h.workloads.routingTable(), [
        { route: r1, domain: d1, destinations: [x1, x2] },
        { route: r2, domain: d2, destinations: [x3] },
        { route: r3, domain: d1, destinations: [] },
      ]);
      await h.workloads.deleteRoute(r1.guid);
      assert.deepEqual(
        (await h.workloads.routingTable()).map((e) => e.route.guid),
        [r2.guid, r3.guid],
      );
    });

    it('is empty with no routes', async () => {
      assert.deepEqual(await h.workloads.routingTable(), []);
    });
  });
}
