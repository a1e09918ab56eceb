import type { AppLogs } from '../logs.js';
import { emptyMetadata, newGuid, now } from '../model.js';
import type { PlatformStore } from '../store/platform-store.js';
import type { WorkloadStore } from '../store/workload-store.js';
import type { PackageBits } from '../workload-services.js';
import type { Build } from '../workload.js';
import type { StagedImage } from './stage-build.js';
import { CLAIM_STALE_MS, HEARTBEAT_MS, type StagingJob, type StagingQueue } from './staging-queue.js';

/** The staging queue of the `serve` process: the platform's own stores. */
export class LocalStagingQueue implements StagingQueue {
  constructor(
    private readonly platform: PlatformStore,
    private readonly workloads: WorkloadStore,
    private readonly packages: PackageBits,
    private readonly logs: AppLogs,
    /** How long a claim lasts without heartbeats (`serve --claim-timeout`). */
    private readonly staleMs = CLAIM_STALE_MS,
  ) {}

  async claim(workerId: string): Promise<StagingJob | undefined> {
    for (;;) {
      const at = now();
      const build = await this.workloads.claimBuild(workerId, at, new Date(Date.now() - this.staleMs).toISOString());
      if (!build) return undefined;
      const job = await this.#jobOf(build);
      if (job) return job;
      // Its app went while it was queued.
      await this.workloads.updateBuild(build.guid, { state: 'FAILED', error: 'StagingError - the app was deleted' });
    }
  }

  /**
   * The job of a build claimed through another node of the platform (or before a
   * restart): a worker's later calls may reach any node behind the load balancer.
   */
  async findJob(buildGuid: string): Promise<StagingJob | undefined> {
    const build = await this.workloads.getBuild(buildGuid);
    if (!build || build.state !== 'STAGING' || !build.workerId) return undefined;
    return this.#jobOf(build);
  }

  async #jobOf(build: Build): Promise<StagingJob | undefined> {
    const app = await this.platform.getApp(build.appGuid);
    const space = app && (await this.platform.getSpace(app.spaceGuid));
    const org = space && (await this.platform.getOrg(space.orgGuid));
    if (!app || !space || !org) return undefined;
    return { build, app, space, org, heartbeatMs: Math.min(HEARTBEAT_MS, Math.floor(this.staleMs / 4)) };
  }

  heartbeat(job: StagingJob, workerId: string): Promise<boolean> {
    return this.workloads.touchBuildClaim(job.build.guid, workerId, now());
  }

  extract(job: StagingJob, dir: string): Promise<void> {
    return this.packages.extract(job.build.packageGuid, dir);
  }

  log(job: StagingJob, stream: 'OUT' | 'ERR', text: string): void {
    this.logs.write(job.app.guid, 'STG', '0', stream, text);
  }

  async succeed(job: StagingJob, workerId: string, image: StagedImage): Promise<void> {
    if (!(await this.heartbeat(job, workerId))) return;
    const at = now();
    const droplet = await this.workloads.createDroplet({
      guid: newGuid(),
      createdAt: at,
      updatedAt: at,
      metadata: emptyMetadata(),
      appGuid: job.app.guid,
      buildGuid: job.build.guid,
      packageGuid: job.build.packageGuid,
      state: 'STAGED',
      digest: image.digest,
      processTypes: image.processTypes,
      buildpacks: image.buildpacks,
      stack: image.stack,
      stackVersion: image.stackVersion,
      executionMetadata: image.executionMetadata,
    });
    await this.workloads.updateBuild(job.build.guid, { state: 'STAGED', dropletGuid: droplet.guid });
  }

  async fail(job: StagingJob, workerId: string, error: string): Promise<void> {
    if (!(await this.heartbeat(job, workerId))) return;
    await this.workloads.updateBuild(job.build.guid, { state: 'FAILED', error });
  }
}
