import { SlipwayError } from '../../errors.js';
import type { Visibility } from './platform-store.js';
import type { FleetApp } from './workload-store.js';
import { type Clause, orgRule, spaceRule, TIMES } from './sqlite-platform-sql.js';

/**
 * The WHERE clauses and texts of the SQLite WorkloadStore (the listed table aliased
 * `t`, as in sqlite-platform-sql.ts): what belongs to an app is visible through the
 * app's space, by the same rule as the app itself; a route through its own space; a
 * shared domain to every caller, a private one through its org.
 */

const NOTHING: Clause = { sql: 'FALSE', params: [] };

/** A row of an app (`t.app_guid`): visible when its app is, by the app's space (the apps_by_space and apps_by_org indexes). */
export function appRule(v: Visibility, appCol = 't.app_guid'): Clause | undefined {
  const apps = spaceRule(v, 'a.space_guid', 'a.org_guid');
  if (apps === undefined) return undefined;
  if (apps.sql === NOTHING.sql) return NOTHING;
  return { sql: `${appCol} IN (SELECT a.guid FROM apps a WHERE ${apps.sql})`, params: apps.params };
}

/** A domain: a shared one (no org) for anyone who reads anything; a private one by its org. */
export function domainRule(v: Visibility): Clause | undefined {
  if (v.kind === 'all') return undefined;
  if (v.kind === 'none') return NOTHING;
  const org = orgRule(v, 't.org_guid') ?? NOTHING;
  return { sql: `t.org_guid IS NULL OR (${org.sql})`, params: org.params };
}

/** `app_guid IN (the apps of these spaces)`: the processes' space_guids filter. */
export function appsInSpaces(spaceGuids: readonly string[]): Clause {
  if (spaceGuids.length === 0) return NOTHING;
  return {
    sql: `t.app_guid IN (SELECT a.guid FROM apps a WHERE a.space_guid IN (${spaceGuids.map(() => '?').join(', ')}))`,
    params: [...spaceGuids],
  };
}

/** `guid IN (the routes with a destination to one of these apps)`: the routes' app_guids filter. */
export function routesToApps(appGuids: readonly string[]): Clause {
  if (appGuids.length === 0) return NOTHING;
  return {
    sql: `t.guid IN (SELECT x.route_guid FROM route_destinations x WHERE x.app_guid IN (${appGuids.map(() => '?').join(', ')}))`,
    params: [...appGuids],
  };
}

export const DOMAIN_ORDER: Record<string, readonly string[]> = { ...TIMES, name: ['t.name_key'] };
export const REVISION_ORDER: Record<string, readonly string[]> = { ...TIMES, version: ['t.version'] };

// Cloud Controller's texts (app/controllers/v3, app/actions).
export const TEXTS = {
  packageApp: 'App is invalid. Ensure it exists and you have access to it.',
  buildPackage: 'Unable to use package. Ensure that the package exists and you have access to it.',
  dropletApp: (guid: string) => `App with guid "${guid}" does not exist, or you do not have access to it.`,
  assignDroplet: 'Unable to assign current droplet. Ensure the droplet exists and belongs to this app.',
  deploymentApp: 'Unable to use app. Ensure that the app exists and you have access to it.',
  app: 'App not found',
  process: 'Process not found',
  route: 'Route not found',
  space: 'Invalid space. Ensure that the space exists and you have access to it.',
  domain: 'Invalid domain. Ensure that the domain exists and you have access to it.',
  org: 'Invalid organization. Ensure that the organization exists and you have access to it.',
  domainTaken: (name: string) => `The domain name "${name}" is already in use`,
  domainElsewhere: (domain: string, org: string) =>
    `Invalid domain. Domain '${domain}' is not available in organization '${org}'.`,
  destinationApps: (guids: string[]) => `App(s) with guid(s) "${guids.join('", "')}" do not exist.`,
  /** CC's RouteCreate: the cf CLI matches "Route already exists" (RouteNotUniqueError). */
  routeExists(host: string, path: string, domain: string): string {
    if (host === '' && path === '') return `Route already exists for domain '${domain}'.`;
    if (host === '') return `Route already exists with path '${path}' for domain '${domain}'.`;
    if (path === '') return `Route already exists with host '${host}' for domain '${domain}'.`;
    return `Route already exists with host '${host}' and path '${path}' for domain '${domain}'.`;
  },
  /** CF's RouteHostTaken (v2 error 210003): the route is held by a space the caller may not see. */
  hostTaken: (host: string) => `The host is taken: ${host}`,
} as const;

export function conflict(message: string, field: string, extra: Record<string, unknown> = {}): SlipwayError {
  return new SlipwayError('CONFLICT', message, { detail: { field, ...extra } });
}

export function notFound(message: string, field: string): SlipwayError {
  return new SlipwayError('NOT_FOUND', message, { detail: { field } });
}

export function invalid(message: string, field: string): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', message, { detail: { field } });
}

/** What the fleet summary reads of a row of apps joined to its current droplet. */
export interface FleetAppRow {
  guid: string;
  name: string;
  space_guid: string;
  state: string;
  auto_rebase: number;
  current_droplet_guid: string | null;
  stack: string | null;
  stack_version: string | null;
}

/** The fleet summary's two reads, the same SQL for SQLite and PostgreSQL. */
export function fleetQueries(v: Visibility): { apps: Clause; processes: Clause } {
  const apps = spaceRule(v, 't.space_guid', 't.org_guid');
  const processes = appRule(v);
  return {
    apps: {
      sql: `SELECT t.guid, t.name, t.space_guid, t.state, t.auto_rebase, t.current_droplet_guid, d.stack, d.stack_version
        FROM apps t LEFT JOIN droplets d ON d.guid = t.current_droplet_guid${apps ? ` WHERE ${apps.sql}` : ''}
        ORDER BY t.created_at, t.guid`,
      params: apps?.params ?? [],
    },
    processes: {
      sql: `SELECT t.guid, t.app_guid FROM processes t${processes ? ` WHERE ${processes.sql}` : ''}`,
      params: processes?.params ?? [],
    },
  };
}

export function toFleetApp(row: FleetAppRow): FleetApp {
  const app: FleetApp = {
    guid: row.guid,
    name: row.name,
    spaceGuid: row.space_guid,
    state: row.state as FleetApp['state'],
    autoRebase: row.auto_rebase !== 0,
  };
  if (row.current_droplet_guid !== null) app.currentDropletGuid = row.current_droplet_guid;
  if (row.stack !== null) app.stack = row.stack;
  if (row.stack_version !== null) app.stackVersion = row.stack_version;
  return app;
}

export const toFleetProcess = (row: { guid: string; app_guid: string }) => ({ guid: row.guid, appGuid: row.app_guid });
