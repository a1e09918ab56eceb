import { EVENT_TYPES } from '../audit.js';
import { notAuthorized, notFound, unprocessable } from '../cf-errors.js';
import type { BuildpackCreateInput, BuildpackListMessage, BuildpackUpdateInput } from '../messages/buildpacks.js';
import type { ParsedList } from '../messages/list-query.js';
import { type Buildpack, emptyMetadata, type Job, newGuid } from '../model.js';
import type { Page } from '../store/platform-store.js';
import { type ActionContext, type DeleteContext, mergeMetadata, record, timestamp } from './context.js';
import { type StackSource, stackExists } from './stacks.js';

/**
 * Admin buildpacks (CC: BuildpacksController, BuildpackCreate/Update/Delete): every
 * signed-in user reads them, admins create, reorder, change and delete them. A new
 * buildpack goes first unless given a position; positions stay contiguous (the store
 * shifts the others).
 */

type BuildpackListValues = ReturnType<typeof BuildpackListMessage.parse>['values'];

export async function listBuildpacks(ctx: ActionContext, q: ParsedList<BuildpackListValues>): Promise<Page<Buildpack>> {
  if (!ctx.perms.canReadPlatformResources()) return { items: [], total: 0 };
  const v = q.values;
  return ctx.store.listBuildpacks(q.page, {
    guids: v.guids,
    names: v.names,
    stacks: v.stacks,
    lifecycle: v.lifecycle,
    labelSelector: v.label_selector,
  });
}

export async function getBuildpack(ctx: ActionContext, guid: string): Promise<Buildpack> {
  const bp = await ctx.store.getBuildpack(guid);
  if (!bp || !ctx.perms.canReadPlatformResources()) throw notFound('Buildpack');
  return bp;
}

export async function createBuildpack(
  ctx: ActionContext,
  stacks: StackSource,
  input: BuildpackCreateInput,
): Promise<Buildpack> {
  if (!ctx.perms.canManagePlatformResources()) throw notAuthorized();
  const stack = input.stack ?? null;
  if (stack !== null && !(await stackExists(stacks, stack))) throw unprocessable(`Stack '${stack}' does not exist`);
  const at = timestamp(ctx);
  const bp = await ctx.store.createBuildpack({
    guid: newGuid(),
    createdAt: at,
    updatedAt: at,
    name: input.name,
    stack,
    position: input.position ?? 1,
    enabled: input.enabled ?? true,
    locked: input.locked ?? false,
    state: 'AWAITING_UPLOAD',
    filename: null,
    lifecycle: input.lifecycle ?? 'buildpack',
    metadata: mergeMetadata(emptyMetadata(), input.metadata),
  });
  await record(ctx, {
    type: EVENT_TYPES.buildpackCreate,
    target: { guid: bp.guid, type: 'buildpack', name: bp.name },
    data: { request: input },
  });
  return bp;
}

export async function updateBuildpack(
  ctx: ActionContext,
  stacks: StackSource,
  guid: string,
  input: BuildpackUpdateInput,
): Promise<Buildpack> {
  const bp = await getBuildpack(ctx, guid);
  if (!ctx.perms.canManagePlatformResources()) throw notAuthorized();
  if (input.stack != null && input.stack !== bp.stack && !(await stackExists(stacks, input.stack)))
    throw unprocessable(`Stack '${input.stack}' does not exist`);
  const patch: Parameters<ActionContext['store']['updateBuildpack']>[1] = {};
  if (input.name !== undefined) patch.name = input.name;
  if (input.stack !== undefined) patch.stack = input.stack;
  if (input.position !== undefined) patch.position = input.position;
  if (input.enabled !== undefined) patch.enabled = input.enabled;
  if (input.locked !== undefined) patch.locked = input.locked;
  if (input.metadata !== undefined) patch.metadata = mergeMetadata(bp.metadata, input.metadata);
  const updated = await ctx.store.updateBuildpack(bp.guid, patch);
  if (!updated) throw notFound('Buildpack');
  await record(ctx, {
    type: EVENT_TYPES.buildpackUpdate,
    target: { guid: updated.guid, type: 'buildpack', name: updated.name },
    data: { request: input },
  });
  return updated;
}

/** Deletes a buildpack, as a job (CC answers 202 here too): admins. */
export async function deleteBuildpack(ctx: DeleteContext, guid: string): Promise<Job> {
  const bp = await getBuildpack(ctx, guid);
  if (!ctx.perms.canManagePlatformResources()) throw notAuthorized();
  const job = await ctx.jobs.start('buildpack.delete', bp.guid);
  await record(ctx, {
    type: EVENT_TYPES.buildpackDelete,
    target: { guid: bp.guid, type: 'buildpack', name: bp.name },
  });
  return job;
}
