import { Command } from 'commander';
import { SlipwayError } from '../../../errors.js';
import { cfAction } from '../../cf/action.js';
import { apiStatus, cfErrorOf } from '../../cf/api-errors.js';
import {
  createDeployment,
  pollDeployment,
  pollStart,
  setCurrentDroplet,
  stagePackage,
  type Talk,
} from '../../cf/app-start.js';
import { appSummary, type CfDroplet, renderSummary } from '../../cf/app-summary.js';
import { type CfApp, appByName } from '../../cf/lookups.js';
import { confirm } from '../../cf/prompt.js';
import type { CfSession } from '../../cf/session.js';
import { megabytes, positiveInt } from '../../cf/units.js';

/**
 * `app`, `start`, `stop`, `restart`, `restage` and `scale`: the cf CLI's app
 * lifecycle commands, their requests and words (command/v7/*_command.go and the
 * shared app stager), ending with the app's summary.
 */

const talkOf = (s: CfSession): Talk => ({ say: (l = '') => s.say(l), warn: (l) => s.warn(l) });

async function target(s: CfSession, name: string) {
  const user = await s.check({ org: true, space: true });
  const org = s.org();
  const space = s.space();
  return { user, org, space, where: `in org ${org.name} / space ${space.name} as ${user.name}` };
}

/** The summary after a lifecycle command: printed, and the command's JSON. */
async function finish(s: CfSession, app: CfApp, extra: Record<string, unknown> = {}): Promise<void> {
  const summary = await appSummary(s.client, app);
  s.say();
  s.done({ ...extra, app: summary }, () => renderSummary(summary));
}

export function appCommand(): Command {
  return new Command('app')
    .description("Show an app's health and status: its droplet, routes and every instance")
    .argument('<APP>', 'the app')
    .option('--guid', "Show only the app's guid")
    .addHelpText(
      'after',
      `
Besides the cf CLI's summary it names the droplet's image in the platform's registry
(HOST/ORG/SPACE/APP@sha256:...), which pulls with your CF credentials.

Examples:
  $ slipway cf app web
  $ slipway cf app web --json | jq '.processes[0].stats'`,
    )
    .action(
      cfAction(async (s: CfSession, name: string, flags: { guid?: boolean }) => {
        const { space, where } = await target(s, name);
        const app = await appByName(s.client, name, space.guid);
        if (flags.guid) {
          s.done({ guid: app.guid }, () => app.guid);
          return;
        }
        s.say(`Showing health and status for app ${name} ${where}...`);
        s.say();
        const summary = await appSummary(s.client, app, { image: true });
        s.done(summary, () => {
          const text = renderSummary(summary);
          if (!summary.image) return text;
          return `${text}\n\nTIP: 'slipway pull ${summary.image}' fetches the droplet's image (log in to the registry first: 'slipway login'); 'slipway droplet export' makes a CF droplet of it.`;
        });
      }),
    );
}

export function stopCommand(): Command {
  return new Command('stop')
    .description('Stop an app')
    .argument('<APP>', 'the app')
    .addHelpText('after', '\nExample:\n  $ slipway cf stop web')
    .action(
      cfAction(async (s: CfSession, name: string) => {
        const { space, where } = await target(s, name);
        const app = await appByName(s.client, name, space.guid);
        if (app.state !== 'STARTED') {
          s.say(`App ${name} is already stopped.`);
          s.ok();
          s.done({ app: { guid: app.guid, name: app.name, state: app.state }, changed: false });
          return;
        }
        s.say(`Stopping app ${name} ${where}...`);
        const stopped = await s.client.post<CfApp>(`/v3/apps/${app.guid}/actions/stop`, {});
        s.ok();
        s.done({ app: { guid: app.guid, name: app.name, state: stopped.state }, changed: true });
      }),
    );
}

/** The cf CLI's "unstaged package" check: the newest package, and whether a droplet was staged from it. */
async function unstagedPackage(s: CfSession, app: CfApp): Promise<string | undefined> {
  const pkg = await s.client.first<{ guid: string; state: string }>('/v3/packages', {
    app_guids: [app.guid],
    order_by: '-created_at',
  });
  if (!pkg) return undefined;
  const staged = await s.client.first<{ guid: string }>(`/v3/packages/${pkg.guid}/droplets`, { states: ['STAGED'] });
  return staged ? undefined : pkg.guid;
}

export function startCommand(): Command {
  return new Command('start')
    .description('Start an app (staging its newest package first when it has no droplet of it)')
    .argument('<APP>', 'the app')
    .addHelpText('after', '\nExample:\n  $ slipway cf start web')
    .action(
      cfAction(async (s: CfSession, name: string) => {
        const { space, where } = await target(s, name);
        const app = await appByName(s.client, name, space.guid);
        const pkg = app.state === 'STARTED' ? undefined : await unstagedPackage(s, app);
        let droplet: string | undefined;
        if (pkg) {
          s.say('Staging app and tracing logs...');
          droplet = (await stagePackage(s.client, talkOf(s), app.guid, pkg, { showLogs: s.human })).dropletGuid;
        }
        s.say(`Starting app ${name} ${where}...`);
        s.say();
        if (app.state === 'STARTED') {
          s.say(`App '${name}' is already started.`);
          s.ok();
          s.done({ app: { guid: app.guid, name: app.name, state: app.state }, changed: false });
          return;
        }
        if (droplet) await setCurrentDroplet(s.client, app.guid, droplet);
        s.say('Waiting for app to start...');
        s.say();
        await s.client.post(`/v3/apps/${app.guid}/actions/start`, {});
        await pollStart(s.client, talkOf(s), app);
        await finish(s, app, { changed: true, ...(droplet ? { droplet } : {}) });
      }),
    );
}

interface RestartFlags {
  strategy?: string;
  maxInFlight?: string;
}

function strategyOf(flags: RestartFlags): { rolling: boolean; maxInFlight?: number } {
  if (flags.strategy !== undefined && flags.strategy !== 'rolling' && flags.strategy !== 'null')
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `Incorrect Usage: --strategy must be 'rolling' or 'null', not '${flags.strategy}'`,
    );
  const rolling = flags.strategy === 'rolling';
  if (flags.maxInFlight !== undefined && !rolling)
    throw new SlipwayError('INVALID_ARGUMENT', 'Incorrect Usage: --max-in-flight needs --strategy rolling');
  return {
    rolling,
    ...(flags.maxInFlight !== undefined ? { maxInFlight: positiveInt(flags.maxInFlight, '--max-in-flight', 1) } : {}),
  };
}

/** Start with a droplet (or the current one): stop, set, start and wait; or a rolling deployment. */
async function startWith(
  s: CfSession,
  app: CfApp,
  action: 'Restarting' | 'Restaging',
  where: string,
  droplet: string | undefined,
  how: { rolling: boolean; maxInFlight?: number },
): Promise<void> {
  if (how.rolling) {
    s.say(`Creating deployment for app ${app.name}...`);
    s.say();
    const d = await createDeployment(s.client, {
      appGuid: app.guid,
      ...(droplet ? { dropletGuid: droplet } : {}),
      ...(how.maxInFlight !== undefined ? { maxInFlight: how.maxInFlight } : {}),
    });
    s.say('Waiting for app to deploy...');
    s.say();
    await pollDeployment(s.client, talkOf(s), app, d.guid);
    await finish(s, app, { deployment: d.guid, ...(droplet ? { droplet } : {}) });
    return;
  }
  s.say(`${action} app ${app.name} ${where}...`);
  s.say();
  if (app.state === 'STARTED') {
    s.say('Stopping app...');
    s.say();
    await s.client.post(`/v3/apps/${app.guid}/actions/stop`, {});
  }
  if (droplet) await setCurrentDroplet(s.client, app.guid, droplet);
  s.say('Waiting for app to start...');
  s.say();
  await s.client.post(`/v3/apps/${app.guid}/actions/start`, {});
  await pollStart(s.client, talkOf(s), app);
  await finish(s, app, droplet ? { droplet } : {});
}

export function restartCommand(): Command {
  return new Command('restart')
    .description('Stop all instances of the app, then start them again (or roll them with --strategy rolling)')
    .argument('<APP>', 'the app')
    .option('--strategy <STRATEGY>', "'rolling': replace the instances a few at a time, without downtime")
    .option('--max-in-flight <N>', 'With --strategy rolling: instances started at once (default 1)')
    .addHelpText(
      'after',
      `
Examples:
  $ slipway cf restart web
  $ slipway cf restart web --strategy rolling --max-in-flight 2`,
    )
    .action(
      cfAction(async (s: CfSession, name: string, flags: RestartFlags) => {
        const how = strategyOf(flags);
        const { space, where } = await target(s, name);
        const app = await appByName(s.client, name, space.guid);
        const pkg = await unstagedPackage(s, app);
        let droplet: string | undefined;
        if (pkg) {
          s.say('Staging app and tracing logs...');
          droplet = (await stagePackage(s.client, talkOf(s), app.guid, pkg, { showLogs: s.human })).dropletGuid;
        }
        await startWith(s, app, 'Restarting', where, droplet, how);
      }),
    );
}

export function restageCommand(): Command {
  return new Command('restage')
    .description("Stage the app's package again (a new droplet), then restart it or roll it out")
    .argument('<APP>', 'the app')
    .option('--strategy <STRATEGY>', "'rolling': roll the new droplet out without downtime")
    .option('--max-in-flight <N>', 'With --strategy rolling: instances started at once (default 1)')
    .addHelpText(
      'after',
      `
The package staged is the current droplet's (else the newest READY one): what was
pushed last, built again with today's buildpacks and stack.

Examples:
  $ slipway cf restage web
  $ slipway cf restage web --strategy rolling`,
    )
    .action(
      cfAction(async (s: CfSession, name: string, flags: RestartFlags) => {
        const how = strategyOf(flags);
        const { space, where } = await target(s, name);
        if (!how.rolling) s.warn('This action will cause app downtime.');
        const app = await appByName(s.client, name, space.guid);
        s.say(`Restaging app ${name} ${where}...`);
        s.say();
        const pkg = await packageToRestage(s, app);
        if (!pkg)
          throw new SlipwayError(
            'NOT_FOUND',
            `App '${name}' has no eligible packages.\nTIP: Use 'slipway cf push ${name}' to push it first.`,
          );
        s.say('Staging app and tracing logs...');
        const { dropletGuid } = await stagePackage(s.client, talkOf(s), app.guid, pkg, { showLogs: s.human });
        s.say();
        await startWith(s, app, 'Restaging', where, dropletGuid, how);
      }),
    );
}

async function packageToRestage(s: CfSession, app: CfApp): Promise<string | undefined> {
  try {
    const current = await s.client.get<CfDroplet & { links?: { package?: { href?: string } } }>(
      `/v3/apps/${app.guid}/droplets/current`,
    );
    const href = current.links?.package?.href;
    const guid = href ? /\/v3\/packages\/([^/?#]+)/.exec(href)?.[1] : undefined;
    if (guid) return guid;
  } catch (err) {
    if (!(apiStatus(err) === 404 && cfErrorOf(err)?.detail === 'Droplet not found')) throw err;
  }
  const ready = await s.client.first<{ guid: string }>('/v3/packages', {
    app_guids: [app.guid],
    order_by: '-created_at',
    states: ['READY'],
  });
  return ready?.guid;
}

interface ScaleFlags {
  i?: string;
  m?: string;
  k?: string;
  f?: boolean;
  process: string;
}

export function scaleCommand(): Command {
  return new Command('scale')
    .description("Change or view an app's instance count, memory or disk (memory and disk restart it)")
    .argument('<APP>', 'the app')
    .option('-i <N>', 'Number of instances')
    .option('-m <MEM>', 'Memory limit (e.g. 256M, 1024M, 1G): restarts the app')
    .option('-k <DISK>', 'Disk limit (e.g. 256M, 1024M, 1G): restarts the app')
    .option('-f', 'Force the restart without asking')
    .option('--process <TYPE>', 'The process to scale', 'web')
    .addHelpText(
      'after',
      `
Examples:
  $ slipway cf scale web            # the current scale
  $ slipway cf scale web -i 3
  $ slipway cf scale web -m 512M -f`,
    )
    .action(
      cfAction(async (s: CfSession, name: string, flags: ScaleFlags) => {
        const { space, where } = await target(s, name);
        const app = await appByName(s.client, name, space.guid);
        const body: Record<string, number> = {};
        if (flags.i !== undefined) body.instances = positiveInt(flags.i, '-i');
        if (flags.m !== undefined) body.memory_in_mb = megabytes(flags.m, '-m');
        if (flags.k !== undefined) body.disk_in_mb = megabytes(flags.k, '-k');
        if (Object.keys(body).length === 0) {
          s.say(`Showing current scale of app ${name} ${where}...`);
          await finish(s, app);
          return;
        }
        const restart = flags.m !== undefined || flags.k !== undefined;
        if (
          restart &&
          !flags.f &&
          !(await confirm(`This will cause the app to restart. Are you sure you want to scale ${name}?`))
        ) {
          s.say(`Scaling cancelled`);
          s.done({ app: { guid: app.guid, name: app.name }, scaled: false });
          return;
        }
        s.say(`Scaling app ${name} ${where}...`);
        try {
          await s.client.post(
            `/v3/apps/${app.guid}/processes/${encodeURIComponent(flags.process)}/actions/scale`,
            body,
          );
        } catch (err) {
          if (apiStatus(err) === 404 && cfErrorOf(err)?.detail === 'Process not found')
            throw new SlipwayError('NOT_FOUND', `Process ${flags.process} not found`, { cause: err });
          throw err;
        }
        if (restart) {
          s.say(`Stopping app ${name} ${where}...`);
          await s.client.post(`/v3/apps/${app.guid}/actions/stop`, {});
          s.say(`Starting app ${name} ${where}...`);
          await s.client.post(`/v3/apps/${app.guid}/actions/start`, {});
        }
        if (restart || app.state === 'STARTED') {
          s.say();
          await pollStart(s.client, talkOf(s), app);
        }
        await finish(s, app, { scaled: body });
      }),
    );
}

export function deleteCommand(): Command {
  return new Command('delete')
    .description('Delete an app (a job on the server), and with -r its routes')
    .argument('<APP>', 'the app')
    .option('-f', 'Force deletion without confirmation')
    .option('-r', 'Also delete the routes mapped to the app (only to it)')
    .addHelpText(
      'after',
      `
An app that does not exist is a warning, not an error.

Examples:
  $ slipway cf delete web -f
  $ slipway cf delete web -f -r`,
    )
    .action(
      cfAction(async (s: CfSession, name: string, flags: { f?: boolean; r?: boolean }) => {
        const { space, where } = await target(s, name);
        if (!flags.f && !(await confirm(`Really delete the app ${name}?`))) {
          s.say(`App '${name}' has not been deleted.`);
          s.done({ app: { name }, deleted: false });
          return;
        }
        s.say(`Deleting app ${name} ${where}...`);
        let app: CfApp;
        try {
          app = await appByName(s.client, name, space.guid);
        } catch (err) {
          if (!(err instanceof SlipwayError && err.code === 'NOT_FOUND')) throw err;
          s.warn(`App '${name}' does not exist.`);
          s.ok();
          s.done({ app: { name }, deleted: false });
          return;
        }
        const routes = flags.r
          ? (
              await s.client.list<{ guid: string; url: string; destinations?: { app?: { guid?: string } }[] }>(
                `/v3/apps/${app.guid}/routes`,
              )
            ).resources
          : [];
        for (const r of routes)
          if ((r.destinations ?? []).some((d) => d.app?.guid && d.app.guid !== app.guid))
            throw new SlipwayError(
              'CONFLICT',
              `Route '${r.url}' is mapped to more than one app: unmap it from the other apps first, or delete without -r`,
            );
        await s.client.delete(`/v3/apps/${app.guid}`);
        for (const r of routes) await s.client.delete(`/v3/routes/${r.guid}`);
        s.ok();
        s.done({ app: { guid: app.guid, name }, deleted: true, routes_deleted: routes.map((r) => r.url) });
      }),
    );
}
