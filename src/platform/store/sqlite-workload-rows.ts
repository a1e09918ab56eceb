import type { Metadata } from '../model.js';
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

/**
 * The SQLite WorkloadStore's rows and their mapping to the workload model
 * (src/platform/workload.ts): the columns each SELECT reads (the table aliased `t`)
 * and how a row becomes a resource. JSON columns (labels, annotations, lifecycle,
 * process types, buildpacks, health checks, env) are parsed here; an optional field
 * whose column is NULL is left out, so what is read back equals what was written.
 * Fields are written out rather than spread from a helper's object: V8 spreads at
 * about 70 times the cost, which the routing table (1,000 routes) would feel.
 */

interface Labelled {
  guid: string;
  labels: string;
  annotations: string;
  created_at: string;
  updated_at: string;
}

export interface PackageRow extends Labelled {
  app_guid: string;
  type: string;
  state: string;
  checksum: string | null;
  image: string | null;
  error: string | null;
}

export interface BuildRow extends Labelled {
  app_guid: string;
  package_guid: string;
  state: string;
  error: string | null;
  lifecycle: string;
  droplet_guid: string | null;
  created_by_guid: string | null;
  created_by_name: string | null;
  staging_memory_mb: number;
  staging_disk_mb: number;
  worker_id: string | null;
  claimed_at: string | null;
}

export interface DropletRow extends Labelled {
  app_guid: string;
  build_guid: string | null;
  package_guid: string | null;
  state: string;
  digest: string;
  process_types: string;
  buildpacks: string;
  stack: string;
  stack_version: string;
  execution_metadata: string;
  rebased_from: string | null;
}

export interface ProcessRow extends Labelled {
  app_guid: string;
  type: string;
  command: string | null;
  instances: number;
  memory_mb: number;
  disk_mb: number;
  health_check: string;
  version: string;
}

export interface InstanceRow {
  guid: string;
  app_guid: string;
  process_guid: string;
  process_type: string;
  instance_index: number;
  droplet_guid: string;
  process_version: string | null;
  deployment_guid: string | null;
  host: string;
  container_name: string;
  port: number;
  network_pid: number | null;
  state: string;
  since: string;
  crash_count: number;
  details: string | null;
  restart_at: string | null;
}

export interface DomainRow extends Labelled {
  name: string;
  internal: number;
  org_guid: string | null;
}

export interface RouteRow extends Labelled {
  host: string;
  path: string;
  domain_guid: string;
  space_guid: string;
}

export interface DestinationRow {
  guid: string;
  route_guid: string;
  app_guid: string;
  process_type: string;
  port: number | null;
  protocol: string;
}

export interface DeploymentRow extends Labelled {
  app_guid: string;
  strategy: string;
  status_value: string;
  status_reason: string;
  droplet_guid: string;
  previous_droplet_guid: string | null;
  revision_guid: string | null;
  max_in_flight: number;
  last_status_change: string;
}

export interface RevisionRow extends Labelled {
  app_guid: string;
  version: number;
  droplet_guid: string;
  description: string;
  processes: string;
  environment_variables: string;
  deployable: number;
}

const LABELLED = 't.guid, t.labels, t.annotations, t.created_at, t.updated_at';
export const PACKAGE_COLUMNS = `${LABELLED}, t.app_guid, t.type, t.state, t.checksum, t.image, t.error`;
export const BUILD_COLUMNS = `${LABELLED}, t.app_guid, t.package_guid, t.state, t.error, t.lifecycle, t.droplet_guid,
  t.created_by_guid, t.created_by_name, t.staging_memory_mb, t.staging_disk_mb, t.worker_id, t.claimed_at`;
export const DROPLET_COLUMNS = `${LABELLED}, t.app_guid, t.build_guid, t.package_guid, t.state, t.digest,
  t.process_types, t.buildpacks, t.stack, t.stack_version, t.execution_metadata, t.rebased_from`;
export const PROCESS_COLUMNS = `${LABELLED}, t.app_guid, t.type, t.command, t.instances, t.memory_mb, t.disk_mb,
  t.health_check, t.version`;
export const INSTANCE_COLUMNS = `t.guid, t.app_guid, t.process_guid, t.process_type, t.instance_index, t.droplet_guid,
  t.process_version, t.deployment_guid, t.host, t.container_name, t.port, t.network_pid, t.state, t.since, t.crash_count, t.details,
  t.restart_at`;
export const DOMAIN_COLUMNS = `${LABELLED}, t.name, t.internal, t.org_guid`;
export const ROUTE_COLUMNS = `${LABELLED}, t.host, t.path, t.domain_guid, t.space_guid`;
export const DESTINATION_COLUMNS = 't.guid, t.route_guid, t.app_guid, t.process_type, t.port, t.protocol';
export const DEPLOYMENT_COLUMNS = `${LABELLED}, t.app_guid, t.strategy, t.status_value, t.status_reason,
  t.droplet_guid, t.previous_droplet_guid, t.revision_guid, t.max_in_flight, t.last_status_change`;
export const REVISION_COLUMNS = `${LABELLED}, t.app_guid, t.version, t.droplet_guid, t.description, t.processes,
  t.environment_variables, t.deployable`;

/** A JSON object column; most metadata is empty, and JSON.parse('{}') costs the routing table a millisecond per 1,000 routes. */
function object<T>(text: string): T {
  return text === '{}' ? ({} as T) : JSON.parse(text);
}

function metadata(row: Labelled): Metadata {
  return { labels: object(row.labels), annotations: object(row.annotations) };
}

export function toPackage(row: PackageRow): Package {
  const pkg: Package = {
    guid: row.guid,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    metadata: metadata(row),
    appGuid: row.app_guid,
    type: row.type as Package['type'],
    state: row.state as Package['state'],
  };
  if (row.checksum !== null) pkg.checksum = row.checksum;
  if (row.image !== null) pkg.image = row.image;
  if (row.error !== null) pkg.error = row.error;
  return pkg;
}

export function toBuild(row: BuildRow): Build {
  const build: Build = {
    guid: row.guid,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    metadata: metadata(row),
    appGuid: row.app_guid,
    packageGuid: row.package_guid,
    state: row.state as Build['state'],
    error: row.error,
    lifecycle: JSON.parse(row.lifecycle),
    stagingMemoryMb: row.staging_memory_mb,
    stagingDiskMb: row.staging_disk_mb,
  };
  if (row.droplet_guid !== null) build.dropletGuid = row.droplet_guid;
  if (row.created_by_guid !== null) build.createdBy = { guid: row.created_by_guid, name: row.created_by_name ?? '' };
  if (row.worker_id !== null) build.workerId = row.worker_id;
  if (row.claimed_at !== null) build.claimedAt = row.claimed_at;
  return build;
}

export function toDroplet(row: DropletRow): Droplet {
  const droplet: Droplet = {
    guid: row.guid,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    metadata: metadata(row),
    appGuid: row.app_guid,
    state: row.state as Droplet['state'],
    digest: row.digest,
    processTypes: JSON.parse(row.process_types),
    buildpacks: JSON.parse(row.buildpacks),
    stack: row.stack,
    stackVersion: row.stack_version,
    executionMetadata: row.execution_metadata,
  };
  if (row.build_guid !== null) droplet.buildGuid = row.build_guid;
  if (row.package_guid !== null) droplet.packageGuid = row.package_guid;
  if (row.rebased_from !== null) droplet.rebasedFrom = row.rebased_from;
  return droplet;
}

export function toProcess(row: ProcessRow): Process {
  return {
    guid: row.guid,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    metadata: metadata(row),
    appGuid: row.app_guid,
    type: row.type,
    command: row.command,
    instances: row.instances,
    memoryMb: row.memory_mb,
    diskMb: row.disk_mb,
    healthCheck: JSON.parse(row.health_check),
    ...(row.version ? { version: row.version } : {}),
  };
}

export function toInstance(row: InstanceRow): Instance {
  const instance: Instance = {
    guid: row.guid,
    appGuid: row.app_guid,
    processGuid: row.process_guid,
    processType: row.process_type,
    index: row.instance_index,
    dropletGuid: row.droplet_guid,
    host: row.host,
    containerName: row.container_name,
    port: row.port,
    state: row.state as Instance['state'],
    since: row.since,
    crashCount: row.crash_count,
  };
  if (row.process_version !== null) instance.processVersion = row.process_version;
  if (row.deployment_guid !== null) instance.deploymentGuid = row.deployment_guid;
  if (row.network_pid !== null) instance.networkPid = row.network_pid;
  if (row.details !== null) instance.details = row.details;
  if (row.restart_at !== null) instance.restartAt = row.restart_at;
  return instance;
}

export function toDomain(row: DomainRow): Domain {
  const domain: Domain = {
    guid: row.guid,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    metadata: metadata(row),
    name: row.name,
    internal: row.internal !== 0,
  };
  if (row.org_guid !== null) domain.orgGuid = row.org_guid;
  return domain;
}

export function toRoute(row: RouteRow): Route {
  return {
    guid: row.guid,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    metadata: metadata(row),
    host: row.host,
    path: row.path,
    domainGuid: row.domain_guid,
    spaceGuid: row.space_guid,
  };
}

export function toDestination(row: DestinationRow): RouteDestination {
  return {
    guid: row.guid,
    routeGuid: row.route_guid,
    appGuid: row.app_guid,
    processType: row.process_type,
    port: row.port,
    protocol: row.protocol as RouteDestination['protocol'],
  };
}

export function toDeployment(row: DeploymentRow): Deployment {
  const deployment: Deployment = {
    guid: row.guid,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    metadata: metadata(row),
    appGuid: row.app_guid,
    strategy: row.strategy as Deployment['strategy'],
    statusValue: row.status_value as Deployment['statusValue'],
    statusReason: row.status_reason as Deployment['statusReason'],
    dropletGuid: row.droplet_guid,
    maxInFlight: row.max_in_flight,
    lastStatusChange: row.last_status_change,
  };
  if (row.previous_droplet_guid !== null) deployment.previousDropletGuid = row.previous_droplet_guid;
  if (row.revision_guid !== null) deployment.revisionGuid = row.revision_guid;
  return deployment;
}

export function toRevision(row: RevisionRow): Revision {
  return {
    guid: row.guid,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    metadata: metadata(row),
    appGuid: row.app_guid,
    version: row.version,
    dropletGuid: row.droplet_guid,
    description: row.description,
    processes: JSON.parse(row.processes),
    environmentVariables: JSON.parse(row.environment_variables),
    deployable: row.deployable !== 0,
  };
}
