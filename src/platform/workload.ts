import type { AppLifecycle, Resource } from './model.js';

/**
 * What makes an app run, as Cloud Foundry's v3 API has it: the source it was pushed
 * as (packages), the stagings (builds) and their results (droplets: here an OCI image
 * in the platform's registry), the processes and their instances, routes, and the
 * deployments and revisions that roll one droplet out after another.
 */

export type PackageState = 'AWAITING_UPLOAD' | 'PROCESSING_UPLOAD' | 'READY' | 'FAILED' | 'EXPIRED';

/** An app's source as pushed (CF's bits package: a zip, kept by its sha256 in the package store). */
export interface Package extends Resource {
  appGuid: string;
  type: 'bits' | 'docker';
  state: PackageState;
  /** sha256 of the zip, once uploaded. */
  checksum?: string;
  /** A docker package's image reference. */
  image?: string;
  error?: string;
}

export type BuildState = 'STAGING' | 'STAGED' | 'FAILED';

/** One staging of a package: queued, taken by a build worker, ended with a droplet or an error. */
export interface Build extends Resource {
  appGuid: string;
  packageGuid: string;
  state: BuildState;
  /** CF's `error`: why it failed ("BuildpackCompileFailed - ..."). */
  error: string | null;
  lifecycle: AppLifecycle;
  dropletGuid?: string;
  createdBy?: { guid: string; name: string };
  stagingMemoryMb: number;
  stagingDiskMb: number;
  /** The worker that took it (`host:pid`) and when; a build whose worker is gone is taken again. */
  workerId?: string;
  claimedAt?: string;
}

export type DropletState = 'AWAITING_UPLOAD' | 'PROCESSING_UPLOAD' | 'STAGED' | 'COPYING' | 'FAILED' | 'EXPIRED';

export interface DropletBuildpack {
  name: string;
  buildpackName: string | null;
  detectOutput: string | null;
  version: string | null;
}

/** A staged app: its bits are the OCI image `apps/<app guid>@<digest>` (public name ORG/SPACE/APP). */
export interface Droplet extends Resource {
  appGuid: string;
  buildGuid?: string;
  packageGuid?: string;
  state: DropletState;
  /** The manifest digest of the image. */
  digest: string;
  /** Process type -> start command, from the image's buildpack metadata. */
  processTypes: Record<string, string>;
  buildpacks: DropletBuildpack[];
  stack: string;
  /** The stack version the image is built on (a rebase moves it). */
  stackVersion: string;
  executionMetadata: string;
  /** Set when this droplet came from another by rebase (the patching story). */
  rebasedFrom?: string;
}

export type HealthCheckType = 'port' | 'http' | 'process';

export interface HealthCheck {
  type: HealthCheckType;
  /** http: the path probed. */
  endpoint?: string;
  /** Seconds an instance may take to become healthy after it starts. */
  timeout?: number;
  /** Seconds one probe may take. */
  invocationTimeout?: number;
}

/** A process type of an app, scaled independently (web, worker, ...). */
export interface Process extends Resource {
  appGuid: string;
  type: string;
  /** The start command given by the user; null: the droplet's. */
  command: string | null;
  instances: number;
  memoryMb: number;
  diskMb: number;
  healthCheck: HealthCheck;
  /**
   * Changes when the process's instances must be replaced though its droplet did not
   * (a restart, a start after a stop, a rolling deployment): CC's process version.
   * Absent: never restarted.
   */
  version?: string;
}

export type InstanceState = 'STARTING' | 'RUNNING' | 'CRASHED' | 'DOWN' | 'STOPPING';

/**
 * One running (or crashed) copy of a process: a container on a host. The platform
 * records the desired set (processes x instances) and this, the actual set, so a
 * restarted server adopts the containers still running instead of starting them again.
 */
export interface Instance {
  guid: string;
  appGuid: string;
  processGuid: string;
  processType: string;
  index: number;
  /** The droplet (image) it runs. */
  dropletGuid: string;
  /** The process version it was started at (an instance of an older one is replaced). */
  processVersion?: string;
  /** The deployment that started it, if any (rolling deployments replace instances by this). */
  deploymentGuid?: string;
  host: string;
  containerName: string;
  /** The port on the host's loopback that reaches the app (the router's way in). */
  port: number;
  /** The instance's slirp4netns (its network), kept so a restarted server can check it and reattach. */
  networkPid?: number;
  state: InstanceState;
  since: string;
  crashCount: number;
  /** Why it is not running ("APP/PROC/WEB exited with status 1"). */
  details?: string;
  /** When a crashed instance may be started again (backoff). */
  restartAt?: string;
}

export interface Domain extends Resource {
  name: string;
  internal: boolean;
  /** Private domains belong to an org; shared ones (the platform's) to none. */
  orgGuid?: string;
}

export interface Route extends Resource {
  /** '' for a route on the domain itself. */
  host: string;
  /** '' or a path starting with '/'. */
  path: string;
  domainGuid: string;
  spaceGuid: string;
}

export interface RouteDestination {
  guid: string;
  routeGuid: string;
  appGuid: string;
  processType: string;
  /** The app's port (null: 8080, as CF). */
  port: number | null;
  protocol: 'http1' | 'http2';
}

export type DeploymentStatusValue = 'ACTIVE' | 'FINALIZED';
export type DeploymentStatusReason = 'DEPLOYING' | 'DEPLOYED' | 'CANCELING' | 'CANCELED' | 'SUPERSEDED';

/** A rolling replacement of an app's instances with a droplet (CF's deployments). */
export interface Deployment extends Resource {
  appGuid: string;
  strategy: 'rolling';
  statusValue: DeploymentStatusValue;
  statusReason: DeploymentStatusReason;
  dropletGuid: string;
  previousDropletGuid?: string;
  revisionGuid?: string;
  /** Instances replaced at a time (at least this many old ones keep serving). */
  maxInFlight: number;
  lastStatusChange: string;
}

/** A version of an app: its droplet, start commands and env at one deployment (CF's revisions). */
export interface Revision extends Resource {
  appGuid: string;
  version: number;
  dropletGuid: string;
  description: string;
  processes: Record<string, string | null>;
  environmentVariables: Record<string, string>;
  deployable: boolean;
}

/** A file the platform has by sha1 (CF's resource matching: what is not sent again). */
export interface ResourceFile {
  sha1: string;
  size: number;
}
