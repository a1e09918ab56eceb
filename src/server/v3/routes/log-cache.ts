import { z } from 'zod';
import { readLogs } from '../../../platform/actions/logs.js';
import type { LogLine } from '../../../platform/logs.js';
import { LogReadQuerySchema, parseLogRead } from '../../../platform/messages/log-cache.js';
import { param, type RouteDef } from '../route.js';
import { workloadCtx } from './workload-call.js';

/**
 * Log Cache's read API (go-log-cache v2, what the cf CLI reads for `cf logs` and the
 * staging output of `cf push`), served by the API itself: the root document's
 * log_cache link is the API's base. Envelopes are protojson (int64 as strings, bytes
 * as base64, no field Log Cache would not send: the cf CLI refuses unknown ones).
 */

/** The Log Cache version announced (the cf CLI reads /api/v1 from 2.0.0 on). */
export const LOG_CACHE_VERSION = '2.11.4';

const EnvelopeSchema = z.object({
  timestamp: z.string(),
  source_id: z.string(),
  instance_id: z.string(),
  tags: z.record(z.string(), z.string()),
  log: z.object({ payload: z.string(), type: z.enum(['OUT', 'ERR']) }),
});

const ReadSchema = z
  .object({ envelopes: z.object({ batch: z.array(EnvelopeSchema) }) })
  .meta({ id: 'LogCacheReadResponse' });

/** One line as a loggregator v2 envelope; source_type is STG for staging, APP/PROC/WEB for an instance's output. */
export function envelopeOf(line: LogLine): z.infer<typeof EnvelopeSchema> {
  return {
    timestamp: line.timestamp.toString(),
    source_id: line.appGuid,
    instance_id: line.instance,
    tags: { source_type: line.source },
    log: { payload: Buffer.from(line.text, 'utf8').toString('base64'), type: line.stream },
  };
}

export const LOG_CACHE_ROUTES: RouteDef[] = [
  {
    method: 'get',
    path: '/api/v1/info',
    operationId: 'getLogCacheInfo',
    summary: "Log Cache's version",
    tag: 'Log Cache',
    public: true,
    responses: {
      200: { description: 'The version', schema: z.object({ version: z.string(), vm_uptime: z.string() }) },
    },
    async handle() {
      return { status: 200, body: { version: LOG_CACHE_VERSION, vm_uptime: String(Math.floor(process.uptime())) } };
    },
  },
  {
    method: 'get',
    path: '/api/v1/read/{source_id}',
    operationId: 'readLogs',
    summary: "An app's log lines (source_id: the app's guid), for who reads its space",
    tag: 'Log Cache',
    query: LogReadQuerySchema,
    responses: { 200: { description: 'The envelopes', schema: ReadSchema } },
    async handle(call) {
      const q = parseLogRead(call.query);
      const lines = await readLogs(workloadCtx(call), param(call, 'source_id'), q);
      return { status: 200, body: { envelopes: { batch: lines.map(envelopeOf) } } };
    },
  },
];
