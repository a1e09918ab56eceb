import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { stackGuid } from '../../platform/actions/stacks.js';
import { BASE, World } from './testdata/world.js';

describe('v3 stacks, buildpacks and audit events', () => {
  let w: World;
  beforeEach(async () => {
    w = await World.create();
  });
  afterEach(async () => {
    await w.close();
  });

  it("stacks: Slipway's catalog in CF's shape, with stable guids; names and default filters", async () => {
    const res = await w.get('/v3/stacks', 'spaceSupporter');
    assert.equal(res.status, 200);
    assert.equal(res.body.pagination.total_results, 2);
    const [bookworm] = res.body.resources;
    assert.deepEqual(bookworm, {
      guid: stackGuid('bookworm'),
      created_at: '1970-01-01T00:00:00Z',
      updated_at: '1970-01-01T00:00:00Z',
      name: 'bookworm',
      description: 'Debian 12',
      state: 'ACTIVE',
      state_reason: null,
      build_rootfs_image: 'stacks/bookworm-build:12.7',
      run_rootfs_image: 'stacks/bookworm-run:12.7',
      default: true,
      metadata: { labels: {}, annotations: { version: '12.7' } },
      links: { self: { href: `${BASE}/v3/stacks/${stackGuid('bookworm')}` } },
    });
    assert.match(stackGuid('bookworm'), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const names = async (q: string) =>
      (await w.get(`/v3/stacks?${q}`, 'orgUser')).body.resources.map((s: { name: string }) => s.name);
    assert.deepEqual(await names('default=false'), ['trixie']);
    assert.deepEqual(await names('names=trixie,bookworm&order_by=-name'), ['trixie', 'bookworm']);
    assert.deepEqual(await names('per_page=1&page=2'), ['trixie']);
    assert.equal((await w.get(`/v3/stacks/${stackGuid('trixie')}`, 'orgUser')).body.name, 'trixie');
    assert.equal((await w.get(`/v3/stacks/${stackGuid('sid')}`, 'orgUser')).body.errors[0].detail, 'Stack not found');
    assert.equal((await w.get('/v3/stacks?default=maybe', 'admin')).status, 400);
  });

  it("buildpacks: CF's shape; created first unless given a position, the others shift down", async () => {
    const create = (body: Record<string, unknown>) => w.call('POST', '/v3/buildpacks', 'admin', body);
    const go = await create({ name: 'go_buildpack', stack: 'bookworm' });
    assert.equal(go.status, 201);
    assert.deepEqual(
      { ...go.body, guid: undefined, created_at: undefined, updated_at: undefined },
      {
        guid: undefined,
        created_at: undefined,
        updated_at: undefined,
        name: 'go_buildpack',
        stack: 'bookworm',
        state: 'AWAITING_UPLOAD',
        lifecycle: 'buildpack',
        filename: null,
        position: 1,
        enabled: true,
        locked: false,
        metadata: { labels: {}, annotations: {} },
        links: { self: { href: `${BASE}/v3/buildpacks/${go.body.guid}` } },
      },
    );
    await create({ name: 'node_buildpack', position: 3 });
    const order = async () =>
      (await w.get('/v3/buildpacks', 'spaceDeveloper')).body.resources.map((b: { name: string; position: number }) => [
        b.name,
        b.position,
      ]);
    assert.deepEqual(await order(), [
      ['go_buildpack', 1],
      ['ruby_buildpack', 2],
      ['node_buildpack', 3],
    ]);
    const moved = await w.call('PATCH', `/v3/buildpacks/${w.ruby.guid}`, 'admin', { position: 1, locked: true });
    assert.equal(moved.status, 200);
    assert.equal(moved.body.locked, true);
    assert.deepEqual(await order(), [
      ['ruby_buildpack', 1],
      ['go_buildpack', 2],
      ['node_buildpack', 3],
    ]);
    const detail = async (body: Record<string, unknown>) => (await create(body)).body.errors[0].detail;
    assert.equal(await detail({ name: 'bad name' }), 'Name is invalid');
    assert.equal(await detail({ name: 'x', position: 0 }), 'Position must be greater than or equal to 1');
    assert.equal(await detail({ name: 'x', stack: 'windows' }), "Stack 'windows' does not exist");
    assert.match(await detail({ name: 'go_buildpack', stack: 'bookworm' }), /already exists/);
    const filtered = await w.get('/v3/buildpacks?names=go_buildpack,node_buildpack&stacks=bookworm', 'admin');
    assert.deepEqual(
      filtered.body.resources.map((b: { name: string }) => b.name),
      ['go_buildpack'],
    );
    const del = await w.call('DELETE', `/v3/buildpacks/${go.body.guid}`, 'admin');
    assert.equal(del.status, 202);
    await w.app.jobs.idle();
    assert.deepEqual(await order(), [
      ['ruby_buildpack', 1],
      ['node_buildpack', 2],
    ]);
    const events = await w.get(
      '/v3/audit_events?types=audit.buildpack.create,audit.buildpack.update,audit.buildpack.delete',
      'admin',
    );
    assert.deepEqual(
      events.body.resources.map((e: { type: string }) => e.type),
      ['audit.buildpack.create', 'audit.buildpack.create', 'audit.buildpack.update', 'audit.buildpack.delete'],
    );
    assert.equal(events.body.resources[0].organization, null);
  });

  it("audit events: CF's shape; each reader sees the events of what they read; filters and order", async () => {
    await w.call('PATCH', `/v3/apps/${w.web.guid}`, 'spaceDeveloper', { name: 'web2' });
    await w.call('PATCH', `/v3/apps/${w.api.guid}`, 'otherOrgDeveloper', { name: 'api2' });
    await w.call('POST', '/v3/buildpacks', 'admin', { name: 'php_buildpack' });
    const types = async (who: Parameters<World['get']>[1], q = '') =>
      (await w.get(`/v3/audit_events?order_by=created_at${q}`, who)).body.resources.map(
        (e: { type: string; target: { name: string } }) => `${e.type} ${e.target.name}`,
      );
    assert.deepEqual(await types('spaceAuditor'), ['audit.app.update web2']);
    assert.deepEqual(await types('otherOrgDeveloper'), ['audit.app.update api2']);
    assert.deepEqual(await types('orgUser'), []);
    assert.deepEqual(await types('globalAuditor'), [
      'audit.app.update web2',
      'audit.app.update api2',
      'audit.buildpack.create php_buildpack',
    ]);
    assert.deepEqual(await types('admin', `&space_guids=${w.prod.guid}`), ['audit.app.update api2']);
    assert.deepEqual(await types('admin', `&organization_guids=${w.acme.guid}`), ['audit.app.update web2']);
    const newest = await w.get('/v3/audit_events?order_by=-created_at&page=1&per_page=1', 'admin');
    const e = newest.body.resources[0];
    assert.equal(e.type, 'audit.buildpack.create');
    assert.deepEqual(Object.keys(e).sort(), [
      'actor',
      'created_at',
      'data',
      'guid',
      'links',
      'organization',
      'space',
      'target',
      'type',
      'updated_at',
    ]);
    assert.match(e.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'RFC 3339 (the cf CLI parses it)');
    assert.equal((await w.get(`/v3/audit_events/${e.guid}`, 'admin')).body.guid, e.guid);
    assert.equal(
      (await w.get(`/v3/audit_events/${e.guid}`, 'spaceDeveloper')).body.errors[0].detail,
      'Event not found',
    );
  });
});
