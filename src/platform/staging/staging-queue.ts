import type { App, Organization, Space } from '../model.js';
import type { Build } from '../workload.js';
import type { StagedImage } from './stage-build.js';

/**
 * What a build worker needs from the platform, whether it runs in the `serve` process
 * (LocalStagingQueue: the stores themselves) or as `slipway worker` on another
 * process or host (the worker API over HTTP). Exactly one worker gets a build; a
 * worker keeps its claim by heartbeats, and a build whose worker went silent is taken
 * again by another.
 */
export interface StagingJob {
  build: Build;
  app: App;
  space: Space;
  org: Organization;
  /**
   * How often the worker must renew its claim: a quarter of the queue's stale time, so
   * a platform run with a short claim timeout is not taken for a dead worker's.
   */
  heartbeatMs?: number;
}

export interface StagingQueue {
  /** The oldest queued build no live worker holds, now held by `workerId`. */
  claim(workerId: string): Promise<StagingJob | undefined>;
  /** Keeps the claim; false when the build is no longer this worker's (taken over, or gone). */
  heartbeat(job: StagingJob, workerId: string): Promise<boolean>;
  /** Writes the build's package into `dir`. */
  extract(job: StagingJob, dir: string): Promise<void>;
  /** Staging output, as it comes (the app's STG log). */
  log(job: StagingJob, stream: 'OUT' | 'ERR', text: string): void;
  /** The staging worked: the droplet is recorded from the image, the build STAGED. */
  succeed(job: StagingJob, workerId: string, image: StagedImage): Promise<void>;
  /** The staging failed: the build FAILED with CF's error text. */
  fail(job: StagingJob, workerId: string, error: string): Promise<void>;
}

/** A claim older than this is a dead worker's. */
export const CLAIM_STALE_MS = 60_000;
/** How often a worker renews its claims. */
export const HEARTBEAT_MS = 10_000;
