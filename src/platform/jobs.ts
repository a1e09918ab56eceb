import { cfErrorOf } from './cf-errors.js';
import type { App, Job, JobError } from './model.js';
import { newGuid } from './model.js';
import type { PlatformStore } from './store/platform-store.js';

/**
 * Deletes as Cloud Controller runs them: a PROCESSING job is created and answered at
 * once (202 with its Location), the cascade runs in the background, the images of
 * the apps that went are deleted, and the job ends COMPLETE, or FAILED with CF error
 * items. A job is described by its operation and resource guid alone, so the jobs a
 * restart interrupted are run again from the store (`resumeUnfinished`); each step is
 * idempotent (deleting what is already gone completes).
 */

/** Where apps' images live (the registry's repositories ORG/SPACE/APP); deleting an app removes them. */
export interface AppImages {
  deleteImages(apps: App[]): Promise<void>;
}

export const JOB_OPERATIONS = [
  'organization.delete',
  'space.delete',
  'app.delete',
  'role.delete',
  'user.delete',
  'buildpack.delete',
] as const;
export type JobOperation = (typeof JOB_OPERATIONS)[number];

export interface JobRunnerOptions {
  store: PlatformStore;
  images: AppImages;
  clock?: () => Date;
  /** Told of a job that failed (logs); must not throw. */
  onFailure?: (job: Job, err: unknown) => void;
}

export class JobRunner {
  readonly #store: PlatformStore;
  readonly #images: AppImages;
  readonly #clock: () => Date;
  readonly #onFailure: (job: Job, err: unknown) => void;
  readonly #running = new Map<string, Promise<void>>();
  readonly #defined = new Map<string, (job: Job) => Promise<string[] | undefined>>();

  constructor(options: JobRunnerOptions) {
    this.#store = options.store;
    this.#images = options.images;
    this.#clock = options.clock ?? (() => new Date());
    this.#onFailure = options.onFailure ?? (() => undefined);
  }

  /**
   * Creates a PROCESSING job for `operation` on `resourceGuid` and runs it in the background.
   *
   * @example
   * const job = await jobs.start('space.delete', space.guid); // answer 202, Location: /v3/jobs/<job.guid>
   */
  async start(operation: JobOperation, resourceGuid: string): Promise<Job> {
    const at = this.#clock().toISOString();
    const job = await this.#store.createJob({
      guid: newGuid(),
      createdAt: at,
      updatedAt: at,
      operation,
      state: 'PROCESSING',
      errors: [],
      warnings: [],
      resourceGuid,
    });
    this.#schedule(job);
    return job;
  }

  /**
   * How jobs of an operation beyond the built-in deletes are performed (the workload's:
   * applying a manifest, deleting a route): `perform` returns the job's warnings. It is
   * what `resumeUnfinished` runs again for such a job after a restart.
   */
  define(operation: string, perform: (job: Job) => Promise<string[] | undefined>): void {
    this.#defined.set(operation, perform);
  }

  /**
   * Creates a PROCESSING job of a defined operation and runs `task` for it now (it may
   * hold what the job record does not, such as a manifest); COMPLETE with the warnings
   * it returns, FAILED with its error. After a restart the defined `perform` runs instead.
   */
  async run(operation: string, resourceGuid: string, task: () => Promise<string[] | undefined>): Promise<Job> {
    const at = this.#clock().toISOString();
    const job = await this.#store.createJob({
      guid: newGuid(),
      createdAt: at,
      updatedAt: at,
      operation,
      state: 'PROCESSING',
      errors: [],
      warnings: [],
      resourceGuid,
    });
    this.#schedule(job, task);
    return job;
  }

  /** Runs again every job a stop left PROCESSING; returns how many. */
  async resumeUnfinished(): Promise<number> {
    const jobs = await this.#store.unfinishedJobs();
    for (const job of jobs) this.#schedule(job);
    return jobs.length;
  }

  /** Resolves when no job is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running.values()]);
  }

  #schedule(job: Job, task?: () => Promise<string[] | undefined>): void {
    if (this.#running.has(job.guid)) return;
    const run = this.#run(job, task).finally(() => this.#running.delete(job.guid));
    this.#running.set(job.guid, run);
  }

  async #run(job: Job, task?: () => Promise<string[] | undefined>): Promise<void> {
    try {
      const defined = this.#defined.get(job.operation);
      const warnings = task ? await task() : defined ? await defined(job) : await this.#perform(job);
      await this.#store.updateJob(job.guid, { state: 'COMPLETE', errors: [], ...(warnings ? { warnings } : {}) });
    } catch (err) {
      this.#onFailure(job, err);
      const { code, title, detail } = cfErrorOf(err);
      const errors: JobError[] = [{ code, title, detail }];
      try {
        await this.#store.updateJob(job.guid, { state: 'FAILED', errors });
      } catch (updateErr) {
        this.#onFailure(job, updateErr);
      }
    }
  }

  async #deleteImagesOf(filter: { organizationGuids?: string[]; spaceGuids?: string[] }): Promise<void> {
    for (let n = 1; ; n++) {
      const page = await this.#store.listApps({ page: n, perPage: 500, orderBy: 'created_at' }, filter, {
        kind: 'all',
      });
      if (page.items.length > 0) await this.#images.deleteImages(page.items);
      if (n * 500 >= page.total) return;
    }
  }

  async #perform(job: Job): Promise<undefined> {
    const guid = job.resourceGuid;
    if (guid === undefined) return;
    const store = this.#store;
    switch (job.operation as JobOperation) {
      // Images first, then the rows (as for an app): a stop between the two leaves rows the
      // resumed job deletes, never images nobody owns.
      case 'organization.delete': {
        await this.#deleteImagesOf({ organizationGuids: [guid] });
        await store.deleteOrg(guid);
        return;
      }
      case 'space.delete': {
        await this.#deleteImagesOf({ spaceGuids: [guid] });
        await store.deleteSpace(guid);
        return;
      }
      case 'app.delete': {
        // Images first: should that fail, the app stays and the delete can be asked again.
        const app = await store.getApp(guid);
        if (!app) return;
        await this.#images.deleteImages([app]);
        await store.deleteApp(guid);
        return;
      }
      case 'role.delete':
        await store.deleteRole(guid);
        return;
      case 'user.delete':
        await store.revokeRefreshTokensOf(guid, this.#clock().toISOString());
        await store.deleteUser(guid);
        return;
      case 'buildpack.delete':
        await store.deleteBuildpack(guid);
        return;
      default:
        throw new Error(`unknown job operation ${job.operation}`);
    }
  }
}
