import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startPostgres, type PostgresCluster } from '../store/postgres-test-cluster.js';
import { LogRelay } from './log-relay.js';
import { AppLogs, type LogLine } from './logs.js';

/** Two nodes' app logs on one PostgreSQL database (a real cluster): each sees the other's lines once, in time order. */

let pg: PostgresCluster;
let url: string;
before(async () => {
  pg = await startPostgres();
  url = await pg.createDatabase();
});
after(async () => pg?.stop());

const until = async (ok: () => boolean, what: string) => {
  for (const end = Date.now() + 10_000; Date.now() < end; ) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`not within 10 s: ${what}`);
};

test("a line written on node A reaches node B's recent lines and followers, once; B's own are not echoed", async () => {
  const a = new AppLogs();
  const b = new AppLogs();
  const relayA = await LogRelay.start(url, a, { pollMs: 50 });
  const relayB = await LogRelay.start(url, b, { pollMs: 50 });
  try {
    const followed: LogLine[] = [];
    const stop = b.follow('app-1', (l) => followed.push(l));
    a.write('app-1', 'STG', '0', 'OUT', 'Staging on a\nsecond line');
    b.write('app-1', 'APP/PROC/WEB', '0', 'OUT', 'from b');
    await until(() => b.recent('app-1').length === 3, "a's two lines on b");
    await until(() => a.recent('app-1').length === 3, "b's line on a");
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(
      b.recent('app-1').map((l) => l.text),
      ['Staging on a', 'second line', 'from b'],
    );
    assert.deepEqual(
      a.recent('app-1').map((l) => l.text),
      b.recent('app-1').map((l) => l.text),
    );
    // Same timestamps on both nodes: a log-cache client may alternate between them.
    assert.deepEqual(
      a.recent('app-1').map((l) => l.timestamp),
      b.recent('app-1').map((l) => l.timestamp),
    );
    assert.deepEqual(
      followed.map((l) => l.text),
      ['from b', 'Staging on a', 'second line'],
    );
    stop();
    // A node started later takes in what was written before it.
    const c = new AppLogs();
    const relayC = await LogRelay.start(url, c, { pollMs: 50 });
    await relayC.close();
    assert.equal(c.recent('app-1').length, 3);
  } finally {
    await relayA.close();
    await relayB.close();
  }
});
