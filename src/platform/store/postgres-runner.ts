import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { SlipwayError } from '../../errors.js';
import { isConnectionError } from '../../store/pg-resilience.js';
import type { ListQuery, Page } from './platform-store.js';
import { orderAndPage, type Where } from './sqlite-platform-sql.js';

/** A bound value: what node-postgres sends (arrays for `= ANY($n)`). */
export type PgParam = string | number | boolean | null | readonly string[];

/** How a transaction isolates what it reads. */
export type Isolation = 'SERIALIZABLE' | 'READ COMMITTED';

// serialization_failure, deadlock_detected: the transaction is retried whole.
const RETRY = new Set(['40001', '40P01']);
const UNIQUE_VIOLATION = '23505';
const FK_VIOLATION = '23503';
const ATTEMPTS = 16;

/**
 * Statements on one connection (a transaction's) or on the pool (one autocommitted
 * statement each). The SQL is written with `?` placeholders, as the SQLite stores'
 * (so the WHERE builders of sqlite-platform-sql.ts serve both); they become $1, $2, ...
 * here. No statement of these stores has a `?` inside a literal.
 */
export class Sql {
  readonly #on: pg.Pool | pg.PoolClient;

  constructor(on: pg.Pool | pg.PoolClient) {
    this.#on = on;
  }

  async all<R>(source: string, params: readonly PgParam[] = []): Promise<R[]> {
    const r = await this.#on.query(numbered(source), params as unknown[]);
    return r.rows as R[];
  }

  async one<R>(source: string, params: readonly PgParam[] = []): Promise<R | undefined> {
    return (await this.all<R>(source, params))[0];
  }

  /** The first column of the first row. */
  async value<V>(source: string, params: readonly PgParam[] = []): Promise<V | undefined> {
    const r = await this.#on.query({ text: numbered(source), values: params as unknown[], rowMode: 'array' });
    return (r.rows[0] as unknown[] | undefined)?.[0] as V | undefined;
  }

  /** Runs a statement; answers how many rows it touched. */
  async run(source: string, params: readonly PgParam[] = []): Promise<number> {
    const r = await this.#on.query(numbered(source), params as unknown[]);
    return r.rowCount ?? 0;
  }

  async exists(source: string, params: readonly PgParam[] = []): Promise<boolean> {
    return (await this.all(source, params)).length > 0;
  }
}

/**
 * How the PostgreSQL platform stores run their SQL on a node-postgres pool, as
 * SqliteRunner does on SQLite: a write is one transaction, SERIALIZABLE by default
 * (what a write checks cannot change before it commits, across connections and
 * nodes: PostgreSQL aborts one of two transactions that would interleave, with
 * 40001), retried whole on a serialization failure or deadlock; reads of more than
 * one statement share one REPEATABLE READ snapshot; pages come with their totals.
 */
export class PgRunner {
  readonly pool: pg.Pool;
  /** The pool itself: one autocommitted statement at a time. */
  readonly sql: Sql;

  constructor(pool: pg.Pool) {
    this.pool = pool;
    this.sql = new Sql(pool);
  }

  /**
   * `fn` in one transaction. It may run more than once (a retry after a
   * serialization failure), so it must do nothing but SQL on `c` and pure work. A
   * constraint the checks did not foresee becomes a SlipwayError.
   */
  async write<T>(fn: (c: Sql) => Promise<T>, isolation: Isolation = 'SERIALIZABLE'): Promise<T> {
    try {
      return await this.#transaction(`BEGIN ISOLATION LEVEL ${isolation}`, fn);
    } catch (err) {
      throw fromPg(err);
    }
  }

  /** Reads from one snapshot (a page and its total agree). */
  async read<T>(fn: (c: Sql) => Promise<T>): Promise<T> {
    return this.#transaction('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', fn);
  }

  async get<R, T>(table: string, columns: string, guid: string, map: (row: R) => T, on: Sql = this.sql) {
    const row = await on.one<R>(`SELECT ${columns} FROM ${table} t WHERE t.guid = ?`, [guid]);
    return row === undefined ? undefined : map(row);
  }

  async all<R, T>(source: string, params: readonly PgParam[], map: (row: R) => T, on: Sql = this.sql): Promise<T[]> {
    return (await on.all<R>(source, params)).map(map);
  }

  /** One page and the total of the same filter, from one snapshot. */
  async list<R, T>(
    table: string,
    columns: string,
    where: Where,
    query: ListQuery,
    fields: Record<string, readonly string[]>,
    map: (row: R) => T,
  ): Promise<Page<T>> {
    const { sql: order, limit, offset } = orderAndPage(query, fields);
    const params = where.params;
    return this.read(async (c) => {
      const rows = await c.all<R>(`SELECT ${columns} FROM ${table} t${where.sql}${order} LIMIT ? OFFSET ?`, [
        ...params,
        limit,
        offset,
      ]);
      // A short page that is not past the end tells the total without counting.
      const total =
        rows.length > 0 && rows.length < limit
          ? offset + rows.length
          : rows.length === 0 && offset === 0
            ? 0
            : ((await c.value<number>(`SELECT COUNT(*)::int FROM ${table} t${where.sql}`, params)) ?? 0);
      return { items: rows.map(map), total };
    });
  }

  async #transaction<T>(begin: string, fn: (c: Sql) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let lost = false;
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        if (!isConnectionError(err) || attempt >= ATTEMPTS) throw unavailable(err, attempt);
        await sleep(Math.random() * Math.min(1000, 25 * 2 ** attempt));
        continue;
      }
      let broken = false;
      try {
        await client.query(begin);
        const result = await fn(new Sql(client));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        lost = isConnectionError(err);
        if (!retryable(err, attempt)) throw unavailable(err, attempt);
      } finally {
        // A connection that could not roll back is not given to anyone else.
        client.release(broken || undefined);
      }
      // Jittered and growing, so the transactions that collided do not collide again; a lost
      // database is given longer to come back (about 10 s in all).
      await sleep(Math.random() * (lost ? Math.min(1000, 25 * 2 ** attempt) : Math.min(100, 2 ** attempt)));
    }
  }
}

/** A connection error that outlasted the retries as UNAVAILABLE; any other error as it is. */
function unavailable(err: unknown, attempts: number): unknown {
  if (!isConnectionError(err)) return err;
  return new SlipwayError(
    'UNAVAILABLE',
    `the platform's PostgreSQL database did not answer after ${attempts} tries (${(err as Error).message}): check that it runs and that this host reaches it`,
    { cause: err },
  );
}

/**
 * PostgreSQL may also report two serializable transactions' race on a unique key as
 * 23505 (its manual advises retrying those too): retried twice, after which the
 * store's own checks name the conflict, or it is a real one.
 */
function retryable(err: unknown, attempt: number): boolean {
  // A lost connection took the transaction with it (the server rolled it back): again, on a new one.
  if (isConnectionError(err)) return attempt < ATTEMPTS;
  const code = pgCode(err);
  if (code === undefined || attempt >= ATTEMPTS) return false;
  return RETRY.has(code) || (code === UNIQUE_VIOLATION && attempt <= 2);
}

export function pgCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** A constraint the checks did not foresee (a guid used twice, a row that went meanwhile), as a SlipwayError. */
export function fromPg(err: unknown): unknown {
  const code = pgCode(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code === UNIQUE_VIOLATION) {
    return new SlipwayError('CONFLICT', `already exists: ${message}`, { cause: err, detail: { field: 'guid' } });
  }
  if (code === FK_VIOLATION) {
    return new SlipwayError('NOT_FOUND', `a resource it names does not exist: ${message}`, { cause: err });
  }
  return err;
}

const numberedCache = new Map<string, string>();

/** `?` placeholders as PostgreSQL's $1, $2, ... */
export function numbered(source: string): string {
  let text = numberedCache.get(source);
  if (text === undefined) {
    let n = 0;
    text = source.replace(/\?/g, () => `$${++n}`);
    if (numberedCache.size > 2048) numberedCache.clear();
    numberedCache.set(source, text);
  }
  return text;
}
