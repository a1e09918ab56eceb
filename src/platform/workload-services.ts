import type { Readable } from 'node:stream';
import type { AppLogs } from './logs.js';
import type { Instance, Process } from './workload.js';

/**
 * What the v3 API's workload routes need from the rest of the platform, as
 * dependencies: the package store (uploaded source, and the pool of files known by
 * sha1 for resource matching), live instance stats, the app logs, and a way to tell
 * the build workers and the reconciler that something changed.
 */

/** A file of a push, as CF's resource matching names it. */
export interface PushedResource {
  /** Relative path in the app, "/"-separated. */
  path: string;
  /** Octal mode string ("644", "755"). */
  mode: string;
  sha1: string;
  size: number;
}

export interface PackageBits {
  /**
   * Stores an upload: `zip` holds the files the client sent (none when every file
   * matched), `matched` lists the files the platform already has by sha1 (refused with
   * INVALID_ARGUMENT when one is not in the pool). Every file of the zip joins the pool.
   * Returns the package's checksum (sha256 over its sorted path, mode and sha1 list).
   */
  store(packageGuid: string, zip: Readable | undefined, matched: PushedResource[]): Promise<{ checksum: string }>;
  /** Of these, the ones the pool has (CF's POST /v3/resource_matches). */
  matches(resources: PushedResource[]): Promise<PushedResource[]>;
  /** Writes the package's files into `dir` (for staging), following no link out of it. */
  extract(packageGuid: string, dir: string): Promise<void>;
  /** Forgets a package's bits (its app is deleted). */
  drop(packageGuid: string): Promise<void>;
}

/** One instance as `GET /v3/processes/:guid/stats` shows it (CF's process stats). */
export interface InstanceStat {
  index: number;
  state: Instance['state'];
  /** Seconds since it started (RUNNING) or since its state changed. */
  uptime: number;
  host: string;
  port: number;
  memoryBytes: number;
  /** CPU use since the last sample, as a fraction of one CPU. */
  cpu: number;
  diskBytes: number;
  memQuotaBytes: number;
  diskQuotaBytes: number;
  details?: string;
  /** The image digest it runs. */
  digest: string;
}

export interface InstanceStatsSource {
  stats(process: Process): Promise<InstanceStat[]>;
}

/** Nudges for the loops that act on what the API recorded. */
export interface WorkloadSignals {
  /** A build was queued: workers look now, not at their next poll. */
  buildQueued(): void;
  /** Desired state changed (start, stop, scale, a deployment): the reconciler converges now. */
  desiredChanged(): void;
}

export interface WorkloadServices {
  packages: PackageBits;
  stats: InstanceStatsSource;
  logs: AppLogs;
  signals: WorkloadSignals;
  /** The platform's shared domain (`apps.example.com`): default routes are APP.<domain>. */
  defaultDomain: string;
  /** The router's public URL scheme and port for route URLs (`http://HOST.domain:8080`). */
  routerPort?: number;
}
