import Database from 'better-sqlite3';
import { SlipwayError } from '../../errors.js';
import type { ListQuery, Page } from './platform-store.js';
import { orderAndPage, type Param, type Where } from './sqlite-platform-sql.js';

const STATEMENT_CACHE = 512;

/**
 * How a SQLite store runs its SQL on a better-sqlite3 connection: prepared statements
 * compiled once (the least recently used go past 512), writes in one BEGIN IMMEDIATE
 * transaction (what a write checks cannot change before it writes, across
 * connections and processes), reads from one snapshot, and pages with their totals.
 * The SqliteWorkloadStore runs on the SqlitePlatformStore's connection through one.
 */
export class SqliteRunner {
  readonly db: Database.Database;
  readonly #statements = new Map<string, Database.Statement>();

  constructor(db: Database.Database) {
    this.db = db;
  }

  /** A prepared statement, compiled once per connection. */
  sql(source: string): Database.Statement {
    let stmt = this.#statements.get(source);
    if (stmt === undefined) {
      stmt = this.db.prepare(source);
      if (this.#statements.size >= STATEMENT_CACHE) this.#statements.delete(this.#statements.keys().next().value!);
    } else {
      this.#statements.delete(source);
    }
    this.#statements.set(source, stmt);
    return stmt;
  }

  /** A write in one IMMEDIATE transaction; a constraint the checks did not foresee becomes a SlipwayError. */
  write<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      throw fromSqlite(err);
    }
  }

  /** Reads from one snapshot (a page and its total agree). */
  read<T>(fn: () => T): T {
    return this.db.transaction(fn).deferred();
  }

  get<R, T>(table: string, columns: string, guid: string, map: (row: R) => T): T | undefined {
    const row = this.sql(`SELECT ${columns} FROM ${table} t WHERE t.guid = ?`).get(guid) as R | undefined;
    return row === undefined ? undefined : map(row);
  }

  all<R, T>(source: string, params: Param[], map: (row: R) => T): T[] {
    return (this.sql(source).all(...params) as R[]).map(map);
  }

  /** One page and the total of the same filter, from one snapshot (the caller's transaction or a new one). */
  list<R, T>(
    table: string,
    columns: string,
    where: Where,
    query: ListQuery,
    fields: Record<string, readonly string[]>,
    map: (row: R) => T,
  ): Page<T> {
    const { sql: order, limit, offset } = orderAndPage(query, fields);
    const params: Param[] = where.params;
    return this.read(() => {
      const rows = this.sql(`SELECT ${columns} FROM ${table} t${where.sql}${order} LIMIT ? OFFSET ?`).all(
        ...params,
        limit,
        offset,
      ) as R[];
      // A short page that is not past the end tells the total without counting.
      const total =
        rows.length > 0 && rows.length < limit
          ? offset + rows.length
          : rows.length === 0 && offset === 0
            ? 0
            : (this.sql(`SELECT COUNT(*) FROM ${table} t${where.sql}`)
                .pluck()
                .get(...params) as number);
      return { items: rows.map(map), total };
    });
  }
}

/** A constraint the checks did not foresee (a guid used twice, a row that went meanwhile), as a SlipwayError. */
export function fromSqlite(err: unknown): unknown {
  if (!(err instanceof Database.SqliteError)) return err;
  if (err.code === 'SQLITE_CONSTRAINT_UNIQUE' || err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return new SlipwayError('CONFLICT', `already exists: ${err.message}`, { cause: err, detail: { field: 'guid' } });
  }
  if (err.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    return new SlipwayError('NOT_FOUND', `a resource it names does not exist: ${err.message}`, { cause: err });
  }
  return err;
}
