/**
 * Builds per minute with one and two `slipway worker`s (on demand, not in CI). See
 * bench/README.md, "Build workers".
 *
 *   node --import tsx bench/workers.ts [--builds 8] [--apps 4]
 *
 * One `slipway serve --build-workers 0 --no-run` (the embedded default) queues the
 * builds; the workers take them over HTTP (`slipway worker --server URL`), each with a
 * store of its own, on this same machine. Each app of examples/nodejs (slipway/nodejs)
 * is built once cold first (Node.js and the packages fetched; its build cache filled),
 * then --builds rebuilds are staged, each a new package with one file changed (a
 * commit). CF stages one build per app at a time, so each app is a pipeline (its next
 * build queued when the last is staged) and --apps of them keep the workers busy: the
 * figure is builds staged per minute, from the first queued to the last staged. The same run with one worker, then two. No peer
 * runs here (no CF, no kpack on this machine).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDefaultStack } from '../src/stack/default-stack.js';
import { LocalStore } from '../src/store/local-store.js';
import { ROOT, tempDir } from '../test/helpers.js';
import { PlatformClient, startServe } from '../test/platform-world.js';
import { waitFor } from '../test/scale-out-world.js';
import { recordResult } from './common.js';

const { values } = parseArgs({
  options: { builds: { type: 'string', default: '8' }, apps: { type: 'string', default: '4' } },
});
const BUILDS = Number(values.builds);
const APPS = Number(values.apps);
const PASSWORD = 'bench-workers-pw';

const dir = await tempDir('bench-workers');
const home = join(dir.path, 'serve');
const seed = await LocalStore.open(home);
await ensureDefaultStack(seed); // from the stack cache, as the tests get it
await seed.close();
writeFileSync(join(dir.path, 'pw'), PASSWORD, { mode: 0o600 });
const serve = await startServe(home, join(dir.path, 'pw'), ['--build-workers', '0', '--no-run']);
const workers: ChildProcess[] = [];
const stopWorkers = async () => {
  for (const w of workers.splice(0)) {
    w.kill('SIGTERM');
    if (w.exitCode === null) await new Promise((r) => w.once('exit', r));
  }
};
try {
  const c = new PlatformClient(serve.url);
  const auth = await c.login('admin', PASSWORD);
  const space = await c.createSpace(auth, await c.createOrg(auth, 'bench'), 'workers');
  const apps: string[] = [];
  for (let i = 0; i < APPS; i++)
    apps.push(
      (
        await c.ok('POST', '/v3/apps', auth, {
          name: `node${i}`,
          lifecycle: { type: 'buildpack', data: { buildpacks: ['slipway/nodejs'], stack: null } },
          relationships: { space: { data: { guid: space } } },
        })
      ).guid as string,
    );

  let n = 0;
  /** A new package of the Node example for `app`, one file changed, and its build queued. */
  const queueBuild = async (app: string): Promise<string> => {
    const src = join(dir.path, 'src', String(n));
    cpSync(join(ROOT, 'examples/nodejs'), src, { recursive: true });
    writeFileSync(join(src, 'build-number.txt'), `${n++}\n`);
    const zip = `${src}.zip`;
    execFileSync('zip', ['-q', '-X', '-r', zip, '.'], { cwd: src });
    const pkg = (
      await c.ok('POST', '/v3/packages', auth, { type: 'bits', relationships: { app: { data: { guid: app } } } })
    ).guid as string;
    const form = new FormData();
    form.append('resources', '[]');
    form.append('bits', new Blob([readFileSync(zip)], { type: 'application/zip' }), 'bits.zip');
    const up = await fetch(`${c.base}/v3/packages/${pkg}/upload`, {
      method: 'POST',
      headers: { authorization: auth },
      body: form,
    });
    if (up.status !== 200) throw new Error(`upload: ${up.status} ${await up.text()}`);
    return (await c.ok('POST', '/v3/builds', auth, { package: { guid: pkg } })).guid as string;
  };
  const staged = async (build: string) => {
    const b = await c.ok('GET', `/v3/builds/${build}`, auth);
    if (b.state === 'FAILED') throw new Error(`build ${build} failed: ${b.error}`);
    return b.state === 'STAGED';
  };
  const allStaged = (builds: string[]) =>
    Promise.all(
      builds.map((b) =>
        waitFor(
          () => staged(b),
          () => `build ${b}`,
          15 * 60_000,
        ),
      ),
    );

  const startWorker = (name: string) => {
    const whome = join(dir.path, name);
    mkdirSync(whome, { recursive: true });
    const child = spawn(
      process.execPath,
      [
        '--',
        join(ROOT, 'bin/slipway.js'),
        '--quiet',
        'worker',
        '--server',
        serve.url,
        '--secret-file',
        join(home, 'worker-secret'),
      ],
      { env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: whome }, stdio: 'ignore' },
    );
    workers.push(child);
  };

  const rows: { workers: number; perMinute: number; seconds: number }[] = [];
  for (const count of [1, 2]) {
    for (let i = 0; i < count; i++) startWorker(`worker-${count}-${i}`);
    // Cold: each app once, so each worker's store has the stack and each app a build cache.
    await allStaged(await Promise.all(apps.map(queueBuild)));
    if (count === 2) await allStaged(await Promise.all(apps.map(queueBuild))); // the second worker warm too
    // CF stages one build per app at a time: each app is a pipeline, its next build queued once the last is staged.
    const t0 = performance.now();
    let left = BUILDS;
    await Promise.all(
      apps.map(async (app) => {
        while (left > 0) {
          left--;
          await allStaged([await queueBuild(app)]);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    rows.push({ workers: count, perMinute: (BUILDS / seconds) * 60, seconds });
    process.stderr.write(`${count} worker(s): ${BUILDS} builds in ${seconds.toFixed(1)} s\n`);
    await stopWorkers();
  }
  console.log(
    `\nBuilds per minute, examples/nodejs warm (one file changed), ${BUILDS} builds over ${APPS} apps; ${cpus().length} cores, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  for (const r of rows) {
    console.log(`  ${r.workers} worker(s): ${r.perMinute.toFixed(1)} builds/min (${r.seconds.toFixed(1)} s)`);
    recordResult({
      path: `builds per minute, ${r.workers} worker(s), Node example warm`,
      slipway: Math.round(r.perMinute * 10) / 10,
      unit: 'builds/min',
      higherIsBetter: true,
      runs: 1,
    });
  }
} finally {
  await stopWorkers();
  await serve.stop();
  await dir.cleanup();
}
