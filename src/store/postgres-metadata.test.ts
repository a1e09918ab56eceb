import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { isSlipwayError } from '../errors.js';
import { digestOf } from '../oci/digest.js';
import { describeMetadataStore } from './metadata-store-contract.js';
import { PostgresMetadataStore } from './postgres-metadata.js';
import { METADATA_COMPONENT, PG_SCHEMA_VERSION } from './postgres-schema.js';
import { startPostgres, type PostgresCluster } from './postgres-test-cluster.js';

const cluster: PostgresCluster = await startPostgres();

describeMetadataStore('PostgresMetadataStore (contract)', async () => {
  const url = await cluster.createDatabase();
  return { store: await PostgresMetadataStore.open(url), connect: () => PostgresMetadataStore.open(url) };
});

describe('PostgresMetadataStore', () => {
  let url: string;
  before(async () => {
    url = await cluster.createDatabase();
  });

  async function version(): Promise<number | undefined> {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const r = await c.query<{ version: number }>('SELECT version FROM slipway_schema WHERE component = $1', [
        METADATA_COMPONENT,
      ]);
      return r.rows[0]?.version;
    } finally {
      await c.end();
    }
  }

  it('migrates once when several nodes start at the same moment, and refuses a newer schema', async () => {
    const stores = await Promise.all([1, 2, 3, 4].map(() => PostgresMetadataStore.open(url)));
    assert.equal(await version(), PG_SCHEMA_VERSION);
    await stores[0]!.linkBlob('app', digestOf('a layer'));
    assert.deepEqual(await stores[3]!.listRepositories(), ['app']);
    for (const s of stores) await s.close();

    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query('UPDATE slipway_schema SET version = $1 WHERE component = $2', [
      PG_SCHEMA_VERSION + 1,
      METADATA_COMPONENT,
    ]);
    await assert.rejects(PostgresMetadataStore.open(url), (e) => isSlipwayError(e, 'UNSUPPORTED'));
    await c.query('UPDATE slipway_schema SET version = $1 WHERE component = $2', [
      PG_SCHEMA_VERSION,
      METADATA_COMPONENT,
    ]);
    await c.end();
  });

  it('says which server it could not reach, without the password', async () => {
    await assert.rejects(
      PostgresMetadataStore.open(`postgres://u:secret@127.0.0.1:1/db`),
      (e) => isSlipwayError(e, 'IO_ERROR') && e.message.includes('127.0.0.1:1') && !e.message.includes('secret'),
    );
  });
});

after(() => cluster.stop().catch(() => undefined));
