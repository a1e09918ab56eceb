import { SlipwayError } from '../../errors.js';
import { apiStatus, isUnprocessable } from './api-errors.js';
import type { CfClient } from './cf-client.js';

/** CF's 422 when a role is already there: the cf CLI's RoleAlreadyExistsError. */
export const ROLE_EXISTS = /User '.*' already has '.*' role.*/;

/** The role names of the cf CLI's set-org-role (case-sensitive, as there) and their v3 types. */
export const ORG_ROLES: Record<string, string> = {
  OrgManager: 'organization_manager',
  BillingManager: 'organization_billing_manager',
  OrgAuditor: 'organization_auditor',
};

/** The role names of set-space-role (any case, as there) and their v3 types. */
export const SPACE_ROLES: Record<string, string> = {
  spacemanager: 'space_manager',
  spacedeveloper: 'space_developer',
  spaceauditor: 'space_auditor',
  spacesupporter: 'space_supporter',
};

export function orgRoleType(role: string): string {
  const type = ORG_ROLES[role];
  if (!type)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `Incorrect Usage: ROLE must be "OrgManager", "BillingManager" or "OrgAuditor" (not "${role}")`,
    );
  return type;
}

export function spaceRoleType(role: string): string {
  const type = SPACE_ROLES[role.toLowerCase()];
  if (!type)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `Incorrect Usage: ROLE must be "SpaceManager", "SpaceDeveloper", "SpaceAuditor" or "SpaceSupporter" (not "${role}")`,
    );
  return type;
}

/** Who a role is for: a user by name (and origin), or a client by guid. */
export interface RoleHolder {
  username: string;
  origin?: string;
  isClient?: boolean;
}

function userData(who: RoleHolder): Record<string, string> {
  if (who.isClient) return { guid: who.username };
  return { username: who.username, ...(who.origin ? { origin: who.origin } : {}) };
}

/** POST /v3/roles for an org role. */
export async function createOrgRole(client: CfClient, type: string, orgGuid: string, who: RoleHolder): Promise<void> {
  await client.post('/v3/roles', {
    type,
    relationships: { organization: { data: { guid: orgGuid } }, user: { data: userData(who) } },
  });
}

/**
 * A space role as the cf CLI gives one: organization_user first (already there, or
 * not allowed to say: no matter), then the space role (any error stops).
 */
export async function createSpaceRole(
  client: CfClient,
  type: string,
  orgGuid: string,
  spaceGuid: string,
  who: RoleHolder,
): Promise<void> {
  try {
    await createOrgRole(client, 'organization_user', orgGuid, who);
  } catch (err) {
    if (!isUnprocessable(err, ROLE_EXISTS) && apiStatus(err) !== 403) throw err;
  }
  await client.post('/v3/roles', {
    type,
    relationships: { space: { data: { guid: spaceGuid } }, user: { data: userData(who) } },
  });
}
