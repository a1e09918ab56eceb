import { Command } from 'commander';
import { SlipwayError } from '../../../errors.js';
import { cfAction } from '../../cf/action.js';
import { cfErrorOf, isUnprocessable } from '../../cf/api-errors.js';
import type { CfClient } from '../../cf/cf-client.js';
import { appByName } from '../../cf/lookups.js';
import { table } from '../../cf/output.js';
import { confirm } from '../../cf/prompt.js';
import type { CfSession } from '../../cf/session.js';

/**
 * Routes and domains as the cf CLI handles them: `routes`, `domains`, `create-route`,
 * `delete-route`, `map-route`, `unmap-route` (a route is HOST.DOMAIN/PATH; the
 * lookups send empty `hosts=` and `paths=` for "none", as the cf CLI does).
 */

interface CfDomain {
  guid: string;
  name: string;
  internal?: boolean;
  supported_protocols?: string[];
  relationships?: { organization?: { data?: { guid?: string } | null } };
}

interface CfRoute {
  guid: string;
  host: string;
  path: string;
  port?: number | null;
  protocol?: string;
  url: string;
  destinations?: { guid: string; app?: { guid?: string; process?: { type?: string } }; protocol?: string }[];
  relationships?: { space?: { data?: { guid?: string } }; domain?: { data?: { guid?: string } } };
}

interface RouteFlags {
  hostname?: string;
  path?: string;
}

/** HOST.DOMAIN/PATH as the cf CLI's desiredURL shows it. */
function routeName(domain: string, f: RouteFlags): string {
  const path = normalPath(f.path);
  return `${f.hostname ? `${f.hostname}.` : ''}${domain}${path}`;
}

function normalPath(path: string | undefined): string {
  if (!path) return '';
  return path.startsWith('/') ? path : `/${path}`;
}

async function domainByName(client: CfClient, name: string): Promise<CfDomain> {
  const domain = await client.first<CfDomain>('/v3/domains', { names: [name] });
  if (!domain) throw new SlipwayError('NOT_FOUND', `Domain '${name}' not found.`);
  return domain;
}

async function findRoute(client: CfClient, domain: CfDomain, f: RouteFlags): Promise<CfRoute | undefined> {
  return client.first<CfRoute>('/v3/routes', {
    domain_guids: [domain.guid],
    hosts: [f.hostname ?? ''],
    paths: [normalPath(f.path)],
  });
}

/**
 * CF-RouteTaken: the route exists in a space the caller is not in (CC's detail says
 * "Route already exists", which the cf CLI would take as the caller's own): an error.
 */
function takenElsewhere(err: unknown, name: string): SlipwayError | undefined {
  const entry = cfErrorOf(err);
  if (entry?.title !== 'CF-RouteTaken') return undefined;
  return new SlipwayError(
    'CONFLICT',
    `${entry.detail} (CF-RouteTaken: ${name} belongs to another space; choose another hostname or path)`,
    { cause: err },
  );
}

/** POST /v3/routes in the space. */
async function postRoute(s: CfSession, spaceGuid: string, domain: CfDomain, f: RouteFlags, name: string) {
  try {
    return await s.client.post<CfRoute>('/v3/routes', {
      ...(f.hostname ? { host: f.hostname } : {}),
      ...(f.path ? { path: normalPath(f.path) } : {}),
      relationships: { space: { data: { guid: spaceGuid } }, domain: { data: { guid: domain.guid } } },
    });
  } catch (err) {
    throw takenElsewhere(err, name) ?? err;
  }
}

async function here(s: CfSession) {
  const user = await s.check({ org: true, space: true });
  return { user, org: s.org(), space: s.space() };
}

const routeOptions = (c: Command) =>
  c
    .option('--hostname <HOST>', 'Hostname for the HTTP route (required for shared domains)')
    .option('--path <PATH>', 'Path for the HTTP route');

export function routesCommand(): Command {
  return new Command('routes')
    .description('List the routes in the target space (or the org with --org-level)')
    .option('--org-level', "List all the routes of the org's spaces")
    .addHelpText('after', '\nExamples:\n  $ slipway cf routes\n  $ slipway cf routes --org-level')
    .action(
      cfAction(async (s: CfSession, flags: { orgLevel?: boolean }) => {
        const { user, org, space } = await here(s);
        s.say(
          flags.orgLevel
            ? `Getting routes for org ${org.name} as ${user.name}...`
            : `Getting routes for org ${org.name} / space ${space.name} as ${user.name}...`,
        );
        s.say();
        const { resources: routes } = await s.client.list<CfRoute>('/v3/routes', {
          per_page: 5000,
          ...(flags.orgLevel ? { organization_guids: [org.guid] } : { space_guids: [space.guid] }),
        });
        const spaceGuids = [...new Set(routes.map((r) => r.relationships?.space?.data?.guid ?? ''))].filter(Boolean);
        const appGuids = [
          ...new Set(routes.flatMap((r) => (r.destinations ?? []).map((d) => d.app?.guid ?? ''))),
        ].filter(Boolean);
        const spaces =
          spaceGuids.length === 0
            ? []
            : (await s.client.list<{ guid: string; name: string }>('/v3/spaces', { guids: spaceGuids })).resources;
        const apps =
          appGuids.length === 0
            ? []
            : (await s.client.list<{ guid: string; name: string }>('/v3/apps', { guids: appGuids })).resources;
        const nameOf = (list: { guid: string; name: string }[], guid: string | undefined) =>
          list.find((x) => x.guid === guid)?.name ?? '';
        const json = routes.map((r) => {
          const domain = r.url
            .replace(r.host ? `${r.host}.` : '', '')
            .replace(/\/.*$/, '')
            .replace(/:\d+$/, '');
          return {
            guid: r.guid,
            space: nameOf(spaces, r.relationships?.space?.data?.guid),
            host: r.host,
            domain,
            port: r.port ?? null,
            path: r.path,
            protocol: r.protocol ?? 'http',
            url: r.url,
            apps: [...new Set((r.destinations ?? []).map((d) => nameOf(apps, d.app?.guid)))].filter(Boolean),
          };
        });
        s.done({ org, ...(flags.orgLevel ? {} : { space }), routes: json }, () =>
          json.length === 0
            ? 'No routes found.'
            : table(
                ['space', 'host', 'domain', 'port', 'path', 'protocol', 'apps'],
                json.map((r) => [
                  r.space,
                  r.host,
                  r.domain,
                  r.port === null ? '' : String(r.port),
                  r.path,
                  r.protocol,
                  r.apps.join(', '),
                ]),
              ),
        );
      }),
    );
}

export function domainsCommand(): Command {
  return new Command('domains')
    .description('List the domains of the targeted org (shared and private)')
    .addHelpText('after', '\nExample:\n  $ slipway cf domains')
    .action(
      cfAction(async (s: CfSession) => {
        const user = await s.check({ org: true });
        const org = s.org();
        s.say(`Getting domains in org ${org.name} as ${user.name}...`);
        s.say();
        const { resources } = await s.client.list<CfDomain>('/v3/domains', { order_by: 'name' });
        const domains = resources.map((d) => ({
          guid: d.guid,
          name: d.name,
          availability: d.relationships?.organization?.data?.guid ? 'private' : 'shared',
          internal: d.internal === true,
          protocols: d.supported_protocols ?? ['http'],
        }));
        s.done({ org, domains }, () =>
          domains.length === 0
            ? 'No domains found.'
            : table(
                ['name', 'availability', 'internal', 'protocols'],
                domains.map((d) => [d.name, d.availability, d.internal ? 'true' : '', d.protocols.join(', ')]),
              ),
        );
      }),
    );
}

export function createRouteCommand(): Command {
  return routeOptions(
    new Command('create-route')
      .description('Create a route HOST.DOMAIN/PATH in the target space')
      .argument('<DOMAIN>', 'the domain'),
  )
    .addHelpText('after', '\nExample:\n  $ slipway cf create-route apps.localhost --hostname web --path /api')
    .action(
      cfAction(async (s: CfSession, domainName: string, flags: RouteFlags) => {
        const { user, org, space } = await here(s);
        const name = routeName(domainName, flags);
        s.say(`Creating route ${name} for org ${org.name} / space ${space.name} as ${user.name}...`);
        const domain = await domainByName(s.client, domainName);
        try {
          const route = await postRoute(s, space.guid, domain, flags, name);
          s.say(`Route ${name} has been created.`);
          s.ok();
          s.done({ route: { guid: route.guid, url: route.url }, created: true });
        } catch (err) {
          if (!isUnprocessable(err, /Route already exists/)) throw err;
          s.warn(`Route ${name} already exists.`);
          s.ok();
          s.done({ route: { url: name }, created: false });
        }
      }),
    );
}

export function deleteRouteCommand(): Command {
  return routeOptions(
    new Command('delete-route')
      .description('Delete a route (its mappings go with it)')
      .argument('<DOMAIN>', 'the domain')
      .option('-f', 'Force deletion without confirmation'),
  )
    .addHelpText('after', '\nExample:\n  $ slipway cf delete-route apps.localhost --hostname web -f')
    .action(
      cfAction(async (s: CfSession, domainName: string, flags: RouteFlags & { f?: boolean }) => {
        await here(s);
        const name = routeName(domainName, flags);
        if (!flags.f && !(await confirm(`Really delete the route ${name}?`))) {
          s.say(`'${name}' has not been deleted.`);
          s.done({ route: { url: name }, deleted: false });
          return;
        }
        s.say(`Deleting route ${name}...`);
        const domain = await domainByName(s.client, domainName);
        const route = await findRoute(s.client, domain, flags);
        if (!route) {
          s.warn(
            `Unable to delete. Route with host '${flags.hostname ?? ''}', domain '${domainName}'${flags.path ? `, and path '${normalPath(flags.path)}'` : ''} not found.`,
          );
          s.ok();
          s.done({ route: { url: name }, deleted: false });
          return;
        }
        await s.client.delete(`/v3/routes/${route.guid}`);
        s.ok();
        s.done({ route: { guid: route.guid, url: route.url }, deleted: true });
      }),
    );
}

export function mapRouteCommand(): Command {
  return routeOptions(
    new Command('map-route')
      .description('Map a route to an app (the route is made in the target space when it does not exist)')
      .argument('<APP>', 'the app')
      .argument('<DOMAIN>', 'the domain'),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ slipway cf map-route web apps.localhost --hostname www
  $ slipway cf map-route web apps.localhost --hostname web --path /v2`,
    )
    .action(
      cfAction(async (s: CfSession, appName: string, domainName: string, flags: RouteFlags) => {
        const { user, org, space } = await here(s);
        const name = routeName(domainName, flags);
        s.say(`Mapping route ${name} to app ${appName} in org ${org.name} / space ${space.name} as ${user.name}...`);
        const domain = await domainByName(s.client, domainName);
        const app = await appByName(s.client, appName, space.guid);
        let route = await findRoute(s.client, domain, flags);
        if (!route) {
          s.say(`Creating route ${name} for org ${org.name} / space ${space.name} as ${user.name}...`);
          route = await postRoute(s, space.guid, domain, flags, name);
        }
        if (
          (route.destinations ?? []).some((d) => d.app?.guid === app.guid && (d.app.process?.type ?? 'web') === 'web')
        ) {
          s.say(`App '${appName}' is already mapped to route '${route.url}'. Nothing has been updated.`);
          s.ok();
          s.done({
            app: { guid: app.guid, name: app.name },
            route: { guid: route.guid, url: route.url },
            mapped: false,
          });
          return;
        }
        await s.client.post(`/v3/routes/${route.guid}/destinations`, { destinations: [{ app: { guid: app.guid } }] });
        s.ok();
        s.done({ app: { guid: app.guid, name: app.name }, route: { guid: route.guid, url: route.url }, mapped: true });
      }),
    );
}

export function unmapRouteCommand(): Command {
  return routeOptions(
    new Command('unmap-route')
      .description('Remove a route from an app (the route stays)')
      .argument('<APP>', 'the app')
      .argument('<DOMAIN>', 'the domain'),
  )
    .addHelpText('after', '\nExample:\n  $ slipway cf unmap-route web apps.localhost --hostname www')
    .action(
      cfAction(async (s: CfSession, appName: string, domainName: string, flags: RouteFlags) => {
        const { user, org, space } = await here(s);
        const name = routeName(domainName, flags);
        s.say(`Removing route ${name} from app ${appName} in org ${org.name} / space ${space.name} as ${user.name}...`);
        const domain = await domainByName(s.client, domainName);
        const app = await appByName(s.client, appName, space.guid);
        const route = await findRoute(s.client, domain, flags);
        if (!route)
          throw new SlipwayError(
            'NOT_FOUND',
            `Route with host '${flags.hostname ?? ''}', domain '${domainName}', and path '${normalPath(flags.path)}' not found.`,
          );
        const mine = (route.destinations ?? []).filter((d) => d.app?.guid === app.guid);
        if (mine.length === 0) {
          s.say('Route to be unmapped is not currently mapped to the application.');
          s.ok();
          s.done({
            app: { guid: app.guid, name: app.name },
            route: { guid: route.guid, url: route.url },
            unmapped: false,
          });
          return;
        }
        for (const d of mine) await s.client.request('DELETE', `/v3/routes/${route.guid}/destinations/${d.guid}`);
        s.ok();
        s.done({
          app: { guid: app.guid, name: app.name },
          route: { guid: route.guid, url: route.url },
          unmapped: true,
        });
      }),
    );
}
