import pg from 'pg';
import type { PostgresCluster } from '../../../store/postgres-test-cluster.js';
import { PostgresPlatformStore } from '../postgres-platform-store.js';

/**
 * Test support for the PostgreSQL platform stores: one migrated database per test
 * file, emptied before each contract test (TRUNCATE is much cheaper than a new
 * database and its migration per test), and a store on it with a pool of its own.
 */
export class PlatformTestDatabase {
  readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  static async create(cluster: PostgresCluster): Promise<PlatformTestDatabase> {
    const url = await cluster.createDatabase();
    await (await PostgresPlatformStore.open(url)).close();
    return new PlatformTestDatabase(url);
  }

  /** An empty store: every platform table truncated (ids restarted), the schema kept. */
  async fresh(): Promise<PostgresPlatformStore> {
    await this.query(async (c) => {
      const { rows } = await c.query<{ name: string }>(
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'slipway_schema'",
      );
      await c.query(`TRUNCATE ${rows.map((r) => `"${r.name}"`).join(', ')} RESTART IDENTITY CASCADE`);
    });
    return PostgresPlatformStore.open(this.url);
  }

  /** `fn` on a connection of its own, closed after. */
  async query<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({ connectionString: this.url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }
}
