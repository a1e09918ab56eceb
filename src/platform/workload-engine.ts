import { availableParallelism, hostname } from 'node:os';
import { join } from 'node:path';
import { ContainerRuntime } from '../runtime/containers.js';
import type { BuildNetwork } from '../sandbox/network.js';
import type { LocalStore } from '../store/local-store.js';
import { AppLogs } from './logs.js';
import type { InstanceBackend, InstanceUsageSource } from './run/instance-backend.js';
import { InstanceRunner } from './run/instance-runner.js';
import { RunnerStats } from './run/instance-stats.js';
import { KubernetesReconciler, type KubernetesReconcilerOptions } from './run/kubernetes-reconciler.js';
import { Reconciler } from './run/reconciler.js';
import { RoutingTable } from './run/routing-table.js';
import { LocalStagingQueue } from './staging/local-staging-queue.js';
import { PackageStore } from './staging/package-store.js';
import { openResourcePool } from './staging/resource-pool.js';
import { StagingWorkers } from './staging/staging-workers.js';
import type { PlatformStore } from './store/platform-store.js';
import type { WorkloadStore } from './store/workload-store.js';
import type { WorkloadServices } from './workload-services.js';

/**
 * What runs apps on this host, put together: the package store, the app logs, build
 * workers on the in-process staging queue, the container runtime with the instance
 * runner and the reconciler, and the routing table the router reads (fed by the
 * reconciler's passes and the routes in the store). The API reaches it through
 * `services`; `start` adopts what still runs and begins converging and staging.
 */

export interface WorkloadEngineOptions {
  platform: PlatformStore;
  workloads: WorkloadStore;
  store: LocalStore;
  /** The shared domain of default routes (APP.<domain>). */
  domain: string;
  /** The router's port, for route URLs. */
  routerPort?: number;
  /** Builds staged at once in this process (0: none here, `slipway worker`s only). Default half the CPUs, at least 1. */
  buildWorkers?: number;
  buildNetwork?: BuildNetwork;
  /** A build whose worker sent no heartbeat this long goes to another worker (default 60 s). */
  claimStaleMs?: number;
  /** Reconciler pass interval (default 1 s). */
  intervalMs?: number;
  /** How long a stopping instance keeps serving (default 2 s). */
  drainMs?: number;
  /** Run instances as pods on a Kubernetes cluster instead of runc containers on this host (the default). */
  kubernetes?: Pick<KubernetesReconcilerOptions, 'api' | 'registryHost' | 'namespacePrefix' | 'pullCredential'>;
  onError?: (err: unknown) => void;
}

/** How often routes are read again besides after API writes (changes made by another server). */
const ROUTES_REFRESH_MS = 5000;

export class WorkloadEngine {
  readonly logs = new AppLogs();
  readonly packages: PackageStore;
  readonly routing: RoutingTable;
  readonly runtime: ContainerRuntime;
  readonly reconciler: InstanceBackend;
  readonly workers: StagingWorkers;
  readonly queue: LocalStagingQueue;
  readonly services: WorkloadServices;
  readonly #o: WorkloadEngineOptions;
  #routesTimer: NodeJS.Timeout | undefined;
  readonly #pool: ReturnType<typeof openResourcePool>;
  #started = false;

  constructor(o: WorkloadEngineOptions) {
    this.#o = o;
    const home = o.store.home;
    this.#pool = openResourcePool({ database: o.store.database, file: join(home, 'resource-pool.sqlite') });
    this.packages = new PackageStore(o.store, this.#pool);
    this.runtime = ContainerRuntime.open(home);
    let usage: InstanceUsageSource;
    if (o.kubernetes) {
      const k8s = new KubernetesReconciler({
        platform: o.platform,
        workloads: o.workloads,
        logs: this.logs,
        ...o.kubernetes,
        ...(o.intervalMs !== undefined ? { intervalMs: o.intervalMs } : {}),
        ...(o.onError ? { onError: o.onError } : {}),
        onInstances: (running) => this.routing.setInstances(running),
      });
      this.routing = new RoutingTable({ addressOf: (i) => k8s.routeAddress(i) });
      this.reconciler = k8s;
      usage = k8s;
    } else {
      const runner = new InstanceRunner(this.runtime, o.store, hostname(), join(home, 'instance-networks'));
      this.routing = new RoutingTable();
      this.reconciler = new Reconciler({
        platform: o.platform,
        workloads: o.workloads,
        runner,
        logs: this.logs,
        ...(o.intervalMs !== undefined ? { intervalMs: o.intervalMs } : {}),
        ...(o.drainMs !== undefined ? { drainMs: o.drainMs } : {}),
        ...(o.onError ? { onError: o.onError } : {}),
        onInstances: (running) => this.routing.setInstances(running),
      });
      usage = runner;
    }
    this.queue = new LocalStagingQueue(o.platform, o.workloads, this.packages, this.logs, o.claimStaleMs);
    this.workers = new StagingWorkers({
      queue: this.queue,
      store: o.store,
      workDir: join(home, 'staging'),
      concurrency: o.buildWorkers ?? Math.max(1, Math.floor(availableParallelism() / 2)),
      ...(o.buildNetwork ? { network: o.buildNetwork } : {}),
      ...(o.onError ? { onError: o.onError } : {}),
    });
    this.services = {
      packages: this.packages,
      stats: new RunnerStats(o.workloads, usage),
      logs: this.logs,
      // Before start (an API-only server) builds stay queued and nothing runs.
      signals: {
        buildQueued: () => {
          if (this.#started && (o.buildWorkers ?? 1) > 0) this.workers.wake();
        },
        desiredChanged: () => {
          if (this.#started) this.reconciler.poke();
        },
      },
      defaultDomain: o.domain,
      ...(o.routerPort !== undefined ? { routerPort: o.routerPort } : {}),
    };
  }

  async start(): Promise<void> {
    this.#started = true;
    // Pushed source an older Slipway kept on this host moves into the shared store once.
    await this.packages.importLegacy(this.#o.store.home);
    await this.refreshRoutes();
    this.#routesTimer = setInterval(() => void this.refreshRoutes(), ROUTES_REFRESH_MS);
    this.#routesTimer.unref();
    await this.reconciler.start();
    if ((this.#o.buildWorkers ?? 1) > 0) this.workers.start();
  }

  /** Routes or destinations changed: the router sees them now. */
  async refreshRoutes(): Promise<void> {
    try {
      await this.routing.refreshRoutes(this.#o.workloads);
    } catch (err) {
      this.#o.onError?.(err);
    }
  }

  /** Stops converging and staging; instances keep running (the next start adopts them). */
  async close(): Promise<void> {
    if (this.#routesTimer) clearInterval(this.#routesTimer);
    await this.workers.close();
    await this.reconciler.close();
    this.runtime.close();
    await this.#pool.close();
  }
}
