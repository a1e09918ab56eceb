/**
 * Issue 18's figures for pushing and starting apps on `slipway serve` (its router, build
 * workers and reconciler in this process, Slipway compiled by tsc; see
 * bench/platform-bench.ts), against the classic droplet way measured in the same run.
 *
 * start (test/fixtures/perl-web, buildpack slipway/procfile, staged once): N instances
 * (1 and 10) started at once, from "start" to "N instances answer HTTP 200", three ways,
 * alternating which goes first:
 *   platform  POST /v3/apps/:guid/actions/start of the stopped app scaled to N, until N
 *             different instances (CF_INSTANCE_INDEX) answered through the router: the
 *             reconciler's pass interval, the health check and the routing table included
 *   slipway   the same starts without the platform around them: the platform's own
 *             InstanceRunner.start for N indexes at once (the droplet's image, layers
 *             unpacked once per host and shared, an overlay per instance, the supervisor,
 *             runc, slirp4netns), then GET 127.0.0.1:PORT until 200
 *   droplet   the classic way, as Diego does: per instance, a fresh directory, the
 *             stack's run image rootfs untarred into it (an uncompressed tar: no gunzip
 *             on this side), the droplet untarred over it (a tgz of the image's layers
 *             above the run image: the app's layers), `runc run -d` with the very
 *             config.json Slipway wrote for one of its instances (same process, env,
 *             user, limits, seccomp; only the root differs), slirp4netns, GET until 200
 * push (examples/nodejs: the real Node buildpack, Node.js downloaded from the npm
 * registry on a cold build): AppPusher (test/platform-apps.ts) pushes the way the cf
 * CLI does; from the push's start to the first 200 through the router, and to all N
 * instances RUNNING: cold (a new app) and warm (a one-line change to greeting.js pushed
 * again with a rolling deployment, max_in_flight 1; "first" is the first answer of the
 * new code), for 1 and 10 instances; the cold push split by the build's own times.
 *
 * The reconciler's pass interval bounds how soon a started instance is seen healthy
 * and routed: --interval (default 1000 ms, the default of `slipway serve`).
 *
 *   node --import tsx bench/platform-push.ts [--runs 3] [--sizes 1,10] [--only start,push]
 *     [--interval 1000] [--drain 2000]
 *
 * Needs root, runc, slirp4netns, tar and zip; the push part the npm registry.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RuntimeSpec } from '../src/runtime/runtime-spec.js';
import type { Instance } from '../src/platform/workload.js';
import type { InstanceContext } from '../src/platform/run/instance-runner.js';
import { ROOT } from '../test/helpers.js';
import type { Pushed } from '../test/platform-apps.js';
import { median } from './common.js';
import { arg, type BenchPlatform, loadAverage, s2, sleep, startBenchPlatform } from './platform-bench.js';

const exec = promisify(execFile);
const runs = Number(arg('--runs', '3'));
const sizes = arg('--sizes', '1,10').split(',').map(Number);
const only = arg('--only', 'start,push').split(',');
const intervalMs = Number(arg('--interval', '1000'));
const drainMs = Number(arg('--drain', '2000'));
const PERL_APP = join(ROOT, 'test/fixtures/perl-web');
const NODE_APP = join(ROOT, 'examples/nodejs');

type RunnerModule = typeof import('../src/platform/run/instance-runner.js');
type NetworkModule = typeof import('../src/platform/run/app-network.js');
type LocalModule = typeof import('../src/transport/local.js');
type ExtractModule = typeof import('../src/layer/extract.js');
type CatalogModule = typeof import('../src/stack/stack-catalog.js');

/** GET http://127.0.0.1:PORT/ once: its status (0 when the connection failed). */
function status(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

async function until200(port: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await status(port)) !== 200) {
    if (Date.now() > deadline) throw new Error(`127.0.0.1:${port} did not answer 200 in ${timeoutMs / 1000} s`);
    await sleep(20);
  }
}

interface StartTimes {
  /** ms from the start to the first instance's 200, and to the last's. */
  first: number;
  all: number;
}

// ---------------------------------------------------------------------------
// start: platform, slipway (InstanceRunner), droplet (fresh rootfs per instance)

class StartBench {
  readonly times = new Map<string, StartTimes[]>();
  #runner!: InstanceType<RunnerModule['InstanceRunner']>;
  #net!: NetworkModule;
  #ctx!: Omit<InstanceContext, 'index'>;
  #template!: RuntimeSpec;
  #app = '';
  #process = '';
  readonly #work: string;
  readonly #runcRoot: string;
  rootfsBytes = 0;
  dropletBytes = 0;

  constructor(readonly p: BenchPlatform) {
    this.#work = join(p.home, 'classic');
    this.#runcRoot = join(this.#work, 'runc');
  }

  async setup(): Promise<void> {
    const p = this.p;
    const pushed = await p.pusher.push(p.admin, p.space, 'perl', PERL_APP, {
      buildpacks: ['slipway/procfile'],
      instances: 1,
    });
    this.#app = pushed.app;
    this.#process = pushed.process;
    await this.#stopApp();
    const [{ InstanceRunner }, net, { readLocal }, { extractLayer }, { latestVersion, repositoryOf }] =
      await Promise.all([
        p.load<RunnerModule>('platform/run/instance-runner.js'),
        p.load<NetworkModule>('platform/run/app-network.js'),
        p.load<LocalModule>('transport/local.js'),
        p.load<ExtractModule>('layer/extract.js'),
        p.load<CatalogModule>('stack/stack-catalog.js'),
      ]);
    this.#net = net;
    this.#runner = new InstanceRunner(p.runtime, p.store, hostname(), join(p.home, 'bench-networks'));
    const app = (await p.pstore.getApp(pushed.app))!;
    const space = (await p.pstore.getSpace(app.spaceGuid))!;
    const org = (await p.pstore.getOrg(space.orgGuid))!;
    const proc = (await p.pstore.workloads.getProcess(pushed.process))!;
    const droplet = (await p.pstore.workloads.currentDroplet(pushed.app))!;
    // The same image under another app guid: container names the platform's sweep does
    // not take for its own (app-<8 hex>-...), so the reconciler leaves them alone.
    const guid = `benchrt0${app.guid.slice(8)}`;
    const desc = await p.store.resolve(`apps/${app.guid}`, droplet.digest);
    await p.store.putManifest(`apps/${guid}`, await p.store.blobs.read(desc.digest), desc.mediaType, ['bench']);
    this.#ctx = { app: { ...app, guid }, space, org, process: proc, droplet };

    // One start unmeasured: its config.json is the droplet way's.
    const warm = await this.#runner.start({ ...this.#ctx, index: 0 });
    await until200(warm.port);
    this.#template = JSON.parse(
      await readFile(join(p.runtime.paths.container(warm.containerName), 'config.json'), 'utf8'),
    ) as RuntimeSpec;
    await this.#runner.stop(warm, 1000);

    // The droplet way's inputs, made once: the run image's rootfs as a tar, the app's layers as a tgz.
    await mkdir(this.#runcRoot, { recursive: true });
    const image = (await readLocal(p.store, `apps/${app.guid}`, droplet.digest)).artifact;
    const stack = (await latestVersion(p.store, droplet.stack))!;
    const run = (await readLocal(p.store, repositoryOf(droplet.stack, 'run'), stack.run.digest)).artifact;
    if (image.kind !== 'image' || run.kind !== 'image') throw new Error('an index, not an image');
    const appLayers = await image.image.layers();
    const runLayers = await run.image.layers();
    for (const [i, l] of runLayers.entries())
      if ((await l.diffId()) !== (await appLayers[i]!.diffId())) throw new Error('the image is not on this run image');
    const base = join(this.#work, 'base');
    const drop = join(this.#work, 'droplet');
    for (const d of [base, drop]) await mkdir(d, { recursive: true });
    for (const l of runLayers) await extractLayer(await l.uncompressed(), base, { owner: 'keep' });
    for (const l of appLayers.slice(runLayers.length)) {
      const counts = await extractLayer(await l.uncompressed(), drop, { owner: 'keep' });
      if (counts.whiteouts) throw new Error('an app layer with whiteouts: a droplet cannot carry it');
    }
    await exec('tar', ['--numeric-owner', '-cf', this.#rootfsTar, '-C', base, '.']);
    await exec('tar', ['--numeric-owner', '-czf', this.#dropletTgz, '-C', drop, '.']);
    await rm(base, { recursive: true, force: true });
    await rm(drop, { recursive: true, force: true });
    this.rootfsBytes = (await stat(this.#rootfsTar)).size;
    this.dropletBytes = (await stat(this.#dropletTgz)).size;
    process.stderr.write(
      `droplet way: run rootfs tar ${(this.rootfsBytes / 1e6).toFixed(1)} MB, droplet tgz ${(this.dropletBytes / 1e3).toFixed(1)} kB (${appLayers.length - runLayers.length} layers)\n`,
    );
  }

  get #rootfsTar() {
    return join(this.#work, 'run-rootfs.tar');
  }
  get #dropletTgz() {
    return join(this.#work, 'droplet.tgz');
  }

  async measure(way: string, n: number): Promise<StartTimes> {
    const t =
      way === 'platform'
        ? await this.#platform(n)
        : way === 'slipway'
          ? await this.#slipway(n)
          : await this.#droplet(n);
    const key = `${way} ${n}`;
    this.times.set(key, [...(this.times.get(key) ?? []), t]);
    // What a way wrote must not slow the next one down.
    await exec('sync');
    await sleep(1000);
    return t;
  }

  async #platform(n: number): Promise<StartTimes> {
    const { client, admin, pusher } = this.p;
    await client.ok('POST', `/v3/processes/${this.#process}/actions/scale`, admin, { instances: n }, 202);
    const seen = new Set<string>();
    const t0 = performance.now();
    let first = 0;
    await client.ok('POST', `/v3/apps/${this.#app}/actions/start`, admin, undefined, 200);
    const deadline = Date.now() + 120_000;
    // Four clients through the router: round robin shows each routed instance soon.
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (seen.size < n) {
          if (Date.now() > deadline) throw new Error(`only ${seen.size} of ${n} instances answered`);
          const r = await pusher.get('perl').catch(() => ({ status: 0, body: '' }));
          if (r.status === 200) {
            first ||= performance.now() - t0;
            seen.add(r.body);
          } else await sleep(20);
        }
      }),
    );
    const all = performance.now() - t0;
    await this.#stopApp();
    return { first, all };
  }

  async #stopApp(): Promise<void> {
    const p = this.p;
    await p.client.ok('POST', `/v3/apps/${this.#app}/actions/stop`, p.admin, undefined, 200);
    const prefix = `app-${this.#app.slice(0, 8)}-`;
    await p.pusher.waitFor(
      async () => ((await p.runtime.list()).some((c) => c.name.startsWith(prefix)) ? undefined : true),
      60_000,
      'the stopped instances to go',
    );
  }

  async #slipway(n: number): Promise<StartTimes> {
    const t0 = performance.now();
    const started: Instance[] = [];
    const done = await Promise.all(
      Array.from({ length: n }, async (_, index) => {
        const inst = await this.#runner.start({ ...this.#ctx, index });
        started.push(inst);
        if (inst.state !== 'STARTING') throw new Error(`instance ${index}: ${inst.state} ${inst.details ?? ''}`);
        await until200(inst.port);
        return performance.now() - t0;
      }),
    );
    await Promise.all(started.map((i) => this.#runner.stop(i, 1000)));
    return { first: Math.min(...done), all: Math.max(...done) };
  }

  async #droplet(n: number): Promise<StartTimes> {
    const stamp = Date.now().toString(36);
    const ids = Array.from({ length: n }, (_, i) => `classic-${stamp}-${i}`);
    const slirps: number[] = [];
    const t0 = performance.now();
    try {
      const done = await Promise.all(
        ids.map(async (id, index) => {
          const bundle = join(this.#work, id);
          const rootfs = join(bundle, 'rootfs');
          await mkdir(rootfs, { recursive: true });
          await exec('tar', ['--numeric-owner', '-xf', this.#rootfsTar, '-C', rootfs]);
          await exec('tar', ['--numeric-owner', '-xzf', this.#dropletTgz, '-C', rootfs]);
          await writeFile(join(bundle, 'config.json'), JSON.stringify(this.#spec(id, index)));
          await this.#runc(['run', '-d', '--pid-file', join(bundle, 'pid'), '-b', bundle, id], join(bundle, 'log'));
          const pid = Number(await readFile(join(bundle, 'pid'), 'utf8'));
          const net = await this.#net.attachAppNetwork(pid, join(this.#work, `${id}.sock`), 0);
          slirps.push(net.slirpPid);
          await until200(net.hostPort);
          return performance.now() - t0;
        }),
      );
      return { first: Math.min(...done), all: Math.max(...done) };
    } finally {
      for (const pid of slirps) this.#net.detachAppNetwork(pid);
      for (const id of ids) {
        await this.#runc(['delete', '-f', id]).catch(() => undefined);
        await rm(join(this.#work, id), { recursive: true, force: true });
      }
    }
  }

  /** Slipway's config.json for the same process, with this instance's index, name and cgroup. */
  #spec(id: string, index: number): RuntimeSpec {
    const spec = structuredClone(this.#template);
    spec.process.env = spec.process.env.map((e) =>
      /^(CF_INSTANCE_INDEX|INSTANCE_INDEX)=/.test(e)
        ? `${e.slice(0, e.indexOf('='))}=${index}`
        : e.startsWith('HOSTNAME=')
          ? `HOSTNAME=${id}`
          : e,
    );
    spec.hostname = id;
    spec.linux.cgroupsPath = `slipway/${id}`;
    delete spec.annotations;
    return spec;
  }

  #runc(args: string[], log?: string): Promise<void> {
    const fd = log ? openSync(log, 'a') : 'ignore';
    return new Promise<void>((resolve, reject) => {
      const child = spawn('runc', ['--root', this.#runcRoot, ...args], { stdio: ['ignore', fd, fd] });
      if (typeof fd === 'number') closeSync(fd);
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`runc ${args[0]} exited ${code}`))));
    });
  }

  /** Containers an interrupted run left in the droplet way's runc root. */
  async sweep(): Promise<void> {
    const { stdout } = await exec('runc', ['--root', this.#runcRoot, 'list', '-q']).catch(() => ({ stdout: '' }));
    for (const id of stdout.split('\n').filter(Boolean)) await this.#runc(['delete', '-f', id]).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------
// push: examples/nodejs, cold and warm, to the first 200 through the router

interface PushTimes {
  first: number;
  all: number;
  /** The push's parts, from the build record (ms): until the build was made, staging (its queue included), the rest. */
  upload: number;
  staging: number;
  stagedToFirst: number;
}

async function pushFigures(p: BenchPlatform, out: Map<string, PushTimes[]>): Promise<void> {
  const work = join(p.home, 'node-apps');
  const add = (key: string, t: PushTimes) => out.set(key, [...(out.get(key) ?? []), t]);
  for (let run = 0; run < runs; run++) {
    // Alternate which size goes first.
    const order = run % 2 === 0 ? sizes : [...sizes].reverse();
    for (const n of order) {
      const name = `node${n}-${run}`;
      const dir = join(work, name);
      await cp(NODE_APP, dir, { recursive: true });

      // Cold: a new app, its first build (Node.js downloaded). Warm: a one-line change, pushed again, rolled out.
      const cold = await timedPush(p, name, dir, n, 'Hello from Slipway', undefined);
      add(`cold ${n}`, cold.times);
      report(run, 'cold', n, cold.times);
      const marker = `Hello again ${run}-${n}`;
      await writeFile(join(dir, 'greeting.js'), `module.exports = { greeting: '${marker}' };\n`);
      const warm = await timedPush(p, name, dir, n, marker, { maxInFlight: 1 });
      add(`warm ${n}`, warm.times);
      report(run, 'warm', n, warm.times);

      await p.client.ok('DELETE', `/v3/apps/${cold.pushed.app}`, p.admin);
      await rm(dir, { recursive: true, force: true });
      await exec('sync');
    }
  }
}

function report(run: number, kind: string, n: number, t: PushTimes): void {
  process.stderr.write(
    `run ${run + 1} ${kind} x${n}: first 200 ${s2(t.first)} s, all ${n} RUNNING ${s2(t.all)} s (upload ${s2(t.upload)}, staging ${s2(t.staging)}, staged->first ${s2(t.stagedToFirst)})\n`,
  );
}

/** One push timed: to the first 200 whose body has `marker`, to the push's end (N RUNNING), and its parts from the build record. */
async function timedPush(
  p: BenchPlatform,
  name: string,
  dir: string,
  n: number,
  marker: string,
  rolling: { maxInFlight: number } | undefined,
): Promise<{ pushed: Pushed; times: PushTimes }> {
  const watch = firstAnswer(p, name, (b) => b.includes(marker));
  const t0 = performance.now();
  const wall0 = Date.now();
  const pushed = await p.pusher.push(p.admin, p.space, name, dir, {
    instances: n,
    buildTimeout: 900,
    startTimeout: 600,
    ...(rolling ? { rolling } : {}),
  });
  const all = performance.now() - t0;
  const first = (await watch.done) - t0;
  const build = (await p.pstore.workloads.getBuild(pushed.build))!;
  const created = Date.parse(build.createdAt) - wall0;
  const staged = Date.parse(build.updatedAt) - wall0;
  return { pushed, times: { first, all, upload: created, staging: staged - created, stagedToFirst: first - staged } };
}

/** Polls the app's route every 50 ms; `done` resolves with the performance.now() of the first 200 whose body passes. */
function firstAnswer(p: BenchPlatform, host: string, ok: (body: string) => boolean): { done: Promise<number> } {
  const deadline = Date.now() + 1_200_000;
  const done = (async () => {
    for (;;) {
      const r = await p.pusher.get(host).catch(() => ({ status: 0, body: '' }));
      if (r.status === 200 && ok(r.body)) return performance.now();
      if (Date.now() > deadline) throw new Error(`no answer from ${host}`);
      await sleep(50);
    }
  })();
  done.catch(() => undefined);
  return { done };
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const load0 = await loadAverage();
  const p = await startBenchPlatform({ name: 'platform-push', intervalMs, drainMs, buildWorkers: 2 });
  const start = new StartBench(p);
  const pushes = new Map<string, PushTimes[]>();
  try {
    if (only.includes('start')) {
      await start.sweep();
      await start.setup();
      const ways = ['platform', 'slipway', 'droplet'];
      for (let run = 0; run < runs; run++) {
        for (const [si, n] of sizes.entries()) {
          const order = ways.map((_, i) => ways[(i + run + si) % ways.length]!);
          for (const way of order) {
            const t = await start.measure(way, n);
            process.stderr.write(`run ${run + 1} ${way} x${n}: first ${s2(t.first)} s, all ${s2(t.all)} s\n`);
          }
        }
      }
    }
    if (only.includes('push')) await pushFigures(p, pushes);
  } finally {
    await start.sweep().catch(() => undefined);
    await p.close();
  }
  const load1 = await loadAverage();

  console.log(
    `\nNode ${process.version}, ${runs} runs, reconciler interval ${intervalMs} ms, drain ${drainMs} ms, load ${load0} at start, ${load1} at end\n`,
  );
  if (start.times.size) {
    console.log(
      `Instance start (perl-web; droplet way: run rootfs tar ${(start.rootfsBytes / 1e6).toFixed(1)} MB + droplet tgz ${(start.dropletBytes / 1e3).toFixed(1)} kB per instance), medians:\n`,
    );
    console.log('| instances | way | first answers s | all answer s | droplet way / this | runs (all, s) |');
    console.log('|---:|---|---:|---:|---:|---|');
    for (const n of sizes) {
      const classic = median(start.times.get(`droplet ${n}`)!.map((t) => t.all));
      for (const way of ['platform', 'slipway', 'droplet']) {
        const ts = start.times.get(`${way} ${n}`)!;
        const all = median(ts.map((t) => t.all));
        console.log(
          `| ${n} | ${way} | ${s2(median(ts.map((t) => t.first)))} | ${s2(all)} | ${(classic / all).toFixed(2)}x | ${ts.map((t) => s2(t.all)).join(', ')} |`,
        );
      }
    }
  }
  if (pushes.size) {
    console.log('\nPush of examples/nodejs to the first 200 through the router, medians:\n');
    console.log(
      '| push | instances | first 200 s | all RUNNING s | upload s | staging s | staged -> first s | runs (first, s) |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---|');
    for (const kind of ['cold', 'warm'])
      for (const n of sizes) {
        const ts = pushes.get(`${kind} ${n}`)!;
        const m = (f: (t: PushTimes) => number) => s2(median(ts.map(f)));
        console.log(
          `| ${kind} | ${n} | ${m((t) => t.first)} | ${m((t) => t.all)} | ${m((t) => t.upload)} | ${m((t) => t.staging)} | ${m((t) => t.stagedToFirst)} | ${ts.map((t) => s2(t.first)).join(', ')} |`,
        );
      }
  }
  if (p.warnings.length) console.log(`\n${p.warnings.length} platform warnings (see stderr)`);
}

await main();
