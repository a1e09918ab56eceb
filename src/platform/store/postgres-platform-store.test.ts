import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSlipwayError } from '../../errors.js';
import { PostgresMetadataStore } from '../../store/postgres-metadata.js';
import { startPostgres, type PostgresCluster } from '../../store/postgres-test-cluster.js';
import { digestOf } from '../../oci/digest.js';
import { openPlatformStore } from './open-platform-store.js';
import { PG_PLATFORM_SCHEMA_VERSION, PLATFORM_COMPONENT } from './postgres-platform-schema.js';
import { PostgresPlatformStore } from './postgres-platform-store.js';
import { describePlatformStore } from './platform-store-contract.js';
import { Fixture, labels, q } from './platform-store-fixture.js';
import { SqlitePlatformStore } from './sqlite-platform-store.js';
import { PlatformTestDatabase } from './testdata/postgres-platform-db.js';

// A real PostgreSQL 15 (scripts/install.sh --test); no skipping when it is absent.
const cluster: PostgresCluster = await startPostgres();
const db = await PlatformTestDatabase.create(cluster);
after(() => cluster.stop().catch(() => undefined));

describePlatformStore('PostgresPlatformStore (contract)', () => db.fresh());

describe('PostgresPlatformStore', () => {
  let url: string;
  before(async () => {
    url = await cluster.createDatabase();
  });

  const version = () =>
    new PlatformTestDatabase(url).query(async (c) => {
      const r = await c.query<{ version: number }>('SELECT version FROM slipway_schema WHERE component = $1', [
        PLATFORM_COMPONENT,
      ]);
      return r.rows[0]?.version;
    });

  it('migrates once when several nodes start at once, beside the metadata tables, and refuses a newer schema', async () => {
    const opening = [1, 2, 3, 4].map(() => PostgresPlatformStore.open(url));
    const meta = await PostgresMetadataStore.open(url);
    const stores = await Promise.all(opening);
    assert.equal(await version(), PG_PLATFORM_SCHEMA_VERSION);
    const org = await new Fixture(stores[0]!).org('acme');
    assert.deepEqual(await stores[3]!.getOrg(org.guid), org, 'another node reads what one wrote');
    await meta.linkBlob('acme/dev/web', digestOf('a layer'));
    assert.deepEqual(await meta.listRepositories(), ['acme/dev/web'], 'the metadata store shares the database');
    for (const s of stores) await s.close();
    await meta.close();

    const set = (v: number) =>
      new PlatformTestDatabase(url).query((c) =>
        c.query('UPDATE slipway_schema SET version = $1 WHERE component = $2', [v, PLATFORM_COMPONENT]),
      );
    await set(PG_PLATFORM_SCHEMA_VERSION + 1);
    await assert.rejects(PostgresPlatformStore.open(url), (e) => {
      assert.ok(isSlipwayError(e, 'UNSUPPORTED'), String(e));
      assert.match(e.message, /platform schema version \d+; this Slipway knows up to \d+: upgrade Slipway/);
      return true;
    });
    await set(PG_PLATFORM_SCHEMA_VERSION);
    await (await PostgresPlatformStore.open(url)).close();
  });

  it('drops the labels of what it deletes, cascades included (the trigger)', async () => {
    const store = await db.fresh();
    try {
      const fx = new Fixture(store);
      const org = await fx.org('acme', { metadata: labels({ a: '1' }) });
      const space = await fx.space(org, 'dev', { metadata: labels({ b: '2' }) });
      await fx.labelled(space, 'web', { c: '3', d: '4' });
      const alice = await fx.user('alice', [], { metadata: labels({ e: '5' }) });
      const count = () => db.query(async (c) => Number((await c.query('SELECT COUNT(*) AS n FROM labels')).rows[0].n));
      assert.equal(await count(), 5);
      await store.deleteOrg(org.guid);
      assert.equal(await count(), 1, "the org's, its space's and its app's labels went");
      await store.deleteUser(alice.guid);
      assert.equal(await count(), 0);
    } finally {
      await store.close();
    }
  });

  it('gives one CONFLICT for one name created on two nodes at once, whatever the interleaving', async () => {
    await db.fresh().then((s) => s.close());
    const nodes = [await PostgresPlatformStore.open(db.url), await PostgresPlatformStore.open(db.url)];
    try {
      for (let round = 0; round < 10; round++) {
        const results = await Promise.allSettled(nodes.map((n) => new Fixture(n).org(`org-${round}`)));
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, `round ${round}`);
        const lost = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
        assert.ok(isSlipwayError(lost.reason, 'CONFLICT'), String(lost.reason));
        assert.equal(lost.reason.message, `Organization 'org-${round}' already exists.`, "CC's text, not the index's");
      }
      assert.equal((await nodes[1]!.listOrgs(q(), {}, { kind: 'all' })).total, 10);
    } finally {
      for (const n of nodes) await n.close();
    }
  });

  it('shares one setting between two nodes starting at once: both get the first value', async () => {
    for (let round = 0; round < 5; round++) {
      const nodes = await Promise.all([PostgresPlatformStore.open(db.url), PostgresPlatformStore.open(db.url)]);
      try {
        const name = `signing-key-${round}`;
        const values = await Promise.all(nodes.map((n, i) => n.sharedSetting(name, () => `node-${i}`)));
        assert.equal(values[0], values[1], `round ${round}: ${values.join(' / ')}`);
        assert.equal(await nodes[1]!.sharedSetting(name, () => 'late'), values[0]);
      } finally {
        for (const n of nodes) await n.close();
      }
    }
  });

  it('says which server it could not reach, without the password', async () => {
    await assert.rejects(
      PostgresPlatformStore.open('postgres://u:secret@127.0.0.1:1/db'),
      (e) => isSlipwayError(e, 'IO_ERROR') && e.message.includes('127.0.0.1:1') && !e.message.includes('secret'),
    );
  });
});

describe('openPlatformStore', () => {
  it('opens PostgreSQL for a postgres:// URL and SQLite for a file', async () => {
    const pgStore = await openPlatformStore(db.url);
    const dir = await mkdtemp(join(tmpdir(), 'slipway-open-platform-'));
    const file = await openPlatformStore(join(dir, 'platform.sqlite'));
    try {
      assert.ok(pgStore instanceof PostgresPlatformStore);
      assert.ok(file instanceof SqlitePlatformStore);
      const value = await pgStore.sharedSetting('which', () => 'postgres');
      assert.equal(await file.sharedSetting('which', () => 'sqlite'), 'sqlite', 'two databases, two values');
      const other = await openPlatformStore(db.url.replace(/^postgres:/, 'postgresql:'));
      assert.equal(await other.sharedSetting('which', () => 'x'), value, 'postgresql:// is PostgreSQL too');
      await other.close();
      assert.ok(pgStore.workloads && file.workloads);
    } finally {
      await pgStore.close();
      await file.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
