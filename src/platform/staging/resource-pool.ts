import Database from 'better-sqlite3';
import type { Digest } from '../../oci/digest.js';
import type { PooledResource, ResourcePool } from './package-store.js';
import { openPostgres } from '../../store/pg-resilience.js';
import { migratePostgres } from '../../store/postgres-schema.js';

/**
 * CF's resource pool as an index: a pushed file's sha1 to the package data blob and
 * the byte range that hold it (the bytes are in the image store, see package-store.ts).
 * One table, `resource_pool`, created when missing: in SQLite beside the store's
 * metadata, or in the PostgreSQL database every node shares. A sha1 seen again points
 * at its newest copy: older packages are the ones dropped first.
 */

/** Sha1s asked about in one statement (SQLite's host parameter limit is 32,766). */
const BATCH = 500;

/** The pool of a deployment: in its PostgreSQL database when it has one, else in `file` (SQLite). */
export function openResourcePool(where: { database?: string | undefined; file: string }): ResourcePool & {
  close(): Promise<void>;
} {
  return where.database ? new PostgresResourcePool(where.database) : new SqliteResourcePool(where.file);
}

interface Row {
  sha1: string;
  size: number;
  data: string;
  data_offset: number;
}

const fromRow = (r: Row): PooledResource => ({
  sha1: r.sha1,
  size: Number(r.size),
  data: r.data as Digest,
  offset: Number(r.data_offset),
});

export class SqliteResourcePool implements ResourcePool {
  readonly #db: Database.Database;

  constructor(file: string) {
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('busy_timeout = 10000');
    this.#db.exec(
      'CREATE TABLE IF NOT EXISTS resource_pool (sha1 TEXT PRIMARY KEY, size INTEGER NOT NULL, data TEXT NOT NULL, data_offset INTEGER NOT NULL) WITHOUT ROWID',
    );
  }

  async findResources(sha1s: string[]): Promise<PooledResource[]> {
    const out: PooledResource[] = [];
    for (let i = 0; i < sha1s.length; i += BATCH) {
      const part = sha1s.slice(i, i + BATCH);
      const rows = this.#db
        .prepare(
          `SELECT sha1, size, data, data_offset FROM resource_pool WHERE sha1 IN (${part.map(() => '?').join(',')})`,
        )
        .all(...part) as Row[];
      out.push(...rows.map(fromRow));
    }
    return out;
  }

  async addResources(resources: PooledResource[]): Promise<void> {
    const put = this.#db.prepare(
      'INSERT INTO resource_pool (sha1, size, data, data_offset) VALUES (?, ?, ?, ?) ON CONFLICT (sha1) DO UPDATE SET size = excluded.size, data = excluded.data, data_offset = excluded.data_offset',
    );
    this.#db.transaction(() => {
      for (const r of resources) put.run(r.sha1, r.size, r.data, r.offset);
    })();
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}

export class PostgresResourcePool implements ResourcePool {
  /** pg is loaded, and the table made, on first use: a node on SQLite never loads pg. */
  readonly #pool: Promise<import('pg').Pool>;

  constructor(url: string) {
    this.#pool = openPostgres(url, {
      what: 'resource pool',
      max: 4,
      // IF NOT EXISTS: the table predates its migration in databases a release before made.
      migrate: (c) =>
        migratePostgres(c, 'resource-pool', [
          'CREATE TABLE IF NOT EXISTS resource_pool (sha1 TEXT PRIMARY KEY, size BIGINT NOT NULL, data TEXT NOT NULL, data_offset BIGINT NOT NULL)',
        ]),
    });
    // A failure is the first caller's to see, not an unhandled rejection.
    this.#pool.catch(() => undefined);
  }

  async findResources(sha1s: string[]): Promise<PooledResource[]> {
    const out: PooledResource[] = [];
    for (let i = 0; i < sha1s.length; i += BATCH) {
      const { rows } = await (await this.#pool).query<Row>(
        'SELECT sha1, size, data, data_offset FROM resource_pool WHERE sha1 = ANY($1::text[])',
        [sha1s.slice(i, i + BATCH)],
      );
      out.push(...rows.map(fromRow));
    }
    return out;
  }

  async addResources(resources: PooledResource[]): Promise<void> {
    // One row per sha1 in a statement: ON CONFLICT cannot update a row twice in one.
    const unique = [...new Map(resources.map((r) => [r.sha1, r])).values()];
    for (let i = 0; i < unique.length; i += BATCH) {
      const part = unique.slice(i, i + BATCH);
      await (await this.#pool).query(
        `INSERT INTO resource_pool (sha1, size, data, data_offset)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[])
         ON CONFLICT (sha1) DO UPDATE SET size = excluded.size, data = excluded.data, data_offset = excluded.data_offset`,
        [part.map((r) => r.sha1), part.map((r) => r.size), part.map((r) => r.data), part.map((r) => r.offset)],
      );
    }
  }

  async close(): Promise<void> {
    await (await this.#pool.catch(() => undefined))?.end();
  }
}
