import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { SlipwayError } from '../../errors.js';
import { updateStack } from '../../stack/create.js';
import { latestVersion } from '../../stack/stack-catalog.js';
import type { LocalStore } from '../../store/local-store.js';
import { notAuthorized, notFound } from '../cf-errors.js';
import type { Job } from '../model.js';
import type { App, Organization, Space } from '../model.js';
import { type AppDeployer, appsBehind, type RolloutReport, rolloutStack } from '../rollout/stack-rollout.js';
import type { Droplet } from '../workload.js';
import { spaceContext } from './context.js';
import { createDeployment } from './deployments.js';
import type { WorkloadContext } from './workload-context.js';

/**
 * `slipway cf update-stack NAME --rollout` (POST /v3/stacks/:guid/actions/update, a
 * Slipway extension): admins make the stack's new version from its package request
 * (the toolkit's `stack update`), then, with `rollout`, every app on an older version
 * is rebased and rolled (src/platform/rollout). It runs as a job; its report is kept
 * by the job's guid (GET /v3/stack_rollouts/:guid). A job cut short by a restart of
 * the server fails: running the update again finishes it (rolled apps stay rolled).
 */

export interface StackUpdateRequest {
  rollout: boolean;
  maxInFlight: number;
  runPackages: string[];
  buildPackages: string[];
  removePackages: string[];
  refresh: boolean;
}

export interface StackUpdateReport extends RolloutReport {
  /** Whether the update made a new version (false: the mirror had nothing new; apps behind are still rolled). */
  newVersion: boolean;
  /** Of `seconds` (the whole job), the stack update's part; the rest is the rebase and rollout. */
  updateSeconds: number;
}

/** How long one app's rolling deployment may take before the rollout reports it failed. */
const DEPLOY_TIMEOUT_MS = 15 * 60_000;

export const STACK_UPDATE_JOB = 'stack.update';

export class StackUpdates {
  readonly #dir: string;

  constructor(private readonly store: LocalStore) {
    this.#dir = join(store.home, 'stack-rollouts');
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
  }

  /** Starts the update as a job (admins only); 404 for a stack the catalog does not have. */
  async start(ctx: WorkloadContext, stack: string, request: StackUpdateRequest): Promise<Job> {
    if (!ctx.perms.isAdmin()) throw notAuthorized();
    if (!(await latestVersion(this.store, stack))) throw notFound('Stack');
    let jobGuid = '';
    const job = await ctx.jobs.run(STACK_UPDATE_JOB, stack, async () => {
      const report = await this.#run(ctx, stack, request);
      this.#save(jobGuid, report);
      return report.apps
        .filter((a) => a.status === 'failed')
        .map((a) => `${a.app.name}: not rolled: ${a.reason ?? 'failed'}`);
    });
    jobGuid = job.guid;
    return job;
  }

  /** The report of a finished update job; 404 until it finished, and for those who are not admins. */
  report(ctx: WorkloadContext, jobGuid: string): StackUpdateReport {
    if (!ctx.perms.readsEverything() || !/^[0-9a-f-]{36}$/.test(jobGuid)) throw notFound('StackRollout');
    try {
      return JSON.parse(readFileSync(join(this.#dir, `${jobGuid}.json`), 'utf8')) as StackUpdateReport;
    } catch {
      throw notFound('StackRollout');
    }
  }

  /** The apps the caller can see whose droplet is on an older stack version. */
  async behind(
    ctx: WorkloadContext,
  ): Promise<{ app: App; droplet: Droplet; latest: string; space: Space; org: Organization }[]> {
    const out = [];
    for (const entry of await appsBehind({ platform: ctx.store, workloads: ctx.workloads, store: this.store })) {
      const found = await spaceContext(ctx.store, entry.app.spaceGuid);
      if (!found || !ctx.perms.canReadSpace(found)) continue;
      out.push({ ...entry, space: found.space, org: found.org });
    }
    return out;
  }

  async #run(ctx: WorkloadContext, stack: string, request: StackUpdateRequest): Promise<StackUpdateReport> {
    const t0 = performance.now();
    const before = (await latestVersion(this.store, stack))?.version;
    await updateStack(this.store, stack, {
      runPackages: request.runPackages,
      buildPackages: request.buildPackages,
      removePackages: request.removePackages,
      refresh: request.refresh,
    });
    const version = (await latestVersion(this.store, stack))?.version ?? '';
    const newVersion = version !== before;
    const updateSeconds = (performance.now() - t0) / 1000;
    if (!request.rollout) return { stack, version, newVersion, apps: [], seconds: updateSeconds, updateSeconds };
    const deployer: AppDeployer = {
      rollOut: (app, droplet) => deployAndWait(ctx, app, droplet, request.maxInFlight),
    };
    const report = await rolloutStack(
      { platform: ctx.store, workloads: ctx.workloads, store: this.store, deployer },
      { stack, maxInFlight: request.maxInFlight },
    );
    return { ...report, newVersion, updateSeconds, seconds: (performance.now() - t0) / 1000 };
  }

  #save(jobGuid: string, report: StackUpdateReport): void {
    const file = join(this.#dir, `${jobGuid}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(report), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }
}

/** A rolling deployment of the droplet (one instance at a time), waited for until it is DEPLOYED. */
async function deployAndWait(
  ctx: WorkloadContext,
  app: App,
  droplet: Droplet,
  maxInFlight: number,
): Promise<{ deploymentGuid: string }> {
  const deployment = await createDeployment(ctx, {
    relationships: { app: { data: { guid: app.guid } } },
    droplet: { guid: droplet.guid },
    strategy: 'rolling',
    options: { max_in_flight: Math.max(1, maxInFlight) },
  });
  const deadline = Date.now() + DEPLOY_TIMEOUT_MS;
  for (;;) {
    const d = await ctx.workloads.getDeployment(deployment.guid);
    if (!d) throw new SlipwayError('NOT_FOUND', `deployment ${deployment.guid} of ${app.name} is gone`);
    if (d.statusValue === 'FINALIZED') {
      if (d.statusReason === 'DEPLOYED') return { deploymentGuid: d.guid };
      throw new SlipwayError('CONFLICT', `deployment ${d.guid} of ${app.name} ended ${d.statusReason}`);
    }
    if (Date.now() > deadline)
      throw new SlipwayError('LIMIT_EXCEEDED', `deployment ${d.guid} of ${app.name} did not finish in 15 minutes`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
