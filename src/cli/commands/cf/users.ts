import { Command } from 'commander';
import { SlipwayError, isSlipwayError } from '../../../errors.js';
import { cfAction } from '../../cf/action.js';
import type { CfClient } from '../../cf/cf-client.js';
import { type CfRole, type CfUser, displayName, orgByName, spaceByName } from '../../cf/lookups.js';
import { readStdin } from '../../cf/prompt.js';
import type { CfSession } from '../../cf/session.js';

interface ScimUser {
  id: string;
  userName?: string;
  origin?: string;
}

export function createUserCommand(): Command {
  return new Command('create-user')
    .description('Create a new user (in UAA, then in the Cloud Controller)')
    .argument('<USERNAME>', 'the user name')
    .argument('[PASSWORD]', 'the password (prefer --password-stdin: arguments show in ps)')
    .option('--password-stdin', 'read the password from standard input')
    .addHelpText(
      'after',
      `
Needs an admin. A user who already exists is a warning, not an error.

Examples:
  $ slipway cf create-user alice "$PASSWORD"
  $ printf %s "$PASSWORD" | slipway cf create-user alice --password-stdin`,
    )
    .action(
      cfAction(
        async (s: CfSession, username: string, given: string | undefined, flags: { passwordStdin?: boolean }) => {
          if (given === undefined && !flags.passwordStdin)
            throw new SlipwayError(
              'INVALID_ARGUMENT',
              'Incorrect Usage: the required argument `PASSWORD` was not provided (or use --password-stdin)',
            );
          await s.check();
          const existing = await findUaaUser(s.client, username);
          if (existing) {
            s.say(`Creating user ${username}...`);
            s.warn(`User '${username}' already exists.`);
            s.ok();
            s.done({ user: { guid: existing.id, username, origin: existing.origin ?? 'uaa' }, created: false });
            return;
          }
          const password = flags.passwordStdin ? (await readStdin()).replace(/\r?\n$/, '') : given!;
          if (!password) throw new SlipwayError('INVALID_ARGUMENT', 'create-user needs a password that is not empty');
          s.say(`Creating user ${username}...`);
          let created: ScimUser;
          try {
            created = await s.client.uaa<ScimUser>('POST', 'Users', {
              userName: username,
              password,
              origin: '',
              name: { familyName: username, givenName: username },
              emails: [{ value: username, primary: true }],
            });
          } catch (err) {
            if (!isSlipwayError(err, 'CONFLICT')) throw err;
            s.warn(`User '${username}' already exists.`);
            s.ok();
            s.done({ user: { username }, created: false });
            return;
          }
          const user = await s.client.post<CfUser>('/v3/users', { guid: created.id });
          s.ok();
          s.say("TIP: Assign roles with 'slipway cf set-org-role' and 'slipway cf set-space-role'.");
          s.done({ user: userJson(user), created: true });
        },
      ),
    );
}

/** UAA's `GET /Users?filter=userName eq "U" and origin eq "uaa"`: exactly one user, or none (errors say nothing, as the cf CLI). */
async function findUaaUser(client: CfClient, username: string): Promise<ScimUser | undefined> {
  const filter = `userName eq ${JSON.stringify(username)} and origin eq "uaa"`;
  try {
    const found = await client.uaa<{ resources?: ScimUser[] }>(
      'GET',
      `Users?${new URLSearchParams({ filter }).toString()}`,
    );
    return found.resources?.length === 1 ? found.resources[0] : undefined;
  } catch {
    return undefined;
  }
}

const ORG_GROUPS: [type: string, label: string][] = [
  ['organization_manager', 'ORG MANAGER'],
  ['organization_billing_manager', 'BILLING MANAGER'],
  ['organization_auditor', 'ORG AUDITOR'],
];

const SPACE_GROUPS: [type: string, label: string][] = [
  ['space_manager', 'SPACE MANAGER'],
  ['space_developer', 'SPACE DEVELOPER'],
  ['space_supporter', 'SPACE SUPPORTER'],
  ['space_auditor', 'SPACE AUDITOR'],
];

export function orgUsersCommand(): Command {
  return new Command('org-users')
    .description('Show org users by role')
    .argument('<ORG>', 'the org')
    .option('-a', 'List all users in the org, including Org Users')
    .addHelpText(
      'after',
      `
Examples:
  $ slipway cf org-users acme
  $ slipway cf org-users acme -a`,
    )
    .action(
      cfAction(async (s: CfSession, orgName: string, flags: { a?: boolean }) => {
        const me = await s.check();
        s.say(`Getting users in org ${orgName} as ${me.name}...`);
        s.say();
        const org = await orgByName(s.client, orgName);
        const roles = await rolesWithUsers(s.client, { organization_guids: [org.guid] });
        s.done({ org: { guid: org.guid, name: org.name }, roles: roles.map(roleJson) }, () => {
          if (!flags.a) return groups(roles, ORG_GROUPS);
          const seen = new Set<string>();
          const all: RoleWithUser[] = [];
          for (const type of ['organization_user', ...ORG_GROUPS.map(([t]) => t)])
            for (const r of roles)
              if (r.role.type === type && !seen.has(r.userGuid)) {
                seen.add(r.userGuid);
                all.push({ ...r, role: { ...r.role, type: 'all' } });
              }
          return groups(all, [['all', 'ORG USERS']]);
        });
      }),
    );
}

export function spaceUsersCommand(): Command {
  return new Command('space-users')
    .description('Show space users by role')
    .argument('<ORG>', 'the org')
    .argument('<SPACE>', 'the space')
    .addHelpText(
      'after',
      `
Example:
  $ slipway cf space-users acme dev`,
    )
    .action(
      cfAction(async (s: CfSession, orgName: string, spaceName: string) => {
        const me = await s.check();
        s.say(`Getting users in org ${orgName} / space ${spaceName} as ${me.name}...`);
        s.say();
        const org = await orgByName(s.client, orgName);
        const space = await spaceByName(s.client, spaceName, org.guid);
        const roles = await rolesWithUsers(s.client, { space_guids: [space.guid] });
        s.done(
          {
            org: { guid: org.guid, name: org.name },
            space: { guid: space.guid, name: space.name },
            roles: roles.map(roleJson),
          },
          () => groups(roles, SPACE_GROUPS),
        );
      }),
    );
}

interface RoleWithUser {
  role: CfRole;
  userGuid: string;
  user: CfUser | undefined;
}

/** `GET /v3/roles?include=user&...`, every page, each role with its included user. */
async function rolesWithUsers(client: CfClient, query: Record<string, string[]>): Promise<RoleWithUser[]> {
  const { resources, included } = await client.list<CfRole>('/v3/roles', { include: 'user', ...query });
  const users = new Map(((included.users ?? []) as CfUser[]).map((u) => [u.guid, u]));
  return resources.map((role) => {
    const userGuid = role.relationships?.user?.data?.guid ?? '';
    return { role, userGuid, user: users.get(userGuid) };
  });
}

/** The cf CLI's role groups: a header, then "  name (origin)" sorted, or "  No X found". */
function groups(roles: RoleWithUser[], labels: [string, string][]): string {
  const out: string[] = [];
  for (const [type, label] of labels) {
    const users = roles
      .filter((r) => r.role.type === type)
      .map((r) => ({ name: displayName(r.user), origin: r.user?.origin || 'client' }))
      .sort((a, b) =>
        a.name === b.name
          ? a.origin === 'uaa'
            ? -1
            : b.origin === 'uaa'
              ? 1
              : a.origin.localeCompare(b.origin)
          : a.name < b.name
            ? -1
            : 1,
      );
    out.push(label);
    out.push(...(users.length > 0 ? users.map((u) => `  ${u.name} (${u.origin})`) : [`  No ${label} found`]));
    out.push('');
  }
  return out.join('\n');
}

function roleJson(r: RoleWithUser): { guid: string; type: string; user: ReturnType<typeof userJson> } {
  return { guid: r.role.guid, type: r.role.type, user: userJson(r.user ?? { guid: r.userGuid }) };
}

function userJson(u: CfUser): { guid: string; username: string | null; origin: string | null } {
  return { guid: u.guid, username: u.username ?? null, origin: u.origin ?? null };
}
