import type { Domain, Route, RouteDestination } from '../workload.js';
import type { ListQuery, Page, Visibility } from './platform-store.js';
import type { PgRunner } from './postgres-runner.js';
import { metadataColumns, nameKey } from './sqlite-platform-rows.js';
import { inList, spaceRule, TIMES, Where } from './sqlite-platform-sql.js';
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
 * The routing table in one statement (one snapshot): every domain once, then each
 * route in creation order with its destinations in order, aggregated per route as
 * JSON (a plain join would repeat every route and domain column per destination).
 */
export const PG_ROUTING_TABLE_SQL = `SELECT
    (SELECT COALESCE(json_agg(json_build_array(d.guid, d.labels, d.annotations, d.created_at, d.updated_at, d.name,
       d.internal, d.org_guid) ORDER BY d.id), '[]'::json) FROM domains d) AS domains,
    (SELECT COALESCE(json_agg(json_build_array(r.guid, r.labels, r.annotations, r.created_at, r.updated_at, r.host,
       r.path, r.domain_guid, r.space_guid,
       (SELECT COALESCE(json_agg(json_build_array(x.guid, x.app_guid, x.process_type, x.port, x.protocol)
          ORDER BY x.id), '[]'::json) FROM route_destinations x WHERE x.route_guid = r.guid)) ORDER BY r.id), '[]'::json)
     FROM routes r) AS routes`;

type DomainItem = [string, string, string, string, string, string, number, string | null];
type DestinationItem = [string, string, string, number | null, string];
type RouteItem = [string, string, string, string, string, string, string, string, string, DestinationItem[]];

/**
 * Domains, routes and route destinations of the PostgreSQL WorkloadStore, with the
 * rules and texts of SqliteRouteStore: a route's (domain, host, path) is unique across
 * the platform (a unique index; the check and the insert in one SERIALIZABLE
 * transaction, so two nodes creating it at once give one CONFLICT), CF-RouteTaken
 * when another space holds it.
 */
export abstract class PostgresRouteStore {
  protected readonly run: PgRunner;

  protected constructor(run: PgRunner) {
    this.run = run;
  }

  // domains

  async createDomain(domain: Domain): Promise<Domain> {
    return this.run.write(async (c) => {
      if (await c.exists('SELECT 1 FROM domains WHERE name_key = ?', [nameKey(domain.name)])) {
        throw conflict(TEXTS.domainTaken(domain.name), 'name');
      }
      if (domain.orgGuid !== undefined && !(await c.exists('SELECT 1 FROM orgs WHERE guid = ?', [domain.orgGuid]))) {
        throw notFound(TEXTS.org, 'organization');
      }
      const m = metadataColumns(domain.metadata);
      await c.run(
        `INSERT INTO domains (guid, name, name_key, internal, org_guid, labels, annotations, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          domain.guid,
          domain.name,
          nameKey(domain.name),
          domain.internal ? 1 : 0,
          domain.orgGuid ?? null,
          m.labels,
          m.annotations,
          domain.createdAt,
          domain.updatedAt,
        ],
      );
      return (await this.run.get<DomainRow, Domain>('domains', DOMAIN_COLUMNS, domain.guid, toDomain, c))!;
    });
  }

  async getDomain(guid: string): Promise<Domain | undefined> {
    return this.run.get<DomainRow, Domain>('domains', DOMAIN_COLUMNS, guid, toDomain);
  }

  /** By name, regardless of case (domain names are unique that way). */
  async findDomain(name: string): Promise<Domain | undefined> {
    const row = await this.run.sql.one<DomainRow>(`SELECT ${DOMAIN_COLUMNS} FROM domains t WHERE t.name_key = ?`, [
      nameKey(name),
    ]);
    return row && toDomain(row);
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

  // routes

  async createRoute(route: Route): Promise<Route> {
    return this.run.write(async (c) => {
      const space = await c.one<{ org_guid: string }>('SELECT org_guid FROM spaces WHERE guid = ?', [route.spaceGuid]);
      if (space === undefined) throw notFound(TEXTS.space, 'space');
      const domain = await c.one<{ name: string; org_guid: string | null }>(
        'SELECT name, org_guid FROM domains WHERE guid = ?',
        [route.domainGuid],
      );
      if (domain === undefined) throw notFound(TEXTS.domain, 'domain');
      if (domain.org_guid !== null && domain.org_guid !== space.org_guid) {
        const org = (await c.value<string>('SELECT name FROM orgs WHERE guid = ?', [space.org_guid]))!;
        throw invalid(TEXTS.domainElsewhere(domain.name, org), 'domain');
      }
      const holder = await c.value<string>(
        'SELECT space_guid FROM routes WHERE domain_guid = ? AND host = ? AND path = ?',
        [route.domainGuid, route.host, route.path],
      );
      if (holder !== undefined) {
        if (holder === route.spaceGuid) {
          throw conflict(TEXTS.routeExists(route.host, route.path, domain.name), 'host');
        }
        throw conflict(TEXTS.hostTaken(route.host === '' ? domain.name : route.host), 'host', { cf: 'RouteTaken' });
      }
      const m = metadataColumns(route.metadata);
      await c.run(
        `INSERT INTO routes (guid, host, path, domain_guid, space_guid, org_guid, labels, annotations, created_at,
           updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
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
        ],
      );
      return (await this.run.get<RouteRow, Route>('routes', ROUTE_COLUMNS, route.guid, toRoute, c))!;
    });
  }

  async getRoute(guid: string): Promise<Route | undefined> {
    return this.run.get<RouteRow, Route>('routes', ROUTE_COLUMNS, guid, toRoute);
  }

  async findRoute(domainGuid: string, host: string, path: string): Promise<Route | undefined> {
    const row = await this.run.sql.one<RouteRow>(
      `SELECT ${ROUTE_COLUMNS} FROM routes t WHERE t.domain_guid = ? AND t.host = ? AND t.path = ?`,
      [domainGuid, host, path],
    );
    return row && toRoute(row);
  }

  /** Deletes the route with its destinations. */
  async deleteRoute(guid: string): Promise<boolean> {
    return (await this.run.sql.run('DELETE FROM routes WHERE guid = ?', [guid])) > 0;
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

  // destinations

  /**
   * Adds destinations to a route (each destination's routeGuid is this route's); one
   * already there (same app, process type and port) is kept as it is. Answers every
   * destination of the route, as CF's POST /v3/routes/:guid/destinations does.
   */
  async addDestinations(routeGuid: string, destinations: RouteDestination[]): Promise<RouteDestination[]> {
    return this.run.write(async (c) => {
      if (!(await c.exists('SELECT 1 FROM routes WHERE guid = ?', [routeGuid]))) throw notFound(TEXTS.route, 'route');
      const wanted = [...new Set(destinations.map((d) => d.appGuid))];
      if (wanted.length > 0) {
        const found = new Set(
          (await c.all<{ guid: string }>('SELECT guid FROM apps WHERE guid = ANY(?::text[])', [wanted])).map(
            (r) => r.guid,
          ),
        );
        const missing = wanted.filter((g) => !found.has(g));
        if (missing.length > 0) throw notFound(TEXTS.destinationApps(missing), 'app');
      }
      // One at a time, in the order given: the order of ids is the order destinations are answered in.
      for (const d of destinations) {
        await c.run(
          `INSERT INTO route_destinations (guid, route_guid, app_guid, process_type, port, protocol)
           VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
          [d.guid, routeGuid, d.appGuid, d.processType, d.port, d.protocol],
        );
      }
      return this.#destinations(routeGuid, c);
    });
  }

  async removeDestination(routeGuid: string, destinationGuid: string): Promise<boolean> {
    return (
      (await this.run.sql.run('DELETE FROM route_destinations WHERE guid = ? AND route_guid = ?', [
        destinationGuid,
        routeGuid,
      ])) > 0
    );
  }

  async destinationsOf(routeGuid: string): Promise<RouteDestination[]> {
    return this.#destinations(routeGuid);
  }

  #destinations(routeGuid: string, c = this.run.sql): Promise<RouteDestination[]> {
    return this.run.all<DestinationRow, RouteDestination>(
      `SELECT ${DESTINATION_COLUMNS} FROM route_destinations t WHERE t.route_guid = ? ORDER BY t.id`,
      [routeGuid],
      toDestination,
      c,
    );
  }

  /** Every route with its domain and destinations, from one statement (routes in creation order). */
  async routingTable(): Promise<{ route: Route; domain: Domain; destinations: RouteDestination[] }[]> {
    const row = (await this.run.sql.one<{ domains: DomainItem[]; routes: RouteItem[] }>(PG_ROUTING_TABLE_SQL))!;
    const domains = new Map<string, Domain>();
    for (const [guid, labels, annotations, created_at, updated_at, name, internal, org_guid] of row.domains) {
      domains.set(guid, toDomain({ guid, labels, annotations, created_at, updated_at, name, internal, org_guid }));
    }
    return row.routes.map(
      ([guid, labels, annotations, created_at, updated_at, host, path, domain_guid, space_guid, list]) => {
        const route = toRoute({
          guid,
          labels,
          annotations,
          created_at,
          updated_at,
          host,
          path,
          domain_guid,
          space_guid,
        });
        const destinations = list.map(
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
  }
}
