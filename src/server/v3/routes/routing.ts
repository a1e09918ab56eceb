import {
  addDestinations,
  appRoutes,
  createRoute,
  deleteRoute,
  getDomain,
  getRoute,
  listDomains,
  listRoutes,
  orgDefaultDomain,
  removeDestination,
  routeDestinations,
  routeDetails,
} from '../../../platform/actions/routes.js';
import { parseBody } from '../../../platform/messages/common.js';
import {
  DestinationsInsertMessage,
  DomainListMessage,
  RouteCreateMessage,
  RouteListMessage,
} from '../../../platform/messages/routes.js';
import type { Page } from '../../../platform/store/platform-store.js';
import type { Route } from '../../../platform/workload.js';
import {
  DestinationsSchema,
  DomainSchema,
  presentDestinations,
  presentDomain,
  presentRoute,
  RouteSchema,
} from '../presenters/routing.js';
import {
  type Answer,
  type Call,
  JOB_ACCEPTED,
  jobAnswer,
  listAnswer,
  listResponses,
  param,
  type RouteDef,
} from '../route.js';
import { workloadCtx } from './workload-call.js';

async function routesAnswer(
  call: Call,
  path: string,
  q: ReturnType<typeof RouteListMessage.parse>,
  page: Page<Route>,
): Promise<Answer> {
  const details = await routeDetails(workloadCtx(call), page.items);
  const items = page.items.filter((r) => details.has(r.guid));
  return listAnswer(call, path, q, { items, total: page.total }, (r, urls) => {
    const d = details.get(r.guid)!;
    return presentRoute(r, d.domain, d.destinations, urls);
  });
}

export const DOMAIN_ROUTES: RouteDef[] = [
  {
    method: 'get',
    path: '/v3/domains',
    operationId: 'listDomains',
    summary: 'List the domains (the shared default domain, and private ones of orgs the caller reads)',
    tag: 'Domains',
    query: DomainListMessage.schema,
    responses: listResponses(DomainSchema),
    async handle(call) {
      const q = DomainListMessage.parse(call.query);
      return listAnswer(call, '/v3/domains', q, await listDomains(workloadCtx(call), q), presentDomain);
    },
  },
  {
    method: 'get',
    path: '/v3/domains/{guid}',
    operationId: 'getDomain',
    summary: 'Get a domain',
    tag: 'Domains',
    responses: { 200: { description: 'The domain', schema: DomainSchema } },
    async handle(call) {
      return { status: 200, body: presentDomain(await getDomain(workloadCtx(call), param(call, 'guid')), call.urls) };
    },
  },
  {
    method: 'get',
    path: '/v3/organizations/{guid}/domains/default',
    operationId: 'getOrgDefaultDomain',
    summary: "The org's default domain: the platform's shared domain",
    tag: 'Domains',
    responses: { 200: { description: 'The domain', schema: DomainSchema } },
    async handle(call) {
      const domain = await orgDefaultDomain(workloadCtx(call), param(call, 'guid'));
      return { status: 200, body: presentDomain(domain, call.urls) };
    },
  },
];

export const ROUTE_ROUTES: RouteDef[] = [
  {
    method: 'get',
    path: '/v3/routes',
    operationId: 'listRoutes',
    summary: 'List routes (hosts= and paths= with an empty value match the empty host or path)',
    tag: 'Routes',
    query: RouteListMessage.schema,
    responses: listResponses(RouteSchema),
    async handle(call) {
      const q = RouteListMessage.parse(call.query);
      return routesAnswer(call, '/v3/routes', q, await listRoutes(workloadCtx(call), q));
    },
  },
  {
    method: 'get',
    path: '/v3/apps/{guid}/routes',
    operationId: 'listAppRoutes',
    summary: 'List the routes with a destination to the app',
    tag: 'Routes',
    query: RouteListMessage.schema,
    responses: listResponses(RouteSchema),
    async handle(call) {
      const q = RouteListMessage.parse(call.query);
      const guid = param(call, 'guid');
      return routesAnswer(call, `/v3/apps/${guid}/routes`, q, await appRoutes(workloadCtx(call), guid, q));
    },
  },
  {
    method: 'get',
    path: '/v3/routes/{guid}',
    operationId: 'getRoute',
    summary: 'Get a route',
    tag: 'Routes',
    responses: { 200: { description: 'The route', schema: RouteSchema } },
    async handle(call) {
      const ctx = workloadCtx(call);
      const found = await getRoute(ctx, param(call, 'guid'));
      const destinations = await ctx.workloads.destinationsOf(found.route.guid);
      return { status: 200, body: presentRoute(found.route, found.domain, destinations, call.urls) };
    },
  },
  {
    method: 'post',
    path: '/v3/routes',
    operationId: 'createRoute',
    summary:
      'Create a route HOST.DOMAIN/PATH in a space (422 Route already exists; CF-RouteTaken when another space holds it)',
    tag: 'Routes',
    body: RouteCreateMessage,
    responses: { 201: { description: 'Created', schema: RouteSchema } },
    async handle(call) {
      const input = parseBody(RouteCreateMessage, await call.body());
      const found = await createRoute(workloadCtx(call), input);
      return { status: 201, body: presentRoute(found.route, found.domain, [], call.urls) };
    },
  },
  {
    method: 'delete',
    path: '/v3/routes/{guid}',
    operationId: 'deleteRoute',
    summary: 'Delete a route and its destinations (a job)',
    tag: 'Routes',
    responses: { 202: JOB_ACCEPTED },
    async handle(call) {
      return jobAnswer(call, await deleteRoute(workloadCtx(call), param(call, 'guid')));
    },
  },
  {
    method: 'get',
    path: '/v3/routes/{guid}/destinations',
    operationId: 'listRouteDestinations',
    summary: "A route's destinations",
    tag: 'Routes',
    responses: { 200: { description: 'The destinations', schema: DestinationsSchema } },
    async handle(call) {
      const { found, destinations } = await routeDestinations(workloadCtx(call), param(call, 'guid'));
      return { status: 200, body: presentDestinations(found.route.guid, destinations, call.urls) };
    },
  },
  {
    method: 'post',
    path: '/v3/routes/{guid}/destinations',
    operationId: 'addRouteDestinations',
    summary: "Map apps of the route's space to it (cf map-route)",
    tag: 'Routes',
    body: DestinationsInsertMessage,
    responses: { 200: { description: 'Every destination of the route', schema: DestinationsSchema } },
    async handle(call) {
      const input = parseBody(DestinationsInsertMessage, await call.body());
      const { found, destinations } = await addDestinations(workloadCtx(call), param(call, 'guid'), input);
      return { status: 200, body: presentDestinations(found.route.guid, destinations, call.urls) };
    },
  },
  {
    method: 'delete',
    path: '/v3/routes/{guid}/destinations/{destination_guid}',
    operationId: 'removeRouteDestination',
    summary: 'Unmap a destination (cf unmap-route)',
    tag: 'Routes',
    responses: { 204: { description: 'Unmapped' } },
    async handle(call) {
      await removeDestination(workloadCtx(call), param(call, 'guid'), param(call, 'destination_guid'));
      return { status: 204, body: null };
    },
  },
  {
    method: 'get',
    path: '/v3/service_route_bindings',
    operationId: 'listServiceRouteBindings',
    summary: 'Service route bindings (none: Slipway has no services); the cf CLI asks for them with cf routes',
    tag: 'Routes',
    responses: { 200: { description: 'An empty page' } },
    async handle(call) {
      workloadCtx(call);
      const perPage = Number(call.query.get('per_page') ?? '50') || 50;
      const body = {
        pagination: {
          total_results: 0,
          total_pages: 1,
          first: { href: call.urls.withQuery('/v3/service_route_bindings', { page: '1', per_page: String(perPage) }) },
          last: { href: call.urls.withQuery('/v3/service_route_bindings', { page: '1', per_page: String(perPage) }) },
          next: null,
          previous: null,
        },
        resources: [],
        included: { service_instances: [] },
      };
      return { status: 200, body };
    },
  },
];
