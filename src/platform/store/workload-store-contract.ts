import { after, afterEach, beforeEach, describe } from 'node:test';
import type { PlatformStore } from './platform-store.js';
import { runningContract } from './workload-store-contract-running.js';
import { routesContract } from './workload-store-contract-routes.js';
import { stagingContract } from './workload-store-contract-staging.js';
import { workloadVisibilityContract } from './workload-store-contract-visibility.js';
import { WorkloadFixture, type WorkloadHarness } from './workload-store-fixture.js';
import type { WorkloadStore } from './workload-store.js';

/**
 * The one contract every WorkloadStore keeps, on the PlatformStore whose database it
 * shares (the same suite runs on SQLite and PostgreSQL): every method, CF's rules and
 * texts (a route's host taken, an app's current droplet, one ACTIVE deployment per
 * app, revision numbers), the staging queue's claims (stale claims taken again, many
 * workers at once), filters, orders and pages, visibility for each kind of caller,
 * and the cascades from apps, spaces and orgs.
 *
 * `open` must give an empty pair, new for each test (the platform store is closed
 * after the test, which must close the workload store too); `cleanup` runs once after
 * the last.
 *
 * @example
 * // sqlite-workload-store.test.ts
 * describeWorkloadStore('SqliteWorkloadStore', async () => {
 *   const platform = await SqlitePlatformStore.open(freshFile());
 *   return { platform, workloads: platform.workloads };
 * });
 */
export function describeWorkloadStore(
  name: string,
  open: () => Promise<{ platform: PlatformStore; workloads: WorkloadStore }>,
  cleanup?: () => Promise<void>,
): void {
  describe(name, () => {
    let current: { platform: PlatformStore; workloads: WorkloadStore; fx: WorkloadFixture } | undefined;
    const opened = () => {
      if (!current) throw new Error('no store open: the contract tests open one before each test');
      return current;
    };
    const harness: WorkloadHarness = {
      get platform() {
        return opened().platform;
      },
      get workloads() {
        return opened().workloads;
      },
      get fx() {
        return opened().fx;
      },
    };

    beforeEach(async () => {
      const { platform, workloads } = await open();
      current = { platform, workloads, fx: new WorkloadFixture(platform, workloads) };
    });
    afterEach(async () => {
      await current?.platform.close();
      current = undefined;
    });
    if (cleanup) after(cleanup);

    stagingContract(harness);
    runningContract(harness);
    routesContract(harness);
    workloadVisibilityContract(harness);
  });
}
