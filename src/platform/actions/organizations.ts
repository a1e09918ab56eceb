import { EVENT_TYPES, roleEventType } from '../audit.js';
import { notAuthorized, notFound } from '../cf-errors.js';
import type { OrgListMessage, OrgCreateInput, OrgUpdateInput } from '../messages/organizations.js';
import type { ParsedList } from '../messages/list-query.js';
import { emptyMetadata, type Job, newGuid, type Organization, slugOf } from '../model.js';
import type { OrgRoleType } from '../roles.js';
import type { Page } from '../store/platform-store.js';
import { type ActionContext, type DeleteContext, mergeMetadata, record, timestamp } from './context.js';

/**
 * Organizations (CC: OrganizationsV3Controller, OrganizationCreate/Update/Delete).
 * Who may do what is the policy's: read an org with a role in it, create one as an
 * admin, rename it as its manager, suspend it and delete it as an admin.
 */

type OrgListValues = ReturnType<typeof OrgListMessage.parse>['values'];

/** The orgs the caller reads, filtered in the store. */
export function listOrgs(ctx: ActionContext, q: ParsedList<OrgListValues>): Promise<Page<Organization>> {
  const v = q.values;
  return ctx.store.listOrgs(
    q.page,
    { guids: v.guids, names: v.names, labelSelector: v.label_selector },
    ctx.perms.orgVisibility(),
  );
}

/** An org the caller reads; 404 "Organization not found" otherwise. */
export async function getOrg(ctx: ActionContext, guid: string): Promise<Organization> {
  const org = await ctx.store.getOrg(guid);
  if (!org || !ctx.perms.canReadOrg(org.guid)) throw notFound('Organization');
  return org;
}

/**
 * Creates an org. As CC, a creator who is not an admin becomes its organization_user
 * and organization_manager (the policy lets only admins create orgs today).
 */
export async function createOrg(ctx: ActionContext, input: OrgCreateInput): Promise<Organization> {
  const { perms, store } = ctx;
  if (!perms.canCreateOrg()) throw notAuthorized();
  if (input.suspended === true && !perms.canSuspendOrg()) throw notAuthorized();
  const at = timestamp(ctx);
  const org = await store.createOrg({
    guid: newGuid(),
    createdAt: at,
    updatedAt: at,
    name: input.name,
    slug: slugOf(input.name),
    suspended: input.suspended ?? false,
    metadata: mergeMetadata(emptyMetadata(), input.metadata),
  });
  await record(ctx, {
    type: EVENT_TYPES.organizationCreate,
    target: { guid: org.guid, type: 'organization', name: org.name },
    orgGuid: org.guid,
    data: { request: input },
  });
  const creator = perms.user;
  if (creator && !perms.isAdmin()) {
    for (const type of ['organization_user', 'organization_manager'] as OrgRoleType[]) {
      await store.createRole({
        guid: newGuid(),
        createdAt: at,
        updatedAt: at,
        metadata: emptyMetadata(),
        type,
        userGuid: creator.guid,
        orgGuid: org.guid,
      });
      await record(ctx, {
        type: roleEventType(type, 'add'),
        target: { guid: creator.guid, type: 'user', name: creator.username },
        orgGuid: org.guid,
        data: { request: { type, organization_guid: org.guid, user_guid: creator.guid } },
      });
    }
  }
  return org;
}

/** Renames, (un)suspends or relabels an org: its managers (suspending: admins). */
export async function updateOrg(ctx: ActionContext, guid: string, input: OrgUpdateInput): Promise<Organization> {
  const { perms, store } = ctx;
  const org = await getOrg(ctx, guid);
  if (!perms.canManageOrg(org.guid, org.suspended)) throw notAuthorized();
  if (input.suspended !== undefined && input.suspended !== org.suspended && !perms.canSuspendOrg())
    throw notAuthorized();
  const patch: Parameters<typeof store.updateOrg>[1] = {};
  if (input.name !== undefined && input.name !== org.name) {
    patch.name = input.name;
    patch.slug = slugOf(input.name);
  }
  if (input.suspended !== undefined) patch.suspended = input.suspended;
  if (input.metadata !== undefined) patch.metadata = mergeMetadata(org.metadata, input.metadata);
  const updated = await store.updateOrg(org.guid, patch);
  if (!updated) throw notFound('Organization');
  await record(ctx, {
    type: EVENT_TYPES.organizationUpdate,
    target: { guid: updated.guid, type: 'organization', name: updated.name },
    orgGuid: updated.guid,
    data: { request: input },
  });
  return updated;
}

/** Deletes an org with its spaces, apps, roles and images, as a job: admins (CC: can_write_globally?). */
export async function deleteOrg(ctx: DeleteContext, guid: string): Promise<Job> {
  const org = await getOrg(ctx, guid);
  if (!ctx.perms.canDeleteOrg()) throw notAuthorized();
  const job = await ctx.jobs.start('organization.delete', org.guid);
  await record(ctx, {
    type: EVENT_TYPES.organizationDeleteRequest,
    target: { guid: org.guid, type: 'organization', name: org.name },
    orgGuid: org.guid,
    data: { request: { recursive: true } },
  });
  return job;
}
