import { after, afterEach, beforeEach, describe } from 'node:test';
import { listContract } from './platform-store-contract-lists.js';
import { platformContract } from './platform-store-contract-platform.js';
import { resourceContract } from './platform-store-contract-resources.js';
import { visibilityContract } from './platform-store-contract-visibility.js';
import { Fixture, type Harness } from './platform-store-fixture.js';
import type { PlatformStore } from './platform-store.js';

/**
 * The one contract every PlatformStore keeps (DESIGN.md: "the same test suite runs
 * against both"), as node:test tests: every method, CF's rules and texts, visibility
 * for each role type, filters, label selectors, pages and totals, cascades,
 * buildpack positions, token revocation, jobs, and two writers at once.
 *
 * `open` must give an empty store, a new one for each test (it is closed after the
 * test); `cleanup` runs once after the last.
 *
 * @example
 * // sqlite-platform-store.test.ts
 * describePlatformStore('SqlitePlatformStore', async () => SqlitePlatformStore.open(join(await tempDir(), 'p.sqlite')));
 */
export function describePlatformStore(
  name: string,
  open: () => Promise<PlatformStore>,
  cleanup?: () => Promise<void>,
): void {
  describe(name, () => {
    let current: { store: PlatformStore; fx: Fixture } | undefined;
    const harness: Harness = {
      get store() {
        if (!current) throw new Error('no store open: the contract tests open one before each test');
        return current.store;
      },
      get fx() {
        if (!current) throw new Error('no store open: the contract tests open one before each test');
        return current.fx;
      },
    };

    beforeEach(async () => {
      const store = await open();
      current = { store, fx: new Fixture(store) };
    });
    afterEach(async () => {
      await current?.store.close();
      current = undefined;
    });
    if (cleanup) after(cleanup);

    resourceContract(harness);
    visibilityContract(harness);
    listContract(harness);
    platformContract(harness);
  });
}
