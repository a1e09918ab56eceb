import { EVENT_TYPES } from '../audit.js';
import { badRequest, notAuthorized, notFound, unprocessable } from '../cf-errors.js';
import type { BuildCreateInput, BuildListMessage, DropletListMessage } from '../messages/builds.js';
import type { ParsedList } from '../messages/list-query.js';
import { emptyMetadata, newGuid } from '../model.js';
import type { Page } from '../store/platform-store.js';
import type { Build, Droplet } from '../workload.js';
import type { AppInSpace } from './apps.js';
import { mergeMetadata, timestamp } from './context.js';
import { getApp, ofApp, processesFromDroplet, recordApp, type WorkloadContext } from './workload-context.js';

/**
 * Builds (the staging queue) and droplets (CC: BuildsController, BuildCreate,
 * DropletsController, AppsV3Controller#assign_current_droplet): who manages the
 * space's apps (developers and supporters) stages a READY package and sets an app's
 * current droplet; the build workers take queued builds from the store and record
 * droplets. A droplet's bits are an OCI image in the platform's registry, which its
 * download answers by reference.
 */

type BuildListValues = ReturnType<typeof BuildListMessage.parse>['values'];
type DropletListValues = ReturnType<typeof DropletListMessage.parse>['values'];

/** CC's staging defaults (config staging.minimum_staging_memory_mb / minimum_staging_disk_mb). */
export const STAGING_MEMORY_MB = 1024;
export const STAGING_DISK_MB = 4096;

const UNUSABLE_PACKAGE = 'Unable to use package. Ensure that the package exists and you have access to it.';

export function listBuilds(
  ctx: WorkloadContext,
  q: ParsedList<BuildListValues>,
  appGuid?: string,
): Promise<Page<Build>> {
  const v = q.values;
  return ctx.workloads.listBuilds(
    q.page,
    {
      ...(appGuid ? { appGuids: [appGuid] } : v.app_guids ? { appGuids: v.app_guids } : {}),
      ...(v.package_guids ? { packageGuids: v.package_guids } : {}),
      ...(v.states ? { states: v.states as Build['state'][] } : {}),
    },
    ctx.perms.spaceVisibility(),
  );
}

export async function getBuild(ctx: WorkloadContext, guid: string): Promise<Build> {
  return (await ofApp(ctx, await ctx.workloads.getBuild(guid), 'Build')).resource;
}

/** Queues a staging of a READY package (CC's BuildCreate); the build workers are told at once. */
export async function createBuild(ctx: WorkloadContext, input: BuildCreateInput): Promise<Build> {
  const pkg = await ctx.workloads.getPackage(input.package.guid);
  let found: AppInSpace;
  try {
    found = (await ofApp(ctx, pkg, 'Package')) as AppInSpace;
  } catch {
    throw unprocessable(UNUSABLE_PACKAGE);
  }
  if (!pkg || !ctx.perms.canManageApps(found)) throw unprocessable(UNUSABLE_PACKAGE);
  if (pkg.state !== 'READY') throw badRequest('Cannot stage package whose state is not ready.');
  const staging = await ctx.workloads.listBuilds(
    { page: 1, perPage: 1, orderBy: 'created_at' },
    { appGuids: [found.app.guid], states: ['STAGING'] },
    { kind: 'all' },
  );
  if (staging.total > 0) throw unprocessable('Only one build can be STAGING at a time per application.');
  const app = found.app;
  const lifecycle =
    input.lifecycle === undefined
      ? app.lifecycle
      : {
          type: input.lifecycle.type,
          data: {
            buildpacks: input.lifecycle.data.buildpacks ?? app.lifecycle.data.buildpacks,
            stack: input.lifecycle.data.stack ?? app.lifecycle.data.stack,
          },
        };
  const at = timestamp(ctx);
  const user = ctx.perms.user;
  const build = await ctx.workloads.createBuild({
    guid: newGuid(),
    createdAt: at,
    updatedAt: at,
    metadata: mergeMetadata(emptyMetadata(), input.metadata),
    appGuid: app.guid,
    packageGuid: pkg.guid,
    state: 'STAGING',
    error: null,
    lifecycle,
    ...(user ? { createdBy: { guid: user.guid, name: user.username } } : {}),
    stagingMemoryMb: input.staging_memory_in_mb ?? STAGING_MEMORY_MB,
    stagingDiskMb: input.staging_disk_in_mb ?? STAGING_DISK_MB,
  });
  await recordApp(ctx, found, EVENT_TYPES.appBuildCreate, { build_guid: build.guid, package_guid: pkg.guid });
  ctx.services.signals.buildQueued();
  return build;
}

// droplets

export function listDroplets(
  ctx: WorkloadContext,
  q: ParsedList<DropletListValues>,
  appGuid?: string,
): Promise<Page<Droplet>> {
  const v = q.values;
  return ctx.workloads.listDroplets(
    q.page,
    {
      ...(appGuid ? { appGuids: [appGuid] } : v.app_guids ? { appGuids: v.app_guids } : {}),
      ...(v.package_guids ? { packageGuids: v.package_guids } : {}),
      ...(v.states ? { states: v.states as Droplet['state'][] } : {}),
      ...(v.stacks ? { stacks: v.stacks } : {}),
    },
    ctx.perms.spaceVisibility(),
  );
}

/** GET /v3/apps/:guid/droplets (current=true: only the current one). */
export async function appDroplets(
  ctx: WorkloadContext,
  appGuid: string,
  q: ParsedList<DropletListValues>,
): Promise<Page<Droplet>> {
  const { app } = await getApp(ctx, appGuid);
  if (q.values.current === 'true') {
    const current = await ctx.workloads.currentDroplet(app.guid);
    const items = current && (!q.values.states || q.values.states.includes(current.state)) ? [current] : [];
    return { items: q.page.page === 1 ? items : [], total: items.length };
  }
  return listDroplets(ctx, q, app.guid);
}

export async function getDroplet(ctx: WorkloadContext, guid: string): Promise<AppInSpace & { resource: Droplet }> {
  return ofApp(ctx, await ctx.workloads.getDroplet(guid), 'Droplet');
}

/** The app's current droplet; 404 "Droplet not found" when it has none (the cf CLI matches the text). */
export async function currentDroplet(ctx: WorkloadContext, appGuid: string): Promise<Droplet> {
  const { app } = await getApp(ctx, appGuid);
  const droplet = await ctx.workloads.currentDroplet(app.guid);
  if (!droplet) throw notFound('Droplet');
  return droplet;
}

/** The guid of the app's current droplet (the relationship), null when none. */
export async function currentDropletGuid(
  ctx: WorkloadContext,
  appGuid: string,
): Promise<{ app: AppInSpace; guid: string | null }> {
  const found = await getApp(ctx, appGuid);
  const droplet = await ctx.workloads.currentDroplet(found.app.guid);
  return { app: found, guid: droplet?.guid ?? null };
}

/**
 * PATCH /v3/apps/:guid/relationships/current_droplet (CC's AppAssignDroplet): the app's
 * own STAGED droplet; the app gets a process for each of its process types.
 */
export async function assignCurrentDroplet(
  ctx: WorkloadContext,
  appGuid: string,
  dropletGuid: string | null,
): Promise<{ guid: string }> {
  const found = await getApp(ctx, appGuid);
  if (!ctx.perms.canManageApps(found)) throw notAuthorized();
  if (dropletGuid === null)
    throw unprocessable('Current droplet cannot be removed. Replace it with a preferred droplet.');
  const droplet = await ctx.workloads.getDroplet(dropletGuid);
  if (!droplet || droplet.appGuid !== found.app.guid)
    throw unprocessable('Unable to assign current droplet. Ensure the droplet exists and belongs to this app.');
  await ctx.workloads.setCurrentDroplet(found.app.guid, droplet.guid);
  await processesFromDroplet(ctx, found.app.guid, droplet.processTypes);
  await recordApp(ctx, found, EVENT_TYPES.appDropletMapped, { request: { droplet_guid: droplet.guid } });
  ctx.services.signals.desiredChanged();
  return { guid: droplet.guid };
}

/**
 * GET /v3/droplets/:guid/download: the droplet's image in the platform's registry,
 * `<registry host>/<org>/<space>/<app>@<digest>`, for who may pull it (CC's
 * can_download_droplet?: not supporters, 403; 404 for who may not see it). The bits
 * are pulled from the registry with the caller's own credentials.
 */
export async function downloadDroplet(
  ctx: WorkloadContext,
  guid: string,
  registryHost: string,
): Promise<{ image: string; droplet: Droplet }> {
  const found = await getDroplet(ctx, guid);
  if (!ctx.perms.canDownloadDroplet(found)) throw notAuthorized();
  const droplet = found.resource;
  if (droplet.state !== 'STAGED') throw unprocessable('Only staged droplets can be downloaded.');
  await recordApp(ctx, found, EVENT_TYPES.appDropletDownload, { droplet_guid: droplet.guid });
  return {
    image: `${registryHost}/${found.org.slug}/${found.space.slug}/${found.app.slug}@${droplet.digest}`,
    droplet,
  };
}
