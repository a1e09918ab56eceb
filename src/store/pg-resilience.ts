import type pg from 'pg';
import { SlipwayError } from '../errors.js';

/**
 * What a PostgreSQL back-end does when its connection is lost (a database restart, a
 * failover, a proxy or NAT that dropped it): the statement or transaction is tried
 * again on a new connection, after a growing, jittered pause, for a few seconds; then
 * a clear error names the database and what to check. A transaction that lost its
 * connection was rolled back by the server, so running it again is safe; a single
 * statement whose answer was lost may have been applied, and the stores' writes are
 * idempotent or report the conflict.
 */

/** Pauses between attempts: 50 ms doubling, about 6 s in all. */
const ATTEMPTS = 8;

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // PostgreSQL's own: admin_shutdown, crash_shutdown, cannot_connect_now, and class 08 (connection exceptions).
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);

/** A failure of the connection rather than of the statement. */
export function isConnectionError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  const message = err instanceof Error ? err.message : '';
  // node-postgres's own words when the socket closes under a query or a connect.
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(message);
}

/** Runs `fn`, again on a connection error, up to ATTEMPTS times; then an UNAVAILABLE error naming `target`. */
export async function retryConnection<T>(target: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      if (attempt >= ATTEMPTS)
        throw new SlipwayError(
          'UNAVAILABLE',
          `the PostgreSQL database ${target} did not answer after ${ATTEMPTS} tries (${(err as Error).message}): check that it runs and that this host reaches it`,
          { cause: err, detail: { database: target } },
        );
      await new Promise((r) => setTimeout(r, Math.random() * 25 + 25 * 2 ** attempt));
    }
  }
}

/**
 * The pool with its one-statement queries retried on connection errors (what the
 * stores run outside transactions). A transaction retries itself as a whole with
 * retryConnection: a lost connection takes the transaction with it. (Connects are not
 * wrapped here, or a transaction's retries would multiply the pool's.)
 */
export function resilientPool(pool: pg.Pool, target: string): pg.Pool {
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  // A connection lost while idle, or while checked out between statements, must not crash the
  // process with an 'error' event: the pool replaces an idle one, and the next statement on a
  // checked-out one fails, which is retried.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  Object.assign(pool, {
    query: (...args: unknown[]) =>
      typeof args[args.length - 1] === 'function' ? query(...args) : retryConnection(target, () => query(...args)),
  });
  return pool;
}

/** A PostgreSQL URL with its password hidden, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

/**
 * The one way the PostgreSQL back-ends connect: a resilient pool on `url`, and
 * `component`'s versioned migrations applied under the migration lock (several nodes
 * starting at once migrate once). A failure to connect is an IO_ERROR naming `what`
 * and the database, without its password.
 */
export async function openPostgres(
  url: string,
  o: { what: string; max: number; migrate: (client: pg.ClientBase) => Promise<void> },
): Promise<pg.Pool> {
  const { default: pgModule } = await import('pg');
  const pool = resilientPool(new pgModule.Pool({ connectionString: url, max: o.max }), redactUrl(url));
  try {
    const client = await pool.connect();
    try {
      await o.migrate(client);
    } finally {
      client.release();
    }
  } catch (err) {
    await pool.end().catch(() => undefined);
    if (err instanceof SlipwayError) throw err;
    throw new SlipwayError('IO_ERROR', `cannot open the PostgreSQL ${o.what} ${redactUrl(url)}: ${String(err)}`, {
      cause: err,
      detail: { url: redactUrl(url) },
    });
  }
  return pool;
}
