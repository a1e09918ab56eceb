import { SlipwayError } from '../../errors.js';

/**
 * One node runs the apps of a shared database: the reconciler starts and stops
 * instances on its own host and counts those of every host, so two of them would
 * start each other's instances twice. The node with `--run` holds a PostgreSQL
 * session lock for as long as it lives (a SIGKILLed node's lock goes with its
 * connection); a second one is refused at start, naming what to do instead.
 */
export interface RunnerLock {
  release(): Promise<void>;
}

export async function takeRunnerLock(url: string): Promise<RunnerLock> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  // A lost connection loses the lock: nothing to do here but not crash on the error event.
  client.on('error', () => undefined);
  const { rows } = await client.query<{ ok: boolean }>(
    "SELECT pg_try_advisory_lock(hashtext('slipway:app-runtime')) AS ok",
  );
  if (!rows[0]?.ok) {
    await client.end();
    throw new SlipwayError(
      'CONFLICT',
      'another slipway serve already runs the apps of this database: start this node with --no-run (API and registry only), or stop the other one first',
    );
  }
  return { release: () => client.end() };
}
