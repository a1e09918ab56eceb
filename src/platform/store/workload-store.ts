import type {
  Build,
  Deployment,
  Domain,
  Droplet,
  Instance,
  Package,
  Process,
  Revision,
  Route,
  RouteDestination,
} from '../workload.js';
import type { ListQuery, Page, Visibility } from './platform-store.js';

/** An app as the dashboard's home counts it, with its current droplet's stack and version. */
export interface FleetApp {
  guid: string;
  name: string;
  spaceGuid: string;
  state: 'STARTED' | 'STOPPED';
  autoRebase: boolean;
  currentDropletGuid?: string;
  stack?: string;
  stackVersion?: string;
}

/** The visible apps, by creation, and their processes. */
export interface FleetSummary {
  apps: FleetApp[];
  processes: { guid: string; appGuid: string }[];
}

/**
 * Where the platform keeps what makes apps run (src/platform/workload.ts): packages,
 * builds (the staging queue), droplets, processes, instances, domains, routes and their
 * destinations, deployments and revisions. It lives in the same database as the
 * PlatformStore (its tables reference apps and spaces: deleting an app deletes its
 * packages, builds, droplets, processes, instances, destinations, deployments and
 * revisions; deleting a space its routes), with the same rules for errors (CF's texts)
 * and visibility (filtered in SQL through the app's space).
 *
 * Every method is one atomic step. `claimBuild` is how build workers share the queue:
 * exactly one worker gets a build, even across processes and hosts.
 */
export interface WorkloadStore {
  // packages
  createPackage(pkg: Package): Promise<Package>;
  getPackage(guid: string): Promise<Package | undefined>;
  updatePackage(
    guid: string,
    patch: Partial<Pick<Package, 'state' | 'checksum' | 'error'>>,
  ): Promise<Package | undefined>;
  listPackages(
    query: ListQuery,
    filter: { appGuids?: string[]; guids?: string[]; states?: Package['state'][] },
    visibility: Visibility,
  ): Promise<Page<Package>>;

  // builds: the staging queue
  createBuild(build: Build): Promise<Build>;
  getBuild(guid: string): Promise<Build | undefined>;
  updateBuild(guid: string, patch: Partial<Pick<Build, 'state' | 'error' | 'dropletGuid'>>): Promise<Build | undefined>;
  listBuilds(
    query: ListQuery,
    filter: { appGuids?: string[]; packageGuids?: string[]; states?: Build['state'][] },
    visibility: Visibility,
  ): Promise<Page<Build>>;
  /**
   * Gives the oldest STAGING build no live worker holds to `workerId` (setting
   * workerId and claimedAt); a build claimed before `staleBefore` (its worker stopped
   * heartbeating) may be taken again. Undefined when there is none.
   */
  claimBuild(workerId: string, at: string, staleBefore: string): Promise<Build | undefined>;
  /** A worker's heartbeat: keeps its claims fresh. */
  touchBuildClaim(guid: string, workerId: string, at: string): Promise<boolean>;

  // droplets
  createDroplet(droplet: Droplet): Promise<Droplet>;
  getDroplet(guid: string): Promise<Droplet | undefined>;
  updateDroplet(
    guid: string,
    patch: Partial<Pick<Droplet, 'state' | 'digest' | 'stackVersion' | 'processTypes'>>,
  ): Promise<Droplet | undefined>;
  listDroplets(
    query: ListQuery,
    filter: { appGuids?: string[]; packageGuids?: string[]; states?: Droplet['state'][]; stacks?: string[] },
    visibility: Visibility,
  ): Promise<Page<Droplet>>;
  /** Sets (or clears) an app's current droplet; the droplet must be the app's and STAGED (CF's 422 otherwise). */
  setCurrentDroplet(appGuid: string, dropletGuid: string | null): Promise<void>;
  currentDroplet(appGuid: string): Promise<Droplet | undefined>;

  // processes
  /** Creates or updates the processes of an app to match the droplet's types (web always exists). */
  upsertProcess(process: Process): Promise<Process>;
  getProcess(guid: string): Promise<Process | undefined>;
  findProcess(appGuid: string, type: string): Promise<Process | undefined>;
  updateProcess(
    guid: string,
    patch: Partial<Pick<Process, 'command' | 'instances' | 'memoryMb' | 'diskMb' | 'healthCheck' | 'version'>>,
  ): Promise<Process | undefined>;
  listProcesses(
    query: ListQuery,
    filter: { appGuids?: string[]; types?: string[]; spaceGuids?: string[]; guids?: string[] },
    visibility: Visibility,
  ): Promise<Page<Process>>;

  // instances: the actual state, per host
  putInstance(instance: Instance): Promise<void>;
  updateInstance(
    guid: string,
    patch: Partial<
      Pick<
        Instance,
        'state' | 'since' | 'crashCount' | 'details' | 'restartAt' | 'port' | 'networkPid' | 'containerName'
      >
    >,
  ): Promise<void>;
  deleteInstance(guid: string): Promise<void>;
  /** Instances of a process (all hosts), by index. */
  instancesOf(processGuid: string): Promise<Instance[]>;
  /** The fleet in two narrow reads (no JSON columns), as the dashboard's home counts it. */
  fleetSummary(visibility: Visibility): Promise<FleetSummary>;
  /** Instances of many processes at once (a page of the fleet), by process, then index. */
  instancesOfProcesses(processGuids: string[]): Promise<Instance[]>;
  /** Every instance a host runs (what a restarted server adopts). */
  instancesOnHost(host: string): Promise<Instance[]>;

  // domains and routes
  createDomain(domain: Domain): Promise<Domain>;
  getDomain(guid: string): Promise<Domain | undefined>;
  findDomain(name: string): Promise<Domain | undefined>;
  listDomains(
    query: ListQuery,
    filter: { names?: string[]; guids?: string[] },
    visibility: Visibility,
  ): Promise<Page<Domain>>;
  /** A route; host+domain+path taken anywhere is a CONFLICT "Route already exists" (CF-RouteTaken when in another space). */
  createRoute(route: Route): Promise<Route>;
  getRoute(guid: string): Promise<Route | undefined>;
  findRoute(domainGuid: string, host: string, path: string): Promise<Route | undefined>;
  deleteRoute(guid: string): Promise<boolean>;
  listRoutes(
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
  ): Promise<Page<Route>>;
  /** Adds destinations (one already there is kept); answers all of the route's destinations, as CC does. */
  addDestinations(routeGuid: string, destinations: RouteDestination[]): Promise<RouteDestination[]>;
  removeDestination(routeGuid: string, destinationGuid: string): Promise<boolean>;
  destinationsOf(routeGuid: string): Promise<RouteDestination[]>;
  /** Every route with its destinations (what the router serves), one query. */
  routingTable(): Promise<{ route: Route; domain: Domain; destinations: RouteDestination[] }[]>;

  // deployments and revisions
  createDeployment(deployment: Deployment): Promise<Deployment>;
  getDeployment(guid: string): Promise<Deployment | undefined>;
  updateDeployment(
    guid: string,
    patch: Partial<Pick<Deployment, 'statusValue' | 'statusReason' | 'lastStatusChange' | 'revisionGuid'>>,
  ): Promise<Deployment | undefined>;
  listDeployments(
    query: ListQuery,
    filter: { appGuids?: string[]; statusValues?: Deployment['statusValue'][]; guids?: string[] },
    visibility: Visibility,
  ): Promise<Page<Deployment>>;
  /** The ACTIVE deployment of an app, if any (at most one). */
  activeDeployment(appGuid: string): Promise<Deployment | undefined>;
  /** The next version number of an app's revisions is kept by the store. */
  createRevision(revision: Omit<Revision, 'version'>): Promise<Revision>;
  getRevision(guid: string): Promise<Revision | undefined>;
  listRevisions(
    query: ListQuery,
    filter: { appGuids?: string[]; versions?: number[] },
    visibility: Visibility,
  ): Promise<Page<Revision>>;

  // resource matching (files the platform has by sha1)
  /** Of these sha1s, the ones the platform has. */
  knownResources(sha1s: string[]): Promise<Set<string>>;
  addResources(files: { sha1: string; size: number }[]): Promise<void>;
}
