import { z } from 'zod';
import { badQuery } from '../cf-errors.js';

/**
 * Log Cache's read query (`GET /api/v1/read/:source_id`, go-log-cache v2): times in
 * nanoseconds since the epoch (start inclusive, end exclusive, end default now),
 * `limit` 1..1000 (default 100), `descending`, `envelope_types` (LOG, COUNTER, GAUGE,
 * TIMER, EVENT, ANY), `name_filter` (ignored: logs have no names).
 */

export const ENVELOPE_TYPES = ['LOG', 'COUNTER', 'GAUGE', 'TIMER', 'EVENT', 'ANY'] as const;
export const MAX_LIMIT = 1000;

export const LogReadQuerySchema = z.object({
  start_time: z.string().optional().meta({ description: 'From (inclusive), ns since the epoch' }),
  end_time: z.string().optional().meta({ description: 'Until (exclusive), ns since the epoch; default now' }),
  limit: z
    .string()
    .optional()
    .meta({ description: `At most this many (1 to ${MAX_LIMIT}, default 100)` }),
  descending: z.string().optional().meta({ description: 'true: the newest first' }),
  envelope_types: z
    .string()
    .optional()
    .meta({ description: ENVELOPE_TYPES.join(', ') }),
  name_filter: z.string().optional(),
});

export interface LogReadQuery {
  start: bigint;
  end?: bigint;
  limit: number;
  descending: boolean;
  logs: boolean;
}

function nanos(name: string, v: string): bigint {
  if (!/^-?\d+$/.test(v)) throw badQuery(`${name} must be an integer (nanoseconds since the epoch)`);
  return BigInt(v);
}

export function parseLogRead(q: URLSearchParams): LogReadQuery {
  const limitText = q.get('limit');
  const limit = limitText === null ? 100 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    throw badQuery(`limit must be between 1 and ${MAX_LIMIT}`);
  const types = q.getAll('envelope_types').flatMap((t) => t.split(','));
  for (const t of types)
    if (!(ENVELOPE_TYPES as readonly string[]).includes(t)) throw badQuery(`invalid envelope type: ${t}`);
  const start = q.get('start_time');
  const end = q.get('end_time');
  return {
    start: start === null ? 0n : nanos('start_time', start),
    ...(end === null ? {} : { end: nanos('end_time', end) }),
    limit,
    descending: q.get('descending') === 'true',
    logs: types.length === 0 || types.includes('LOG') || types.includes('ANY'),
  };
}
