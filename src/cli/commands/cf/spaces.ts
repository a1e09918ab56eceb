import { Command } from 'commander';
import { isSlipwayError } from '../../../errors.js';
import { cfAction } from '../../cf/action.js';
import { isUnprocessable } from '../../cf/api-errors.js';
import type { Named } from '../../cf/config.js';
import { type CfSpace, orgByName, spaceByName } from '../../cf/lookups.js';
import { table } from '../../cf/output.js';
import { confirm } from '../../cf/prompt.js';
import { createSpaceRole } from '../../cf/roles.js';
import type { CfSession } from '../../cf/session.js';

export function spacesCommand(): Command {
  return new Command('spaces')
    .description('List all spaces in the targeted org (those you may see)')
    .addHelpText(
      'after',
      `
Example:
  $ slipway cf target -o acme && slipway cf spaces`,
    )
    .action(
      cfAction(async (s: CfSession) => {
        const user = await s.check({ org: true });
        const org = s.org();
        s.say(`Getting spaces in org ${org.name} as ${user.name}...`);
        s.say();
        const { resources } = await s.client.list<CfSpace>('/v3/spaces', {
          order_by: 'name',
          organization_guids: [org.guid],
        });
        s.done({ org, spaces: resources.map(space) }, () =>
          resources.length === 0
            ? 'No spaces found.'
            : table(
                ['name'],
                resources.map((sp) => [sp.name]),
              ),
        );
      }),
    );
}

export function createSpaceCommand(): Command {
  return new Command('create-space')
    .description('Create a space, and make yourself its SpaceManager and SpaceDeveloper')
    .argument('<SPACE>', 'the name of the new space')
    .option('-o <ORG>', 'Organization (default: the targeted org)')
    .addHelpText(
      'after',
      `
A space that already exists in the org is not an error: it is said, and OK.

Examples:
  $ slipway cf create-space dev
  $ slipway cf create-space staging -o acme`,
    )
    .action(
      cfAction(async (s: CfSession, name: string, flags: { o?: string }) => {
        await s.check({ org: flags.o === undefined });
        const org: Named = flags.o === undefined ? s.org() : await orgByName(s.client, flags.o);
        const orgName = flags.o ?? org.name;
        const user = s.user();
        s.say(`Creating space ${name} in org ${orgName} as ${user.name}...`);
        let created: CfSpace;
        try {
          created = await s.client.post<CfSpace>('/v3/spaces', {
            name,
            relationships: { organization: { data: { guid: org.guid } } },
          });
        } catch (err) {
          if (!isUnprocessable(err, /Name must be unique per organization/)) throw err;
          s.say(`Space '${name}' already exists.`);
          s.ok();
          s.done({ org: named(org), space: { name }, created: false });
          return;
        }
        s.ok();
        const roles: string[] = [];
        for (const [role, type] of [
          ['SpaceManager', 'space_manager'],
          ['SpaceDeveloper', 'space_developer'],
        ] as const) {
          s.say(`Assigning role ${role} to user ${user.name} in org ${orgName} / space ${name} as ${user.name}...`);
          await createSpaceRole(s.client, type, org.guid, created.guid, {
            username: user.name,
            origin: user.origin,
            isClient: user.isClient,
          });
          roles.push(type);
          s.ok();
        }
        s.say(`TIP: Use 'slipway cf target -o "${orgName}" -s "${name}"' to target new space`);
        s.done({ org: named(org), space: space(created), created: true, roles });
      }),
    );
}

export function deleteSpaceCommand(): Command {
  return new Command('delete-space')
    .description('Delete a space, with its apps (and their images)')
    .argument('<SPACE>', 'the space')
    .option('-o <ORG>', 'Delete space within specified org (default: the targeted org)')
    .option('-f', 'Force deletion without confirmation')
    .addHelpText(
      'after',
      `
The server deletes it as a job; the command waits for the job to finish. A space
that does not exist is a warning, not an error.

Examples:
  $ slipway cf delete-space dev -f
  $ slipway cf delete-space staging -o acme -f`,
    )
    .action(
      cfAction(async (s: CfSession, name: string, flags: { o?: string; f?: boolean }) => {
        const user = await s.check({ org: flags.o === undefined });
        const orgName = flags.o ?? s.org().name;
        if (!flags.f) {
          s.say('This action impacts all resources scoped to this space, including apps and their images.');
          if (!(await confirm(`Really delete the space ${name}?`))) {
            s.say(`'${name}' has not been deleted.`);
            s.done({ org: { name: orgName }, space: { name }, deleted: false });
            return;
          }
        }
        s.say(`Deleting space ${name} in org ${orgName} as ${user.name}...`);
        const org = await orgByName(s.client, orgName);
        let found: CfSpace | undefined;
        try {
          found = await spaceByName(s.client, name, org.guid);
        } catch (err) {
          if (!isSlipwayError(err, 'NOT_FOUND')) throw err;
          s.warn(`Space '${name}' does not exist.`);
        }
        if (found) await s.client.delete(`/v3/spaces/${found.guid}`);
        s.ok();
        if (s.config.org?.guid === org.guid && s.config.space?.name === name) {
          delete s.config.space;
          await s.save();
          s.say("TIP: No space targeted, use 'slipway cf target -s' to target a space.");
        }
        s.done({ org: named(org), space: found ? space(found) : { name }, deleted: found !== undefined });
      }),
    );
}

function named(o: Named): Named {
  return { guid: o.guid, name: o.name };
}

function space(sp: CfSpace): Named {
  return { guid: sp.guid, name: sp.name };
}
