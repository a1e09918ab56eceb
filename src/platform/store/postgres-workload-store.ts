import { now } from '../model.js';
import type { Build, Deployment, Droplet, Instance, Package, Process, Revision } from '../workload.js';
import type { ListQuery, Page, Visibility } from './platform-store.js';
import { PostgresRouteStore } from './postgres-route-store.js';
import type { PgRunner, Sql } from './postgres-runner.js';
import { metadataColumns } from './sqlite-platform-rows.js';
import { type Clause, TIMES, Where } from './sqlite-platform-sql.js';
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

/** The statements the build workers, the router and the reconciler run most. */
export const PG_WORKLOAD_SQL = {
  /**
   * The oldest STAGING build nobody holds (or whose holder went quiet), locked with
   * SKIP LOCKED: a build another worker is claiming this instant is passed over, not
   * waited for, so N workers on N nodes take N different builds at once.
   */
  claimBuild: `WITH next AS (
      SELECT q.id FROM builds q WHERE q.state = 'STAGING' AND (q.worker_id IS NULL OR q.claimed_at < ?)
      ORDER BY q.created_at, q.id LIMIT 1 FOR UPDATE SKIP LOCKED)
    UPDATE builds t SET worker_id = ?, claimed_at = ?, updated_at = ? FROM next WHERE t.id = next.id
    RETURNING ${BUILD_COLUMNS}`,
  claimable: `SELECT 1 FROM builds q WHERE q.state = 'STAGING' AND (q.worker_id IS NULL OR q.claimed_at < ?) LIMIT 1`,
  instancesOf: `SELECT ${INSTANCE_COLUMNS} FROM instances t WHERE t.process_guid = ? ORDER BY t.instance_index, t.id`,
  instancesOnHost: `SELECT ${INSTANCE_COLUMNS} FROM instances t WHERE t.host = ?
    ORDER BY t.app_guid, t.process_type, t.instance_index, t.id`,
  activeDeployment: `SELECT ${DEPLOYMENT_COLUMNS} FROM deployments t WHERE t.app_guid = ? AND t.status_value = 'ACTIVE'`,
} as const;

const SHA1 = /^[0-9a-f]{40}$/;

/**
 * The scale-out WorkloadStore: the PostgresPlatformStore's database and pool
 * (`PostgresPlatformStore.workloads`), with SqliteWorkloadStore's rules, texts and
 * filters. Writes that check before they write are SERIALIZABLE transactions
 * (retried when PostgreSQL aborts one of two that raced); the staging queue's claim
 * is one UPDATE of a row locked FOR UPDATE SKIP LOCKED, so two workers, in one
 * process or on two hosts, never take the same build; an app's revision numbers are
 * counted under a lock on the app's row.
 *
 * An update's optional field given as `undefined` is cleared; a field left out is kept.
 */
export class PostgresWorkloadStore extends PostgresRouteStore implements WorkloadStore {
  /** On the PostgresPlatformStore's pool, through its runner. */
  constructor(run: PgRunner) {
    super(run);
  }

  // packages

  async createPackage(pkg: Package): Promise<Package> {
    return this.run.write(async (c) => {
      if (!(await appExists(c, pkg.appGuid))) throw notFound(TEXTS.packageApp, 'app');
      const m = metadataColumns(pkg.metadata);
      await c.run(
        `INSERT INTO packages (guid, app_guid, type, state, checksum, image, error, labels, annotations, created_at,
           updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
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
        ],
      );
      return (await this.#package(pkg.guid, c))!;
    });
  }

  async getPackage(guid: string): Promise<Package | undefined> {
    return this.#package(guid);
  }

  async updatePackage(
    guid: string,
    patch: Partial<Pick<Package, 'state' | 'checksum' | 'error'>>,
  ): Promise<Package | undefined> {
    return this.run.write(async (c) => {
      const pkg = await this.#package(guid, c);
      if (pkg === undefined) return undefined;
      await c.run('UPDATE packages SET state = ?, checksum = ?, error = ?, updated_at = ? WHERE guid = ?', [
        patch.state ?? pkg.state,
        optional(patch, 'checksum', pkg.checksum),
        optional(patch, 'error', pkg.error),
        now(),
        guid,
      ]);
      return this.#package(guid, c);
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

  #package(guid: string, c?: Sql): Promise<Package | undefined> {
    return this.run.get<PackageRow, Package>('packages', PACKAGE_COLUMNS, guid, toPackage, c);
  }

  // builds

  async createBuild(build: Build): Promise<Build> {
    return this.run.write(async (c) => {
      const owner = await c.value<string>('SELECT app_guid FROM packages WHERE guid = ?', [build.packageGuid]);
      if (owner === undefined) throw notFound(TEXTS.buildPackage, 'package');
      if (owner !== build.appGuid) throw invalid(TEXTS.buildPackage, 'package');
      const m = metadataColumns(build.metadata);
      await c.run(
        `INSERT INTO builds (guid, app_guid, package_guid, state, error, lifecycle, droplet_guid, created_by_guid,
           created_by_name, staging_memory_mb, staging_disk_mb, worker_id, claimed_at, labels, annotations,
           created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
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
        ],
      );
      return (await this.#build(build.guid, c))!;
    });
  }

  async getBuild(guid: string): Promise<Build | undefined> {
    return this.#build(guid);
  }

  async updateBuild(
    guid: string,
    patch: Partial<Pick<Build, 'state' | 'error' | 'dropletGuid'>>,
  ): Promise<Build | undefined> {
    return this.run.write(async (c) => {
      const build = await this.#build(guid, c);
      if (build === undefined) return undefined;
      await c.run('UPDATE builds SET state = ?, error = ?, droplet_guid = ?, updated_at = ? WHERE guid = ?', [
        patch.state ?? build.state,
        optional(patch, 'error', build.error),
        optional(patch, 'dropletGuid', build.dropletGuid),
        now(),
        guid,
      ]);
      return this.#build(guid, c);
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

  /**
   * One autocommitted statement (READ COMMITTED: the lock, not a snapshot, decides).
   * When the row it picked was claimed and committed by another worker between its
   * snapshot and its lock, PostgreSQL drops the row rather than look further, so an
   * empty answer while claimable builds are left is tried again.
   */
  async claimBuild(workerId: string, at: string, staleBefore: string): Promise<Build | undefined> {
    for (let attempt = 0; ; attempt++) {
      const row = await this.run.sql.one<BuildRow>(PG_WORKLOAD_SQL.claimBuild, [staleBefore, workerId, at, at]);
      if (row !== undefined) return toBuild(row);
      if (attempt >= 4 || !(await this.run.sql.exists(PG_WORKLOAD_SQL.claimable, [staleBefore]))) return undefined;
    }
  }

  /** True while `workerId` still holds the build (a STAGING build it claimed); a heartbeat leaves updated_at alone. */
  async touchBuildClaim(guid: string, workerId: string, at: string): Promise<boolean> {
    return (
      (await this.run.sql.run(
        "UPDATE builds SET claimed_at = ? WHERE guid = ? AND worker_id = ? AND state = 'STAGING'",
        [at, guid, workerId],
      )) > 0
    );
  }

  #build(guid: string, c?: Sql): Promise<Build | undefined> {
    return this.run.get<BuildRow, Build>('builds', BUILD_COLUMNS, guid, toBuild, c);
  }

  // droplets

  async createDroplet(droplet: Droplet): Promise<Droplet> {
    return this.run.write(async (c) => {
      if (!(await appExists(c, droplet.appGuid))) throw notFound(TEXTS.dropletApp(droplet.appGuid), 'app');
      const m = metadataColumns(droplet.metadata);
      await c.run(
        `INSERT INTO droplets (guid, app_guid, build_guid, package_guid, state, digest, process_types, buildpacks,
           stack, stack_version, execution_metadata, rebased_from, labels, annotations, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
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
        ],
      );
      return (await this.#droplet(droplet.guid, c))!;
    });
  }

  async getDroplet(guid: string): Promise<Droplet | undefined> {
    return this.#droplet(guid);
  }

  async updateDroplet(
    guid: string,
    patch: Partial<Pick<Droplet, 'state' | 'digest' | 'stackVersion' | 'processTypes'>>,
  ): Promise<Droplet | undefined> {
    return this.run.write(async (c) => {
      const droplet = await this.#droplet(guid, c);
      if (droplet === undefined) return undefined;
      await c.run(
        'UPDATE droplets SET state = ?, digest = ?, stack_version = ?, process_types = ?, updated_at = ? WHERE guid = ?',
        [
          patch.state ?? droplet.state,
          patch.digest ?? droplet.digest,
          patch.stackVersion ?? droplet.stackVersion,
          JSON.stringify(patch.processTypes ?? droplet.processTypes),
          now(),
          guid,
        ],
      );
      return this.#droplet(guid, c);
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
    await this.run.write(async (c) => {
      if (!(await appExists(c, appGuid))) throw notFound(TEXTS.app, 'app');
      if (dropletGuid !== null) await checkAssignablePg(c, appGuid, dropletGuid);
      await c.run('UPDATE apps SET current_droplet_guid = ?, updated_at = ? WHERE guid = ?', [
        dropletGuid,
        now(),
        appGuid,
      ]);
    });
  }

  async currentDroplet(appGuid: string): Promise<Droplet | undefined> {
    const row = await this.run.sql.one<DropletRow>(
      `SELECT ${DROPLET_COLUMNS} FROM droplets t WHERE t.guid = (SELECT a.current_droplet_guid FROM apps a WHERE a.guid = ?)`,
      [appGuid],
    );
    return row && toDroplet(row);
  }

  #droplet(guid: string, c?: Sql): Promise<Droplet | undefined> {
    return this.run.get<DropletRow, Droplet>('droplets', DROPLET_COLUMNS, guid, toDroplet, c);
  }

  // processes

  /**
   * Creates the app's process of this type, or, when the app has one, sets its
   * command, instances, memory, disk, health check and metadata to these (its guid and
   * creation time stay). Answers the process as stored.
   */
  async upsertProcess(process: Process): Promise<Process> {
    return this.run.write(async (c) => {
      if (!(await appExists(c, process.appGuid))) throw notFound(TEXTS.app, 'app');
      const m = metadataColumns(process.metadata);
      await c.run(
        `INSERT INTO processes (guid, app_guid, type, command, instances, memory_mb, disk_mb, health_check, version,
           labels, annotations, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (app_guid, type) DO UPDATE SET command = excluded.command, instances = excluded.instances,
           memory_mb = excluded.memory_mb, disk_mb = excluded.disk_mb, health_check = excluded.health_check,
           labels = excluded.labels, annotations = excluded.annotations, updated_at = ?`,
        [
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
        ],
      );
      return (await this.#findProcess(process.appGuid, process.type, c))!;
    });
  }

  async getProcess(guid: string): Promise<Process | undefined> {
    return this.run.get<ProcessRow, Process>('processes', PROCESS_COLUMNS, guid, toProcess);
  }

  async findProcess(appGuid: string, type: string): Promise<Process | undefined> {
    return this.#findProcess(appGuid, type);
  }

  async updateProcess(
    guid: string,
    patch: Partial<Pick<Process, 'command' | 'instances' | 'memoryMb' | 'diskMb' | 'healthCheck' | 'version'>>,
  ): Promise<Process | undefined> {
    return this.run.write(async (c) => {
      const p = await this.run.get<ProcessRow, Process>('processes', PROCESS_COLUMNS, guid, toProcess, c);
      if (p === undefined) return undefined;
      await c.run(
        `UPDATE processes SET command = ?, instances = ?, memory_mb = ?, disk_mb = ?, health_check = ?, version = ?,
           updated_at = ? WHERE guid = ?`,
        [
          patch.command !== undefined ? patch.command : p.command,
          patch.instances ?? p.instances,
          patch.memoryMb ?? p.memoryMb,
          patch.diskMb ?? p.diskMb,
          JSON.stringify(patch.healthCheck ?? p.healthCheck),
          patch.version ?? p.version ?? '',
          now(),
          guid,
        ],
      );
      return this.run.get<ProcessRow, Process>('processes', PROCESS_COLUMNS, guid, toProcess, c);
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

  async #findProcess(appGuid: string, type: string, c = this.run.sql): Promise<Process | undefined> {
    const row = await c.one<ProcessRow>(
      `SELECT ${PROCESS_COLUMNS} FROM processes t WHERE t.app_guid = ? AND t.type = ?`,
      [appGuid, type],
    );
    return row && toProcess(row);
  }

  // instances

  /** Records an instance, or replaces the one with its guid; its process must be its app's. */
  async putInstance(instance: Instance): Promise<void> {
    await this.run.write(async (c) => {
      const owner = await c.value<string>('SELECT app_guid FROM processes WHERE guid = ?', [instance.processGuid]);
      if (owner === undefined) throw notFound(TEXTS.process, 'process');
      if (owner !== instance.appGuid) throw invalid('The process is not a process of this app.', 'process');
      await c.run(
        `INSERT INTO instances (guid, app_guid, process_guid, process_type, instance_index, droplet_guid,
           process_version, deployment_guid, host, container_name, port, network_pid, state, since, crash_count,
           details, restart_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (guid) DO UPDATE SET app_guid = excluded.app_guid, process_guid = excluded.process_guid,
           process_type = excluded.process_type, instance_index = excluded.instance_index,
           droplet_guid = excluded.droplet_guid, process_version = excluded.process_version,
           deployment_guid = excluded.deployment_guid, host = excluded.host,
           container_name = excluded.container_name, port = excluded.port, network_pid = excluded.network_pid,
           state = excluded.state, since = excluded.since, crash_count = excluded.crash_count,
           details = excluded.details, restart_at = excluded.restart_at`,
        [
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
        ],
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
    await this.run.write(async (c) => {
      const row = await c.one<InstanceRow>(`SELECT ${INSTANCE_COLUMNS} FROM instances t WHERE t.guid = ?`, [guid]);
      if (row === undefined) return;
      const i = toInstance(row);
      await c.run(
        `UPDATE instances SET state = ?, since = ?, crash_count = ?, details = ?, restart_at = ?, port = ?,
           network_pid = ?, container_name = ?
         WHERE guid = ?`,
        [
          patch.state ?? i.state,
          patch.since ?? i.since,
          patch.crashCount ?? i.crashCount,
          optional(patch, 'details', i.details),
          optional(patch, 'restartAt', i.restartAt),
          patch.port ?? i.port,
          optional(patch, 'networkPid', i.networkPid),
          patch.containerName ?? i.containerName,
          guid,
        ],
      );
    });
  }

  async deleteInstance(guid: string): Promise<void> {
    await this.run.sql.run('DELETE FROM instances WHERE guid = ?', [guid]);
  }

  async instancesOf(processGuid: string): Promise<Instance[]> {
    return this.run.all<InstanceRow, Instance>(PG_WORKLOAD_SQL.instancesOf, [processGuid], toInstance);
  }

  async instancesOnHost(host: string): Promise<Instance[]> {
    return this.run.all<InstanceRow, Instance>(PG_WORKLOAD_SQL.instancesOnHost, [host], toInstance);
  }

  async fleetSummary(visibility: Visibility): Promise<FleetSummary> {
    const q = fleetQueries(visibility);
    const [apps, processes] = await Promise.all([
      this.run.all(q.apps.sql, q.apps.params, toFleetApp),
      this.run.all(q.processes.sql, q.processes.params, toFleetProcess),
    ]);
    return { apps, processes };
  }

  async instancesOfProcesses(processGuids: string[]): Promise<Instance[]> {
    if (processGuids.length === 0) return [];
    return this.run.all<InstanceRow, Instance>(
      `SELECT ${INSTANCE_COLUMNS} FROM instances t WHERE t.process_guid = ANY(?::text[])
       ORDER BY t.process_guid, t.instance_index, t.id`,
      [processGuids],
      toInstance,
    );
  }

  // deployments

  /** Records a deployment; a new ACTIVE one supersedes the app's ACTIVE one (FINALIZED, SUPERSEDED) in the same step. */
  async createDeployment(deployment: Deployment): Promise<Deployment> {
    return this.run.write(async (c) => {
      if (!(await appExists(c, deployment.appGuid))) throw notFound(TEXTS.deploymentApp, 'app');
      await checkAssignablePg(c, deployment.appGuid, deployment.dropletGuid);
      if (deployment.statusValue === 'ACTIVE') {
        // Superseded when the new one began.
        await c.run(
          `UPDATE deployments SET status_value = 'FINALIZED', status_reason = 'SUPERSEDED', last_status_change = ?,
             updated_at = ?
           WHERE app_guid = ? AND status_value = 'ACTIVE'`,
          [deployment.createdAt, now(), deployment.appGuid],
        );
      }
      const m = metadataColumns(deployment.metadata);
      await c.run(
        `INSERT INTO deployments (guid, app_guid, strategy, status_value, status_reason, droplet_guid,
           previous_droplet_guid, revision_guid, max_in_flight, last_status_change, labels, annotations, created_at,
           updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
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
        ],
      );
      return (await this.#deployment(deployment.guid, c))!;
    });
  }

  async getDeployment(guid: string): Promise<Deployment | undefined> {
    return this.#deployment(guid);
  }

  async updateDeployment(
    guid: string,
    patch: Partial<Pick<Deployment, 'statusValue' | 'statusReason' | 'lastStatusChange' | 'revisionGuid'>>,
  ): Promise<Deployment | undefined> {
    return this.run.write(async (c) => {
      const d = await this.#deployment(guid, c);
      if (d === undefined) return undefined;
      if (patch.statusValue === 'ACTIVE' && d.statusValue !== 'ACTIVE') {
        if (await c.exists(PG_WORKLOAD_SQL.activeDeployment, [d.appGuid])) {
          throw conflict('The app already has an ACTIVE deployment.', 'status');
        }
      }
      await c.run(
        `UPDATE deployments SET status_value = ?, status_reason = ?, last_status_change = ?, revision_guid = ?,
           updated_at = ?
         WHERE guid = ?`,
        [
          patch.statusValue ?? d.statusValue,
          patch.statusReason ?? d.statusReason,
          patch.lastStatusChange ?? d.lastStatusChange,
          optional(patch, 'revisionGuid', d.revisionGuid),
          now(),
          guid,
        ],
      );
      return this.#deployment(guid, c);
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
    const row = await this.run.sql.one<DeploymentRow>(PG_WORKLOAD_SQL.activeDeployment, [appGuid]);
    return row && toDeployment(row);
  }

  #deployment(guid: string, c?: Sql): Promise<Deployment | undefined> {
    return this.run.get<DeploymentRow, Deployment>('deployments', DEPLOYMENT_COLUMNS, guid, toDeployment, c);
  }

  // revisions

  /**
   * Records a revision as the app's next version (1 for its first). READ COMMITTED
   * under a lock on the app's row (FOR NO KEY UPDATE: inserts that reference the app
   * do not wait for it), taken first, so the count after it sees every revision made
   * before: revisions made at once wait for each other rather than abort.
   */
  async createRevision(revision: Omit<Revision, 'version'>): Promise<Revision> {
    return this.run.write(async (c) => {
      const app = await c.exists('SELECT 1 FROM apps WHERE guid = ? FOR NO KEY UPDATE', [revision.appGuid]);
      if (!app) throw notFound(TEXTS.deploymentApp, 'app');
      const owner = await c.value<string>('SELECT app_guid FROM droplets WHERE guid = ?', [revision.dropletGuid]);
      if (owner !== revision.appGuid) throw invalid(TEXTS.assignDroplet, 'droplet');
      const m = metadataColumns(revision.metadata);
      await c.run(
        `INSERT INTO revisions (guid, app_guid, version, droplet_guid, description, processes, environment_variables,
           deployable, labels, annotations, created_at, updated_at)
         VALUES (?, ?, (SELECT COALESCE(MAX(r.version), 0) + 1 FROM revisions r WHERE r.app_guid = ?), ?, ?, ?, ?, ?,
           ?, ?, ?, ?)`,
        [
          revision.guid,
          revision.appGuid,
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
        ],
      );
      return (await this.#revision(revision.guid, c))!;
    }, 'READ COMMITTED');
  }

  async getRevision(guid: string): Promise<Revision | undefined> {
    return this.#revision(guid);
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

  #revision(guid: string, c?: Sql): Promise<Revision | undefined> {
    return this.run.get<RevisionRow, Revision>('revisions', REVISION_COLUMNS, guid, toRevision, c);
  }

  // resource matching

  /** Of these sha1s (hex, any case), the ones the platform has, as given: one query whatever their number. */
  async knownResources(sha1s: string[]): Promise<Set<string>> {
    const byKey = new Map<string, string[]>();
    for (const s of sha1s) {
      const key = s.toLowerCase();
      if (SHA1.test(key)) byKey.set(key, [...(byKey.get(key) ?? []), s]);
    }
    const known = new Set<string>();
    if (byKey.size === 0) return known;
    const found = await this.run.sql.all<{ sha1: string }>('SELECT sha1 FROM resources WHERE sha1 = ANY(?::text[])', [
      [...byKey.keys()],
    ]);
    for (const { sha1 } of found) for (const s of byKey.get(sha1) ?? []) known.add(s);
    return known;
  }

  /** Records files the platform now has (a sha1 already known is kept as it is); a bad entry adds none of them. */
  async addResources(files: { sha1: string; size: number }[]): Promise<void> {
    const sha1s: string[] = [];
    const sizes: string[] = [];
    for (const f of files) {
      const sha1 = f.sha1.toLowerCase();
      if (!SHA1.test(sha1)) throw invalid(`'${f.sha1}' is not a sha1 (40 hexadecimal digits).`, 'sha1');
      if (!Number.isSafeInteger(f.size) || f.size < 0) {
        throw invalid(`The size of ${f.sha1} must be a whole number of bytes, 0 or more.`, 'size');
      }
      sha1s.push(sha1);
      sizes.push(String(f.size));
    }
    if (sha1s.length === 0) return;
    await this.run.sql.run(
      `INSERT INTO resources (sha1, size) SELECT s, z FROM unnest(?::text[], ?::bigint[]) AS f (s, z)
       ON CONFLICT (sha1) DO NOTHING`,
      [sha1s, sizes],
    );
  }
}

/**
 * CF's rule for an app's current droplet (and a deployment's): the app's own, and
 * STAGED; otherwise CC's 422 text. Shared with PostgresPlatformStore.updateApp; runs
 * inside the caller's transaction.
 */
export async function checkAssignablePg(c: Sql, appGuid: string, dropletGuid: string): Promise<void> {
  const droplet = await c.one<{ app_guid: string; state: string }>(
    'SELECT app_guid, state FROM droplets WHERE guid = ?',
    [dropletGuid],
  );
  if (droplet === undefined || droplet.app_guid !== appGuid || droplet.state !== 'STAGED') {
    throw invalid(TEXTS.assignDroplet, 'droplet');
  }
}

function appExists(c: Sql, guid: string): Promise<boolean> {
  return c.exists('SELECT 1 FROM apps WHERE guid = ?', [guid]);
}

/** The value an update writes for an optional field: the patch's when it names the field (undefined clears it), else the current one. */
function optional<P extends object, K extends keyof P>(
  patch: P,
  key: K,
  current: P[K] | undefined,
): NonNullable<P[K]> | null {
  return (Object.hasOwn(patch, key) ? patch[key] : current) ?? null;
}

function numbers(column: string, values: readonly number[]): Clause {
  if (values.length === 0) return { sql: 'FALSE', params: [] };
  return { sql: `${column} IN (${values.map(() => '?').join(', ')})`, params: [...values] };
}
