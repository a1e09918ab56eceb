/**
 * Issue 18's figure for the patching story: a rolling stack update of many running apps
 * on `slipway serve` (router, build workers and reconciler in this process, Slipway
 * compiled by tsc; see bench/platform-bench.ts), against restaging them all, in the same run.
 *
 * 1. --apps (50) copies of test/fixtures/perl-web (each its own source, version string
 *    and build: nothing shared but the stack), pushed through the v3 API as the cf CLI
 *    does (test/platform-apps.ts AppPusher), --instances (2) each, buildpack slipway/procfile.
 * 2. A load generator (test/platform-apps.ts LoadGenerator, --load 4 clients) requests
 *    every app in turn through the router; an answer that is not 200 from the right app
 *    is a failure.
 * 3. POST /v3/stacks/:guid/actions/update { rollout: true, run_packages: [--package
 *    (netbase)], max_in_flight: --max-in-flight (4), refresh: true }: the stack's next
 *    version (mmdebstrap of both images; refresh so that the stack cache cannot skip it:
 *    --cached lets it), then every app rebased and rolled. Timed from the POST to the job
 *    COMPLETE, split by the job's report (GET /v3/stack_rollouts/:job_guid): the update's
 *    part (update_seconds) and the rebase and rollout. Failed requests meanwhile, the
 *    fewest RUNNING instances any app had (sampled every 500 ms), and the number of
 *    builds before and after (a rollout makes none).
 * 4. Every app answers /marker?pkg=PACKAGE "yes" (the fixture reads the base's dpkg status).
 * 5. Restaging them all, as the peer: for each app a build of its current droplet's
 *    package (POST /v3/builds), then a rolling deployment of the new droplet
 *    (max_in_flight as above), --max-in-flight apps at a time (as the rollout), under the
 *    same load. Its time against the rollout's: the ratio.
 *
 *   node --import tsx bench/platform-rollout.ts [--apps 50] [--instances 2] [--max-in-flight 4]
 *     [--package netbase] [--load 4] [--interval 1000] [--drain 2000] [--cached]
 *
 * One run (it takes a while: every app is staged twice). Needs root, runc, slirp4netns,
 * zip, mmdebstrap and the Debian mirror.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from '../test/helpers.js';
import { LoadGenerator } from '../test/platform-apps.js';
import { arg, type BenchPlatform, loadAverage, passStats, sleep, startBenchPlatform } from './platform-bench.js';

const APPS = Number(arg('--apps', '50'));
const INSTANCES = Number(arg('--instances', '2'));
const MAX_IN_FLIGHT = Number(arg('--max-in-flight', '4'));
const PACKAGE = arg('--package', 'netbase');
const LOAD = Number(arg('--load', '4'));
const intervalMs = Number(arg('--interval', '1000'));
const drainMs = Number(arg('--drain', '2000'));
const refresh = !process.argv.includes('--cached');
const PERL_APP = join(ROOT, 'test/fixtures/perl-web');

interface BenchApp {
  name: string;
  guid: string;
  process: string;
}

async function memAvailable(): Promise<number> {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(await readFile('/proc/meminfo', 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

/** Runs `work` over `items`, `concurrency` at a time. */
async function pool<T>(items: T[], concurrency: number, work: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        await work(items[i]!, i);
      }
    }),
  );
}

async function buildCount(p: BenchPlatform): Promise<number> {
  return (await p.client.ok('GET', '/v3/builds?per_page=1', p.admin)).pagination.total_results as number;
}

/** Requests every app in turn through the router; a 200 from another app is a failure too. */
function loadOn(p: BenchPlatform, apps: BenchApp[]): LoadGenerator {
  let next = 0;
  return new LoadGenerator(async () => {
    const app = apps[next++ % apps.length]!;
    const r = await p.pusher.get(app.name);
    if (r.status === 200 && !r.body.startsWith(`hello ${app.name} from `))
      return { status: 598, body: `${app.name} answered as another app: ${r.body}` };
    return r;
  }, LOAD);
}

/** The fewest RUNNING instances any app had, sampled every 500 ms until stopped. */
function sampleRunning(p: BenchPlatform, apps: BenchApp[]): { stop(): Promise<number> } {
  let fewest = INSTANCES;
  let on = true;
  const done = (async () => {
    while (on) {
      for (const a of apps) {
        // A run that failed closes the stores under the sampler: it stops, and the failure is what is reported.
        const running = (await p.pstore.workloads.instancesOf(a.process).catch(() => [])).filter(
          (i) => i.state === 'RUNNING',
        );
        fewest = Math.min(fewest, running.length);
      }
      await sleep(500);
    }
  })();
  return {
    async stop() {
      on = false;
      await done;
      return fewest;
    },
  };
}

async function waitJob(p: BenchPlatform, location: string): Promise<{ state: string; errors: unknown[] }> {
  for (;;) {
    const job = await p.client.ok('GET', location, p.admin);
    if (job.state === 'COMPLETE' || job.state === 'FAILED') return job;
    await sleep(250);
  }
}

/** Every app answers `/marker?pkg=PACKAGE` with `want` on each instance (4 requests, round robin): the apps that did not. */
async function markerMisses(p: BenchPlatform, apps: BenchApp[], want: 'yes' | 'no'): Promise<string[]> {
  const misses: string[] = [];
  for (const a of apps)
    for (let i = 0; i < 2 * INSTANCES; i++) {
      const r = await p.pusher.get(a.name, `/marker?pkg=${PACKAGE}`);
      if (r.status !== 200 || r.body.trim() !== want) {
        misses.push(`${a.name}: ${r.status} ${r.body.trim()}`);
        break;
      }
    }
  return misses;
}

function fmtPasses(x: { count: number; median: number; max: number }): string {
  return `${x.count}, median ${(x.median / 1000).toFixed(2)} s, longest ${(x.max / 1000).toFixed(2)} s`;
}

async function main(): Promise<void> {
  const load0 = await loadAverage();
  const mem0 = await memAvailable();
  const p = await startBenchPlatform({ name: 'platform-rollout', intervalMs, drainMs, buildWorkers: 2 });
  const lines: string[] = [];
  const log = (line: string) => {
    lines.push(line);
    process.stderr.write(`${line}\n`);
  };
  try {
    // 1. The apps.
    const names = Array.from({ length: APPS }, (_, i) => `app-${String(i).padStart(2, '0')}`);
    const apps: BenchApp[] = [];
    let t = performance.now();
    const pushOne = async (name: string) => {
      const dir = join(p.home, 'sources', name);
      await cp(PERL_APP, dir, { recursive: true });
      const source = await readFile(join(dir, 'server.pl'), 'utf8');
      await writeFile(join(dir, 'server.pl'), source.replace("my $version = 'v1';", `my $version = '${name}';`));
      const pushed = await p.pusher.push(p.admin, p.space, name, dir, {
        buildpacks: ['slipway/procfile'],
        instances: INSTANCES,
        buildTimeout: 900,
        startTimeout: 600,
      });
      apps.push({ name, guid: pushed.app, process: pushed.process });
      if (apps.length % 10 === 0) process.stderr.write(`${apps.length} apps running\n`);
    };
    // The first alone (it brings the default stack from the stack cache into the store), then 4 at a time.
    await pushOne(names[0]!);
    await pool(names.slice(1), 4, pushOne);
    apps.sort((a, b) => a.name.localeCompare(b.name));
    const pushSeconds = (performance.now() - t) / 1000;
    // Ten quiet seconds: the reconciler's passes over every running instance, with nothing to change.
    const quiet = performance.now();
    await sleep(10_000);
    const steady = passStats(p, quiet, performance.now());
    const perInstance = (mem0 - (await memAvailable())) / (APPS * INSTANCES);
    log(
      `${APPS} apps x ${INSTANCES} instances pushed and running in ${pushSeconds.toFixed(1)} s; host memory used per instance ~${(perInstance / 2 ** 20).toFixed(0)} MiB (the platform process included)`,
    );
    log(`  reconciler passes with nothing to do: ${fmtPasses(steady)}`);
    const before = await markerMisses(p, apps, 'no');
    if (before.length) throw new Error(`${PACKAGE} is in the stack already: ${before.slice(0, 3).join('; ')}`);

    // 3. The rolling stack update, under load.
    const stack = (await p.client.ok('GET', '/v3/stacks', p.admin)).resources.find(
      (s: { name: string }) => s.name === 'default',
    );
    const builds0 = await buildCount(p);
    let load = loadOn(p, apps);
    let sampler = sampleRunning(p, apps);
    await sleep(2000);
    t = performance.now();
    const answer = await p.client.call('POST', `/v3/stacks/${stack.guid}/actions/update`, p.admin, {
      rollout: true,
      run_packages: [PACKAGE],
      max_in_flight: MAX_IN_FLIGHT,
      ...(refresh ? { refresh: true } : {}),
    });
    if (answer.status !== 202) throw new Error(`stack update: ${answer.status} ${answer.text}`);
    const location = answer.headers.get('location')!;
    const job = await waitJob(p, location);
    const rolloutSeconds = (performance.now() - t) / 1000;
    const rolloutEnd = performance.now();
    await sleep(2000);
    await load.stop();
    const rolloutFewest = await sampler.stop();
    const rolloutLoad = { ok: load.ok, failures: load.failures };
    const builds1 = await buildCount(p);
    const report = await p.client.ok('GET', `/v3/stack_rollouts/${location.split('/').pop()}`, p.admin);
    // Passes of the rebase and rollout only (during mmdebstrap they have nothing to do).
    const rolloutPasses = passStats(p, t + report.update_seconds * 1000, rolloutEnd);
    const statuses = new Map<string, number>();
    for (const a of report.apps as { status: string }[]) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    const perApp = (report.apps as { seconds: number }[]).map((a) => a.seconds).sort((a, b) => a - b);
    log(
      `stack update with rollout: job ${job.state} in ${rolloutSeconds.toFixed(1)} s (report: ${report.seconds.toFixed(1)} s, of which the update ${report.update_seconds.toFixed(1)} s, version ${report.version}, new ${report.new_version}); apps ${[...statuses].map(([k, v]) => `${v} ${k}`).join(', ')}; per app ${perApp[0]?.toFixed(1)}-${perApp.at(-1)?.toFixed(1)} s`,
    );
    log(
      `  load: ${rolloutLoad.ok} ok, ${rolloutLoad.failures.length} failed${rolloutLoad.failures.length ? ` (${rolloutLoad.failures.slice(0, 5).join(' | ')})` : ''}; fewest RUNNING of an app ${rolloutFewest} of ${INSTANCES}; builds ${builds0} before, ${builds1} after`,
    );
    log(`  reconciler passes during the rebase and rollout: ${fmtPasses(rolloutPasses)}`);
    if (job.state !== 'COMPLETE') log(`  job errors: ${JSON.stringify(job.errors)}`);

    // 4. Every app on the new base.
    const misses = await markerMisses(p, apps, 'yes');
    log(
      `  /marker?pkg=${PACKAGE}: ${APPS - misses.length} of ${APPS} apps answer yes${misses.length ? ` (not: ${misses.slice(0, 5).join('; ')})` : ''}`,
    );

    // 5. The peer: restage every app (a build of its package, then a rolling deployment), under the same load.
    load = loadOn(p, apps);
    sampler = sampleRunning(p, apps);
    await sleep(2000);
    t = performance.now();
    const restageFailures: string[] = [];
    await pool(apps, MAX_IN_FLIGHT, async (a) => {
      try {
        const droplet = await p.client.ok('GET', `/v3/apps/${a.guid}/droplets/current`, p.admin);
        const pkg = (droplet.links.package.href as string).split('/').pop();
        const build = (await p.client.ok('POST', '/v3/builds', p.admin, { package: { guid: pkg } })).guid;
        const staged = await p.pusher.waitFor(
          async () => {
            const b = await p.client.ok('GET', `/v3/builds/${build}`, p.admin);
            if (b.state === 'FAILED') throw new Error(`build failed: ${b.error}`);
            return b.state === 'STAGED' ? b : undefined;
          },
          900_000,
          `the build of ${a.name}`,
        );
        const d = await p.client.ok('POST', '/v3/deployments', p.admin, {
          droplet: { guid: staged.droplet.guid },
          strategy: 'rolling',
          options: { max_in_flight: MAX_IN_FLIGHT },
          relationships: { app: { data: { guid: a.guid } } },
        });
        await p.pusher.waitDeployed(p.admin, d.guid, 900_000);
      } catch (err) {
        const cause = (err as Error).cause as Error | undefined;
        restageFailures.push(`${a.name}: ${(err as Error).message}${cause ? ` (${cause.message})` : ''}`);
      }
    });
    const restageSeconds = (performance.now() - t) / 1000;
    const restagePasses = passStats(p, t, performance.now());
    await sleep(2000);
    await load.stop();
    const restageFewest = await sampler.stop();
    const builds2 = await buildCount(p);
    const misses2 = await markerMisses(p, apps, 'yes');
    log(
      `restage of every app (build + rolling deployment, ${MAX_IN_FLIGHT} at a time): ${restageSeconds.toFixed(1)} s, ${restageFailures.length} failed${restageFailures.length ? ` (${restageFailures.slice(0, 3).join('; ')})` : ''}; builds ${builds2} (+${builds2 - builds1})`,
    );
    log(
      `  load: ${load.ok} ok, ${load.failures.length} failed${load.failures.length ? ` (${load.failures.slice(0, 5).join(' | ')})` : ''}; fewest RUNNING of an app ${restageFewest} of ${INSTANCES}; /marker yes on ${APPS - misses2.length} of ${APPS}`,
    );
    log(`  reconciler passes during it: ${fmtPasses(restagePasses)}`);

    const rebaseRoll = report.seconds - report.update_seconds;
    const load1 = await loadAverage();
    console.log(
      `\nNode ${process.version}, ${APPS} apps x ${INSTANCES} instances, max_in_flight ${MAX_IN_FLIGHT}, load generator ${LOAD} clients, reconciler interval ${intervalMs} ms, drain ${drainMs} ms, ${refresh ? 'refresh (mmdebstrap runs)' : 'stack cache allowed'}; load ${load0} at start, ${load1} at end\n`,
    );
    const pass = (x: { median: number; max: number }) =>
      `${(x.median / 1000).toFixed(2)} (${(x.max / 1000).toFixed(2)})`;
    console.log(
      '| phase | seconds | failed requests (of all) | fewest RUNNING of an app | builds made | reconciler pass s, median (longest) |',
    );
    console.log('|---|---:|---:|---:|---:|---:|');
    console.log(
      `| stack update + rollout (POST to job COMPLETE) | ${rolloutSeconds.toFixed(1)} | ${rolloutLoad.failures.length} (${rolloutLoad.ok + rolloutLoad.failures.length}) | ${rolloutFewest} of ${INSTANCES} | ${builds1 - builds0} | ${pass(rolloutPasses)} |`,
    );
    console.log(
      `| - of which the stack update (mmdebstrap, both images) | ${report.update_seconds.toFixed(1)} | | | | |`,
    );
    console.log(`| - of which rebase + rollout of ${APPS} apps | ${rebaseRoll.toFixed(1)} | | | | |`);
    console.log(
      `| restage all (build + rolling deployment) | ${restageSeconds.toFixed(1)} | ${load.failures.length} (${load.ok + load.failures.length}) | ${restageFewest} of ${INSTANCES} | ${builds2 - builds1} | ${pass(restagePasses)} |`,
    );
    console.log(
      `\nrestage / (rebase + rollout): **${(restageSeconds / rebaseRoll).toFixed(1)}x**; (update + restage) / (update + rollout): ${((report.update_seconds + restageSeconds) / report.seconds).toFixed(1)}x`,
    );
    for (const line of lines) console.log(`- ${line}`);
  } finally {
    await p.close();
  }
}

await main();
