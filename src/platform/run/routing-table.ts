import type { WorkloadStore } from '../store/workload-store.js';
import type { Domain, Instance, Route, RouteDestination } from '../workload.js';

/**
 * Where the router sends a request, as gorouter decides it: the routes (host + domain +
 * optional path) from the workload store, their destinations (app + process type), and
 * the RUNNING instances the reconciler reports. No HTTP here; src/server/router is the
 * face that asks `lookup` for every request.
 *
 * - Hosts match case-insensitively, the Host header's port dropped; a wildcard route
 *   (`*.example.com`) answers for the names under it that have no route of their own.
 * - Of the routes of a host, the one with the longest path that is a prefix of the
 *   request's path on a segment boundary wins (CF: /foo takes /foo and /foo/bar, not
 *   /foobar). Like gorouter's route keys, paths compare case-insensitively.
 * - The backends of a route are the RUNNING instances of its destinations' apps with
 *   the destination's process type, each returned in rotated order (round robin across
 *   the route, not per destination), so the caller tries them first to last.
 * - `markFailed` takes an instance out for `failedForMs` (passive health checking: the
 *   reconciler notices a dead container a second or more after the router does). When
 *   every backend of a route is marked, all are offered again rather than none: a
 *   guess that may succeed beats a certain 503.
 */

export interface Backend {
  instanceGuid: string;
  appGuid: string;
  processType: string;
  index: number;
  /** Where to connect: 127.0.0.1 for an instance on this host, a Service's cluster name for pods. */
  host: string;
  /** The port there that reaches the instance's app port (a host loopback port for runc). */
  port: number;
  /** The app's port the destination names (8080 unless set). */
  appPort: number;
}

/** A route as the router presents it (logs, error pages). */
export interface RoutedRoute {
  guid: string;
  /** `host.domain` or the domain itself, lower case. */
  fqdn: string;
  /** '' or the route's path, as given. */
  path: string;
  spaceGuid: string;
}

export type RouteLookup =
  | { kind: 'none' }
  | { kind: 'unavailable'; route: RoutedRoute }
  | { kind: 'ok'; route: RoutedRoute; backends: Backend[] };

export interface RoutingTableRow {
  route: Route;
  domain: Domain;
  destinations: RouteDestination[];
}

export interface RoutingTableOptions {
  /** Where an instance is reached (default: its loopback port on this host, as the runc runner maps it). */
  addressOf?: (instance: Instance) => { host: string; port: number } | undefined;
  /** How long a backend that failed a connection is skipped (default 10 s). */
  failedForMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

/** The only app port an instance exposes on the host for now (CF's default). */
const APP_PORT = 8080;

interface Entry {
  route: RoutedRoute;
  /** The path, lower case, without a trailing slash ('' for none). */
  key: string;
  destinations: RouteDestination[];
  backends: Backend[];
  cursor: number;
}

export class RoutingTable {
  readonly #failedForMs: number;
  readonly #now: () => number;
  /** fqdn -> its routes, longest path first. */
  #byHost = new Map<string, Entry[]>();
  #instances = new Map<string, Instance[]>();
  readonly #addressOf: (instance: Instance) => { host: string; port: number } | undefined;
  /** instance guid -> until when it is skipped. */
  readonly #failed = new Map<string, number>();

  constructor(options: RoutingTableOptions = {}) {
    this.#addressOf = options.addressOf ?? ((i) => ({ host: '127.0.0.1', port: i.port }));
    this.#failedForMs = options.failedForMs ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Re-reads the routes (call when routes or destinations change, and every few seconds). */
  async refreshRoutes(store: Pick<WorkloadStore, 'routingTable'>): Promise<void> {
    this.setRoutes(await store.routingTable());
  }

  setRoutes(rows: RoutingTableRow[]): void {
    const byHost = new Map<string, Entry[]>();
    for (const { route, domain, destinations } of rows) {
      // Internal domains are for container-to-container traffic, never the router's. A route
      // mapped to no app is unknown to the router (404, as gorouter, which learns routes from
      // their endpoints); one whose apps have no healthy instance answers 503.
      if (domain.internal || destinations.length === 0) continue;
      const fqdn = (route.host ? `${route.host}.${domain.name}` : domain.name).toLowerCase();
      const entry: Entry = {
        route: { guid: route.guid, fqdn, path: route.path, spaceGuid: route.spaceGuid },
        key: pathKey(route.path),
        destinations,
        backends: [],
        cursor: 0,
      };
      entry.backends = this.#backendsOf(entry);
      const list = byHost.get(fqdn);
      if (list) list.push(entry);
      else byHost.set(fqdn, [entry]);
    }
    for (const list of byHost.values()) list.sort((a, b) => b.key.length - a.key.length);
    this.#byHost = byHost;
  }

  /** The RUNNING instances of every app (the reconciler's `onInstances`). */
  setInstances(running: Map<string, Instance[]>): void {
    this.#instances = running;
    const present = new Set<string>();
    for (const list of running.values()) for (const i of list) present.add(i.guid);
    for (const guid of this.#failed.keys()) if (!present.has(guid)) this.#failed.delete(guid);
    for (const list of this.#byHost.values()) for (const e of list) e.backends = this.#backendsOf(e);
  }

  /** Skips an instance for a while: a connection to it failed. */
  markFailed(instanceGuid: string): void {
    this.#failed.set(instanceGuid, this.#now() + this.#failedForMs);
  }

  /** The route for a request and its backends, rotated one further on each call. */
  lookup(hostHeader: string, path: string): RouteLookup {
    const entry = this.#find(normalizeHost(hostHeader), requestPathKey(path));
    if (!entry) return { kind: 'none' };
    const healthy = this.#healthy(entry.backends);
    if (healthy.length === 0) return { kind: 'unavailable', route: entry.route };
    const start = entry.cursor++ % healthy.length;
    if (entry.cursor >= Number.MAX_SAFE_INTEGER) entry.cursor = 0;
    return { kind: 'ok', route: entry.route, backends: [...healthy.slice(start), ...healthy.slice(0, start)] };
  }

  #find(host: string, path: string): Entry | undefined {
    const exact = matchPath(this.#byHost.get(host), path);
    if (exact) return exact;
    // Wildcards, nearest first: a.b.example.com tries *.b.example.com, then *.example.com.
    for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.', dot + 1)) {
      const hit = matchPath(this.#byHost.get(`*${host.slice(dot)}`), path);
      if (hit) return hit;
    }
    return undefined;
  }

  #healthy(backends: Backend[]): Backend[] {
    if (this.#failed.size === 0) return backends;
    const now = this.#now();
    const ok = backends.filter((b) => {
      const until = this.#failed.get(b.instanceGuid);
      if (until === undefined) return true;
      if (until > now) return false;
      this.#failed.delete(b.instanceGuid);
      return true;
    });
    return ok.length > 0 ? ok : backends;
  }

  #backendsOf(entry: Entry): Backend[] {
    const seen = new Set<string>();
    const out: Backend[] = [];
    for (const d of entry.destinations) {
      const appPort = d.port ?? APP_PORT;
      // Instances expose only their 8080 on the host: a destination on another app port
      // has nothing to reach yet, and sending it to 8080 would be the wrong app port.
      if (appPort !== APP_PORT) continue;
      for (const i of this.#instances.get(d.appGuid) ?? []) {
        if (i.state !== 'RUNNING' || i.processType !== d.processType || seen.has(i.guid)) continue;
        const address = this.#addressOf(i);
        if (!address) continue;
        seen.add(i.guid);
        out.push({
          instanceGuid: i.guid,
          appGuid: i.appGuid,
          processType: i.processType,
          index: i.index,
          ...address,
          appPort,
        });
      }
    }
    return out;
  }
}

function matchPath(entries: Entry[] | undefined, path: string): Entry | undefined {
  if (!entries) return undefined;
  for (const e of entries) {
    if (e.key === '' || path === e.key || (path.startsWith(e.key) && path.charCodeAt(e.key.length) === 0x2f)) return e;
  }
  return undefined;
}

/** `Example.COM:8080` -> `example.com`; `[::1]:80` -> `[::1]`; a trailing dot goes too. */
export function normalizeHost(hostHeader: string): string {
  let host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    host = end > 0 ? host.slice(0, end + 1) : host;
  } else {
    const colon = host.indexOf(':');
    if (colon >= 0) host = host.slice(0, colon);
  }
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

function pathKey(path: string): string {
  return path.toLowerCase().replace(/\/+$/, '');
}

function requestPathKey(target: string): string {
  const q = target.search(/[?#]/);
  return (q >= 0 ? target.slice(0, q) : target).toLowerCase();
}
