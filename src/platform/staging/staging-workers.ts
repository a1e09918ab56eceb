import { mkdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Progress } from '../../progress.js';
import type { BuildNetwork } from '../../sandbox/network.js';
import type { LocalStore } from '../../store/local-store.js';
import { type StagedImage, stageBuild, stagingErrorText } from './stage-build.js';
import { HEARTBEAT_MS, type StagingJob, type StagingQueue } from './staging-queue.js';

/**
 * Build workers: `concurrency` stagings at a time, each taken from the queue, run in
 * the build sandbox, and reported. They poll, and wake at once when told a build was
 * queued. A worker's image goes to `publish`: in the serve process the image is
 * already in the platform's store; `slipway worker` pushes it to the platform's
 * registry with the build's staging token.
 */

export interface StagingWorkersOptions {
  queue: StagingQueue;
  /** Where images are built (the platform's store, or the worker's own). */
  store: LocalStore;
  /** Where build workspaces go (each removed after its build). */
  workDir: string;
  concurrency: number;
  /** The default staging time limit (CF's is 15 minutes). */
  timeoutMs?: number;
  pollMs?: number;
  network?: BuildNetwork;
  /** Makes a staged image the platform's (default: it already is). */
  publish?: (job: StagingJob, image: StagedImage) => Promise<StagedImage>;
  onError?: (err: unknown) => void;
}

export const DEFAULT_STAGING_TIMEOUT_MS = 15 * 60_000;

export class StagingWorkers {
  readonly #o: StagingWorkersOptions;
  readonly #id: string;
  #running = 0;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #active = new Set<Promise<void>>();

  constructor(options: StagingWorkersOptions) {
    this.#o = options;
    this.#id = `${hostname()}:${process.pid}`;
    mkdirSync(options.workDir, { recursive: true, mode: 0o700 });
  }

  start(): void {
    this.wake();
  }

  /** Look for builds now (one was queued). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    void this.#fill();
  }

  /** Stops taking builds and waits for the running ones. */
  async close(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await Promise.allSettled([...this.#active]);
  }

  async #fill(): Promise<void> {
    while (!this.#stopped && this.#running < this.#o.concurrency) {
      this.#running++;
      let job: StagingJob | undefined;
      try {
        job = await this.#o.queue.claim(this.#id);
      } catch (err) {
        this.#o.onError?.(err);
      }
      if (!job) {
        this.#running--;
        break;
      }
      const run = this.#run(job).finally(() => {
        this.#running--;
        this.#active.delete(run);
        this.wake();
      });
      this.#active.add(run);
    }
    if (!this.#stopped && !this.#timer) {
      this.#timer = setTimeout(() => this.wake(), this.#o.pollMs ?? 2000);
      this.#timer.unref();
    }
  }

  async #run(job: StagingJob): Promise<void> {
    const { queue } = this.#o;
    const dir = join(this.#o.workDir, job.build.guid);
    const beat = setInterval(
      () => {
        queue.heartbeat(job, this.#id).catch((err: unknown) => this.#o.onError?.(err));
      },
      Math.max(100, job.heartbeatMs ?? HEARTBEAT_MS),
    );
    beat.unref();
    const out = (text: string) => queue.log(job, 'OUT', text);
    try {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(join(dir, 'app'), { recursive: true, mode: 0o755 });
      out(`Staging app ${job.app.name} (build ${job.build.guid})`);
      await queue.extract(job, join(dir, 'app'));
      let image = await stageBuild(this.#o.store, {
        appGuid: job.app.guid,
        tag: job.build.guid,
        lifecycle: job.build.lifecycle,
        env: job.app.environmentVariables,
        platformEnv: stagingEnv(job),
        dir: join(dir, 'app'),
        memoryMb: job.build.stagingMemoryMb,
        diskMb: job.build.stagingDiskMb,
        timeoutMs: this.#o.timeoutMs ?? DEFAULT_STAGING_TIMEOUT_MS,
        output: out,
        progress: logProgress(out),
        ...(this.#o.network ? { network: this.#o.network } : {}),
      });
      if (this.#o.publish) image = await this.#o.publish(job, image);
      out(`Staging complete: ${image.digest} on ${image.stack} ${image.stackVersion}`);
      await queue.succeed(job, this.#id, image);
    } catch (err) {
      const error = stagingErrorText(err);
      queue.log(job, 'ERR', error);
      await queue.fail(job, this.#id, error).catch((e: unknown) => this.#o.onError?.(e));
    } finally {
      clearInterval(beat);
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** CF's staging environment besides the app's own variables. */
function stagingEnv(job: StagingJob): Record<string, string> {
  const { app, space, org, build } = job;
  return {
    CF_STACK: build.lifecycle.data.stack ?? 'default',
    MEMORY_LIMIT: `${build.stagingMemoryMb}m`,
    VCAP_SERVICES: '{}',
    VCAP_APPLICATION: JSON.stringify({
      application_id: app.guid,
      application_name: app.name,
      name: app.name,
      space_id: space.guid,
      space_name: space.name,
      organization_id: org.guid,
      organization_name: org.name,
      limits: { mem: build.stagingMemoryMb, disk: build.stagingDiskMb },
    }),
  };
}

/** The stager's own steps as log lines (what CF prints between buildpack output). */
function logProgress(out: (text: string) => void): Progress {
  return {
    start() {},
    advance() {},
    done() {},
    log: out,
  };
}
