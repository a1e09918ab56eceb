import { z } from 'zod';
import type { Domain, Route, RouteDestination } from '../../../platform/workload.js';
import { cfTime, LinkSchema, MetadataSchema, presentMetadata, type Urls } from './common.js';

/** Domains, routes and destinations in CF v3's shapes (CC: DomainPresenter, RoutePresenter, RouteDestinationsPresenter). */

export const DomainSchema = z
  .object({
    guid: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    name: z.string(),
    internal: z.boolean(),
    router_group: z.object({ guid: z.string() }).nullable(),
    supported_protocols: z.array(z.string()),
    relationships: z.object({
      organization: z.object({ data: z.object({ guid: z.string() }).nullable() }),
      shared_organizations: z.object({ data: z.array(z.object({ guid: z.string() })) }),
    }),
    metadata: MetadataSchema,
    links: z.record(z.string(), LinkSchema),
  })
  .meta({ id: 'Domain' });

export function presentDomain(d: Domain, urls: Urls): z.infer<typeof DomainSchema> {
  const links: Record<string, { href: string }> = {
    self: urls.link(`/v3/domains/${d.guid}`),
    route_reservations: urls.link(`/v3/domains/${d.guid}/route_reservations`),
  };
  if (d.orgGuid) links.organization = urls.link(`/v3/organizations/${d.orgGuid}`);
  return {
    guid: d.guid,
    created_at: cfTime(d.createdAt),
    updated_at: cfTime(d.updatedAt),
    name: d.name,
    internal: d.internal,
    router_group: null,
    supported_protocols: ['http'],
    relationships: {
      organization: { data: d.orgGuid ? { guid: d.orgGuid } : null },
      shared_organizations: { data: [] },
    },
    metadata: presentMetadata(d.metadata),
    links,
  };
}

const DestinationSchema = z.object({
  guid: z.string(),
  app: z.object({ guid: z.string(), process: z.object({ type: z.string() }) }),
  weight: z.number().nullable(),
  port: z.number().int(),
  protocol: z.string(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
});

export function presentDestination(d: RouteDestination): z.infer<typeof DestinationSchema> {
  return {
    guid: d.guid,
    app: { guid: d.appGuid, process: { type: d.processType } },
    weight: null,
    port: d.port ?? 8080,
    protocol: d.protocol,
  };
}

/** CC sorts a route's destinations by guid. */
function byGuid(destinations: RouteDestination[]): RouteDestination[] {
  return [...destinations].sort((a, b) => (a.guid < b.guid ? -1 : a.guid > b.guid ? 1 : 0));
}

export const RouteSchema = z
  .object({
    guid: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    protocol: z.string(),
    host: z.string(),
    path: z.string(),
    port: z.number().int().nullable(),
    url: z.string(),
    destinations: z.array(DestinationSchema),
    options: z.record(z.string(), z.string()),
    metadata: MetadataSchema,
    relationships: z.object({
      space: z.object({ data: z.object({ guid: z.string() }) }),
      domain: z.object({ data: z.object({ guid: z.string() }) }),
    }),
    links: z.record(z.string(), LinkSchema),
  })
  .meta({ id: 'Route' });

/** CC's route url: HOST.DOMAIN/PATH (DOMAIN/PATH without a host). */
export function routeUrl(route: Route, domain: Domain): string {
  return `${route.host === '' ? '' : `${route.host}.`}${domain.name}${route.path}`;
}

export function presentRoute(
  route: Route,
  domain: Domain,
  destinations: RouteDestination[],
  urls: Urls,
): z.infer<typeof RouteSchema> {
  return {
    guid: route.guid,
    created_at: cfTime(route.createdAt),
    updated_at: cfTime(route.updatedAt),
    protocol: 'http',
    host: route.host,
    path: route.path,
    port: null,
    url: routeUrl(route, domain),
    destinations: byGuid(destinations).map(presentDestination),
    options: {},
    metadata: presentMetadata(route.metadata),
    relationships: { space: { data: { guid: route.spaceGuid } }, domain: { data: { guid: route.domainGuid } } },
    links: {
      self: urls.link(`/v3/routes/${route.guid}`),
      space: urls.link(`/v3/spaces/${route.spaceGuid}`),
      destinations: urls.link(`/v3/routes/${route.guid}/destinations`),
      domain: urls.link(`/v3/domains/${route.domainGuid}`),
    },
  };
}

export const DestinationsSchema = z
  .object({ destinations: z.array(DestinationSchema), links: z.object({ self: LinkSchema, route: LinkSchema }) })
  .meta({ id: 'RouteDestinations' });

export function presentDestinations(
  routeGuid: string,
  destinations: RouteDestination[],
  urls: Urls,
): z.infer<typeof DestinationsSchema> {
  return {
    destinations: byGuid(destinations).map(presentDestination),
    links: {
      self: urls.link(`/v3/routes/${routeGuid}/destinations`),
      route: urls.link(`/v3/routes/${routeGuid}`),
    },
  };
}
