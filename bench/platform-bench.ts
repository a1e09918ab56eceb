/**
 * Shared by bench/platform-push.ts and bench/platform-rollout.ts (not a benchmark itself):
 * `slipway serve` with its router, build workers and reconciler, started in this
 * process from Slipway compiled by tsc (bench/common.ts's buildSlipway), so the
 * instances' supervisors and the staging code run as installed, not through tsx; an
 * admin logged in, an org and a space, the test helpers' AppPusher on it, and the
 * clean-up of every container at the end. Needs root, runc and slirp4netns.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AppPusher } from '../test/platform-apps.js';
import { PlatformClient } from '../test/platform-world.js';
import { BENCH_CACHE, buildSlipway, median } from './common.js';

type ServerModule = typeof import('../src/server/index.js');
type LocalStoreModule = typeof import('../src/store/local-store.js');
type PlatformStoreModule = typeof import('../src/platform/store/sqlite-platform-store.js');
type RuntimeModule = typeof import('../src/runtime/index.js');
type ReconcilerModule = typeof import('../src/platform/run/reconciler.js');
export type LocalStore = import('../src/store/local-store.js').LocalStore;
export type SqlitePlatformStore = import('../src/platform/store/sqlite-platform-store.js').SqlitePlatformStore;
export type ContainerRuntime = import('../src/runtime/index.js').ContainerRuntime;

/** Compiles Slipway into `$BENCH_CACHE/<name>` and returns a loader of its compiled modules (typed as their sources). */
export async function compiledSlipway(name: string): Promise<<T>(module: string) => Promise<T>> {
  const entry = await buildSlipway(name);
  const dist = dirname(dirname(entry));
  return async <T>(module: string) => (await import(pathToFileURL(join(dist, module)).href)) as T;
}

export interface BenchPlatform {
  home: string;
  url: string;
  routerUrl: string;
  domain: string;
  store: LocalStore;
  pstore: SqlitePlatformStore;
  runtime: ContainerRuntime;
  client: PlatformClient;
  pusher: AppPusher;
  /** `bearer ...` of the admin (tokens live 24 h: a bench outlives the default 10 minutes). */
  admin: string;
  org: string;
  space: string;
  /** Loads a compiled module of the same build (typed by the caller). */
  load: <T>(module: string) => Promise<T>;
  warnings: string[];
  /** Every reconciler pass: when it ended (performance.now()) and how long it took (ms). */
  passes: { end: number; ms: number }[];
  close(): Promise<void>;
}

export interface BenchPlatformOptions {
  /** The bench's name: its compiled tree and its home under $SLIPWAY_BENCH_CACHE. */
  name: string;
  intervalMs: number;
  drainMs: number;
  buildWorkers: number;
}

export async function startBenchPlatform(o: BenchPlatformOptions): Promise<BenchPlatform> {
  if (process.getuid?.() !== 0) throw new Error('this benchmark needs root (runc, slirp4netns)');
  const load = await compiledSlipway(`${o.name}-slipway`);
  const [{ startPlatformServer }, { LocalStore }, { SqlitePlatformStore }, { ContainerRuntime }, { Reconciler }] =
    await Promise.all([
      load<ServerModule>('server/index.js'),
      load<LocalStoreModule>('store/local-store.js'),
      load<PlatformStoreModule>('platform/store/sqlite-platform-store.js'),
      load<RuntimeModule>('runtime/index.js'),
      load<ReconcilerModule>('platform/run/reconciler.js'),
    ]);
  // The reconciler's passes timed (the compiled copy in this process only: its loop calls converge()).
  const passes: { end: number; ms: number }[] = [];
  const converge = Reconciler.prototype.converge;
  Reconciler.prototype.converge = async function (this: InstanceType<typeof Reconciler>) {
    const t0 = performance.now();
    await converge.call(this);
    passes.push({ end: performance.now(), ms: performance.now() - t0 });
  };
  const home = join(BENCH_CACHE, `${o.name}-home`);
  await removeHome(home, ContainerRuntime);
  await mkdir(home, { recursive: true });
  await writeFile(join(home, 'admin-pw'), 'admin-secret-pw');
  const store = await LocalStore.open(home);
  const pstore = await SqlitePlatformStore.open(join(home, 'platform.sqlite'));
  const warnings: string[] = [];
  const domain = 'apps.bench';
  const server = await startPlatformServer({
    store,
    platformStore: pstore,
    addr: '127.0.0.1:0',
    adminPasswordFile: join(home, 'admin-pw'),
    accessTokenSeconds: 24 * 3600,
    gcIntervalMs: 0,
    gcGraceMs: 3600_000,
    warn: (m) => {
      warnings.push(m);
      process.stderr.write(`platform: ${m}\n`);
    },
    domain,
    run: { routerAddr: '127.0.0.1:0', buildWorkers: o.buildWorkers, intervalMs: o.intervalMs, drainMs: o.drainMs },
  });
  const client = new PlatformClient(server.url);
  const pusher = new AppPusher(client, server.routerUrl!, domain);
  const admin = await client.login('admin', 'admin-secret-pw');
  const org = await client.createOrg(admin, 'bench');
  const space = await client.createSpace(admin, org, 'apps');
  const runtime = ContainerRuntime.open(home);
  return {
    home,
    url: server.url,
    routerUrl: server.routerUrl!,
    domain,
    store,
    pstore,
    runtime,
    client,
    pusher,
    admin,
    org,
    space,
    load,
    warnings,
    passes,
    async close() {
      pusher.close();
      // Instances outlive the server by design (adoption): the bench's go with it.
      await server.close();
      for (const c of await runtime.list()) await runtime.remove(c.name, { force: true }).catch(() => undefined);
      runtime.close();
      await store.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** A home left by an interrupted run: its containers removed, then the directory. */
async function removeHome(home: string, runtimeClass: RuntimeModule['ContainerRuntime']): Promise<void> {
  if (
    !(await readFile(join(home, 'runtime', 'state.sqlite')).then(
      () => true,
      () => false,
    ))
  ) {
    await rm(home, { recursive: true, force: true });
    return;
  }
  const runtime = runtimeClass.open(home);
  for (const c of await runtime.list()) await runtime.remove(c.name, { force: true }).catch(() => undefined);
  runtime.close();
  await rm(home, { recursive: true, force: true });
}

/** The 1-minute, 5-minute and 15-minute load averages. */
export async function loadAverage(): Promise<string> {
  return (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function arg(name: string, fallback: string): string {
  return process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1]! : fallback;
}

/** Seconds with two decimals. */
export const s2 = (ms: number) => (ms / 1000).toFixed(2);

/** The reconciler passes that ended between two performance.now() times: how many, their median and longest (ms). */
export function passStats(p: BenchPlatform, from: number, to: number): { count: number; median: number; max: number } {
  const ms = p.passes.filter((x) => x.end >= from && x.end <= to).map((x) => x.ms);
  return { count: ms.length, median: ms.length ? median(ms) : 0, max: Math.max(0, ...ms) };
}
