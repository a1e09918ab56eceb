import { EVENT_TYPES } from '../audit.js';
import { notAuthorized, notFound, unprocessable } from '../cf-errors.js';
import type { ParsedList } from '../messages/list-query.js';
import type { SpaceCreateInput, SpaceListMessage, SpaceUpdateInput } from '../messages/spaces.js';
import { emptyMetadata, type Job, newGuid, type Organization, type Space, slugOf } from '../model.js';
import type { Page } from '../store/platform-store.js';
import {
  type ActionContext,
  type DeleteContext,
  mergeMetadata,
  parentGone,
  record,
  spaceContext,
  timestamp,
} from './context.js';

/**
 * Spaces (CC: SpacesV3Controller, SpaceCreate/Update/Delete). Org managers create and
 * delete the spaces of their org; space and org managers rename them; the creator gets
 * no role (the cf CLI gives the roles it wants).
 */

type SpaceListValues = ReturnType<typeof SpaceListMessage.parse>['values'];

export const INVALID_ORG = 'Invalid organization. Ensure the organization exists and you have access to it.';

export function listSpaces(ctx: ActionContext, q: ParsedList<SpaceListValues>): Promise<Page<Space>> {
  const v = q.values;
  return ctx.store.listSpaces(
    q.page,
    { guids: v.guids, names: v.names, organizationGuids: v.organization_guids, labelSelector: v.label_selector },
    ctx.perms.spaceVisibility(),
  );
}

/** A space the caller reads, with its org; 404 "Space not found" otherwise. */
export async function getSpace(ctx: ActionContext, guid: string): Promise<{ space: Space; org: Organization }> {
  const found = await spaceContext(ctx.store, guid);
  if (!found || !ctx.perms.canReadSpace(found)) throw notFound('Space');
  return found;
}

/** The orgs of some spaces (include=organization), as the caller reads them. */
export async function orgsOf(ctx: ActionContext, spaces: readonly Space[]): Promise<Organization[]> {
  const guids = [...new Set(spaces.map((s) => s.orgGuid))];
  if (guids.length === 0) return [];
  const page = await ctx.store.listOrgs(
    { page: 1, perPage: guids.length, orderBy: 'created_at' },
    { guids },
    ctx.perms.orgVisibility(),
  );
  return page.items;
}

export async function createSpace(ctx: ActionContext, input: SpaceCreateInput): Promise<Space> {
  const { perms, store } = ctx;
  const orgGuid = input.relationships.organization.data.guid;
  const org = await store.getOrg(orgGuid);
  if (!org || !perms.canReadOrg(org.guid)) throw unprocessable(INVALID_ORG);
  if (!perms.canCreateSpace(org)) throw notAuthorized();
  const at = timestamp(ctx);
  const space = await parentGone(INVALID_ORG, () =>
    store.createSpace({
      guid: newGuid(),
      createdAt: at,
      updatedAt: at,
      name: input.name,
      slug: slugOf(input.name),
      orgGuid: org.guid,
      metadata: mergeMetadata(emptyMetadata(), input.metadata),
    }),
  );
  await record(ctx, {
    type: EVENT_TYPES.spaceCreate,
    target: { guid: space.guid, type: 'space', name: space.name },
    spaceGuid: space.guid,
    orgGuid: org.guid,
    data: { request: input },
  });
  return space;
}

export async function updateSpace(ctx: ActionContext, guid: string, input: SpaceUpdateInput): Promise<Space> {
  const found = await getSpace(ctx, guid);
  if (!ctx.perms.canUpdateSpace(found)) throw notAuthorized();
  const { space } = found;
  const patch: Parameters<ActionContext['store']['updateSpace']>[1] = {};
  if (input.name !== undefined && input.name !== space.name) {
    patch.name = input.name;
    patch.slug = slugOf(input.name);
  }
  if (input.metadata !== undefined) patch.metadata = mergeMetadata(space.metadata, input.metadata);
  const updated = await ctx.store.updateSpace(space.guid, patch);
  if (!updated) throw notFound('Space');
  await record(ctx, {
    type: EVENT_TYPES.spaceUpdate,
    target: { guid: updated.guid, type: 'space', name: updated.name },
    spaceGuid: updated.guid,
    orgGuid: updated.orgGuid,
    data: { request: input },
  });
  return updated;
}

/** Deletes a space with its apps, roles and images, as a job: org managers (CC: can_write_to_active_org?). */
export async function deleteSpace(ctx: DeleteContext, guid: string): Promise<Job> {
  const found = await getSpace(ctx, guid);
  if (!ctx.perms.canCreateSpace(found.org)) throw notAuthorized();
  const job = await ctx.jobs.start('space.delete', found.space.guid);
  await record(ctx, {
    type: EVENT_TYPES.spaceDeleteRequest,
    target: { guid: found.space.guid, type: 'space', name: found.space.name },
    spaceGuid: found.space.guid,
    orgGuid: found.org.guid,
    data: { request: { recursive: true } },
  });
  return job;
}
