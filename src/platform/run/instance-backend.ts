import type { Instance } from '../workload.js';

/**
 * What the workload engine runs apps with: a loop that makes the instances recorded in
 * the WorkloadStore match what should run, and reads back what runs. The local runc
 * Reconciler is one (the default: containers on this host, one per instance); the
 * KubernetesReconciler another (a Deployment per process, its pods read back as
 * instances). The engine drives either the same way.
 */
export interface InstanceBackend {
  /** Adopts what already runs, then converges every interval. */
  start(): Promise<void>;
  /** Converge soon: the API changed what should run. */
  poke(): void;
  /** One pass now. */
  converge(): Promise<void>;
  /** Stops converging; what runs keeps running. */
  close(): Promise<void>;
}

/** What `stats` asks of a backend about one recorded instance. */
export interface InstanceUsageSource {
  /** Memory (bytes) and CPU time (ns) it used; undefined when not known (not running, no metrics). */
  usage(instance: Instance): Promise<{ memoryBytes: number; cpuNanos: number } | undefined>;
  /** Where stats say it is (default 127.0.0.1 and its host port: the runc runner's). */
  address?(instance: Instance): { host: string; port: number };
}
