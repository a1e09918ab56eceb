import type { AuditEntry } from '../audit.js';
import { type ResourceName, notFound } from '../cf-errors.js';
import { type App, newGuid, type Organization, type Space } from '../model.js';
import type { WorkloadStore } from '../store/workload-store.js';
import type { WorkloadServices } from '../workload-services.js';
import type { Process } from '../workload.js';
import { type AppInSpace, getApp } from './apps.js';
import { type DeleteContext, record, spaceContext, timestamp } from './context.js';

/**
 * What the workload's use cases get beyond the control plane's context: the workload
 * store (packages, builds, droplets, processes, routes, deployments) and the services
 * the rest of the platform provides (package bits, instance stats, logs, the nudges to
 * the build workers and the reconciler, the default domain).
 */
export interface WorkloadContext extends DeleteContext {
  workloads: WorkloadStore;
  services: WorkloadServices;
}

/** A resource of an app with the app, its space and org; 404 "<Resource> not found" when the caller may not read the app's space. */
export async function ofApp<T extends { appGuid: string }>(
  ctx: WorkloadContext,
  resource: T | undefined,
  name: ResourceName,
): Promise<AppInSpace & { resource: T }> {
  if (!resource) throw notFound(name);
  const app = await ctx.store.getApp(resource.appGuid);
  const found = app && (await spaceContext(ctx.store, app.spaceGuid));
  if (!app || !found || !ctx.perms.canReadSpace(found)) throw notFound(name);
  return { app, ...found, resource };
}

export { getApp };

/** An audit event about an app, with its space and org. */
export function recordApp(
  ctx: WorkloadContext,
  found: { app: App; space: Space; org: Organization },
  type: string,
  data: Record<string, unknown> = {},
): Promise<unknown> {
  const entry: AuditEntry = {
    type,
    target: { guid: found.app.guid, type: 'app', name: found.app.name },
    spaceGuid: found.space.guid,
    orgGuid: found.org.guid,
    data,
  };
  return record(ctx, entry);
}

/** CC's ProcessCreate defaults (config default_app_memory and default_app_disk_in_mb: 1024). */
export const DEFAULT_MEMORY_MB = 1024;
export const DEFAULT_DISK_MB = 1024;

/** A new process as CC's ProcessCreate makes one: web runs 1 instance checked on its port; other types 0, checked as a process. */
export function newProcess(
  ctx: WorkloadContext,
  appGuid: string,
  type: string,
  command: string | null = null,
): Process {
  const at = timestamp(ctx);
  return {
    guid: newGuid(),
    createdAt: at,
    updatedAt: at,
    metadata: { labels: {}, annotations: {} },
    appGuid,
    type,
    command,
    instances: type === 'web' ? 1 : 0,
    memoryMb: DEFAULT_MEMORY_MB,
    diskMb: DEFAULT_DISK_MB,
    healthCheck: { type: type === 'web' ? 'port' : 'process' },
  };
}

/** The app's process of `type`, made with CC's defaults when it has none. */
export async function ensureProcess(ctx: WorkloadContext, appGuid: string, type: string): Promise<Process> {
  return (
    (await ctx.workloads.findProcess(appGuid, type)) ?? ctx.workloads.upsertProcess(newProcess(ctx, appGuid, type))
  );
}

/**
 * CC's ProcessCreateFromAppDroplet: a process for each of the droplet's process types
 * the app does not have yet (and web always); the existing ones are kept as they are.
 */
export async function processesFromDroplet(
  ctx: WorkloadContext,
  appGuid: string,
  processTypes: Record<string, string>,
): Promise<void> {
  for (const type of new Set(['web', ...Object.keys(processTypes)])) await ensureProcess(ctx, appGuid, type);
}

/**
 * A new version for each of the app's processes: their instances are replaced (all at
 * once in steady state, as CF's restart; a rolling deployment replaces them in turn).
 */
export async function renewProcesses(ctx: WorkloadContext, appGuid: string): Promise<void> {
  for (let page = 1; ; page++) {
    const batch = await ctx.workloads.listProcesses(
      { page, perPage: 100, orderBy: 'created_at' },
      { appGuids: [appGuid] },
      { kind: 'all' },
    );
    for (const p of batch.items) await ctx.workloads.updateProcess(p.guid, { version: newGuid() });
    if (page * 100 >= batch.total) return;
  }
}

/** The platform's shared default domain, created when missing (two callers at once: one creates it). */
export async function ensureDefaultDomain(workloads: WorkloadStore, name: string, at = new Date().toISOString()) {
  const found = await workloads.findDomain(name);
  if (found) return found;
  try {
    return await workloads.createDomain({
      guid: newGuid(),
      createdAt: at,
      updatedAt: at,
      metadata: { labels: {}, annotations: {} },
      name,
      internal: false,
    });
  } catch (err) {
    const again = await workloads.findDomain(name);
    if (again) return again;
    throw err;
  }
}
