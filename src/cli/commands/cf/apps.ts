import { Command } from 'commander';
import { cfAction } from '../../cf/action.js';
import { isUnknownEndpoint } from '../../cf/api-errors.js';
import type { CfClient } from '../../cf/cf-client.js';
import { type CfApp, appByName } from '../../cf/lookups.js';
import { cfTime, table } from '../../cf/output.js';
import type { CfSession } from '../../cf/session.js';

interface CfProcess {
  guid: string;
  type: string;
  instances?: number;
  relationships?: { app?: { data?: { guid?: string } } };
  process_instances?: { state?: string }[];
}

interface CfRoute {
  url: string;
  destinations?: { app?: { guid?: string } }[];
}

interface CfEvent {
  guid: string;
  created_at: string;
  type: string;
  actor?: { guid?: string; type?: string; name?: string };
  target?: { guid?: string; type?: string; name?: string };
  data?: Record<string, unknown>;
}

interface BehindApp {
  app: { guid: string; name: string };
  space: { guid: string; name: string };
  organization: { guid: string; name: string };
  stack: string;
  stack_version: string;
  latest_version: string;
  auto_rebase: boolean;
}

/** The cf CLI's batches for GUID filters. */
const BATCH = 200;

export function appsCommand(): Command {
  return new Command('apps')
    .description('List all apps in the target space')
    .addHelpText(
      'after',
      `
Shows each app's name and requested state, and its processes and routes where the
server has them. With --behind: every app you may see (all orgs) whose droplet runs
on an older version of its stack than the latest, and whether a stack rollout moves
it (auto rebase) or it is pinned (pushed with --no-auto-rebase).

Examples:
  $ slipway cf apps
  $ slipway cf apps --json
  $ slipway cf apps --behind`,
    )
    .option('--behind', "List the apps whose droplet is on an older version of its stack (Slipway's)")
    .action(
      cfAction(async (s: CfSession, flags: { behind?: boolean }) => {
        if (flags.behind) {
          await behind(s);
          return;
        }
        const user = await s.check({ org: true, space: true });
        const org = s.org();
        const space = s.space();
        s.say(`Getting apps in org ${org.name} / space ${space.name} as ${user.name}...`);
        s.say();
        const { resources: apps } = await s.client.list<CfApp>('/v3/apps', {
          order_by: 'name',
          per_page: 5000,
          space_guids: [space.guid],
        });
        const processes = await optional(() =>
          s.client.list<CfProcess>('/v3/processes', { embed: 'process_instances', space_guids: [space.guid] }),
        );
        const routes = apps.length === 0 ? [] : await optional(() => routesOf(s.client, apps));
        const summaries = apps.map((app) => {
          const mine = (processes?.resources ?? []).filter((p) => p.relationships?.app?.data?.guid === app.guid);
          return {
            guid: app.guid,
            name: app.name,
            state: app.state,
            processes: processes
              ? mine.map((p) => ({
                  type: p.type,
                  running: (p.process_instances ?? []).filter((i) => i.state === 'RUNNING').length,
                  // Cloud Controller embeds max(desired, actual) instances, DOWN for the missing ones (a
                  // stopped app's 1 instance is web:0/1); a server that embeds only the ones it runs still
                  // counts the desired.
                  instances: Math.max(p.instances ?? 0, (p.process_instances ?? []).length),
                }))
              : null,
            routes: routes
              ? routes.filter((r) => r.destinations?.some((d) => d.app?.guid === app.guid)).map((r) => r.url)
              : null,
          };
        });
        s.done({ org, space, apps: summaries }, () => {
          if (summaries.length === 0) return 'No apps found';
          return table(
            ['name', 'requested state', 'processes', 'routes'],
            summaries.map((a) => [
              a.name,
              a.state.toLowerCase(),
              (a.processes ?? [])
                .sort((x, y) => (x.type === 'web' ? -1 : y.type === 'web' ? 1 : x.type.localeCompare(y.type)))
                .map((p) => `${p.type}:${p.running}/${p.instances}`)
                .join(', '),
              (a.routes ?? []).join(', '),
            ]),
          );
        });
      }),
    );
}

async function behind(s: CfSession): Promise<void> {
  const user = await s.check();
  s.say(`Getting apps behind their stack's latest version as ${user.name}...`);
  s.say();
  const { resources } = await s.client.list<BehindApp>('/v3/apps_behind');
  const apps = resources.map((r) => ({
    guid: r.app.guid,
    name: r.app.name,
    org: r.organization.name,
    space: r.space.name,
    stack: r.stack,
    stack_version: r.stack_version,
    latest_version: r.latest_version,
    auto_rebase: r.auto_rebase,
  }));
  s.done({ apps }, () =>
    apps.length === 0
      ? 'No apps are behind their stack.'
      : table(
          ['org', 'space', 'name', 'stack', 'version', 'latest', 'auto rebase'],
          apps.map((a) => [
            a.org,
            a.space,
            a.name,
            a.stack,
            a.stack_version,
            a.latest_version,
            a.auto_rebase ? 'yes' : 'no (pinned)',
          ]),
        ),
  );
}

async function routesOf(client: CfClient, apps: CfApp[]): Promise<CfRoute[]> {
  const out: CfRoute[] = [];
  for (let i = 0; i < apps.length; i += BATCH) {
    const guids = apps.slice(i, i + BATCH).map((a) => a.guid);
    out.push(...(await client.list<CfRoute>('/v3/routes', { app_guids: guids })).resources);
  }
  return out;
}

/** A list from an endpoint the server may not have yet (404 Unknown request): undefined then. */
async function optional<T>(load: () => Promise<T>): Promise<T | undefined> {
  try {
    return await load();
  } catch (err) {
    if (isUnknownEndpoint(err)) return undefined;
    throw err;
  }
}

export function eventsCommand(): Command {
  return new Command('events')
    .description("Show recent events in the target space (newest first), or an app's with --app")
    .argument('[APP]', "only the events of this app (as the cf CLI's cf events APP)")
    .option('--app <APP>', 'only the events of this app')
    .addHelpText(
      'after',
      `
Shows the latest 50 audit events.

Examples:
  $ slipway cf events
  $ slipway cf events web`,
    )
    .action(
      cfAction(async (s: CfSession, appArg: string | undefined, given: { app?: string }) => {
        const flags = { ...given, ...(appArg !== undefined ? { app: appArg } : {}) };
        const user = await s.check({ org: true, space: true });
        const org = s.org();
        const space = s.space();
        let filter: Record<string, string[]>;
        if (flags.app !== undefined) {
          s.say(`Getting events for app ${flags.app} in org ${org.name} / space ${space.name} as ${user.name}...`);
          const app = await appByName(s.client, flags.app, space.guid);
          filter = { target_guids: [app.guid] };
        } else {
          s.say(`Getting events in org ${org.name} / space ${space.name} as ${user.name}...`);
          filter = { space_guids: [space.guid] };
        }
        s.say();
        const page = await s.client.get<{ resources?: CfEvent[] }>('/v3/audit_events', {
          order_by: '-created_at',
          page: 1,
          ...filter,
        });
        const events = page.resources ?? [];
        const json = events.map((e) => ({
          guid: e.guid,
          created_at: e.created_at,
          type: e.type,
          actor: e.actor?.name ?? null,
          target: e.target
            ? { guid: e.target.guid ?? null, type: e.target.type ?? null, name: e.target.name ?? null }
            : null,
          description: describe(e.data),
        }));
        s.done({ org, space, ...(flags.app ? { app: flags.app } : {}), events: json }, () => {
          if (events.length === 0) return 'No events found.';
          const spaceWide = flags.app === undefined;
          return table(
            spaceWide ? ['time', 'event', 'actor', 'target', 'description'] : ['time', 'event', 'actor', 'description'],
            json.map((e) => [
              cfTime(e.created_at),
              e.type,
              e.actor ?? '',
              ...(spaceWide ? [e.target?.name ?? ''] : []),
              e.description,
            ]),
          );
        });
      }),
    );
}

/** The keys the cf CLI describes an event by, read from `data.request` when there is one. */
const DESCRIBED = [
  'index',
  'reason',
  'cell_id',
  'instance',
  'exit_description',
  'exit_status',
  'recursive',
  'disk_quota',
  'instances',
  'memory',
  'state',
  'command',
  'environment_json',
];

function describe(data: Record<string, unknown> | undefined): string {
  const request = data?.request;
  const from = (request && typeof request === 'object' ? request : (data ?? {})) as Record<string, unknown>;
  return DESCRIBED.filter((k) => from[k] !== undefined && from[k] !== null)
    .map((k) => `${k}: ${typeof from[k] === 'object' ? JSON.stringify(from[k]) : String(from[k])}`)
    .join(', ');
}
