import { z } from 'zod';
import type { Deployment, Revision } from '../../../platform/workload.js';
import { cfTime, LinkSchema, MetadataSchema, presentMetadata, type Urls } from './common.js';

/** Deployments and revisions in CF v3's shapes (CC: DeploymentPresenter, RevisionPresenter). */

export const DeploymentSchema = z
  .object({
    guid: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    state: z.string(),
    status: z.object({
      value: z.enum(['ACTIVE', 'FINALIZED']),
      reason: z.string(),
      details: z.object({ last_successful_healthcheck: z.string().nullable(), last_status_change: z.string() }),
    }),
    strategy: z.literal('rolling'),
    options: z.object({ max_in_flight: z.number().int() }),
    droplet: z.object({ guid: z.string() }),
    previous_droplet: z.object({ guid: z.string().nullable() }),
    new_processes: z.array(z.object({ guid: z.string(), type: z.string() })),
    revision: z.object({ guid: z.string(), version: z.number().int() }).nullable(),
    relationships: z.object({ app: z.object({ data: z.object({ guid: z.string() }) }) }),
    metadata: MetadataSchema,
    links: z.record(z.string(), LinkSchema),
  })
  .meta({ id: 'Deployment' });

/** CC's deprecated `state` from the status. */
function legacyState(d: Deployment): string {
  if (d.statusValue === 'FINALIZED') return d.statusReason === 'CANCELED' ? 'CANCELED' : 'DEPLOYED';
  return d.statusReason === 'CANCELING' ? 'CANCELING' : 'DEPLOYING';
}

export function presentDeployment(
  d: Deployment,
  urls: Urls,
  extra: { revisionVersion?: number; webProcessGuid?: string } = {},
): z.infer<typeof DeploymentSchema> {
  const links: Record<string, { href: string; method?: string }> = {
    self: urls.link(`/v3/deployments/${d.guid}`),
    app: urls.link(`/v3/apps/${d.appGuid}`),
  };
  if (d.statusValue === 'ACTIVE' && d.statusReason === 'DEPLOYING')
    links.cancel = { ...urls.link(`/v3/deployments/${d.guid}/actions/cancel`), method: 'POST' };
  return {
    guid: d.guid,
    created_at: cfTime(d.createdAt),
    updated_at: cfTime(d.updatedAt),
    state: legacyState(d),
    status: {
      value: d.statusValue,
      reason: d.statusReason,
      details: { last_successful_healthcheck: null, last_status_change: cfTime(d.lastStatusChange) },
    },
    strategy: 'rolling',
    options: { max_in_flight: d.maxInFlight },
    droplet: { guid: d.dropletGuid },
    previous_droplet: { guid: d.previousDropletGuid ?? null },
    new_processes: extra.webProcessGuid ? [{ guid: extra.webProcessGuid, type: 'web' }] : [],
    revision:
      d.revisionGuid && extra.revisionVersion !== undefined
        ? { guid: d.revisionGuid, version: extra.revisionVersion }
        : null,
    relationships: { app: { data: { guid: d.appGuid } } },
    metadata: presentMetadata(d.metadata),
    links,
  };
}

export const RevisionSchema = z
  .object({
    guid: z.string(),
    version: z.number().int(),
    droplet: z.object({ guid: z.string() }),
    processes: z.record(z.string(), z.object({ command: z.string().nullable() })),
    sidecars: z.array(z.unknown()),
    description: z.string(),
    relationships: z.object({ app: z.object({ data: z.object({ guid: z.string() }) }) }),
    created_at: z.string(),
    updated_at: z.string(),
    links: z.record(z.string(), LinkSchema),
    metadata: MetadataSchema,
    deployable: z.boolean(),
  })
  .meta({ id: 'Revision' });

export function presentRevision(r: Revision, urls: Urls, deployable = r.deployable): z.infer<typeof RevisionSchema> {
  return {
    guid: r.guid,
    version: r.version,
    droplet: { guid: r.dropletGuid },
    processes: Object.fromEntries(Object.entries(r.processes).map(([t, c]) => [t, { command: c }])),
    sidecars: [],
    description: r.description,
    relationships: { app: { data: { guid: r.appGuid } } },
    created_at: cfTime(r.createdAt),
    updated_at: cfTime(r.updatedAt),
    links: {
      self: urls.link(`/v3/revisions/${r.guid}`),
      app: urls.link(`/v3/apps/${r.appGuid}`),
      environment_variables: urls.link(`/v3/revisions/${r.guid}/environment_variables`),
    },
    metadata: presentMetadata(r.metadata),
    deployable,
  };
}
