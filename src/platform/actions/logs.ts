import type { LogLine } from '../logs.js';
import type { LogReadQuery } from '../messages/log-cache.js';
import { getApp, type WorkloadContext } from './workload-context.js';

/**
 * Reading an app's logs as Log Cache answers them (the cf CLI's `cf logs` and the
 * staging output `cf push` shows): who reads the app's space reads its logs, as CC's
 * log access check (readable_space_guids: auditors and supporters too).
 */
export async function readLogs(ctx: WorkloadContext, appGuid: string, q: LogReadQuery): Promise<LogLine[]> {
  const { app } = await getApp(ctx, appGuid);
  if (!q.logs) return [];
  const lines = ctx.services.logs.recent(app.guid, {
    since: q.start - 1n,
    ...(q.end !== undefined ? { until: q.end - 1n } : {}),
  });
  return q.descending ? lines.slice(-q.limit).reverse() : lines.slice(0, q.limit);
}
