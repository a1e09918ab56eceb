import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { isSlipwayError } from '../errors.js';
import { digestOf } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import { describeMetadataStore } from './metadata-store-contract.js';
import { SCHEMA_VERSION } from './sqlite-schema.js';
import { SqliteMetadataStore } from './sqlite-metadata.js';

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function freshPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-sqlite-'));
  dirs.push(dir);
  return join(dir, 'metadata.sqlite');
}

describeMetadataStore('SqliteMetadataStore (contract)', async () => {
  const path = await freshPath();
  return {
    store: await SqliteMetadataStore.open(path),
    // A short busy timeout: the contract's GC outlasts it, so a wait in SQLite's busy handler would fail.
    connect: ({ waitMs }) => SqliteMetadataStore.open(path, { busyTimeoutMs: waitMs }),
  };
});

describe('SqliteMetadataStore', () => {
  let meta: SqliteMetadataStore;
  let dbPath: string;
  beforeEach(async () => {
    dbPath = await freshPath();
    meta = await SqliteMetadataStore.open(dbPath);
  });
  afterEach(async () => {
    await meta.close().catch(() => undefined);
  });

  it('creates the schema at the current version, and reopens without migrating again', async () => {
    await meta.close();
    const db = new Database(dbPath);
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    db.close();
    meta = await SqliteMetadataStore.open(dbPath);
    assert.deepEqual(await meta.listRepositories(), []);
  });

  it('refuses a database from a newer Slipway', async () => {
    await meta.close();
    const db = new Database(dbPath);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    await assert.rejects(SqliteMetadataStore.open(dbPath), (e) => isSlipwayError(e, 'UNSUPPORTED'));
    const fix = new Database(dbPath);
    fix.pragma(`user_version = ${SCHEMA_VERSION}`);
    fix.close();
    meta = await SqliteMetadataStore.open(dbPath);
  });

  it('commits concurrent writes as a group, each on its own: one that fails undoes only itself', async () => {
    const record = (i: number) => ({
      repository: 'fleet/app',
      digest: digestOf(`manifest ${i}`),
      mediaType: MediaType.OciManifest,
      size: 100,
      references: [digestOf(`config ${i}`)],
      created: new Date().toISOString(),
    });
    const lease = await meta.createLease('test');
    const writes = [
      ...Array.from({ length: 600 }, (_, i) => meta.putManifest(record(i), [`v${i}`])),
      meta.setTag('fleet/app', 'bad', digestOf('no such manifest')),
      meta.addManyToLease(lease, [digestOf('config 0')]),
    ];
    const settled = await Promise.allSettled(writes);
    assert.equal(settled.filter((s) => s.status === 'fulfilled').length, 601);
    const failed = settled[600]!;
    assert.ok(failed.status === 'rejected' && isSlipwayError(failed.reason, 'MANIFEST_UNKNOWN'));
    const tags = await meta.listTags('fleet/app');
    assert.equal(tags.length, 600);
    assert.equal(await meta.resolveTag('fleet/app', 'v599'), digestOf('manifest 599'));
    // More than one group of at most 500: a reader on another connection sees them all once they settled.
    const other = await SqliteMetadataStore.open(dbPath);
    try {
      assert.equal((await other.listTags('fleet/app')).length, 600);
    } finally {
      await other.close();
    }
  });
});
