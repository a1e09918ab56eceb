import { z } from 'zod';
import type { ProcessView } from '../../../platform/actions/processes.js';
import type { InstanceStat } from '../../../platform/workload-services.js';
import type { Instance, Process } from '../../../platform/workload.js';
import { cfTime, LinkSchema, MetadataSchema, presentMetadata, type Urls } from './common.js';

/** Processes, their instances and stats in CF v3's shapes (CC: ProcessPresenter, ProcessInstancesPresenter, ProcessStatsPresenter). */

const InstanceSchema = z.object({ index: z.number().int(), state: z.string(), since: z.number().int() });

export const ProcessSchema = z
  .object({
    guid: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    version: z.string(),
    type: z.string(),
    command: z.string().nullable(),
    user: z.string().nullable(),
    instances: z.number().int(),
    memory_in_mb: z.number().int(),
    disk_in_mb: z.number().int(),
    log_rate_limit_in_bytes_per_second: z.number().int(),
    health_check: z.object({ type: z.string(), data: z.record(z.string(), z.unknown()) }),
    readiness_health_check: z.object({ type: z.string(), data: z.record(z.string(), z.unknown()) }),
    relationships: z.object({
      app: z.object({ data: z.object({ guid: z.string() }) }),
      revision: z.object({ data: z.object({ guid: z.string() }) }).nullable(),
    }),
    metadata: MetadataSchema,
    links: z.record(z.string(), LinkSchema),
    process_instances: z.array(InstanceSchema).optional(),
  })
  .meta({ id: 'Process' });

/** CC's `since` of an instance: seconds since the epoch. */
function since(iso: string): number {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : Math.floor(t / 1000);
}

export function presentInstances(instances: Instance[]): z.infer<typeof InstanceSchema>[] {
  return instances
    .filter((i) => i.state !== 'STOPPING')
    .map((i) => ({ index: i.index, state: i.state, since: since(i.since) }));
}

export function presentProcess(view: ProcessView, urls: Urls, spaceGuid?: string): z.infer<typeof ProcessSchema> {
  const p: Process = view.process;
  const hc = p.healthCheck;
  const data: Record<string, unknown> = {
    timeout: hc.timeout ?? null,
    invocation_timeout: hc.invocationTimeout ?? null,
    interval: null,
  };
  if (hc.type === 'http') data.endpoint = hc.endpoint ?? '/';
  const out: z.infer<typeof ProcessSchema> = {
    guid: p.guid,
    created_at: cfTime(p.createdAt),
    updated_at: cfTime(p.updatedAt),
    version: p.guid,
    type: p.type,
    command: view.command,
    user: null,
    instances: p.instances,
    memory_in_mb: p.memoryMb,
    disk_in_mb: p.diskMb,
    log_rate_limit_in_bytes_per_second: -1,
    health_check: { type: hc.type, data },
    readiness_health_check: { type: 'process', data: { invocation_timeout: null, interval: null } },
    relationships: { app: { data: { guid: p.appGuid } }, revision: null },
    metadata: presentMetadata(p.metadata),
    links: {
      self: urls.link(`/v3/processes/${p.guid}`),
      scale: { ...urls.link(`/v3/processes/${p.guid}/actions/scale`), method: 'POST' },
      app: urls.link(`/v3/apps/${p.appGuid}`),
      ...(spaceGuid ? { space: urls.link(`/v3/spaces/${spaceGuid}`) } : {}),
      stats: urls.link(`/v3/processes/${p.guid}/stats`),
    },
  };
  if (view.instances) out.process_instances = presentInstances(view.instances);
  return out;
}

const MiB = 1024 * 1024;

export const StatsSchema = z
  .object({
    resources: z.array(
      z.object({
        type: z.string(),
        index: z.number().int(),
        state: z.string(),
        routable: z.boolean().nullable(),
        uptime: z.number().int(),
        host: z.string().optional(),
        instance_internal_ip: z.string().optional(),
        instance_ports: z.array(z.record(z.string(), z.unknown())).optional(),
        mem_quota: z.number().int().nullable().optional(),
        disk_quota: z.number().int().nullable().optional(),
        log_rate_limit: z.number().int().optional(),
        fds_quota: z.number().int().optional(),
        isolation_segment: z.string().nullable(),
        details: z.string().nullable(),
        usage: z.record(z.string(), z.unknown()).optional(),
        digest: z.string().optional().meta({ description: 'The image digest the instance runs (Slipway)' }),
      }),
    ),
  })
  .meta({ id: 'ProcessStats' });

type Stat = InstanceStat | { index: number; state: 'DOWN'; uptime: number };

/** CC's ProcessStatsPresenter entry (a DOWN instance has no usage, ports or quotas). */
export function presentStats(process: Process, stats: Stat[]): z.infer<typeof StatsSchema> {
  return {
    resources: stats.map((s) => {
      if (!('host' in s))
        return {
          type: process.type,
          index: s.index,
          state: 'DOWN',
          routable: false,
          uptime: 0,
          isolation_segment: null,
          details: null,
        };
      return {
        type: process.type,
        index: s.index,
        state: s.state === 'STOPPING' ? 'RUNNING' : s.state,
        routable: s.state === 'RUNNING',
        host: s.host,
        instance_internal_ip: s.host,
        uptime: Math.max(0, Math.floor(s.uptime)),
        mem_quota: s.memQuotaBytes || process.memoryMb * MiB,
        disk_quota: s.diskQuotaBytes || process.diskMb * MiB,
        log_rate_limit: -1,
        fds_quota: 16384,
        isolation_segment: null,
        details: s.details ?? null,
        instance_ports: [
          { external: s.port, internal: 8080, external_tls_proxy_port: null, internal_tls_proxy_port: null },
        ],
        usage: {
          time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
          cpu: s.cpu,
          cpu_entitlement: s.cpu,
          mem: Math.max(0, Math.round(s.memoryBytes)),
          disk: Math.max(0, Math.round(s.diskBytes)),
          log_rate: 0,
        },
        digest: s.digest,
      };
    }),
  };
}
