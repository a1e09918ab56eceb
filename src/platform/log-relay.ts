import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { AppLogs, LogLine, LogSource } from './logs.js';
import { openPostgres } from '../store/pg-resilience.js';
import { migratePostgres } from '../store/postgres-schema.js';

/**
 * App logs across the nodes of one PostgreSQL database: each node keeps its AppLogs
 * (what `cf logs`, log-cache and the dashboard read), writes the lines made here
 * (staging output a worker sent to this node, an instance's output) to
 * `app_log_lines`, and takes in the lines the other nodes wrote, so a client that
 * reaches another node through the load balancer sees the same log.
 *
 * The table is a bounded buffer (the newest KEEP lines), not an archive. Ids come from
 * a sequence, and a transaction may commit after a later id was read: each poll looks
 * back LOOKBACK ids and skips those already taken.
 */

const KEEP = 200_000;
const LOOKBACK = 500;
/** On start, the lines of the last few minutes' worth, at most. */
const BACKFILL = 20_000;

interface Row {
  id: string;
  app_guid: string;
  ts: string;
  source: string;
  instance: string;
  stream: string;
  text: string;
}

export interface LogRelayOptions {
  pollMs?: number;
  onError?: (err: unknown) => void;
}

export class LogRelay {
  readonly #pool: pg.Pool;
  readonly #logs: AppLogs;
  readonly #node = randomBytes(8).toString('hex');
  readonly #o: LogRelayOptions;
  #pending: LogLine[] = [];
  #flushing: Promise<void> = Promise.resolve();
  #lastId = 0n;
  readonly #seen = new Set<string>();
  #poller: NodeJS.Timeout | undefined;
  #trimmer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(pool: pg.Pool, logs: AppLogs, o: LogRelayOptions) {
    this.#pool = pool;
    this.#logs = logs;
    this.#o = o;
  }

  /** Creates the table if needed, takes in the recent lines, and relays from now on. */
  static async start(url: string, logs: AppLogs, o: LogRelayOptions = {}): Promise<LogRelay> {
    const pool = await openPostgres(url, {
      what: 'app log relay',
      max: 2,
      // IF NOT EXISTS: the table predates its migration in databases a release before made.
      migrate: (c) =>
        migratePostgres(c, 'app-logs', [
          `CREATE TABLE IF NOT EXISTS app_log_lines (
            id BIGSERIAL PRIMARY KEY, node TEXT NOT NULL, app_guid TEXT NOT NULL, ts BIGINT NOT NULL,
            source TEXT NOT NULL, instance TEXT NOT NULL, stream TEXT NOT NULL, text TEXT NOT NULL)`,
        ]),
    });
    const relay = new LogRelay(pool, logs, o);
    const { rows } = await pool.query<{ max: string | null }>('SELECT max(id) AS max FROM app_log_lines');
    relay.#lastId = BigInt(rows[0]?.max ?? '0') - BigInt(BACKFILL);
    await relay.#poll(true);
    logs.onWrite = (line) => relay.#queue(line);
    const pollMs = o.pollMs ?? 250;
    relay.#poller = setInterval(() => void relay.#poll(false).catch((e: unknown) => o.onError?.(e)), pollMs);
    relay.#poller.unref();
    relay.#trimmer = setInterval(() => void relay.#trim().catch((e: unknown) => o.onError?.(e)), 60_000);
    relay.#trimmer.unref();
    return relay;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#logs.onWrite = undefined;
    clearInterval(this.#poller);
    clearInterval(this.#trimmer);
    await this.#flush();
    await this.#pool.end();
  }

  #queue(line: LogLine): void {
    this.#pending.push(line);
    // Lines written together go in one statement.
    if (this.#pending.length === 1) setImmediate(() => void this.#flush().catch((e: unknown) => this.#o.onError?.(e)));
  }

  #flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      const lines = this.#pending;
      this.#pending = [];
      if (lines.length === 0) return;
      await this.#pool.query(
        `INSERT INTO app_log_lines (node, app_guid, ts, source, instance, stream, text)
         SELECT $1, * FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])`,
        [
          this.#node,
          lines.map((l) => l.appGuid),
          lines.map((l) => l.timestamp.toString()),
          lines.map((l) => l.source),
          lines.map((l) => l.instance),
          lines.map((l) => l.stream),
          lines.map((l) => l.text),
        ],
      );
    });
    return this.#flushing;
  }

  async #poll(first: boolean): Promise<void> {
    for (;;) {
      const from = first ? this.#lastId : this.#lastId - BigInt(LOOKBACK);
      const { rows } = await this.#pool.query<Row>(
        `SELECT id, app_guid, ts, source, instance, stream, text FROM app_log_lines
         WHERE id > $1 AND node <> $2 ORDER BY id LIMIT 5000`,
        [from.toString(), this.#node],
      );
      for (const r of rows) {
        const id = BigInt(r.id);
        if (id > this.#lastId) this.#lastId = id;
        if (this.#seen.has(r.id)) continue;
        this.#seen.add(r.id);
        this.#logs.ingest({
          timestamp: BigInt(r.ts),
          appGuid: r.app_guid,
          source: r.source as LogSource,
          instance: r.instance,
          stream: r.stream === 'ERR' ? 'ERR' : 'OUT',
          text: r.text,
        });
      }
      // Remember only the ids a lookback can meet again.
      if (this.#seen.size > 4 * LOOKBACK)
        for (const id of this.#seen) if (BigInt(id) <= this.#lastId - BigInt(LOOKBACK)) this.#seen.delete(id);
      if (rows.length < 5000) return;
    }
  }

  async #trim(): Promise<void> {
    await this.#pool.query('DELETE FROM app_log_lines WHERE id < (SELECT max(id) FROM app_log_lines) - $1', [KEEP]);
  }
}
