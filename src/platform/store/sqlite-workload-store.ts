import type Database from 'better-sqlite3';
import { now } from '../model.js';
import type { Build, Deployment, Droplet, Instance, Package, Process, Revision } from '../workload.js';
import type { ListQuery, Page, Visibility } from './platform-store.js';
import { metadataColumns } from './sqlite-platform-rows.js';
import { type Clause, placeholders, TIMES, Where } from './sqlite-platform-sql.js';
import { SqliteRouteStore } from './sqlite-route-store.js';
import type { SqliteRunner } from './sqlite-runner.js';
import {
  BUILD_COLUMNS,
  type BuildRow,
  DEPLOYMENT_COLUMNS,
  type DeploymentRow,
  DROPLET_COLUMNS,
  type DropletRow,
  INSTANCE_COLUMNS,
  type InstanceRow,
  PACKAGE_COLUMNS,
  type PackageRow,
  PROCESS_COLUMNS,
  type ProcessRow,
  REVISION_COLUMNS,
  type RevisionRow,
  toBuild,
  toDeployment,
  toDroplet,
  toInstance,
  toPackage,
  toProcess,
  toRevision,
} from './sqlite-workload-rows.js';
import {
  appRule,
  appsInSpaces,
  conflict,
  fleetQueries,
  invalid,
  notFound,
  REVISION_ORDER,
  TEXTS,
  toFleetApp,
  toFleetProcess,
} from './sqlite-workload-sql.js';
import type { FleetSummary, WorkloadStore } from './workload-store.js';

/**
 * The statements the router, the build workers and the reconciler run most, named so
 * a test can check their query plans (sqlite-workload-store.test.ts).
 */
export const WORKLOAD_SQL = {
  /**
   * The oldest STAGING build nobody holds (or whose holder went quiet), given to one caller: one statement, the
   * queue read from its partial covering index (INDEXED BY: an empty table's plan would pick builds_by_state).
   */
  claimBuild: `UPDATE builds SET worker_id = ?, claimed_at = ?, updated_at = ?
    WHERE id = (SELECT q.id FROM builds q INDEXED BY builds_queue WHERE q.state = 'STAGING' AND (q.worker_id IS NULL OR q.claimed_at < ?)
                ORDER BY q.created_at, q.id LIMIT 1)
      AND state = 'STAGING' AND (worker_id IS NULL OR claimed_at < ?)
    RETURNING ${BUILD_COLUMNS.replace(/\bt\./g, '')}`,
  instancesOf: `SELECT ${INSTANCE_COLUMNS} FROM instances t WHERE t.process_guid = ? ORDER BY t.instance_index, t.id`,
  instancesOnHost: `SELECT ${INSTANCE_COLUMNS} FROM instances t WHERE t.host = ?
    ORDER BY t.app_guid, t.process_type, t.instance_index, t.id`,
  activeDeployment: `SELECT ${DEPLOYMENT_COLUMNS} FROM deployments t WHERE t.app_guid = ? AND t.status_value = 'ACTIVE'`,
} as const;

const SHA1 = /^[0-9a-f]{40}$/;
const IN_CHUNK = 500;

/**
 * The embedded WorkloadStore: the SqlitePlatformStore's database and connection
 * (`SqlitePlatformStore.workloads`), so the workload's rows reference apps, spaces
 * and orgs with foreign keys and go with them. Every method is one transaction
 * (writes BEGIN IMMEDIATE); the staging queue's claim is a single UPDATE ...
 * RETURNING, so of any number of workers in any number of processes exactly one gets
 * a build. Lists are single queries filtered by the caller's Visibility through the
 * app's (or the route's) space, as the PlatformStore's lists are.
 *
 * An update's optional field (a package's error, an instance's details, a
 * deployment's revision) given as `undefined` is cleared; a field left out is kept.
 */
export class SqliteWorkloadStore extends SqliteRouteStore implements WorkloadStore {
  /** On the SqlitePlatformStore's connection, through a runner of its own. */
  constructor(run: SqliteRunner) {
    super(run);
  }

  // packages

  async createPackage(pkg: Package): Promise<Package> {
    return this.run.write(() => {
      if (!this.#appExists(pkg.appGuid)) throw notFound(TEXTS.packageApp, 'app');
      const m = metadataColumns(pkg.metadata);
      this.run
        .sql(
          `INSERT INTO packages (guid, app_guid, type, state, checksum, image, error, labels, annotations, created_at,
             updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          pkg.guid,
          pkg.appGuid,
          pkg.type,
          pkg.state,
          pkg.checksum ?? null,
          pkg.image ?? null,
          pkg.error ?? null,
          m.labels,
          m.annotations,
          pkg.createdAt,
          pkg.updatedAt,
        );
      return this.#package(pkg.guid)!;
    });
  }

  async getPackage(guid: string): Promise<Package | undefined> {
    return this.run.read(() => this.#package(guid));
  }

  async updatePackage(
    guid: string,
    patch: Partial<Pick<Package, 'state' | 'checksum' | 'error'>>,
  ): Promise<Package | undefined> {
    return this.run.write(() => {
      const pkg = this.#package(guid);
      if (pkg === undefined) return undefined;
      this.run
        .sql('UPDATE packages SET state = ?, checksum = ?, error = ?, updated_at = ? WHERE guid = ?')
        .run(
          patch.state ?? pkg.state,
          optional(patch, 'checksum', pkg.checksum),
          optional(patch, 'error', pkg.error),
          now(),
          guid,
        );
      return this.#package(guid);
    });
  }

  async listPackages(
    query: ListQuery,
    filter: { appGuids?: string[]; guids?: string[]; states?: Package['state'][] },
    visibility: Visibility,
  ): Promise<Page<Package>> {
    const where = new Where()
      .in('t.guid', filter.guids)
      .in('t.app_guid', filter.appGuids)
      .in('t.state', filter.states)
      .add(appRule(visibility));
    return this.run.list<PackageRow, Package>('packages', PACKAGE_COLUMNS, where, query, TIMES, toPackage);
  }

  #package(guid: string): Package | undefined {
    return this.run.get<PackageRow, Package>('packages', PACKAGE_COLUMNS, guid, toPackage);
  }

  // builds

  async createBuild(build: Build): Promise<Build> {
    return this.run.write(() => {
      const owner = this.run.sql('SELECT app_guid FROM packages WHERE guid = ?').pluck().get(build.packageGuid);
      if (owner === undefined) throw notFound(TEXTS.buildPackage, 'package');
      if (owner !== build.appGuid) throw invalid(TEXTS.buildPackage, 'package');
      const m = metadataColumns(build.metadata);
      this.run
        .sql(
          `INSERT INTO builds (guid, app_guid, package_guid, state, error, lifecycle, droplet_guid, created_by_guid,
             created_by_name, staging_memory_mb, staging_disk_mb, worker_id, claimed_at, labels, annotations,
             created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          build.guid,
          build.appGuid,
          build.packageGuid,
          build.state,
          build.error ?? null,
          JSON.stringify(build.lifecycle),
          build.dropletGuid ?? null,
          build.createdBy?.guid ?? null,
          build.createdBy?.name ?? null,
          build.stagingMemoryMb,
          build.stagingDiskMb,
          build.workerId ?? null,
          build.claimedAt ?? null,
          m.labels,
          m.annotations,
          build.createdAt,
          build.updatedAt,
        );
      return this.#build(build.guid)!;
    });
  }

  async getBuild(guid: string): Promise<Build | undefined> {
    return this.run.read(() => this.#build(guid));
  }

  async updateBuild(
    guid: string,
    patch: Partial<Pick<Build, 'state' | 'error' | 'dropletGuid'>>,
  ): Promise<Build | undefined> {
    return this.run.write(() => {
      const build = this.#build(guid);
      if (build === undefined) return undefined;
      this.run
        .sql('UPDATE builds SET state = ?, error = ?, droplet_guid = ?, updated_at = ? WHERE guid = ?')
        .run(
          patch.state ?? build.state,
          optional(patch, 'error', build.error),
          optional(patch, 'dropletGuid', build.dropletGuid),
          now(),
          guid,
        );
      return this.#build(guid);
    });
  }

  async listBuilds(
    query: ListQuery,
    filter: { appGuids?: string[]; packageGuids?: string[]; states?: Build['state'][] },
    visibility: Visibility,
  ): Promise<Page<Build>> {
    const where = new Where()
      .in('t.app_guid', filter.appGuids)
      .in('t.package_guid', filter.packageGuids)
      .in('t.state', filter.states)
      .add(appRule(visibility));
    return this.run.list<BuildRow, Build>('builds', BUILD_COLUMNS, where, query, TIMES, toBuild);
  }

  async claimBuild(workerId: string, at: string, staleBefore: string): Promise<Build | undefined> {
    return this.run.write(() => {
      const row = this.run.sql(WORKLOAD_SQL.claimBuild).get(workerId, at, at, staleBefore, staleBefore) as
        | BuildRow
        | undefined;
      return row && toBuild(row);
    });
  }

  /** True while `workerId` still holds the build (a STAGING build it claimed); a heartbeat leaves updated_at alone. */
  async touchBuildClaim(guid: string, workerId: string, at: string): Promise<boolean> {
    return this.run.write(
      () =>
        this.run
          .sql("UPDATE builds SET claimed_at = ? WHERE guid = ? AND worker_id = ? AND state = 'STAGING'")
          .run(at, guid, workerId).changes > 0,
    );
  }

  #build(guid: string): Build | undefined {
    return this.run.get<BuildRow, Build>('builds', BUILD_COLUMNS, guid, toBuild);
  }

  // droplets

  async createDroplet(droplet: Droplet): Promise<Droplet> {
    return this.run.write(() => {
      if (!this.#appExists(droplet.appGuid)) throw notFound(TEXTS.dropletApp(droplet.appGuid), 'app');
      const m = metadataColumns(droplet.metadata);
      this.run
        .sql(
          `INSERT INTO droplets (guid, app_guid, build_guid, package_guid, state, digest, process_types, buildpacks,
             stack, stack_version, execution_metadata, rebased_from, labels, annotations, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          droplet.guid,
          droplet.appGuid,
          droplet.buildGuid ?? null,
          droplet.packageGuid ?? null,
          droplet.state,
          droplet.digest,
          JSON.stringify(droplet.processTypes ?? {}),
          JSON.stringify(droplet.buildpacks ?? []),
          droplet.stack,
          droplet.stackVersion,
          droplet.executionMetadata,
          droplet.rebasedFrom ?? null,
          m.labels,
          m.annotations,
          droplet.createdAt,
          droplet.updatedAt,
        );
      return this.#droplet(droplet.guid)!;
    });
  }

  async getDroplet(guid: string): Promise<Droplet | undefined> {
    return this.run.read(() => this.#droplet(guid));
  }

  async updateDroplet(
    guid: string,
    patch: Partial<Pick<Droplet, 'state' | 'digest' | 'stackVersion' | 'processTypes'>>,
  ): Promise<Droplet | undefined> {
    return this.run.write(() => {
      const droplet = this.#droplet(guid);
      if (droplet === undefined) return undefined;
      this.run
        .sql(
          'UPDATE droplets SET state = ?, digest = ?, stack_version = ?, process_types = ?, updated_at = ? WHERE guid = ?',
        )
        .run(
          patch.state ?? droplet.state,
          patch.digest ?? droplet.digest,
          patch.stackVersion ?? droplet.stackVersion,
          JSON.stringify(patch.processTypes ?? droplet.processTypes),
          now(),
          guid,
        );
      return this.#droplet(guid);
    });
  }

  async listDroplets(
    query: ListQuery,
    filter: { appGuids?: string[]; packageGuids?: string[]; states?: Droplet['state'][]; stacks?: string[] },
    visibility: Visibility,
  ): Promise<Page<Droplet>> {
    const where = new Where()
      .in('t.app_guid', filter.appGuids)
      .in('t.package_guid', filter.packageGuids)
      .in('t.state', filter.states)
      .in('t.stack', filter.stacks)
      .add(appRule(visibility));
    return this.run.list<DropletRow, Droplet>('droplets', DROPLET_COLUMNS, where, query, TIMES, toDroplet);
  }

  async setCurrentDroplet(appGuid: string, dropletGuid: string | null): Promise<void> {
    this.run.write(() => {
      if (!this.#appExists(appGuid)) throw notFound(TEXTS.app, 'app');
      if (dropletGuid !== null) checkAssignable((source) => this.run.sql(source), appGuid, dropletGuid);
      this.run
        .sql('UPDATE apps SET current_droplet_guid = ?, updated_at = ? WHERE guid = ?')
        .run(dropletGuid, now(), appGuid);
    });
  }

  async currentDroplet(appGuid: string): Promise<Droplet | undefined> {
    return this.run.read(() => {
      const row = this.run
        .sql(
          `SELECT ${DROPLET_COLUMNS} FROM droplets t WHERE t.guid = (SELECT a.current_droplet_guid FROM apps a WHERE a.guid = ?)`,
        )
        .get(appGuid) as DropletRow | undefined;
      return row && toDroplet(row);
    });
  }

  #droplet(guid: string): Droplet | undefined {
    return this.run.get<DropletRow, Droplet>('droplets', DROPLET_COLUMNS, guid, toDroplet);
  }

  // processes

  /**
   * Creates the app's process of this type, or, when the app has one, sets its
   * command, instances, memory, disk, health check and metadata to these (its guid and
   * creation time stay). Answers the process as stored.
   */
  async upsertProcess(process: Process): Promise<Process> {
    return this.run.write(() => {
      if (!this.#appExists(process.appGuid)) throw notFound(TEXTS.app, 'app');
      const m = metadataColumns(process.metadata);
      this.run
        .sql(
          `INSERT INTO processes (guid, app_guid, type, command, instances, memory_mb, disk_mb, health_check, version,
             labels, annotations, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (app_guid, type) DO UPDATE SET command = excluded.command, instances = excluded.instances,
             memory_mb = excluded.memory_mb, disk_mb = excluded.disk_mb, health_check = excluded.health_check,
             labels = excluded.labels, annotations = excluded.annotations, updated_at = ?`,
        )
        .run(
          process.guid,
          process.appGuid,
          process.type,
          process.command,
          process.instances,
          process.memoryMb,
          process.diskMb,
          JSON.stringify(process.healthCheck),
          process.version ?? '',
          m.labels,
          m.annotations,
          process.createdAt,
          process.updatedAt,
          now(),
        );
      return this.#findProcess(process.appGuid, process.type)!;
    });
  }

  async getProcess(guid: string): Promise<Process | undefined> {
    return this.run.read(() => this.run.get<ProcessRow, Process>('processes', PROCESS_COLUMNS, guid, toProcess));
  }

  async findProcess(appGuid: string, type: string): Promise<Process | undefined> {
    return this.run.read(() => this.#findProcess(appGuid, type));
  }

  async updateProcess(
    guid: string,
    patch: Partial<Pick<Process, 'command' | 'instances' | 'memoryMb' | 'diskMb' | 'healthCheck' | 'version'>>,
  ): Promise<Process | undefined> {
    return this.run.write(() => {
      const p = this.run.get<ProcessRow, Process>('processes', PROCESS_COLUMNS, guid, toProcess);
      if (p === undefined) return undefined;
      this.run
        .sql(
          `UPDATE processes SET command = ?, instances = ?, memory_mb = ?, disk_mb = ?, health_check = ?, version = ?,
             updated_at = ? WHERE guid = ?`,
        )
        .run(
          patch.command !== undefined ? patch.command : p.command,
          patch.instances ?? p.instances,
          patch.memoryMb ?? p.memoryMb,
          patch.diskMb ?? p.diskMb,
          JSON.stringify(patch.healthCheck ?? p.healthCheck),
          patch.version ?? p.version ?? '',
          now(),
          guid,
        );
      return this.run.get<ProcessRow, Process>('processes', PROCESS_COLUMNS, guid, toProcess);
    });
  }

  async listProcesses(
    query: ListQuery,
    filter: { appGuids?: string[]; types?: string[]; spaceGuids?: string[]; guids?: string[] },
    visibility: Visibility,
  ): Promise<Page<Process>> {
    const where = new Where()
      .in('t.guid', filter.guids)
      .in('t.app_guid', filter.appGuids)
      .in('t.type', filter.types)
      .add(filter.spaceGuids && appsInSpaces(filter.spaceGuids))
      .add(appRule(visibility));
    return this.run.list<ProcessRow, Process>('processes', PROCESS_COLUMNS, where, query, TIMES, toProcess);
  }

  #findProcess(appGuid: string, type: string): Process | undefined {
    const row = this.run
      .sql(`SELECT ${PROCESS_COLUMNS} FROM processes t WHERE t.app_guid = ? AND t.type = ?`)
      .get(appGuid, type) as ProcessRow | undefined;
    return row && toProcess(row);
  }

  // instances

  /** Records an instance, or replaces the one with its guid; its process must be its app's. */
  async putInstance(instance: Instance): Promise<void> {
    this.run.write(() => {
      const owner = this.run.sql('SELECT app_guid FROM processes WHERE guid = ?').pluck().get(instance.processGuid);
      if (owner === undefined) throw notFound(TEXTS.process, 'process');
      if (owner !== instance.appGuid) throw invalid('The process is not a process of this app.', 'process');
      this.run
        .sql(
          `INSERT INTO instances (guid, app_guid, process_guid, process_type, instance_index, droplet_guid,
             process_version, deployment_guid, host, container_name, port, network_pid, state, since, crash_count,
             details, restart_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (guid) DO UPDATE SET app_guid = excluded.app_guid, process_guid = excluded.process_guid,
             process_type = excluded.process_type, instance_index = excluded.instance_index,
             droplet_guid = excluded.droplet_guid, process_version = excluded.process_version,
             deployment_guid = excluded.deployment_guid, host = excluded.host,
             container_name = excluded.container_name, port = excluded.port, network_pid = excluded.network_pid,
             state = excluded.state,
             since = excluded.since, crash_count = excluded.crash_count, details = excluded.details,
             restart_at = excluded.restart_at`,
        )
        .run(
          instance.guid,
          instance.appGuid,
          instance.processGuid,
          instance.processType,
          instance.index,
          instance.dropletGuid,
          instance.processVersion ?? null,
          instance.deploymentGuid ?? null,
          instance.host,
          instance.containerName,
          instance.port,
          instance.networkPid ?? null,
          instance.state,
          instance.since,
          instance.crashCount,
          instance.details ?? null,
          instance.restartAt ?? null,
        );
    });
  }

  /** Changes a recorded instance; one that is gone (deleted meanwhile) is left gone. */
  async updateInstance(
    guid: string,
    patch: Partial<
      Pick<
        Instance,
        'state' | 'since' | 'crashCount' | 'details' | 'restartAt' | 'port' | 'networkPid' | 'containerName'
      >
    >,
  ): Promise<void> {
    this.run.write(() => {
      const row = this.run.sql(`SELECT ${INSTANCE_COLUMNS} FROM instances t WHERE t.guid = ?`).get(guid) as
        | InstanceRow
        | undefined;
      if (row === undefined) return;
      const i = toInstance(row);
      this.run
        .sql(
          `UPDATE instances SET state = ?, since = ?, crash_count = ?, details = ?, restart_at = ?, port = ?,
             network_pid = ?, container_name = ?
           WHERE guid = ?`,
        )
        .run(
          patch.state ?? i.state,
          patch.since ?? i.since,
          patch.crashCount ?? i.crashCount,
          optional(patch, 'details', i.details),
          optional(patch, 'restartAt', i.restartAt),
          patch.port ?? i.port,
          optional(patch, 'networkPid', i.networkPid),
          patch.containerName ?? i.containerName,
          guid,
        );
    });
  }

  async deleteInstance(guid: string): Promise<void> {
    this.run.write(() => this.run.sql('DELETE FROM instances WHERE guid = ?').run(guid));
  }

  async instancesOf(processGuid: string): Promise<Instance[]> {
    return this.run.read(() =>
      this.run.all<InstanceRow, Instance>(WORKLOAD_SQL.instancesOf, [processGuid], toInstance),
    );
  }

  async instancesOnHost(host: string): Promise<Instance[]> {
    return this.run.read(() => this.run.all<InstanceRow, Instance>(WORKLOAD_SQL.instancesOnHost, [host], toInstance));
  }

  async fleetSummary(visibility: Visibility): Promise<FleetSummary> {
    const q = fleetQueries(visibility);
    return this.run.read(() => ({
      apps: this.run.all(q.apps.sql, q.apps.params, toFleetApp),
      processes: this.run.all(q.processes.sql, q.processes.params, toFleetProcess),
    }));
  }

  async instancesOfProcesses(processGuids: string[]): Promise<Instance[]> {
    return this.run.read(() => {
      const out: Instance[] = [];
      for (let i = 0; i < processGuids.length; i += IN_CHUNK) {
        const chunk = processGuids.slice(i, i + IN_CHUNK);
        out.push(
          ...this.run.all<InstanceRow, Instance>(
            `SELECT ${INSTANCE_COLUMNS} FROM instances t WHERE t.process_guid IN (${placeholders(chunk.length)})
             ORDER BY t.process_guid, t.instance_index, t.id`,
            chunk,
            toInstance,
          ),
        );
      }
      return out;
    });
  }

  // deployments

  /** Records a deployment; a new ACTIVE one supersedes the app's ACTIVE one (FINALIZED, SUPERSEDED) in the same step. */
  async createDeployment(deployment: Deployment): Promise<Deployment> {
    return this.run.write(() => {
      if (!this.#appExists(deployment.appGuid)) throw notFound(TEXTS.deploymentApp, 'app');
      checkAssignable((source) => this.run.sql(source), deployment.appGuid, deployment.dropletGuid);
      if (deployment.statusValue === 'ACTIVE') {
        // Superseded when the new one began.
        this.run
          .sql(
            `UPDATE deployments SET status_value = 'FINALIZED', status_reason = 'SUPERSEDED', last_status_change = ?,
               updated_at = ?
             WHERE app_guid = ? AND status_value = 'ACTIVE'`,
          )
          .run(deployment.createdAt, now(), deployment.appGuid);
      }
      const m = metadataColumns(deployment.metadata);
      this.run
        .sql(
          `INSERT INTO deployments (guid, app_guid, strategy, status_value, status_reason, droplet_guid,
             previous_droplet_guid, revision_guid, max_in_flight, last_status_change, labels, annotations, created_at,
             updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          deployment.guid,
          deployment.appGuid,
          deployment.strategy,
          deployment.statusValue,
          deployment.statusReason,
          deployment.dropletGuid,
          deployment.previousDropletGuid ?? null,
          deployment.revisionGuid ?? null,
          deployment.maxInFlight,
          deployment.lastStatusChange,
          m.labels,
          m.annotations,
          deployment.createdAt,
          deployment.updatedAt,
        );
      return this.#deployment(deployment.guid)!;
    });
  }

  async getDeployment(guid: string): Promise<Deployment | undefined> {
    return this.run.read(() => this.#deployment(guid));
  }

  async updateDeployment(
    guid: string,
    patch: Partial<Pick<Deployment, 'statusValue' | 'statusReason' | 'lastStatusChange' | 'revisionGuid'>>,
  ): Promise<Deployment | undefined> {
    return this.run.write(() => {
      const d = this.#deployment(guid);
      if (d === undefined) return undefined;
      if (patch.statusValue === 'ACTIVE' && d.statusValue !== 'ACTIVE') {
        const other = this.run.sql(WORKLOAD_SQL.activeDeployment).get(d.appGuid) as DeploymentRow | undefined;
        if (other !== undefined) throw conflict('The app already has an ACTIVE deployment.', 'status');
      }
      this.run
        .sql(
          `UPDATE deployments SET status_value = ?, status_reason = ?, last_status_change = ?, revision_guid = ?,
             updated_at = ?
           WHERE guid = ?`,
        )
        .run(
          patch.statusValue ?? d.statusValue,
          patch.statusReason ?? d.statusReason,
          patch.lastStatusChange ?? d.lastStatusChange,
          optional(patch, 'revisionGuid', d.revisionGuid),
          now(),
          guid,
        );
      return this.#deployment(guid);
    });
  }

  async listDeployments(
    query: ListQuery,
    filter: { appGuids?: string[]; statusValues?: Deployment['statusValue'][]; guids?: string[] },
    visibility: Visibility,
  ): Promise<Page<Deployment>> {
    const where = new Where()
      .in('t.guid', filter.guids)
      .in('t.app_guid', filter.appGuids)
      .in('t.status_value', filter.statusValues)
      .add(appRule(visibility));
    return this.run.list<DeploymentRow, Deployment>(
      'deployments',
      DEPLOYMENT_COLUMNS,
      where,
      query,
      TIMES,
      toDeployment,
    );
  }

  async activeDeployment(appGuid: string): Promise<Deployment | undefined> {
    return this.run.read(() => {
      const row = this.run.sql(WORKLOAD_SQL.activeDeployment).get(appGuid) as DeploymentRow | undefined;
      return row && toDeployment(row);
    });
  }

  #deployment(guid: string): Deployment | undefined {
    return this.run.get<DeploymentRow, Deployment>('deployments', DEPLOYMENT_COLUMNS, guid, toDeployment);
  }

  // revisions

  /** Records a revision as the app's next version (1 for its first), computed in the INSERT itself. */
  async createRevision(revision: Omit<Revision, 'version'>): Promise<Revision> {
    return this.run.write(() => {
      if (!this.#appExists(revision.appGuid)) throw notFound(TEXTS.deploymentApp, 'app');
      const owner = this.run.sql('SELECT app_guid FROM droplets WHERE guid = ?').pluck().get(revision.dropletGuid);
      if (owner !== revision.appGuid) throw invalid(TEXTS.assignDroplet, 'droplet');
      const m = metadataColumns(revision.metadata);
      this.run
        .sql(
          `INSERT INTO revisions (guid, app_guid, version, droplet_guid, description, processes, environment_variables,
             deployable, labels, annotations, created_at, updated_at)
           SELECT ?, ?, COALESCE(MAX(r.version), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ?
           FROM revisions r WHERE r.app_guid = ?`,
        )
        .run(
          revision.guid,
          revision.appGuid,
          revision.dropletGuid,
          revision.description,
          JSON.stringify(revision.processes ?? {}),
          JSON.stringify(revision.environmentVariables ?? {}),
          revision.deployable ? 1 : 0,
          m.labels,
          m.annotations,
          revision.createdAt,
          revision.updatedAt,
          revision.appGuid,
        );
      return this.#revision(revision.guid)!;
    });
  }

  async getRevision(guid: string): Promise<Revision | undefined> {
    return this.run.read(() => this.#revision(guid));
  }

  async listRevisions(
    query: ListQuery,
    filter: { appGuids?: string[]; versions?: number[] },
    visibility: Visibility,
  ): Promise<Page<Revision>> {
    const where = new Where()
      .in('t.app_guid', filter.appGuids)
      .add(filter.versions && numbers('t.version', filter.versions))
      .add(appRule(visibility));
    return this.run.list<RevisionRow, Revision>(
      'revisions',
      REVISION_COLUMNS,
      where,
      query,
      REVISION_ORDER,
      toRevision,
    );
  }

  #revision(guid: string): Revision | undefined {
    return this.run.get<RevisionRow, Revision>('revisions', REVISION_COLUMNS, guid, toRevision);
  }

  // resource matching

  /** Of these sha1s (hex, any case), the ones the platform has, as given. */
  async knownResources(sha1s: string[]): Promise<Set<string>> {
    return this.run.read(() => {
      const byKey = new Map<string, string[]>();
      for (const s of sha1s) {
        const key = s.toLowerCase();
        if (SHA1.test(key)) byKey.set(key, [...(byKey.get(key) ?? []), s]);
      }
      const keys = [...byKey.keys()];
      const known = new Set<string>();
      for (let i = 0; i < keys.length; i += IN_CHUNK) {
        const chunk = keys.slice(i, i + IN_CHUNK);
        const found = this.run
          .sql(`SELECT sha1 FROM resources WHERE sha1 IN (${placeholders(chunk.length)})`)
          .pluck()
          .all(...chunk) as string[];
        for (const key of found) for (const s of byKey.get(key) ?? []) known.add(s);
      }
      return known;
    });
  }

  /** Records files the platform now has (a sha1 already known is kept as it is). */
  async addResources(files: { sha1: string; size: number }[]): Promise<void> {
    this.run.write(() => {
      const insert = this.run.sql('INSERT INTO resources (sha1, size) VALUES (?, ?) ON CONFLICT (sha1) DO NOTHING');
      for (const f of files) {
        const sha1 = f.sha1.toLowerCase();
        if (!SHA1.test(sha1)) throw invalid(`'${f.sha1}' is not a sha1 (40 hexadecimal digits).`, 'sha1');
        if (!Number.isSafeInteger(f.size) || f.size < 0) {
          throw invalid(`The size of ${f.sha1} must be a whole number of bytes, 0 or more.`, 'size');
        }
        insert.run(sha1, f.size);
      }
    });
  }

  #appExists(guid: string): boolean {
    return this.run.sql('SELECT 1 FROM apps WHERE guid = ?').get(guid) !== undefined;
  }
}

/**
 * CF's rule for an app's current droplet (and a deployment's): the app's own, and
 * STAGED; otherwise CC's 422 text. Shared with SqlitePlatformStore.updateApp; runs
 * inside the caller's transaction.
 */
export function checkAssignable(
  sql: (source: string) => Database.Statement,
  appGuid: string,
  dropletGuid: string,
): void {
  const droplet = sql('SELECT app_guid, state FROM droplets WHERE guid = ?').get(dropletGuid) as
    | { app_guid: string; state: string }
    | undefined;
  if (droplet === undefined || droplet.app_guid !== appGuid || droplet.state !== 'STAGED') {
    throw invalid(TEXTS.assignDroplet, 'droplet');
  }
}

/** The value an update writes for an optional field: the patch's when it names the field (undefined clears it), else the current one. */
function optional<P extends object, K extends keyof P>(patch: P, key: K, current: P[K] | undefined): P[K] | null {
  return (Object.hasOwn(patch, key) ? patch[key] : current) ?? null;
}

function numbers(column: string, values: readonly number[]): Clause {
  if (values.length === 0) return { sql: 'FALSE', params: [] };
  return { sql: `${column} IN (${placeholders(values.length)})`, params: [...values] };
}
