import type { PlatformStore } from './platform-store.js';
import type { WorkloadStore } from './workload-store.js';

/** A PlatformStore with the WorkloadStore that shares its database. */
export type PlatformStores = PlatformStore & { workloads: WorkloadStore };

/** What each back-end may be told; the other's options are ignored. */
export interface OpenPlatformOptions {
  /** PostgreSQL: connections kept open (default 10). */
  maxConnections?: number;
  /** SQLite: how long a statement waits for another process's write (default 10 s). */
  busyTimeoutMs?: number;
}

/** A postgres:// (or postgresql://) URL, as opposed to a file name. */
export function isPostgresUrl(urlOrFile: string): boolean {
  return /^postgres(ql)?:\/\//i.test(urlOrFile);
}

/**
 * Opens the platform's store where `urlOrFile` says: PostgreSQL for a postgres:// URL
 * (several `slipway serve` nodes and workers on one database), else the SQLite file
 * at that path (the embedded default). Each back-end is loaded only when asked for,
 * so the embedded default never loads pg, nor a PostgreSQL node better-sqlite3.
 *
 * @example
 * const store = await openPlatformStore(options.database ?? join(home, 'platform.sqlite'));
 * const builds = store.workloads;
 */
export async function openPlatformStore(urlOrFile: string, options: OpenPlatformOptions = {}): Promise<PlatformStores> {
  if (isPostgresUrl(urlOrFile)) {
    const { PostgresPlatformStore } = await import('./postgres-platform-store.js');
    return PostgresPlatformStore.open(urlOrFile, { maxConnections: options.maxConnections });
  }
  const { SqlitePlatformStore } = await import('./sqlite-platform-store.js');
  return SqlitePlatformStore.open(urlOrFile, { busyTimeoutMs: options.busyTimeoutMs });
}
