import { EVENT_TYPES } from '../audit.js';
import { notFound, unprocessable } from '../cf-errors.js';
import type { DeploymentCreateInput, DeploymentListMessage, RevisionListMessage } from '../messages/deployments.js';
import type { ParsedList } from '../messages/list-query.js';
import { type App, emptyMetadata, newGuid } from '../model.js';
import type { Page } from '../store/platform-store.js';
import type { Deployment, Droplet, Revision } from '../workload.js';
import type { AppInSpace } from './apps.js';
import { mergeMetadata, timestamp } from './context.js';
import {
  ensureProcess,
  getApp,
  ofApp,
  processesFromDroplet,
  recordApp,
  renewProcesses,
  type WorkloadContext,
} from './workload-context.js';

/**
 * Deployments and revisions (CC: DeploymentsController, DeploymentCreate,
 * DeploymentCancel, RevisionResolver): who manages the space's apps rolls a droplet
 * out (the app's current one by default, or a revision's: `cf rollback`). As CC does,
 * the app's current droplet becomes the deployment's at once (the previous one is
 * kept on the deployment) and a revision is recorded; the reconciler replaces the
 * instances `max_in_flight` at a time. Cancelling puts the previous droplet back.
 */

type DeploymentListValues = ReturnType<typeof DeploymentListMessage.parse>['values'];
type RevisionListValues = ReturnType<typeof RevisionListMessage.parse>['values'];

const UNUSABLE_APP = 'Unable to use app. Ensure that the app exists and you have access to it.';
const UNASSIGNABLE = 'Unable to assign current droplet. Ensure the droplet exists and belongs to this app.';

export function listDeployments(ctx: WorkloadContext, q: ParsedList<DeploymentListValues>): Promise<Page<Deployment>> {
  const v = q.values;
  return ctx.workloads.listDeployments(
    q.page,
    {
      ...(v.guids ? { guids: v.guids } : {}),
      ...(v.app_guids ? { appGuids: v.app_guids } : {}),
      ...(v.status_values ? { statusValues: v.status_values as Deployment['statusValue'][] } : {}),
    },
    ctx.perms.spaceVisibility(),
  );
}

export async function getDeployment(
  ctx: WorkloadContext,
  guid: string,
): Promise<AppInSpace & { resource: Deployment }> {
  return ofApp(ctx, await ctx.workloads.getDeployment(guid), 'Deployment');
}

export async function createDeployment(ctx: WorkloadContext, input: DeploymentCreateInput): Promise<Deployment> {
  let found: AppInSpace;
  try {
    found = await getApp(ctx, input.relationships.app.data.guid);
  } catch {
    throw unprocessable(UNUSABLE_APP);
  }
  if (!ctx.perms.canManageApps(found)) throw unprocessable(UNUSABLE_APP);
  const { app } = found;
  const previous = await ctx.workloads.currentDroplet(app.guid);
  let droplet: Droplet | undefined;
  let revision: Revision | undefined;
  if (input.revision) {
    revision = await ctx.workloads.getRevision(input.revision.guid);
    if (!revision || revision.appGuid !== app.guid)
      throw unprocessable('The revision does not exist or belongs to another app.');
    droplet = await ctx.workloads.getDroplet(revision.dropletGuid);
    if (droplet?.state !== 'STAGED') throw unprocessable('Unable to deploy this revision: its droplet is gone.');
  } else if (input.droplet) {
    droplet = await ctx.workloads.getDroplet(input.droplet.guid);
    if (!droplet || droplet.appGuid !== app.guid || droplet.state !== 'STAGED') throw unprocessable(UNASSIGNABLE);
  } else {
    droplet = previous;
    if (!droplet)
      throw unprocessable(
        'Invalid droplet. Please specify a droplet in the request or set a current droplet for the app.',
      );
  }

  // A rollback brings back the revision's environment and start commands.
  let current = app;
  if (revision) {
    current =
      (await ctx.store.updateApp(app.guid, { environmentVariables: { ...revision.environmentVariables } })) ?? app;
    for (const [type, command] of Object.entries(revision.processes)) {
      const process = await ensureProcess(ctx, app.guid, type);
      await ctx.workloads.updateProcess(process.guid, { command });
    }
  }
  await ctx.workloads.setCurrentDroplet(app.guid, droplet.guid);
  await processesFromDroplet(ctx, app.guid, droplet.processTypes);
  const web = await ensureProcess(ctx, app.guid, 'web');
  const o = input.options ?? {};
  if (o.web_instances != null || o.memory_in_mb != null || o.disk_in_mb != null)
    await ctx.workloads.updateProcess(web.guid, {
      ...(o.web_instances != null ? { instances: o.web_instances } : {}),
      ...(o.memory_in_mb != null ? { memoryMb: o.memory_in_mb } : {}),
      ...(o.disk_in_mb != null ? { diskMb: o.disk_in_mb } : {}),
    });
  // The deployment replaces every instance, even with the droplet they run (cf restart --strategy rolling).
  await renewProcesses(ctx, app.guid);
  const recorded = await recordRevision(
    ctx,
    current,
    droplet,
    revision ? `Rolled back to revision ${revision.version}.` : undefined,
  );
  const at = timestamp(ctx);
  // CC: a stopped app is started with the droplet at once, its deployment already DEPLOYED.
  const stopped = app.state !== 'STARTED';
  if (stopped) await ctx.store.updateApp(app.guid, { state: 'STARTED' });
  const deployment = await ctx.workloads.createDeployment({
    guid: newGuid(),
    createdAt: at,
    updatedAt: at,
    metadata: mergeMetadata(emptyMetadata(), input.metadata),
    appGuid: app.guid,
    strategy: 'rolling',
    statusValue: stopped ? 'FINALIZED' : 'ACTIVE',
    statusReason: stopped ? 'DEPLOYED' : 'DEPLOYING',
    dropletGuid: droplet.guid,
    ...(previous ? { previousDropletGuid: previous.guid } : {}),
    ...(recorded ? { revisionGuid: recorded.guid } : {}),
    maxInFlight: o.max_in_flight ?? 1,
    lastStatusChange: at,
  });
  await recordApp(ctx, found, EVENT_TYPES.appDeploymentCreate, {
    deployment_guid: deployment.guid,
    droplet_guid: droplet.guid,
    type: 'rolling',
    ...(revision ? { revision_guid: revision.guid } : {}),
    request: input,
  });
  ctx.services.signals.desiredChanged();
  return deployment;
}

/** POST /v3/deployments/:guid/actions/cancel: CANCELING, and the app's current droplet is the previous one again. */
export async function cancelDeployment(ctx: WorkloadContext, guid: string): Promise<Deployment> {
  const found = await getDeployment(ctx, guid);
  if (!ctx.perms.canManageApps(found)) throw notFound('Deployment');
  const d = found.resource;
  if (d.statusValue !== 'ACTIVE' || d.statusReason !== 'DEPLOYING')
    throw unprocessable(`Cannot cancel a ${d.statusReason} deployment`);
  if (d.previousDropletGuid) await ctx.workloads.setCurrentDroplet(d.appGuid, d.previousDropletGuid);
  const updated = await ctx.workloads.updateDeployment(d.guid, {
    statusReason: 'CANCELING',
    lastStatusChange: timestamp(ctx),
  });
  if (!updated) throw notFound('Deployment');
  await recordApp(ctx, found, EVENT_TYPES.appDeploymentCancel, {
    deployment_guid: d.guid,
    droplet_guid: d.previousDropletGuid ?? null,
  });
  ctx.services.signals.desiredChanged();
  return updated;
}

// revisions

export async function listRevisions(
  ctx: WorkloadContext,
  appGuid: string,
  q: ParsedList<RevisionListValues>,
): Promise<Page<Revision>> {
  const { app } = await getApp(ctx, appGuid);
  const versions = q.values.versions?.map(Number).filter((n) => Number.isInteger(n));
  return ctx.workloads.listRevisions(
    q.page,
    { appGuids: [app.guid], ...(versions ? { versions } : {}) },
    ctx.perms.spaceVisibility(),
  );
}

export async function getRevision(ctx: WorkloadContext, guid: string): Promise<Revision> {
  return (await ofApp(ctx, await ctx.workloads.getRevision(guid), 'Revision')).resource;
}

/** Whether a revision's droplet can still be deployed (CC's `deployable`). */
export async function revisionDeployable(ctx: WorkloadContext, revision: Revision): Promise<boolean> {
  const droplet = await ctx.workloads.getDroplet(revision.dropletGuid);
  return droplet?.state === 'STAGED';
}

/**
 * CC's RevisionResolver: a new revision when the app's droplet, environment or start
 * commands differ from its latest revision (or it has none), described as CC describes
 * it; the latest one otherwise.
 */
export async function recordRevision(
  ctx: WorkloadContext,
  app: App,
  droplet: Droplet,
  description?: string,
): Promise<Revision> {
  const processes: Record<string, string | null> = {};
  const page = await ctx.workloads.listProcesses(
    { page: 1, perPage: 100, orderBy: 'created_at' },
    { appGuids: [app.guid] },
    { kind: 'all' },
  );
  // CC keeps the custom commands (null: the droplet's), and says how they changed.
  for (const p of page.items) processes[p.type] = p.command;
  const latest = (
    await ctx.workloads.listRevisions(
      { page: 1, perPage: 1, orderBy: '-version' },
      { appGuids: [app.guid] },
      { kind: 'all' },
    )
  ).items[0];
  const reasons: string[] = [];
  if (!latest) reasons.push('Initial revision.');
  else {
    if (latest.dropletGuid !== droplet.guid) reasons.push('New droplet deployed.');
    if (JSON.stringify(sorted(latest.environmentVariables)) !== JSON.stringify(sorted(app.environmentVariables)))
      reasons.push('New environment variables deployed.');
    for (const [type, command] of Object.entries(processes)) {
      const was = latest.processes[type] ?? null;
      if (was === command) continue;
      if (was === null) reasons.push(`Custom start command added for '${type}' process.`);
      else if (command === null) reasons.push(`Custom start command removed for '${type}' process.`);
      else reasons.push(`Custom start command updated for '${type}' process.`);
    }
  }
  if (latest && reasons.length === 0 && description === undefined) return latest;
  const at = timestamp(ctx);
  return ctx.workloads.createRevision({
    guid: newGuid(),
    createdAt: at,
    updatedAt: at,
    metadata: emptyMetadata(),
    appGuid: app.guid,
    dropletGuid: droplet.guid,
    description: description ?? reasons.join(' '),
    processes,
    environmentVariables: { ...app.environmentVariables },
    deployable: droplet.state === 'STAGED',
  });
}

function sorted(o: Record<string, string>): [string, string][] {
  return Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
