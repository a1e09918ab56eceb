import { LocalStore } from '../local-store.js';
import { startPostgres, type PostgresCluster } from '../postgres-test-cluster.js';
import { startS3, type S3TestServer } from '../s3-test-server.js';

/**
 * TEST SUPPORT: the store a test opens. By default the embedded one (SQLite and a
 * directory in `home`); with SLIPWAY_TEST_BACKENDS=postgres+s3 (scripts/test.sh runs
 * the store and registry suites once more so) the scale-out one: a new PostgreSQL
 * database and a new S3 prefix for each store, on one cluster and one S3 server
 * started for the test process, so the same tests run on both back-ends.
 */

let shared: Promise<{ pg: PostgresCluster; s3: S3TestServer }> | undefined;
let prefixes = 0;

export function scaleOutTests(): boolean {
  return process.env['SLIPWAY_TEST_BACKENDS'] === 'postgres+s3';
}

export async function openTestStore(home: string): Promise<LocalStore> {
  if (!scaleOutTests()) return LocalStore.open(home);
  shared ??= (async () => {
    const [pg, s3] = await Promise.all([startPostgres(), startS3({ detached: true })]);
    process.once('exit', () => {
      s3.stopNow();
      pg.stopNow();
    });
    return { pg, s3 };
  })();
  const { pg, s3 } = await shared;
  const storage = { database: await pg.createDatabase(), blobs: s3.url(`t${process.pid}-${++prefixes}`) };
  const store = await LocalStore.open(home, storage);
  opened.set(store, storage);
  return store;
}

/** Another store on the same storage as `store` (a restart, or another process). */
export function reopenTestStore(store: LocalStore): Promise<LocalStore> {
  return LocalStore.open(store.home, opened.get(store) ?? {});
}

const opened = new WeakMap<LocalStore, { database: string; blobs: string }>();
