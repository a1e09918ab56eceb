import { EVENT_TYPES, PRIVATE_DATA_HIDDEN } from '../audit.js';
import { notAuthorized, notFound, unprocessable } from '../cf-errors.js';
import type { ParsedList } from '../messages/list-query.js';
import type { ProcessListMessage, ProcessScaleInput, ProcessUpdateInput } from '../messages/processes.js';
import type { Page } from '../store/platform-store.js';
import type { InstanceStat } from '../workload-services.js';
import type { HealthCheck, Instance, Process } from '../workload.js';
import type { AppInSpace } from './apps.js';
import { spaceContext } from './context.js';
import { getApp, ofApp, recordApp, type WorkloadContext } from './workload-context.js';

/**
 * Processes (CC: ProcessesController, ProcessUpdate, ProcessScale, ProcessStats):
 * space readers see them and their stats; who manages the space's apps (developers
 * and supporters) changes their command and health check and scales them. A process's
 * command is shown as the user gave it, else the current droplet's for its type, and
 * redacted for who may not read the space's secrets.
 */

type ProcessListValues = ReturnType<typeof ProcessListMessage.parse>['values'];

/** A process as presented: its effective command (redacted unless a secret reader) and, when embedded, its instances. */
export interface ProcessView {
  process: Process;
  command: string | null;
  instances?: Instance[];
}

export async function listProcesses(
  ctx: WorkloadContext,
  q: ParsedList<ProcessListValues>,
  appGuid?: string,
): Promise<Page<ProcessView>> {
  const v = q.values;
  if (appGuid) await getApp(ctx, appGuid);
  const page = await ctx.workloads.listProcesses(
    q.page,
    {
      ...(v.guids ? { guids: v.guids } : {}),
      ...(v.types ? { types: v.types } : {}),
      ...(appGuid ? { appGuids: [appGuid] } : v.app_guids ? { appGuids: v.app_guids } : {}),
      ...(v.space_guids ? { spaceGuids: v.space_guids } : {}),
    },
    ctx.perms.spaceVisibility(),
  );
  const views = await viewsOf(ctx, page.items, v.embed === 'process_instances');
  return { items: views, total: page.total };
}

async function viewsOf(ctx: WorkloadContext, processes: Process[], embed: boolean): Promise<ProcessView[]> {
  const byApp = new Map<string, Promise<{ secrets: boolean; types: Record<string, string> }>>();
  const appInfo = (appGuid: string) => {
    let info = byApp.get(appGuid);
    if (!info) {
      info = (async () => {
        const app = await ctx.store.getApp(appGuid);
        const found = app && (await spaceContext(ctx.store, app.spaceGuid));
        const secrets = found ? ctx.perms.canReadSecrets(found) : false;
        const droplet = await ctx.workloads.currentDroplet(appGuid);
        return { secrets, types: droplet?.processTypes ?? {} };
      })();
      byApp.set(appGuid, info);
    }
    return info;
  };
  const out: ProcessView[] = [];
  for (const process of processes) {
    const { secrets, types } = await appInfo(process.appGuid);
    const command = process.command ?? types[process.type] ?? null;
    const view: ProcessView = { process, command: command !== null && !secrets ? PRIVATE_DATA_HIDDEN : command };
    if (embed) view.instances = await ctx.workloads.instancesOf(process.guid);
    out.push(view);
  }
  return out;
}

export async function getProcess(ctx: WorkloadContext, guid: string): Promise<AppInSpace & { resource: Process }> {
  return ofApp(ctx, await ctx.workloads.getProcess(guid), 'Process');
}

/** The app's process of a type (/v3/apps/:guid/processes/:type); 404 "Process not found" (the cf CLI matches it). */
export async function getAppProcess(
  ctx: WorkloadContext,
  appGuid: string,
  type: string,
): Promise<AppInSpace & { resource: Process }> {
  const found = await getApp(ctx, appGuid);
  const process = await ctx.workloads.findProcess(found.app.guid, type);
  if (!process) throw notFound('Process');
  return { ...found, resource: process };
}

export async function processView(ctx: WorkloadContext, process: Process): Promise<ProcessView> {
  return (await viewsOf(ctx, [process], false))[0] as ProcessView;
}

/** PATCH /v3/processes/:guid: the start command (null: the droplet's) and the health check. */
export async function updateProcess(ctx: WorkloadContext, guid: string, input: ProcessUpdateInput): Promise<Process> {
  const found = await getProcess(ctx, guid);
  if (!ctx.perms.canManageApps(found)) throw notAuthorized();
  const patch: Parameters<typeof ctx.workloads.updateProcess>[1] = {};
  if (input.command !== undefined) patch.command = input.command;
  if (input.health_check !== undefined)
    patch.healthCheck = healthCheckOf(found.resource.healthCheck, input.health_check);
  const updated = await ctx.workloads.updateProcess(found.resource.guid, patch);
  if (!updated) throw notFound('Process');
  const request: Record<string, unknown> = { ...input };
  if (input.command !== undefined && input.command !== null) request.command = PRIVATE_DATA_HIDDEN;
  await recordApp(ctx, found, EVENT_TYPES.appProcessUpdate, {
    process_guid: updated.guid,
    process_type: updated.type,
    request,
  });
  ctx.services.signals.desiredChanged();
  return updated;
}

/** CC's health check rules: http gets an endpoint ("/" unless given), other types none. */
export function healthCheckOf(
  current: HealthCheck,
  input: NonNullable<ProcessUpdateInput['health_check']>,
): HealthCheck {
  const type = input.type ?? current.type;
  const data = input.data ?? {};
  const out: HealthCheck = { type };
  const timeout = data.timeout === undefined ? current.timeout : (data.timeout ?? undefined);
  const invocation =
    data.invocation_timeout === undefined ? current.invocationTimeout : (data.invocation_timeout ?? undefined);
  if (timeout !== undefined) out.timeout = timeout;
  if (invocation !== undefined) out.invocationTimeout = invocation;
  if (type === 'http') {
    const endpoint = data.endpoint === undefined ? current.endpoint : (data.endpoint ?? undefined);
    out.endpoint = endpoint ?? '/';
  } else if (data.endpoint) {
    throw unprocessable('Health check type must be "http" to set a health check HTTP endpoint');
  }
  return out;
}

/** Scales a process (instances, memory, disk); the reconciler converges at once. */
export async function scaleProcess(
  ctx: WorkloadContext,
  found: AppInSpace & { resource: Process },
  input: ProcessScaleInput,
): Promise<Process> {
  if (!ctx.perms.canManageApps(found)) throw notAuthorized();
  const process = found.resource;
  if (process.type === 'web' && (await ctx.workloads.activeDeployment(found.app.guid)))
    throw unprocessable('Cannot scale this process while a deployment is in flight.');
  const patch: Parameters<typeof ctx.workloads.updateProcess>[1] = {};
  if (input.instances !== undefined) patch.instances = input.instances;
  if (input.memory_in_mb !== undefined) patch.memoryMb = input.memory_in_mb;
  if (input.disk_in_mb !== undefined) patch.diskMb = input.disk_in_mb;
  const updated = await ctx.workloads.updateProcess(process.guid, patch);
  if (!updated) throw notFound('Process');
  await recordApp(ctx, found, EVENT_TYPES.appProcessScale, {
    process_guid: updated.guid,
    process_type: updated.type,
    request: input,
  });
  ctx.services.signals.desiredChanged();
  return updated;
}

/**
 * GET /v3/processes/:guid/stats: one entry per instance as the runtime reports it; an
 * instance a started app should have but the runtime does not report is DOWN (as CC
 * fills unreported instances), so the cf CLI keeps polling until it starts.
 */
export async function processStats(
  ctx: WorkloadContext,
  guid: string,
): Promise<{ process: Process; stats: (InstanceStat | { index: number; state: 'DOWN'; uptime: number })[] }> {
  const found = await getProcess(ctx, guid);
  const process = found.resource;
  const reported = await ctx.services.stats.stats(process);
  const stats: (InstanceStat | { index: number; state: 'DOWN'; uptime: number })[] = [...reported];
  if (found.app.state === 'STARTED') {
    const seen = new Set(reported.map((s) => s.index));
    for (let index = 0; index < process.instances; index++)
      if (!seen.has(index)) stats.push({ index, state: 'DOWN', uptime: 0 });
  }
  stats.sort((a, b) => a.index - b.index);
  return { process, stats };
}
