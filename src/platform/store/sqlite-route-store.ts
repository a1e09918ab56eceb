import type { Domain, Route, RouteDestination } from '../workload.js';
import type { ListQuery, Page, Visibility } from './platform-store.js';
import { metadataColumns, nameKey } from './sqlite-platform-rows.js';
import { inList, placeholders, spaceRule, TIMES, Where } from './sqlite-platform-sql.js';
import type { SqliteRunner } from './sqlite-runner.js';
import {
  DESTINATION_COLUMNS,
  DOMAIN_COLUMNS,
  type DestinationRow,
  type DomainRow,
  ROUTE_COLUMNS,
  type RouteRow,
  toDestination,
  toDomain,
  toRoute,
} from './sqlite-workload-rows.js';
import { conflict, DOMAIN_ORDER, domainRule, invalid, notFound, routesToApps, TEXTS } from './sqlite-workload-sql.js';

/**
 * The routing table in one query. Its first row holds every domain as one JSON array;
 * then one row per route, in creation order, with the route's destinations (in
 * order, through route_destinations_by_route) as one JSON array. Compact rows matter:
 * reading 1,000 routes and 2,000 destinations is mostly making their strings, and a
 * plain join repeats every route and domain column for each destination (3 times
 * the values).
 */
export const ROUTING_TABLE_SQL = `SELECT -1 AS k,
    (SELECT json_group_array(json_array(d.guid, d.labels, d.annotations, d.created_at, d.updated_at, d.name,
       d.internal, d.org_guid) ORDER BY d.id) FROM domains d) AS list,
    NULL AS guid, NULL AS labels, NULL AS annotations, NULL AS created_at, NULL AS updated_at, NULL AS host,
    NULL AS path, NULL AS domain_guid, NULL AS space_guid
  UNION ALL
  SELECT r.id,
    (SELECT json_group_array(json_array(x.guid, x.app_guid, x.process_type, x.port, x.protocol) ORDER BY x.id)
       FROM route_destinations x WHERE x.route_guid = r.guid),
    r.guid, r.labels, r.annotations, r.created_at, r.updated_at, r.host, r.path, r.domain_guid, r.space_guid
  FROM routes r
  ORDER BY k`;

type TableRow = [number, string, ...(string | null)[]];
type DomainItem = [string, string, string, string, string, string, number, string | null];
type DestinationItem = [string, string, string, number | null, string];

/**
 * Domains, routes and route destinations of the SQLite WorkloadStore (the part the
 * router reads): a route's (domain, host, path) is unique across the platform, kept
 * by a unique index and answered in Cloud Controller's words (CF-RouteTaken when the
 * route is another space's); routes go with their space, destinations with their
 * route or app, private domains with their org.
 */
export abstract class SqliteRouteStore {
  protected readonly run: SqliteRunner;

  protected constructor(run: SqliteRunner) {
    this.run = run;
  }

  // domains

  async createDomain(domain: Domain): Promise<Domain> {
    return this.run.write(() => {
      if (this.run.sql('SELECT 1 FROM domains WHERE name_key = ?').get(nameKey(domain.name)) !== undefined) {
        throw conflict(TEXTS.domainTaken(domain.name), 'name');
      }
      if (
        domain.orgGuid !== undefined &&
        this.run.sql('SELECT 1 FROM orgs WHERE guid = ?').get(domain.orgGuid) === undefined
      ) {
        throw notFound(TEXTS.org, 'organization');
      }
      const m = metadataColumns(domain.metadata);
      this.run
        .sql(
          `INSERT INTO domains (guid, name, name_key, internal, org_guid, labels, annotations, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          domain.guid,
          domain.name,
          nameKey(domain.name),
          domain.internal ? 1 : 0,
          domain.orgGuid ?? null,
          m.labels,
          m.annotations,
          domain.createdAt,
          domain.updatedAt,
        );
      return this.#domain(domain.guid)!;
    });
  }

  async getDomain(guid: string): Promise<Domain | undefined> {
    return this.run.read(() => this.#domain(guid));
  }

  /** By name, regardless of case (domain names are unique that way). */
  async findDomain(name: string): Promise<Domain | undefined> {
    return this.run.read(() => {
      const row = this.run.sql(`SELECT ${DOMAIN_COLUMNS} FROM domains t WHERE t.name_key = ?`).get(nameKey(name)) as
        | DomainRow
        | undefined;
      return row && toDomain(row);
    });
  }

  async listDomains(
    query: ListQuery,
    filter: { names?: string[]; guids?: string[] },
    visibility: Visibility,
  ): Promise<Page<Domain>> {
    const where = new Where().in('t.guid', filter.guids).add(domainRule(visibility));
    if (filter.names) where.add(inList('t.name_key', filter.names.map(nameKey)));
    return this.run.list<DomainRow, Domain>('domains', DOMAIN_COLUMNS, where, query, DOMAIN_ORDER, toDomain);
  }

  #domain(guid: string): Domain | undefined {
    return this.run.get<DomainRow, Domain>('domains', DOMAIN_COLUMNS, guid, toDomain);
  }

  // routes

  async createRoute(route: Route): Promise<Route> {
    return this.run.write(() => {
      const space = this.run.sql('SELECT org_guid FROM spaces WHERE guid = ?').get(route.spaceGuid) as
        | { org_guid: string }
        | undefined;
      if (space === undefined) throw notFound(TEXTS.space, 'space');
      const domain = this.run.sql('SELECT name, org_guid FROM domains WHERE guid = ?').get(route.domainGuid) as
        | { name: string; org_guid: string | null }
        | undefined;
      if (domain === undefined) throw notFound(TEXTS.domain, 'domain');
      if (domain.org_guid !== null && domain.org_guid !== space.org_guid) {
        const org = this.run.sql('SELECT name FROM orgs WHERE guid = ?').pluck().get(space.org_guid) as string;
        throw invalid(TEXTS.domainElsewhere(domain.name, org), 'domain');
      }
      const holder = this.run
        .sql('SELECT space_guid FROM routes WHERE domain_guid = ? AND host = ? AND path = ?')
        .pluck()
        .get(route.domainGuid, route.host, route.path) as string | undefined;
      if (holder !== undefined) {
        if (holder === route.spaceGuid) {
          throw conflict(TEXTS.routeExists(route.host, route.path, domain.name), 'host');
        }
        throw conflict(TEXTS.hostTaken(route.host === '' ? domain.name : route.host), 'host', { cf: 'RouteTaken' });
      }
      const m = metadataColumns(route.metadata);
      this.run
        .sql(
          `INSERT INTO routes (guid, host, path, domain_guid, space_guid, org_guid, labels, annotations, created_at,
             updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          route.guid,
          route.host,
          route.path,
          route.domainGuid,
          route.spaceGuid,
          space.org_guid,
          m.labels,
          m.annotations,
          route.createdAt,
          route.updatedAt,
        );
      return this.#route(route.guid)!;
    });
  }

  async getRoute(guid: string): Promise<Route | undefined> {
    return this.run.read(() => this.#route(guid));
  }

  async findRoute(domainGuid: string, host: string, path: string): Promise<Route | undefined> {
    return this.run.read(() => {
      const row = this.run
        .sql(`SELECT ${ROUTE_COLUMNS} FROM routes t WHERE t.domain_guid = ? AND t.host = ? AND t.path = ?`)
        .get(domainGuid, host, path) as RouteRow | undefined;
      return row && toRoute(row);
    });
  }

  /** Deletes the route with its destinations. */
  async deleteRoute(guid: string): Promise<boolean> {
    return this.run.write(() => this.run.sql('DELETE FROM routes WHERE guid = ?').run(guid).changes > 0);
  }

  async listRoutes(
    query: ListQuery,
    filter: {
      appGuids?: string[];
      spaceGuids?: string[];
      organizationGuids?: string[];
      domainGuids?: string[];
      hosts?: string[];
      paths?: string[];
      guids?: string[];
    },
    visibility: Visibility,
  ): Promise<Page<Route>> {
    const where = new Where()
      .in('t.guid', filter.guids)
      .in('t.space_guid', filter.spaceGuids)
      .in('t.org_guid', filter.organizationGuids)
      .in('t.domain_guid', filter.domainGuids)
      .in('t.host', filter.hosts)
      .in('t.path', filter.paths)
      .add(filter.appGuids && routesToApps(filter.appGuids))
      .add(spaceRule(visibility, 't.space_guid', 't.org_guid'));
    return this.run.list<RouteRow, Route>('routes', ROUTE_COLUMNS, where, query, TIMES, toRoute);
  }

  #route(guid: string): Route | undefined {
    return this.run.get<RouteRow, Route>('routes', ROUTE_COLUMNS, guid, toRoute);
  }

  // destinations

  /**
   * Adds destinations to a route (each destination's routeGuid is this route's); one
   * already there (same app, process type and port) is kept as it is. Answers every
   * destination of the route, as CF's POST /v3/routes/:guid/destinations does.
   */
  async addDestinations(routeGuid: string, destinations: RouteDestination[]): Promise<RouteDestination[]> {
    return this.run.write(() => {
      if (this.run.sql('SELECT 1 FROM routes WHERE guid = ?').get(routeGuid) === undefined) {
        throw notFound(TEXTS.route, 'route');
      }
      const wanted = [...new Set(destinations.map((d) => d.appGuid))];
      if (wanted.length > 0) {
        const found = new Set(
          this.run
            .sql(`SELECT guid FROM apps WHERE guid IN (${placeholders(wanted.length)})`)
            .pluck()
            .all(...wanted) as string[],
        );
        const missing = wanted.filter((g) => !found.has(g));
        if (missing.length > 0) throw notFound(TEXTS.destinationApps(missing), 'app');
      }
      const insert = this.run.sql(
        `INSERT INTO route_destinations (guid, route_guid, app_guid, process_type, port, protocol)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      );
      for (const d of destinations) insert.run(d.guid, routeGuid, d.appGuid, d.processType, d.port, d.protocol);
      return this.#destinations(routeGuid);
    });
  }

  async removeDestination(routeGuid: string, destinationGuid: string): Promise<boolean> {
    return this.run.write(
      () =>
        this.run.sql('DELETE FROM route_destinations WHERE guid = ? AND route_guid = ?').run(destinationGuid, routeGuid)
          .changes > 0,
    );
  }

  async destinationsOf(routeGuid: string): Promise<RouteDestination[]> {
    return this.run.read(() => this.#destinations(routeGuid));
  }

  #destinations(routeGuid: string): RouteDestination[] {
    return this.run.all<DestinationRow, RouteDestination>(
      `SELECT ${DESTINATION_COLUMNS} FROM route_destinations t WHERE t.route_guid = ? ORDER BY t.id`,
      [routeGuid],
      toDestination,
    );
  }

  /** Every route with its domain and destinations, from one query (routes in creation order). */
  async routingTable(): Promise<{ route: Route; domain: Domain; destinations: RouteDestination[] }[]> {
    return this.run.read(() => {
      const [first, ...routes] = this.run.sql(ROUTING_TABLE_SQL).raw(true).all() as TableRow[];
      const domains = new Map<string, Domain>();
      for (const [guid, labels, annotations, created_at, updated_at, name, internal, org_guid] of JSON.parse(
        first![1],
      ) as DomainItem[]) {
        domains.set(guid, toDomain({ guid, labels, annotations, created_at, updated_at, name, internal, org_guid }));
      }
      return routes.map(
        ([, list, guid, labels, annotations, created_at, updated_at, host, path, domain_guid, space_guid]) => {
          const route = toRoute({
            guid: guid!,
            labels: labels!,
            annotations: annotations!,
            created_at: created_at!,
            updated_at: updated_at!,
            host: host!,
            path: path!,
            domain_guid: domain_guid!,
            space_guid: space_guid!,
          });
          const destinations = (JSON.parse(list) as DestinationItem[]).map(
            ([guid, appGuid, processType, port, protocol]): RouteDestination => ({
              guid,
              routeGuid: route.guid,
              appGuid,
              processType,
              port,
              protocol: protocol as RouteDestination['protocol'],
            }),
          );
          return { route, domain: domains.get(route.domainGuid)!, destinations };
        },
      );
    });
  }
}
