import { Command } from 'commander';
import { SlipwayError } from '../../../errors.js';
import { cfAction } from '../../cf/action.js';
import { apiStatus, cfErrorOf, isUnknownEndpoint } from '../../cf/api-errors.js';
import { createDeployment, pollDeployment } from '../../cf/app-start.js';
import { appSummary, type CfDeployment, type CfDroplet, friendlyDate, renderSummary } from '../../cf/app-summary.js';
import { appByName } from '../../cf/lookups.js';
import { table } from '../../cf/output.js';
import { confirm } from '../../cf/prompt.js';
import type { CfSession } from '../../cf/session.js';
import { positiveInt } from '../../cf/units.js';

/**
 * What an app went through: its builds, droplets, deployments and revisions, and the
 * commands that act on them (`cancel-deployment`, `rollback`), as the cf CLI lists
 * and words them.
 */

interface CfBuild {
  guid: string;
  state: string;
  created_at: string;
  error?: string | null;
  package?: { guid: string };
  droplet?: { guid: string } | null;
}

interface CfRevision {
  guid: string;
  version: number;
  description: string;
  deployable: boolean;
  created_at: string;
  droplet?: { guid: string };
}

async function appOf(s: CfSession, name: string, what: string) {
  const user = await s.check({ org: true, space: true });
  const org = s.org();
  const space = s.space();
  s.say(
    `Getting ${what} ${what === 'revisions' ? 'for' : 'of'} app ${name} in org ${org.name} / space ${space.name} as ${user.name}...`,
  );
  s.say();
  return appByName(s.client, name, space.guid);
}

export function buildsCommand(): Command {
  return new Command('builds')
    .description("List an app's builds (newest first): state, package, droplet, error")
    .argument('<APP>', 'the app')
    .addHelpText('after', '\nExample:\n  $ slipway cf builds web')
    .action(
      cfAction(async (s: CfSession, name: string) => {
        const app = await appOf(s, name, 'builds');
        const { resources } = await s.client.list<CfBuild>(`/v3/apps/${app.guid}/builds`, { order_by: '-created_at' });
        const builds = resources.map((b) => ({
          guid: b.guid,
          state: b.state,
          created_at: b.created_at,
          package: b.package?.guid ?? null,
          droplet: b.droplet?.guid ?? null,
          error: b.error ?? null,
        }));
        s.done({ app: { guid: app.guid, name: app.name }, builds }, () =>
          builds.length === 0
            ? 'No builds found'
            : table(
                ['guid', 'state', 'created', 'droplet', 'error'],
                builds.map((b) => [
                  b.guid,
                  b.state.toLowerCase(),
                  friendlyDate(b.created_at),
                  b.droplet ?? '',
                  b.error ?? '',
                ]),
              ),
        );
      }),
    );
}

export function dropletsCommand(): Command {
  return new Command('droplets')
    .description("List an app's droplets (newest first); the current one is marked")
    .argument('<APP>', 'the app')
    .addHelpText('after', '\nExample:\n  $ slipway cf droplets web')
    .action(
      cfAction(async (s: CfSession, name: string) => {
        const app = await appOf(s, name, 'droplets');
        const { resources } = await s.client.list<CfDroplet>(`/v3/apps/${app.guid}/droplets`, {
          order_by: '-created_at',
        });
        let current: string | undefined;
        try {
          current = (
            await s.client.get<{ data?: { guid?: string } | null }>(
              `/v3/apps/${app.guid}/relationships/current_droplet`,
            )
          ).data?.guid;
        } catch (err) {
          if (apiStatus(err) !== 404) throw err;
        }
        const droplets = resources.map((d) => ({
          guid: d.guid,
          state: d.state,
          created_at: d.created_at,
          stack: d.stack ?? null,
          digest: d.checksum?.value ? `sha256:${d.checksum.value}` : null,
          current: d.guid === current,
        }));
        s.done({ app: { guid: app.guid, name: app.name }, droplets }, () =>
          droplets.length === 0
            ? 'No droplets found'
            : table(
                ['guid', 'state', 'created'],
                droplets.map((d) => [
                  d.current ? `${d.guid} (current)` : d.guid,
                  d.state.toLowerCase(),
                  friendlyDate(d.created_at),
                ]),
              ),
        );
      }),
    );
}

export function deploymentsCommand(): Command {
  return new Command('deployments')
    .description("List an app's deployments (newest first): status, strategy, droplet, revision")
    .argument('<APP>', 'the app')
    .addHelpText('after', '\nExample:\n  $ slipway cf deployments web')
    .action(
      cfAction(async (s: CfSession, name: string) => {
        const app = await appOf(s, name, 'deployments');
        const { resources } = await s.client.list<CfDeployment>('/v3/deployments', {
          app_guids: [app.guid],
          order_by: '-created_at',
        });
        const deployments = resources.map((d) => ({
          guid: d.guid,
          status: d.status.value,
          reason: d.status.reason,
          strategy: d.strategy ?? 'rolling',
          droplet: d.droplet?.guid ?? null,
          revision: d.revision?.version ?? null,
          created_at: d.created_at ?? null,
        }));
        s.done({ app: { guid: app.guid, name: app.name }, deployments }, () =>
          deployments.length === 0
            ? 'No deployments found'
            : table(
                ['guid', 'status', 'reason', 'strategy', 'revision', 'created'],
                deployments.map((d) => [
                  d.guid,
                  d.status.toLowerCase(),
                  d.reason.toLowerCase(),
                  d.strategy,
                  d.revision === null ? '' : String(d.revision),
                  d.created_at ? friendlyDate(d.created_at) : '',
                ]),
              ),
        );
      }),
    );
}

export function cancelDeploymentCommand(): Command {
  return new Command('cancel-deployment')
    .description("Cancel the app's active deployment: the previous droplet comes back")
    .argument('<APP>', 'the app')
    .addHelpText('after', '\nExample:\n  $ slipway cf cancel-deployment web')
    .action(
      cfAction(async (s: CfSession, name: string) => {
        const user = await s.check({ org: true, space: true });
        const org = s.org();
        const space = s.space();
        s.say(`Canceling deployment for app ${name} in org ${org.name} / space ${space.name} as ${user.name}...`);
        const app = await appByName(s.client, name, space.guid);
        const active = await s.client.first<CfDeployment>('/v3/deployments', {
          app_guids: [app.guid],
          order_by: '-created_at',
          status_values: ['ACTIVE'],
        });
        if (!active) throw new SlipwayError('NOT_FOUND', `No active deployment found for app.`);
        await s.client.post(`/v3/deployments/${active.guid}/actions/cancel`, {});
        s.ok();
        s.say();
        s.say(`TIP: Run 'slipway cf app ${name}' to view app status.`);
        s.done({ app: { guid: app.guid, name }, deployment: active.guid, canceled: true });
      }),
    );
}

async function revisionsOf(s: CfSession, appGuid: string): Promise<CfRevision[]> {
  return (await s.client.list<CfRevision>(`/v3/apps/${appGuid}/revisions`, { order_by: '-created_at' })).resources;
}

/** The revisions running now (`GET /v3/apps/:guid/revisions/deployed`); undefined when the server has no such list. */
async function deployedRevisions(s: CfSession, appGuid: string): Promise<Set<string> | undefined> {
  try {
    const { resources } = await s.client.list<CfRevision>(`/v3/apps/${appGuid}/revisions/deployed`);
    return new Set(resources.map((r) => r.guid));
  } catch (err) {
    if (isUnknownEndpoint(err) || apiStatus(err) === 404) return undefined;
    throw err;
  }
}

function revisionTable(revisions: CfRevision[], deployed: Set<string> | undefined): string {
  return table(
    ['revision', 'description', 'deployable', 'revision guid', 'created at'],
    revisions.map((r) => [
      deployed?.has(r.guid) ? `${r.version}(deployed)` : String(r.version),
      r.description,
      String(r.deployable),
      r.guid,
      r.created_at,
    ]),
  );
}

export function revisionsCommand(): Command {
  return new Command('revisions')
    .description("List an app's revisions (newest first): what each deployment ran")
    .argument('<APP>', 'the app')
    .addHelpText('after', '\nExample:\n  $ slipway cf revisions web')
    .action(
      cfAction(async (s: CfSession, name: string) => {
        const app = await appOf(s, name, 'revisions');
        const revisions = await revisionsOf(s, app.guid);
        const deployed = await deployedRevisions(s, app.guid);
        const json = revisions.map((r) => ({
          guid: r.guid,
          version: r.version,
          description: r.description,
          deployable: r.deployable,
          droplet: r.droplet?.guid ?? null,
          created_at: r.created_at,
          deployed: deployed ? deployed.has(r.guid) : null,
        }));
        s.done({ app: { guid: app.guid, name: app.name }, revisions: json }, () =>
          revisions.length === 0 ? 'No revisions found' : revisionTable(revisions, deployed),
        );
      }),
    );
}

interface RollbackFlags {
  version?: string;
  revision?: string;
  maxInFlight?: string;
  f?: boolean;
}

export function rollbackCommand(): Command {
  return new Command('rollback')
    .description('Roll an app back to an earlier revision (a rolling deployment); without --version, list them')
    .argument('<APP>', 'the app')
    .option('--version <N>', 'The revision to roll back to')
    .option('--revision <N>', 'The same as --version')
    .option('--max-in-flight <N>', 'Instances started at once (default 1)')
    .option('-f', 'Force the rollback without asking')
    .addHelpText(
      'after',
      `
Examples:
  $ slipway cf rollback web                 # the revisions to choose from
  $ slipway cf rollback web --version 2 -f  # or --revision 2`,
    )
    .action(
      cfAction(async (s: CfSession, name: string, flags: RollbackFlags) => {
        if (flags.version !== undefined && flags.revision !== undefined && flags.version !== flags.revision)
          throw new SlipwayError(
            'INVALID_ARGUMENT',
            `--version ${flags.version} and --revision ${flags.revision} differ: give one`,
          );
        flags.version ??= flags.revision;
        const user = await s.check({ org: true, space: true });
        const org = s.org();
        const space = s.space();
        const app = await appByName(s.client, name, space.guid);
        const revisions = await revisionsOf(s, app.guid);
        if (revisions.length === 0) throw new SlipwayError('NOT_FOUND', `No revisions for app ${name}`);
        if (flags.version === undefined) {
          s.say(`Getting revisions for app ${name} in org ${org.name} / space ${space.name} as ${user.name}...`);
          s.say();
          s.say(revisionTable(revisions, await deployedRevisions(s, app.guid)));
          s.say();
          throw new SlipwayError(
            'INVALID_ARGUMENT',
            `Incorrect Usage: the required flag '--version' was not specified: choose a revision above, e.g. 'slipway cf rollback ${name} --version ${revisions[Math.min(1, revisions.length - 1)]!.version}'`,
          );
        }
        const version = positiveInt(flags.version, '--version', 1);
        const revision = revisions.find((r) => r.version === version);
        if (!revision) throw new SlipwayError('NOT_FOUND', `Revision '${version}' not found`);
        if (!flags.f) {
          s.say(
            `Rolling '${name}' back to revision '${version}' will create a new revision. The new revision will use the settings from revision '${version}'.`,
          );
          if (!(await confirm('Are you sure you want to continue?'))) {
            s.say(`App '${name}' has not been rolled back to revision '${version}'.`);
            s.done({ app: { guid: app.guid, name }, rolled_back: false });
            return;
          }
        }
        s.say(
          `Rolling back to revision ${version} for app ${name} in org ${org.name} / space ${space.name} as ${user.name}...`,
        );
        s.say(`Creating deployment for app ${name}...`);
        s.say();
        let d: CfDeployment;
        try {
          d = await createDeployment(s.client, {
            appGuid: app.guid,
            revisionGuid: revision.guid,
            ...(flags.maxInFlight !== undefined
              ? { maxInFlight: positiveInt(flags.maxInFlight, '--max-in-flight', 1) }
              : {}),
          });
        } catch (err) {
          if (apiStatus(err) === 422)
            throw new SlipwayError('INVALID_ARGUMENT', cfErrorOf(err)?.detail ?? String(err), { cause: err });
          throw err;
        }
        s.say('Waiting for app to deploy...');
        s.say();
        await pollDeployment(s.client, { say: (l = '') => s.say(l), warn: (l) => s.warn(l) }, app, d.guid);
        const summary = await appSummary(s.client, app);
        s.say(renderSummary(summary));
        s.ok();
        s.done({ app: summary, deployment: d.guid, revision: { guid: revision.guid, version } });
      }),
    );
}
