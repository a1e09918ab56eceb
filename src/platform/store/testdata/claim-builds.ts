/**
 * A build worker in its own process, for sqlite-workload-store.test.ts's claim race:
 * `node --import tsx claim-builds.ts FILE WORKER_ID [PAUSE_MS]` opens the platform
 * database, prints "ready", waits for a line on stdin (so two of them start
 * together), claims builds until none is left (pausing PAUSE_MS after each, as a
 * worker busy staging, so that the other worker's claims interleave), and prints the
 * guids it got as one JSON line.
 */
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { SqlitePlatformStore } from '../sqlite-platform-store.js';

const [file, workerId, pause = '0'] = process.argv.slice(2);
if (file === undefined || workerId === undefined) throw new Error('usage: claim-builds.ts FILE WORKER_ID');

const store = await SqlitePlatformStore.open(file);
const lines = createInterface({ input: process.stdin });
const go = new Promise<void>((resolve) => lines.once('line', () => resolve()));
process.stdout.write('ready\n');
await go;
lines.close();

const got: string[] = [];
for (;;) {
  const build = await store.workloads.claimBuild(workerId, new Date().toISOString(), '1970-01-01T00:00:00.000Z');
  if (build === undefined) break;
  if (build.workerId !== workerId) throw new Error(`claimed ${build.guid} but it says ${build.workerId}`);
  got.push(build.guid);
  if (Number(pause) > 0) await sleep(Number(pause));
}
await store.close();
process.stdout.write(`${JSON.stringify(got)}\n`);
