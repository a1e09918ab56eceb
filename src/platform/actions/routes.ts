import { isSlipwayError, SlipwayError } from '../../errors.js';
import { EVENT_TYPES } from '../audit.js';
import { notAuthorized, notFound, unprocessable } from '../cf-errors.js';
import type { ParsedList } from '../messages/list-query.js';
import type { DestinationsInput, DomainListMessage, RouteCreateInput, RouteListMessage } from '../messages/routes.js';
import { type App, emptyMetadata, type Job, newGuid, type Organization, type Space } from '../model.js';
import type { SpaceContext } from '../policy.js';
import type { Page } from '../store/platform-store.js';
import type { Domain, Route, RouteDestination } from '../workload.js';
import { mergeMetadata, record, spaceContext, timestamp } from './context.js';
import { ensureDefaultDomain, getApp, recordApp, type WorkloadContext } from './workload-context.js';

/**
 * Domains, routes and their destinations (CC: DomainsController, RoutesController,
 * RouteCreate, UpdateRouteDestinations): a route is HOST.DOMAIN/PATH, unique on the
 * platform; it belongs to a space and sends to apps of that space. The space's readers
 * and the org's auditors see its routes; who manages the space's apps (developers and
 * supporters, as CC's can_manage_apps_in_active_space?) creates, maps and deletes them.
 * The shared default domain is the platform's (`services.defaultDomain`).
 */

type DomainListValues = ReturnType<typeof DomainListMessage.parse>['values'];
type RouteListValues = ReturnType<typeof RouteListMessage.parse>['values'];

export interface RouteInSpace extends SpaceContext {
  route: Route;
  space: Space;
  org: Organization;
  domain: Domain;
}

/** The default domain, made at the first need. */
export async function defaultDomain(ctx: WorkloadContext): Promise<Domain> {
  return ensureDefaultDomain(ctx.workloads, ctx.services.defaultDomain, timestamp(ctx));
}

export async function listDomains(ctx: WorkloadContext, q: ParsedList<DomainListValues>): Promise<Page<Domain>> {
  await defaultDomain(ctx);
  const v = q.values;
  return ctx.workloads.listDomains(
    q.page,
    { ...(v.guids ? { guids: v.guids } : {}), ...(v.names ? { names: v.names } : {}) },
    ctx.perms.orgVisibility(),
  );
}

export async function getDomain(ctx: WorkloadContext, guid: string): Promise<Domain> {
  const domain = await ctx.workloads.getDomain(guid);
  if (!domain || !domainVisible(ctx, domain)) throw notFound('Domain');
  return domain;
}

function domainVisible(ctx: WorkloadContext, domain: Domain): boolean {
  if (!ctx.perms.signedIn) return false;
  return domain.orgGuid === undefined || ctx.perms.canReadOrg(domain.orgGuid);
}

/** GET /v3/organizations/:guid/domains/default: the platform's shared domain, for who reads the org. */
export async function orgDefaultDomain(ctx: WorkloadContext, orgGuid: string): Promise<Domain> {
  const org = await ctx.store.getOrg(orgGuid);
  if (!org || !ctx.perms.canReadOrg(org.guid)) throw notFound('Organization');
  return defaultDomain(ctx);
}

export function listRoutes(
  ctx: WorkloadContext,
  q: ParsedList<RouteListValues>,
  appGuid?: string,
): Promise<Page<Route>> {
  const v = q.values;
  return ctx.workloads.listRoutes(
    q.page,
    {
      ...(v.guids ? { guids: v.guids } : {}),
      ...(appGuid ? { appGuids: [appGuid] } : v.app_guids ? { appGuids: v.app_guids } : {}),
      ...(v.space_guids ? { spaceGuids: v.space_guids } : {}),
      ...(v.organization_guids ? { organizationGuids: v.organization_guids } : {}),
      ...(v.domain_guids ? { domainGuids: v.domain_guids } : {}),
      ...(v.hosts ? { hosts: v.hosts } : {}),
      ...(v.paths ? { paths: v.paths } : {}),
    },
    ctx.perms.routeVisibility(),
  );
}

/** GET /v3/apps/:guid/routes. */
export async function appRoutes(ctx: WorkloadContext, appGuid: string, q: ParsedList<RouteListValues>) {
  const { app } = await getApp(ctx, appGuid);
  return listRoutes(ctx, q, app.guid);
}

/** A route the caller reads, with its space, org and domain; 404 "Route not found" otherwise. */
export async function getRoute(ctx: WorkloadContext, guid: string): Promise<RouteInSpace> {
  const route = await ctx.workloads.getRoute(guid);
  const found = route && (await spaceContext(ctx.store, route.spaceGuid));
  if (!route || !found || !ctx.perms.canReadRoute(found)) throw notFound('Route');
  const domain = await ctx.workloads.getDomain(route.domainGuid);
  if (!domain) throw notFound('Route');
  return { route, domain, ...found };
}

/** What a presented route needs: its domain and destinations. */
export async function routeDetails(
  ctx: WorkloadContext,
  routes: readonly Route[],
): Promise<Map<string, { domain: Domain; destinations: RouteDestination[] }>> {
  const domains = new Map<string, Domain>();
  const out = new Map<string, { domain: Domain; destinations: RouteDestination[] }>();
  for (const route of routes) {
    let domain = domains.get(route.domainGuid);
    if (!domain) {
      domain = await ctx.workloads.getDomain(route.domainGuid);
      if (!domain) continue;
      domains.set(domain.guid, domain);
    }
    out.set(route.guid, { domain, destinations: await ctx.workloads.destinationsOf(route.guid) });
  }
  return out;
}

const INVALID_SPACE = 'Invalid space. Ensure that the space exists and you have access to it.';
const INVALID_DOMAIN = 'Invalid domain. Ensure that the domain exists and you have access to it.';

/** CC's RouteCreate texts for a route that exists (the cf CLI matches "Route already exists"). */
export function routeExistsText(host: string, path: string, domain: string): string {
  if (host === '' && path === '') return `Route already exists for domain '${domain}'.`;
  if (host === '') return `Route already exists with path '${path}' for domain '${domain}'.`;
  if (path === '') return `Route already exists with host '${host}' for domain '${domain}'.`;
  return `Route already exists with host '${host}' and path '${path}' for domain '${domain}'.`;
}

export async function createRoute(ctx: WorkloadContext, input: RouteCreateInput): Promise<RouteInSpace> {
  const found = await spaceContext(ctx.store, input.relationships.space.data.guid);
  if (!found || !ctx.perms.canReadSpace(found)) throw unprocessable(INVALID_SPACE);
  const domain = await ctx.workloads.getDomain(input.relationships.domain.data.guid);
  if (!domain || !domainVisible(ctx, domain)) throw unprocessable(INVALID_DOMAIN);
  if (!ctx.perms.canManageApps(found)) throw notAuthorized();
  if (input.port !== undefined) throw unprocessable("Routes with protocol 'http' do not support ports.");
  const route = await insertRoute(ctx, found, domain, input.host ?? '', input.path ?? '', input.metadata);
  return { route, domain, ...found };
}

/** Creates a route in the space (the manifest's routes use it too); CC's texts when it exists. */
export async function insertRoute(
  ctx: WorkloadContext,
  found: SpaceContext & { space: Space; org: Organization },
  domain: Domain,
  host: string,
  path: string,
  metadata?: Parameters<typeof mergeMetadata>[1],
): Promise<Route> {
  if (host === '' && domain.orgGuid === undefined)
    throw unprocessable('Missing host. Routes in shared domains must have a host defined.');
  if (host === '*' && domain.orgGuid === undefined && !ctx.perms.isAdmin()) throw notAuthorized();
  const at = timestamp(ctx);
  let route: Route;
  try {
    route = await ctx.workloads.createRoute({
      guid: newGuid(),
      createdAt: at,
      updatedAt: at,
      metadata: mergeMetadata(emptyMetadata(), metadata),
      host,
      path,
      domainGuid: domain.guid,
      spaceGuid: found.space.guid,
    });
  } catch (err) {
    if (isSlipwayError(err, 'CONFLICT')) {
      const cf = err.detail?.cf === 'RouteTaken' ? 'RouteTaken' : 'UnprocessableEntity';
      throw new SlipwayError('CONFLICT', routeExistsText(host, path, domain.name), { detail: { cf } });
    }
    throw err;
  }
  await record(ctx, {
    type: EVENT_TYPES.routeCreate,
    target: { guid: route.guid, type: 'route', name: host },
    spaceGuid: found.space.guid,
    orgGuid: found.org.guid,
    data: { request: { host, path, domain_guid: domain.guid } },
  });
  return route;
}

/** Deletes a route (a job, as CC's). */
export async function deleteRoute(ctx: WorkloadContext, guid: string): Promise<Job> {
  const found = await getRoute(ctx, guid);
  if (!ctx.perms.canManageApps(found)) throw notAuthorized();
  const job = await ctx.jobs.run(ROUTE_DELETE, found.route.guid, () => performRouteDelete(ctx, found.route.guid));
  await record(ctx, {
    type: EVENT_TYPES.routeDeleteRequest,
    target: { guid: found.route.guid, type: 'route', name: found.route.host },
    spaceGuid: found.space.guid,
    orgGuid: found.org.guid,
    data: { request: { recursive: true } },
  });
  return job;
}

export const ROUTE_DELETE = 'route.delete';

/** The job's step (run again after a restart): deleting what is gone completes. */
export async function performRouteDelete(ctx: Pick<WorkloadContext, 'workloads' | 'services'>, guid: string) {
  await ctx.workloads.deleteRoute(guid);
  ctx.services.signals.desiredChanged();
  return undefined;
}

export async function routeDestinations(ctx: WorkloadContext, guid: string) {
  const found = await getRoute(ctx, guid);
  return { found, destinations: await ctx.workloads.destinationsOf(found.route.guid) };
}

/** POST /v3/routes/:guid/destinations: apps of the route's space (CC: "Routes destinations must be in..."). */
export async function addDestinations(
  ctx: WorkloadContext,
  guid: string,
  input: DestinationsInput,
): Promise<{ found: RouteInSpace; destinations: RouteDestination[] }> {
  const found = await getRoute(ctx, guid);
  if (!ctx.perms.canManageApps(found)) throw notAuthorized();
  const apps = new Map<string, App>();
  const unknown: string[] = [];
  for (const d of input.destinations) {
    if (apps.has(d.app.guid)) continue;
    const app = await ctx.store.getApp(d.app.guid);
    const readable = app && (await spaceContext(ctx.store, app.spaceGuid));
    if (!app || !readable || !ctx.perms.canReadSpace(readable)) unknown.push(d.app.guid);
    else apps.set(app.guid, app);
  }
  if (unknown.length > 0)
    throw unprocessable(`App(s) with guid(s) "${unknown.join('", "')}" do not exist or you do not have access.`);
  for (const app of apps.values())
    if (app.spaceGuid !== found.route.spaceGuid)
      throw unprocessable("Routes destinations must be in either the route's space or the route's shared spaces");
  const before = new Set((await ctx.workloads.destinationsOf(found.route.guid)).map((d) => d.guid));
  const destinations = await ctx.workloads.addDestinations(
    found.route.guid,
    input.destinations.map((d) => ({
      guid: newGuid(),
      routeGuid: found.route.guid,
      appGuid: d.app.guid,
      processType: d.app.process?.type ?? 'web',
      port: d.port ?? null,
      protocol: d.protocol ?? 'http1',
    })),
  );
  for (const d of destinations) {
    if (before.has(d.guid)) continue;
    const app = apps.get(d.appGuid);
    if (app) await recordMapping(ctx, found, app, d, EVENT_TYPES.appMapRoute);
  }
  ctx.services.signals.desiredChanged();
  return { found, destinations };
}

/** DELETE /v3/routes/:guid/destinations/:destination (204). */
export async function removeDestination(ctx: WorkloadContext, guid: string, destinationGuid: string): Promise<void> {
  const found = await getRoute(ctx, guid);
  if (!ctx.perms.canManageApps(found)) throw notAuthorized();
  const destination = (await ctx.workloads.destinationsOf(found.route.guid)).find((d) => d.guid === destinationGuid);
  if (!destination || !(await ctx.workloads.removeDestination(found.route.guid, destinationGuid)))
    throw unprocessable('Unable to unmap route from destination. Ensure the route has a destination with this guid.');
  const app = await ctx.store.getApp(destination.appGuid);
  if (app) await recordMapping(ctx, found, app, destination, EVENT_TYPES.appUnmapRoute);
  ctx.services.signals.desiredChanged();
}

async function recordMapping(
  ctx: WorkloadContext,
  found: RouteInSpace,
  app: App,
  d: RouteDestination,
  type: string,
): Promise<void> {
  await recordApp(ctx, { app, space: found.space, org: found.org }, type, {
    route_guid: found.route.guid,
    app_port: d.port ?? 8080,
    destination_guid: d.guid,
    process_type: d.processType,
    route_mapping_guid: d.guid,
  });
}
