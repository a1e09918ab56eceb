import { z } from 'zod';
import { isOrgRole, ROLE_TYPES, type RoleType } from '../roles.js';
import { toOne } from './common.js';
import { csv, include, listMessage, showMessage } from './list-query.js';

/** CC's RolesListMessage, RoleShowMessage and RoleCreateMessage (invalid queries are 422 here, as CC answers). */

export const ROLE_INCLUDES = ['user', 'organization', 'space'] as const;

export const RoleListMessage = listMessage({
  params: {
    guids: csv('Role guids'),
    organization_guids: csv('Guids of the organizations of org roles'),
    space_guids: csv('Guids of the spaces of space roles'),
    user_guids: csv('Guids of the users'),
    types: csv(`Role types: ${ROLE_TYPES.join(', ')}`),
    include: include(ROLE_INCLUDES),
  },
  orderBy: ['created_at', 'updated_at'],
  impliedOrderBy: 'created_at',
  invalid: 'unprocessable',
});

export const RoleShowMessage = showMessage({ include: include(ROLE_INCLUDES) }, 'unprocessable');

const userRef = z.strictObject(
  {
    data: z.strictObject({
      guid: z.string({ error: 'must be a string' }).optional(),
      username: z.string({ error: 'must be a string' }).optional(),
      origin: z.string({ error: 'must be a string' }).optional(),
    }),
  },
  { error: (iss) => (iss.input === undefined ? "can't be blank" : 'must be an object') },
);

export const RoleCreateMessage = z
  .strictObject({
    type: z.enum(ROLE_TYPES, {
      error: `must be one of the allowed types [${ROLE_TYPES.map((t) => JSON.stringify(t)).join(', ')}]`,
    }),
    relationships: z.strictObject(
      { user: userRef, organization: toOne().optional(), space: toOne().optional() },
      { error: (iss) => (iss.input === undefined ? "can't be blank" : 'must be an object') },
    ),
  })
  .superRefine((m, ctx) => {
    const { user, organization, space } = m.relationships;
    const issue = (message: string) => ctx.addIssue({ code: 'custom', message, path: ['relationships'] });
    const hasGuid = user.data.guid !== undefined;
    const hasName = user.data.username !== undefined;
    if (hasGuid && hasName) issue('Username cannot be specified when identifying user by guid');
    if (hasGuid && user.data.origin !== undefined)
      issue('User origin cannot be specified when identifying user by guid');
    if (!hasName && user.data.origin !== undefined)
      issue('User origin cannot be specified without specifying the username');
    if (!hasName && !hasGuid) issue('User must have a username or guid specified');
    if (!space && !organization) issue('must specify either a space or an organization.');
    if (space && organization) issue('cannot specify both an organization and a space.');
    if (space && isOrgRole(m.type)) issue(`Space cannot be provided with the organization role type: '${m.type}'.`);
    if (organization && !isOrgRole(m.type))
      issue(`Organization cannot be provided with the space role type: '${m.type}'.`);
  })
  .transform((m): RoleCreateInput => {
    const { user, organization, space } = m.relationships;
    const who: RoleCreateInput['user'] =
      user.data.guid !== undefined
        ? { guid: user.data.guid }
        : {
            username: user.data.username ?? '',
            ...(user.data.origin !== undefined ? { origin: user.data.origin } : {}),
          };
    return {
      type: m.type,
      user: who,
      ...(space ? { spaceGuid: space.data.guid } : {}),
      ...(organization ? { orgGuid: organization.data.guid } : {}),
    };
  })
  .meta({ title: 'RoleCreate' });

export interface RoleCreateInput {
  type: RoleType;
  user: { guid: string } | { username: string; origin?: string };
  orgGuid?: string;
  spaceGuid?: string;
}
