import { setTimeout as sleep } from 'node:timers/promises';
import { SlipwayError } from '../../errors.js';
import type { CfClient } from './cf-client.js';

/**
 * Log Cache as the cf CLI reads it (go-log-cache v2): `GET {log_cache}/api/v1/read/APP_GUID`
 * with start_time in nanoseconds; `--recent` is one descending read of the newest
 * 1000; following is a walk that asks again from the last timestamp + 1. The base URL
 * is the root document's `links.log_cache` (Slipway serves it on the API itself).
 */

export interface LogMessage {
  /** Nanoseconds since the epoch. */
  timestamp: bigint;
  sourceType: string;
  instance: string;
  type: 'OUT' | 'ERR';
  text: string;
}

interface Envelope {
  timestamp?: string | number;
  instance_id?: string;
  tags?: Record<string, string>;
  log?: { payload?: string; type?: string | number };
}

/** Go's zero time as UnixNano: the cf CLI's "from the beginning". */
const BEGINNING = '-6795364578871345152';
const WALK_MS = 250;

const bases = new WeakMap<CfClient, Promise<string>>();

/** `links.log_cache.href` of the root document (the API itself when it has none). */
export function logCacheBase(client: CfClient): Promise<string> {
  let base = bases.get(client);
  if (!base) {
    base = (async () => {
      const api = client.url('/').replace(/\/+$/, '');
      try {
        const root = await client.request<{ links?: { log_cache?: { href?: string } | null } }>('GET', `${api}/`);
        return (root.body.links?.log_cache?.href || api).replace(/\/+$/, '');
      } catch {
        return api;
      }
    })();
    bases.set(client, base);
  }
  return base;
}

async function read(client: CfClient, appGuid: string, query: Record<string, string>): Promise<LogMessage[]> {
  const base = await logCacheBase(client);
  let answer: { body: { envelopes?: { batch?: Envelope[] } } };
  try {
    answer = await client.request('GET', `${base}/api/v1/read/${encodeURIComponent(appGuid)}`, { query });
  } catch (err) {
    throw new SlipwayError('IO_ERROR', `Failed to retrieve logs from Log Cache: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const out: LogMessage[] = [];
  for (const e of answer.body.envelopes?.batch ?? []) {
    if (!e.log) continue;
    out.push({
      timestamp: BigInt(e.timestamp ?? 0),
      sourceType: e.tags?.source_type ?? '',
      instance: e.instance_id ?? '',
      type: e.log.type === 'ERR' || e.log.type === 1 ? 'ERR' : 'OUT',
      text: Buffer.from(e.log.payload ?? '', 'base64').toString('utf8'),
    });
  }
  return out;
}

/** The newest 1000 lines, oldest first (`cf logs --recent`). */
export async function recentLogs(client: CfClient, appGuid: string): Promise<LogMessage[]> {
  const lines = await read(client, appGuid, {
    descending: 'true',
    envelope_types: 'LOG',
    limit: '1000',
    start_time: BEGINNING,
  });
  return lines.reverse();
}

/** The timestamp of the app's newest envelope (undefined: none yet). */
export async function latestTimestamp(client: CfClient, appGuid: string): Promise<bigint | undefined> {
  const [last] = await read(client, appGuid, { descending: 'true', limit: '1', start_time: BEGINNING });
  return last?.timestamp;
}

export interface LogFollower {
  /** Stops after one last read (so lines written just before are not lost). */
  stop(): Promise<void>;
  /** Settles when the walk ends (stopped, or given up after errors). */
  done: Promise<void>;
}

/**
 * Follows the app's log from `start` (nanoseconds, inclusive): every line to `onLine`
 * in order; read errors go to `onError` (5 in a row end the walk, as in the cf CLI).
 */
export function followLogs(
  client: CfClient,
  appGuid: string,
  start: bigint,
  onLine: (m: LogMessage) => void,
  onError: (err: Error) => void,
): LogFollower {
  let from = start;
  let stopping = false;
  let errors = 0;
  const drain = async (): Promise<number> => {
    const batch = await read(client, appGuid, { envelope_types: 'LOG', limit: '1000', start_time: from.toString() });
    for (const m of batch) {
      if (m.timestamp < from) continue;
      onLine(m);
      from = m.timestamp + 1n;
    }
    return batch.length;
  };
  const loop = (async () => {
    while (!stopping) {
      try {
        const n = await drain();
        errors = 0;
        if (n >= 1000) continue;
      } catch (err) {
        if (++errors >= 5) {
          onError(err as Error);
          return;
        }
      }
      await sleep(WALK_MS);
    }
    try {
      while ((await drain()) >= 1000) {}
    } catch {
      // the last read is a courtesy
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
    },
    done: loop,
  };
}

/** `TIMESTAMP [SOURCE/INSTANCE] OUT text`, as `cf logs` prints a line (its time local, hundredths). */
export function formatLogLine(m: LogMessage, header = true): string {
  const text = m.text.replace(/[\r\n]+$/, '');
  if (!header) return `   ${text}`;
  return `   ${logTime(m.timestamp)} [${m.sourceType}/${m.instance}] ${m.type} ${text}`;
}

/** The cf CLI's LogTimestampFormat, 2006-01-02T15:04:05.00-0700, in local time. */
export function logTime(ns: bigint): string {
  const d = new Date(Number(ns / 1_000_000n));
  const p = (n: number, w = 2) => String(Math.trunc(Math.abs(n))).padStart(w, '0');
  const offset = -d.getTimezoneOffset();
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:` +
    `${p(d.getSeconds())}.${p(d.getMilliseconds() / 10)}${offset < 0 ? '-' : '+'}${p(offset / 60)}${p(offset % 60)}`
  );
}

/** A line as --json gives it. */
export function logJson(m: LogMessage) {
  return {
    timestamp: m.timestamp.toString(),
    time: new Date(Number(m.timestamp / 1_000_000n)).toISOString(),
    source_type: m.sourceType,
    instance: m.instance,
    type: m.type,
    message: m.text,
  };
}
