import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isSlipwayError } from '../../errors.js';
import { newGuid } from '../model.js';
import { PLATFORM_SCHEMA_VERSION } from './platform-schema.js';
import { describePlatformStore } from './platform-store-contract.js';
import { Fixture, labels, q } from './platform-store-fixture.js';
import { SqlitePlatformStore } from './sqlite-platform-store.js';

const root = await mkdtemp(join(tmpdir(), 'slipway-platform-store-'));
let n = 0;
const freshFile = () => join(root, `platform-${++n}.sqlite`);
after(() => rm(root, { recursive: true, force: true }));

describePlatformStore('SqlitePlatformStore', () => SqlitePlatformStore.open(freshFile()));

describe('SqlitePlatformStore on disk', () => {
  it('keeps everything across a restart', async () => {
    const file = freshFile();
    const first = await SqlitePlatformStore.open(file);
    const fx = new Fixture(first);
    const alice = await fx.user('alice', ['admin_read_only']);
    const org = await fx.org('acme', { metadata: labels({ plan: 'gold' }) });
    const space = await fx.space(org, 'dev');
    const app = await fx.labelled(space, 'web', { tier: 'web' });
    await fx.member(alice, space);
    const bp = await fx.buildpack('node', 1);
    const t = fx.time();
    const job = {
      guid: newGuid(),
      createdAt: t,
      updatedAt: t,
      operation: 'space.delete',
      state: 'PROCESSING' as const,
      errors: [],
      warnings: [],
    };
    await first.createJob(job);
    const token = {
      guid: newGuid(),
      userGuid: alice.guid,
      secretHash: 'h',
      createdAt: t,
      expiresAt: '2099-01-01T00:00:00.000Z',
    };
    await first.createRefreshToken(token);
    await first.close();

    const second = await SqlitePlatformStore.open(file);
    try {
      assert.deepEqual(await second.findUser('alice'), alice);
      assert.deepEqual(await second.credentials(alice.guid), { userGuid: alice.guid, passwordHash: 'hash-of-alice' });
      assert.deepEqual(await second.getOrg(org.guid), org);
      assert.deepEqual(await second.getSpace(space.guid), space);
      assert.deepEqual(await second.getApp(app.guid), app);
      assert.deepEqual(await second.getBuildpack(bp.guid), bp);
      assert.deepEqual(
        (await second.rolesOf(alice.guid)).map((r) => r.type),
        ['organization_user', 'space_developer'],
      );
      assert.deepEqual(await second.unfinishedJobs(), [job]);
      assert.deepEqual(await second.getRefreshToken(token.guid), token);
      const selected = await second.listApps(
        q(),
        { labelSelector: [{ key: 'tier', op: 'in', values: ['web'] }] },
        { kind: 'all' },
      );
      assert.deepEqual(selected.items, [app]);
      // The rules hold after a restart as before it.
      await assert.rejects(new Fixture(second).org('ACME'), (err: unknown) => isSlipwayError(err, 'CONFLICT'));
    } finally {
      await second.close();
    }
  });

  it('refuses a database from a newer Slipway, and leaves it alone', async () => {
    const file = freshFile();
    await (await SqlitePlatformStore.open(file)).close();
    const db = new Database(file);
    db.pragma(`user_version = ${PLATFORM_SCHEMA_VERSION + 1}`);
    db.close();
    await assert.rejects(SqlitePlatformStore.open(file), (err: unknown) => {
      assert.ok(isSlipwayError(err, 'UNSUPPORTED'), String(err));
      assert.match(err.message, /schema version \d+; this Slipway knows up to \d+: upgrade Slipway/);
      return true;
    });
    const check = new Database(file, { readonly: true });
    assert.equal(check.pragma('user_version', { simple: true }), PLATFORM_SCHEMA_VERSION + 1);
    check.close();
  });

  it('migrates a new file to the current schema in WAL mode with foreign keys', async () => {
    const file = freshFile();
    const store = await SqlitePlatformStore.open(file);
    await store.close();
    const db = new Database(file, { readonly: true });
    assert.equal(db.pragma('user_version', { simple: true }), PLATFORM_SCHEMA_VERSION);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all();
    assert.deepEqual(tables, [
      'api_tokens',
      'apps',
      'audit_events',
      'buildpacks',
      'builds',
      'deployments',
      'domains',
      'droplets',
      'instances',
      'jobs',
      'labels',
      'orgs',
      'packages',
      'processes',
      'refresh_tokens',
      'resources',
      'revisions',
      'roles',
      'route_destinations',
      'routes',
      'settings',
      'spaces',
      'user_credentials',
      'users',
    ]);
    db.close();
  });

  it('drops the labels of what it deletes, cascades included', async () => {
    const file = freshFile();
    const store = await SqlitePlatformStore.open(file);
    const fx = new Fixture(store);
    const org = await fx.org('acme', { metadata: labels({ a: '1' }) });
    const space = await fx.space(org, 'dev', { metadata: labels({ b: '2' }) });
    await fx.labelled(space, 'web', { c: '3', d: '4' });
    const alice = await fx.user('alice', [], { metadata: labels({ e: '5' }) });
    await store.createRole({ ...fx.orgRoleValue(alice, org, 'organization_user'), metadata: labels({ f: '6' }) });
    const bp = await fx.buildpack('node', 1, { metadata: labels({ g: '7' }) });
    const count = () => {
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare('SELECT COUNT(*) FROM labels').pluck().get();
      } finally {
        db.close();
      }
    };
    assert.equal(count(), 7);
    await store.deleteOrg(org.guid);
    assert.equal(count(), 2, "the org's, its space's, app's and role's labels went");
    await store.deleteUser(alice.guid);
    await store.deleteBuildpack(bp.guid);
    assert.equal(count(), 0);
    await store.close();
  });

  it('answers visibility and filters through indexes (EXPLAIN QUERY PLAN)', async () => {
    const file = freshFile();
    await (await SqlitePlatformStore.open(file)).close();
    const db = new Database(file, { readonly: true });
    const plan = (sql: string, ...params: unknown[]) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail);
    const apps = plan(
      `SELECT t.guid FROM apps t WHERE (t.space_guid IN (SELECT r.space_guid FROM roles r WHERE r.user_guid = ? AND r.type IN (?, ?) AND r.space_guid IS NOT NULL)
         OR t.org_guid IN (SELECT r.org_guid FROM roles r WHERE r.user_guid = ? AND r.type IN (?) AND r.space_guid IS NULL))
       ORDER BY t.created_at, t.id LIMIT 50`,
      'u',
      'space_developer',
      'space_auditor',
      'u',
      'organization_manager',
    );
    assert.ok(
      apps.some((d) => /SEARCH r USING COVERING INDEX roles_by_user/.test(d)),
      apps.join('\n'),
    );
    assert.ok(
      apps.some((d) => /SEARCH t USING INDEX \w+ \(space_guid=\?\)/.test(d)),
      apps.join('\n'),
    );
    assert.ok(
      apps.some((d) => /SEARCH t USING INDEX apps_by_org \(org_guid=\?\)/.test(d)),
      apps.join('\n'),
    );
    assert.ok(!apps.some((d) => /^SCAN t\b/.test(d)), apps.join('\n'));
    const users = plan(
      'SELECT t.guid FROM users t WHERE t.guid = ? OR t.guid IN (SELECT o.user_guid FROM roles o WHERE o.org_guid IN (SELECT r.org_guid FROM roles r WHERE r.user_guid = ? AND r.type IN (?)))',
      'u',
      'u',
      'organization_user',
    );
    assert.ok(
      users.some((d) => /roles_by_org/.test(d)),
      users.join('\n'),
    );
    const label = plan(
      'SELECT t.guid FROM apps t WHERE t.guid IN (SELECT l.resource_guid FROM labels l WHERE l.key = ? AND l.value IN (?))',
      'env',
      'prod',
    );
    assert.ok(
      label.some((d) => /labels_by_key_value/.test(d)),
      label.join('\n'),
    );
    db.close();
  });

  it('lists 1,000 apps for a space developer quickly (a generous sanity bound)', async () => {
    const store = await SqlitePlatformStore.open(freshFile());
    try {
      const fx = new Fixture(store);
      const dev = await fx.user('dev');
      for (let o = 0; o < 10; o++) {
        const org = await fx.org(`org-${o}`);
        for (let s = 0; s < 10; s++) {
          const space = await fx.space(org, `space-${s}`);
          if (o === 3 && s < 3) await fx.member(dev, space);
          for (let a = 0; a < 10; a++) await fx.app(space, `app-${a}`);
        }
      }
      const visibility = await fx.spaceVisibility(dev);
      const page = await store.listApps(q({ perPage: 50 }), {}, visibility);
      assert.equal(page.total, 30);
      const start = performance.now();
      for (let i = 0; i < 100; i++) await store.listApps(q({ perPage: 50 }), {}, visibility);
      const perCall = (performance.now() - start) / 100;
      assert.ok(perCall < 50, `listApps took ${perCall.toFixed(2)} ms a call`);
    } finally {
      await store.close();
    }
  });
});
