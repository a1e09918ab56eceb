import { Command } from 'commander';
import { isSlipwayError } from '../../../errors.js';
import { cfAction } from '../../cf/action.js';
import { cfErrorOf, isUnprocessable } from '../../cf/api-errors.js';
import { type CfOrg, orgByName } from '../../cf/lookups.js';
import { table } from '../../cf/output.js';
import { confirm } from '../../cf/prompt.js';
import type { CfSession } from '../../cf/session.js';

export function orgsCommand(): Command {
  return new Command('orgs')
    .description('List all orgs (those you have a role in, or all of them as an admin)')
    .addHelpText(
      'after',
      `
Examples:
  $ slipway cf orgs
  $ slipway cf orgs --json`,
    )
    .action(
      cfAction(async (s: CfSession) => {
        const user = await s.check();
        s.say(`Getting orgs as ${user.name}...`);
        s.say();
        const { resources } = await s.client.list<CfOrg>('/v3/organizations', { order_by: 'name' });
        s.done({ orgs: resources.map(org) }, () =>
          resources.length === 0
            ? 'No orgs found.'
            : table(
                ['name'],
                resources.map((o) => [o.name]),
              ),
        );
      }),
    );
}

export function createOrgCommand(): Command {
  return new Command('create-org')
    .description('Create an org')
    .argument('<ORG>', 'the name of the new org')
    .addHelpText(
      'after',
      `
An org that already exists is not an error: its name is printed, and OK.

Example:
  $ slipway cf create-org acme`,
    )
    .action(
      cfAction(async (s: CfSession, name: string) => {
        const user = await s.check();
        s.say(`Creating org ${name} as ${user.name}...`);
        let created: CfOrg | undefined;
        try {
          created = await s.client.post<CfOrg>('/v3/organizations', { name, suspended: false });
        } catch (err) {
          if (!isUnprocessable(err, /Organization '.*' already exists\./)) throw err;
          s.say(cfErrorOf(err)!.detail);
          s.ok();
          const existing = await orgByName(s.client, name).catch(() => undefined);
          s.done({ org: existing ? org(existing) : { name }, created: false });
          return;
        }
        s.ok();
        s.say(`TIP: Use 'slipway cf target -o "${name}"' to target new org`);
        s.done({ org: org(created), created: true });
      }),
    );
}

export function deleteOrgCommand(): Command {
  return new Command('delete-org')
    .description('Delete an org, with its spaces and apps (and their images)')
    .argument('<ORG>', 'the org')
    .option('-f', 'Force deletion without confirmation')
    .addHelpText(
      'after',
      `
The server deletes it as a job; the command waits for the job to finish. An org
that does not exist is a warning, not an error.

Example:
  $ slipway cf delete-org acme -f`,
    )
    .action(
      cfAction(async (s: CfSession, name: string, flags: { f?: boolean }) => {
        const user = await s.check();
        if (
          !flags.f &&
          !(await confirm(`Really delete the org ${name}, including its spaces, apps and their images?`))
        ) {
          s.say(`Organization '${name}' has not been deleted.`);
          s.done({ org: { name }, deleted: false });
          return;
        }
        s.say(`Deleting org ${name} as ${user.name}...`);
        let found: CfOrg | undefined;
        try {
          found = await orgByName(s.client, name);
        } catch (err) {
          if (!isSlipwayError(err, 'NOT_FOUND')) throw err;
          s.warn(`Org '${name}' does not exist.`);
        }
        if (found) await s.client.delete(`/v3/organizations/${found.guid}`);
        s.ok();
        if (s.config.org && (found ? s.config.org.guid === found.guid : s.config.org.name === name)) {
          s.say("TIP: No org or space targeted, use 'slipway cf target -o ORG -s SPACE' to target an org and space.");
          delete s.config.org;
          delete s.config.space;
          await s.save();
        }
        s.done({ org: found ? org(found) : { name }, deleted: found !== undefined });
      }),
    );
}

function org(o: CfOrg): { guid: string; name: string; suspended: boolean } {
  return { guid: o.guid, name: o.name, suspended: o.suspended === true };
}
