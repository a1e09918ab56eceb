import { listRoles } from '../actions/roles.js';
import type { ActionContext } from '../actions/context.js';
import { RoleListMessage } from '../messages/roles.js';
import type { User } from '../model.js';
import type { RoleType } from '../roles.js';

/**
 * The members of an org or a space and their roles, for the settings pages: the v3
 * roles list (the same action and visibility `GET /v3/roles` uses), grouped by user.
 */

export interface Member {
  user: Pick<User, 'guid' | 'username'>;
  roles: { guid: string; type: RoleType }[];
}

export async function membersOf(
  ctx: ActionContext,
  where: { orgGuid: string } | { spaceGuid: string },
): Promise<Member[]> {
  const params = new URLSearchParams({ per_page: '5000' });
  if ('orgGuid' in where) params.set('organization_guids', where.orgGuid);
  else params.set('space_guids', where.spaceGuid);
  const roles = (await listRoles(ctx, RoleListMessage.parse(params))).items;
  const byUser = new Map<string, Member>();
  for (const role of roles) {
    let m = byUser.get(role.userGuid);
    if (!m) {
      const user = await ctx.store.getUser(role.userGuid);
      m = { user: { guid: role.userGuid, username: user?.username ?? role.userGuid }, roles: [] };
      byUser.set(role.userGuid, m);
    }
    m.roles.push({ guid: role.guid, type: role.type });
  }
  return [...byUser.values()].sort((a, b) => a.user.username.localeCompare(b.user.username));
}
