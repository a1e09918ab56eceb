import { roleEventType } from '../audit.js';
import { notAuthorized, notFound, unprocessable } from '../cf-errors.js';
import type { ParsedList } from '../messages/list-query.js';
import type { RoleCreateInput, RoleListMessage } from '../messages/roles.js';
import { emptyMetadata, type Job, newGuid, type Organization, type Role, type Space, type User } from '../model.js';
import { isOrgRole, isRoleType, isSpaceRole, ROLE_TYPES, type RoleType, SPACE_ROLE_TYPES } from '../roles.js';
import type { ListQuery, Page } from '../store/platform-store.js';
import { type ActionContext, type DeleteContext, parentGone, record, spaceContext, timestamp } from './context.js';

/**
 * Roles (CC: RolesController, RoleCreate, RoleDeleteAction). Org managers give and
 * take the roles of their org, space managers and org managers those of a space; a
 * user is named by guid or by username (and origin), looked up in the platform's user
 * table (which UAA shares); a space role needs an org role first.
 */

type RoleListValues = ReturnType<typeof RoleListMessage.parse>['values'];

export const INVALID_SPACE = 'Invalid space. Ensure that the space exists and you have access to it.';
export const INVALID_ORGANIZATION =
  'Invalid organization. Ensure that the organization exists and you have access to it.';
export const SPACE_ROLE_NEEDS_ORG_ROLE =
  "Users cannot be assigned roles in a space if they do not have a role in that space's organization.";

/**
 * The roles the caller reads, as CC's readable_roles: an org role when the caller reads
 * its org, a space role when they read its space (an org user reads the org's roles,
 * not those of spaces they cannot see). The two rules are two store queries (each
 * filtered in SQL by its own Visibility) merged in order; `organization_guids` matches
 * org roles only and `space_guids` space roles only, as CC's filters do.
 */
export async function listRoles(ctx: ActionContext, q: ParsedList<RoleListValues>): Promise<Page<Role>> {
  const v = q.values;
  const wanted: RoleType[] = v.types === undefined ? [...ROLE_TYPES] : v.types.filter(isRoleType);
  const orgTypes = v.space_guids === undefined ? wanted.filter(isOrgRole) : [];
  const spaceTypes = v.organization_guids === undefined ? wanted.filter(isSpaceRole) : [];
  const common = {
    guids: v.guids,
    userGuids: v.user_guids,
    organizationGuids: v.organization_guids,
    spaceGuids: v.space_guids,
  };
  const orgVisibility = ctx.perms.orgVisibility();
  const spaceVisibility = ctx.perms.spaceVisibility();
  if (orgTypes.length === 0 && spaceTypes.length === 0) return { items: [], total: 0 };
  if (
    orgTypes.length === 0 ||
    spaceTypes.length === 0 ||
    (orgVisibility.kind === 'all' && spaceVisibility.kind === 'all')
  ) {
    const types = [...orgTypes, ...spaceTypes];
    return ctx.store.listRoles(q.page, { ...common, types }, orgTypes.length > 0 ? orgVisibility : spaceVisibility);
  }
  return mergedPage(q.page, [
    (page) => ctx.store.listRoles(page, { ...common, types: orgTypes }, orgVisibility),
    (page) => ctx.store.listRoles(page, { ...common, types: spaceTypes }, spaceVisibility),
  ]);
}

const STORE_PAGE_MAX = 5000;

/** Page `query.page` of the ordered union of lists that are each ordered by `query.orderBy`. */
async function mergedPage(query: ListQuery, sources: ((q: ListQuery) => Promise<Page<Role>>)[]): Promise<Page<Role>> {
  const end = query.page * query.perPage;
  const heads: Role[][] = [];
  let total = 0;
  for (const source of sources) {
    const items: Role[] = [];
    const chunk = Math.min(end, STORE_PAGE_MAX);
    for (let page = 1; ; page += 1) {
      const got = await source({ page, perPage: chunk, orderBy: query.orderBy });
      if (page === 1) total += got.total;
      items.push(...got.items);
      if (items.length >= end || got.items.length < chunk) break;
    }
    heads.push(items.slice(0, end));
  }
  const desc = query.orderBy.startsWith('-');
  const field = (desc ? query.orderBy.slice(1) : query.orderBy) === 'updated_at' ? 'updatedAt' : 'createdAt';
  const merged: Role[] = [];
  const at = heads.map(() => 0);
  while (merged.length < end) {
    let best = -1;
    for (const [i, list] of heads.entries()) {
      const candidate = list[at[i] as number];
      if (candidate === undefined) continue;
      const current = best < 0 ? undefined : heads[best]?.[at[best] as number];
      const cmp = current === undefined ? -1 : candidate[field].localeCompare(current[field]);
      if (current === undefined || (desc ? cmp > 0 : cmp < 0)) best = i;
    }
    if (best < 0) break;
    merged.push(heads[best]?.[at[best] as number] as Role);
    at[best] = (at[best] as number) + 1;
  }
  return { items: merged.slice((query.page - 1) * query.perPage, end), total };
}

/** A role the caller reads (a space role: the space; an org role: the org); 404 "Role not found" otherwise. */
export async function getRole(ctx: ActionContext, guid: string): Promise<Role> {
  const role = await ctx.store.getRole(guid);
  if (!role || !(await readable(ctx, role))) throw notFound('Role');
  return role;
}

async function readable(ctx: ActionContext, role: Role): Promise<boolean> {
  if (role.spaceGuid !== undefined) {
    const found = await spaceContext(ctx.store, role.spaceGuid);
    return found !== undefined && ctx.perms.canReadSpace(found);
  }
  return role.orgGuid !== undefined && ctx.perms.canReadOrg(role.orgGuid);
}

/** What include=user,space,organization adds to roles: the users, spaces and orgs they name. */
export async function roleIncludes(
  ctx: ActionContext,
  roles: readonly Role[],
  include: readonly string[],
): Promise<{ users?: User[]; spaces?: Space[]; organizations?: Organization[] }> {
  const out: { users?: User[]; spaces?: Space[]; organizations?: Organization[] } = {};
  const unique = (xs: (string | undefined)[]) => [...new Set(xs.filter((x): x is string => x !== undefined))];
  const all = (n: number) => ({ page: 1, perPage: Math.max(n, 1), orderBy: 'created_at' });
  if (include.includes('user')) {
    const guids = unique(roles.map((r) => r.userGuid));
    // The users of roles the caller reads are readable with them (CC's IncludeRoleUserDecorator).
    out.users =
      guids.length === 0 ? [] : (await ctx.store.listUsers(all(guids.length), { guids }, { kind: 'all' })).items;
  }
  if (include.includes('space')) {
    const guids = unique(roles.map((r) => r.spaceGuid));
    out.spaces =
      guids.length === 0
        ? []
        : (await ctx.store.listSpaces(all(guids.length), { guids }, ctx.perms.spaceVisibility())).items;
  }
  if (include.includes('organization')) {
    const guids = unique(roles.filter((r) => r.spaceGuid === undefined).map((r) => r.orgGuid));
    out.organizations =
      guids.length === 0
        ? []
        : (await ctx.store.listOrgs(all(guids.length), { guids }, ctx.perms.orgVisibility())).items;
  }
  return out;
}

export async function createRole(ctx: ActionContext, input: RoleCreateInput): Promise<Role> {
  const { perms, store } = ctx;
  const at = timestamp(ctx);
  const base = { guid: newGuid(), createdAt: at, updatedAt: at, metadata: emptyMetadata(), type: input.type };
  if (input.spaceGuid !== undefined) {
    const found = await spaceContext(store, input.spaceGuid);
    if (!found || !perms.canReadSpace(found)) throw unprocessable(INVALID_SPACE);
    if (!perms.canAssignSpaceRole(found)) throw notAuthorized();
    const user = await resolveUser(ctx, input.user, true);
    const role = await parentGone(INVALID_SPACE, () =>
      store.createRole({ ...base, userGuid: user.guid, spaceGuid: found.space.guid, orgGuid: found.org.guid }),
    );
    await record(ctx, {
      type: roleEventType(role.type, 'add'),
      target: { guid: user.guid, type: 'user', name: user.username },
      spaceGuid: found.space.guid,
      orgGuid: found.org.guid,
      data: { request: requestOf(input) },
    });
    return role;
  }
  const orgGuid = input.orgGuid ?? '';
  const org = await store.getOrg(orgGuid);
  if (!org || !perms.canReadOrg(org.guid)) throw unprocessable(INVALID_ORGANIZATION);
  if (!perms.canAssignOrgRole(org.guid, org.suspended)) throw notAuthorized();
  const user = await resolveUser(ctx, input.user, false);
  const role = await parentGone(INVALID_ORGANIZATION, () =>
    store.createRole({ ...base, userGuid: user.guid, orgGuid: org.guid }),
  );
  await record(ctx, {
    type: roleEventType(role.type, 'add'),
    target: { guid: user.guid, type: 'user', name: user.username },
    orgGuid: org.guid,
    data: { request: requestOf(input) },
  });
  return role;
}

/** The user a role names, with CC's texts when there is none (or several by that username). */
async function resolveUser(ctx: ActionContext, who: RoleCreateInput['user'], spaceRole: boolean): Promise<User> {
  const { store } = ctx;
  if ('guid' in who) {
    const user = await store.getUser(who.guid);
    if (user) return user;
    throw unprocessable(
      spaceRole ? SPACE_ROLE_NEEDS_ORG_ROLE : 'Invalid user. Ensure that the user exists and you have access to it.',
    );
  }
  if (who.origin !== undefined) {
    const user = await store.findUser(who.username, who.origin);
    if (user) return user;
    throw unprocessable(
      spaceRole
        ? SPACE_ROLE_NEEDS_ORG_ROLE
        : `No user exists with the username '${who.username}' and origin '${who.origin}'.`,
    );
  }
  const matches = await store.listUsers(
    { page: 1, perPage: 50, orderBy: 'created_at' },
    { usernames: [who.username] },
    { kind: 'all' },
  );
  const origins = [...new Set(matches.items.map((u) => u.origin))].sort();
  if (origins.length > 1) {
    throw unprocessable(
      `Ambiguous user. User with username '${who.username}' exists in the following origins: ` +
        `${origins.join(', ')}. Specify an origin to disambiguate.`,
    );
  }
  const user = matches.items[0];
  if (user) return user;
  throw unprocessable(spaceRole ? SPACE_ROLE_NEEDS_ORG_ROLE : `No user exists with the username '${who.username}'.`);
}

function requestOf(input: RoleCreateInput): Record<string, unknown> {
  return {
    type: input.type,
    ...(input.spaceGuid !== undefined ? { space_guid: input.spaceGuid } : { organization_guid: input.orgGuid }),
    ...('guid' in input.user ? { user_guid: input.user.guid } : { username: input.user.username }),
  };
}

/** Takes a role away, as a job: whoever may give it. */
export async function deleteRole(ctx: DeleteContext, guid: string): Promise<Job> {
  const { perms, store } = ctx;
  const role = await getRole(ctx, guid);
  let spaceGuid: string | undefined;
  if (role.spaceGuid !== undefined) {
    const found = await spaceContext(store, role.spaceGuid);
    if (!found) throw notFound('Role');
    if (!perms.canAssignSpaceRole(found)) throw notAuthorized();
    spaceGuid = found.space.guid;
  } else {
    const org = role.orgGuid === undefined ? undefined : await store.getOrg(role.orgGuid);
    if (!org || !perms.canAssignOrgRole(org.guid, org.suspended)) throw notAuthorized();
    if (role.type === 'organization_user') {
      const spaceRoles = await store.listRoles(
        { page: 1, perPage: 1, orderBy: 'created_at' },
        { userGuids: [role.userGuid], organizationGuids: [org.guid], types: [...SPACE_ROLE_TYPES] },
        { kind: 'all' },
      );
      if (spaceRoles.total > 0)
        throw unprocessable(
          'Cannot delete organization_user role while user has roles in spaces in that organization.',
        );
    }
  }
  const user = await store.getUser(role.userGuid);
  const job = await ctx.jobs.start('role.delete', role.guid);
  await record(ctx, {
    type: roleEventType(role.type, 'remove'),
    target: { guid: role.userGuid, type: 'user', name: user?.username ?? '' },
    spaceGuid,
    orgGuid: role.orgGuid,
    data: { request: { role_guid: role.guid, type: role.type } },
  });
  return job;
}
