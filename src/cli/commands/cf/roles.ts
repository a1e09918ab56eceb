import { Command } from 'commander';
import { cfAction } from '../../cf/action.js';
import { isUnprocessable } from '../../cf/api-errors.js';
import { type CfRole, orgByName, spaceByName, userByName } from '../../cf/lookups.js';
import { ROLE_EXISTS, createOrgRole, createSpaceRole, orgRoleType, spaceRoleType } from '../../cf/roles.js';
import type { CfSession } from '../../cf/session.js';

const ORG_ROLE_HELP = 'OrgManager, BillingManager or OrgAuditor';
const SPACE_ROLE_HELP = 'SpaceManager, SpaceDeveloper, SpaceAuditor or SpaceSupporter';

export function setOrgRoleCommand(): Command {
  return new Command('set-org-role')
    .description('Assign an org role to a user')
    .argument('<USERNAME>', 'the user')
    .argument('<ORG>', 'the org')
    .argument('<ROLE>', ORG_ROLE_HELP)
    .addHelpText(
      'after',
      `
Roles:
  OrgManager       Invite and manage users, select and change plans, and set spending limits
  BillingManager   Create and manage the billing account and payment info
  OrgAuditor       Read-only access to org info and reports

A role the user already has is a warning, not an error.

Example:
  $ slipway cf set-org-role alice acme OrgManager`,
    )
    .action(
      cfAction(async (s: CfSession, username: string, orgName: string, role: string) => {
        const type = orgRoleType(role);
        const me = await s.check();
        s.say(`Assigning role ${role} to user ${username} in org ${orgName} as ${me.name}...`);
        const org = await orgByName(s.client, orgName);
        let created = true;
        try {
          await createOrgRole(s.client, type, org.guid, { username });
        } catch (err) {
          if (!isUnprocessable(err, ROLE_EXISTS)) throw err;
          created = false;
          s.warn(`User '${username}' already has role '${role}' in org '${orgName}'.`);
        }
        s.ok();
        s.done({ user: username, org: { guid: org.guid, name: org.name }, role: type, created });
      }),
    );
}

export function setSpaceRoleCommand(): Command {
  return new Command('set-space-role')
    .description('Assign a space role to a user (and the org role organization_user it needs)')
    .argument('<USERNAME>', 'the user')
    .argument('<ORG>', 'the org')
    .argument('<SPACE>', 'the space')
    .argument('<ROLE>', SPACE_ROLE_HELP)
    .addHelpText(
      'after',
      `
Roles:
  SpaceManager     Invite and manage users, and enable features for a given space
  SpaceDeveloper   Create and manage apps and services, and see logs and reports (push and pull images)
  SpaceAuditor     View logs, reports, and settings on this space (pull images)
  SpaceSupporter   Manage app lifecycle and service bindings (list images, no pull)

A role the user already has is a warning, not an error.

Example:
  $ slipway cf set-space-role alice acme dev SpaceDeveloper`,
    )
    .action(
      cfAction(async (s: CfSession, username: string, orgName: string, spaceName: string, role: string) => {
        const type = spaceRoleType(role);
        const me = await s.check();
        s.say(`Assigning role ${role} to user ${username} in org ${orgName} / space ${spaceName} as ${me.name}...`);
        const org = await orgByName(s.client, orgName);
        const space = await spaceByName(s.client, spaceName, org.guid);
        let created = true;
        try {
          await createSpaceRole(s.client, type, org.guid, space.guid, { username });
        } catch (err) {
          if (!isUnprocessable(err, ROLE_EXISTS)) throw err;
          created = false;
          s.warn(`User '${username}' already has role '${role}' in org '${orgName}' / space '${spaceName}'.`);
        }
        s.ok();
        s.done({
          user: username,
          org: { guid: org.guid, name: org.name },
          space: { guid: space.guid, name: space.name },
          role: type,
          created,
        });
      }),
    );
}

export function unsetOrgRoleCommand(): Command {
  return new Command('unset-org-role')
    .description('Remove an org role from a user')
    .argument('<USERNAME>', 'the user')
    .argument('<ORG>', 'the org')
    .argument('<ROLE>', ORG_ROLE_HELP)
    .addHelpText(
      'after',
      `
A role the user does not have is nothing to do: OK.

Example:
  $ slipway cf unset-org-role alice acme OrgManager`,
    )
    .action(
      cfAction(async (s: CfSession, username: string, orgName: string, role: string) => {
        const type = orgRoleType(role);
        const me = await s.check();
        s.say(`Removing role ${role} from user ${username} in org ${orgName} as ${me.name}...`);
        const org = await orgByName(s.client, orgName);
        const user = await userByName(s.client, username);
        const found = await s.client.first<CfRole>('/v3/roles', {
          organization_guids: [org.guid],
          types: [type],
          user_guids: [user.guid],
        });
        if (found) await s.client.delete(`/v3/roles/${found.guid}`);
        s.ok();
        s.done({ user: username, org: { guid: org.guid, name: org.name }, role: type, removed: found !== undefined });
      }),
    );
}

export function unsetSpaceRoleCommand(): Command {
  return new Command('unset-space-role')
    .description('Remove a space role from a user')
    .argument('<USERNAME>', 'the user')
    .argument('<ORG>', 'the org')
    .argument('<SPACE>', 'the space')
    .argument('<ROLE>', SPACE_ROLE_HELP)
    .addHelpText(
      'after',
      `
A role the user does not have is nothing to do: OK.

Example:
  $ slipway cf unset-space-role alice acme dev SpaceDeveloper`,
    )
    .action(
      cfAction(async (s: CfSession, username: string, orgName: string, spaceName: string, role: string) => {
        const type = spaceRoleType(role);
        const me = await s.check();
        s.say(`Removing role ${role} from user ${username} in org ${orgName} / space ${spaceName} as ${me.name}...`);
        const org = await orgByName(s.client, orgName);
        const space = await spaceByName(s.client, spaceName, org.guid);
        const user = await userByName(s.client, username);
        const found = await s.client.first<CfRole>('/v3/roles', {
          space_guids: [space.guid],
          types: [type],
          user_guids: [user.guid],
        });
        if (found) await s.client.delete(`/v3/roles/${found.guid}`);
        s.ok();
        s.done({
          user: username,
          org: { guid: org.guid, name: org.name },
          space: { guid: space.guid, name: space.name },
          role: type,
          removed: found !== undefined,
        });
      }),
    );
}
