/**
 * bench/platform-api.ts: `slipway serve --no-run` (the API, UAA and the registry; no
 * router or build workers beside the load), compiled by tsc into the bench cache, under
 * load over real HTTP, with wrk as the client (`bash scripts/install.sh --bench`):
 *
 * - list: `GET /v3/apps?per_page=50` as a space developer (6 spaces, 60 apps) among
 *   10,000 apps in 100 orgs (100 orgs x 10 spaces x 10 apps, seeded through the
 *   SqlitePlatformStore directly), at 32 connections: requests/s, p50 and p99 (target
 *   p99 < 20 ms); an admin's first page and an API token's page as references.
 * - manifest: the registry's manifest GET by tag at 32 connections, with the platform's
 *   authorization (ORG/SPACE/APP, a space developer's Docker token) against
 *   `slipway registry serve --auth token` (the registry alone, a users-file user) in
 *   the same run, alternating, median of the runs (target >= 0.8x its throughput).
 * - tokens: the token issue rate at 8 connections: UAA password grants
 *   (`POST /uaa/oauth/token`) and registry tokens (`GET /token`, Basic), each with one
 *   user's credentials over and over (the login guard remembers a success: signing and
 *   the refresh-token row are the cost) and with a new user each request (argon2id each).
 *
 *   node --import tsx bench/platform-api.ts [--runs 3] [--duration 10] [--only list,manifest,tokens] [--source] [--reseed]
 *
 * Prints a markdown table. The seeded platform is kept in $SLIPWAY_BENCH_CACHE
 * (default /var/cache/slipway-bench)/platform-api and copied for each server start.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { hashPassword } from '../src/auth/password.js';
import { emptyMetadata, newGuid, now, type User } from '../src/platform/model.js';
import { SqlitePlatformStore } from '../src/platform/store/sqlite-platform-store.js';
import { makeImage, PlatformClient } from '../test/platform-world.js';
import { ROOT, slipwayOk, startSlipwayRegistry } from '../test/helpers.js';
import { BENCH_CACHE, buildSlipway, median } from './common.js';

const exec = promisify(execFile);
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    only: { type: 'string', default: 'list,manifest,tokens' },
    source: { type: 'boolean', default: false },
    reseed: { type: 'boolean', default: false },
  },
});
const RUNS = Number(values.runs);
const SECONDS = Number(values.duration);
const only = new Set(values.only?.split(','));
const CACHE = join(BENCH_CACHE, 'platform-api');
const SEEDED = join(CACHE, 'seeded');
const PASSWORD = 'bench-password';
/** Users for the uncached login rates: each run's two wrk threads take their own share (argon2id each, ~100/s on 2 cores). */
const LOGIN_USERS = 6000;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const fmt = (n: number, digits = 1) => n.toFixed(digits);

// ---------------------------------------------------------------------------
// The seeded platform

async function seed(): Promise<void> {
  if (!values.reseed && existsSync(join(SEEDED, 'done'))) return;
  await rm(SEEDED, { recursive: true, force: true });
  await mkdir(SEEDED, { recursive: true });
  const t0 = performance.now();
  const store = await SqlitePlatformStore.open(join(SEEDED, 'platform.sqlite'));
  const hash = await hashPassword(PASSWORD);
  const stamp = () => ({ createdAt: now(), updatedAt: now() });
  const user = (username: string, globalRoles: User['globalRoles'] = []) =>
    store.createUser(
      { guid: newGuid(), username, origin: 'uaa', globalRoles, metadata: emptyMetadata(), ...stamp() },
      { passwordHash: hash },
    );
  const role = (type: string, userGuid: string, place: { orgGuid: string } | { spaceGuid: string }) =>
    store.createRole({
      guid: newGuid(),
      type: type as never,
      userGuid,
      metadata: emptyMetadata(),
      ...stamp(),
      ...place,
    });
  await user('admin', ['admin']);
  const dev = await user('dev');
  const others = await Promise.all(Array.from({ length: 20 }, (_, i) => user(`other-${i}`)));
  for (let i = 0; i < LOGIN_USERS; i++) await user(`login-${i}`);
  const orgs: string[] = [];
  const spaces: string[] = [];
  for (let o = 0; o < 100; o++) {
    const org = await store.createOrg({
      guid: newGuid(),
      name: `org-${o}`,
      slug: `org-${o}`,
      suspended: false,
      metadata: emptyMetadata(),
      ...stamp(),
    });
    orgs.push(org.guid);
    for (const u of others.slice(0, 5)) await role('organization_user', u.guid, { orgGuid: org.guid });
    for (let s = 0; s < 10; s++) {
      const space = await store.createSpace({
        guid: newGuid(),
        name: `space-${s}`,
        slug: `space-${s}`,
        orgGuid: org.guid,
        metadata: emptyMetadata(),
        ...stamp(),
      });
      spaces.push(space.guid);
      await role('space_developer', (others[o % 5] as User).guid, { spaceGuid: space.guid });
      for (let a = 0; a < 10; a++) {
        await store.createApp({
          guid: newGuid(),
          name: `app-${a}`,
          slug: `app-${a}`,
          spaceGuid: space.guid,
          state: a % 2 === 0 ? 'STARTED' : 'STOPPED',
          lifecycle: { type: 'buildpack', data: { buildpacks: [], stack: 'cflinuxfs4' } },
          environmentVariables: { SECRET: 'x' },
          metadata: { labels: { tier: a % 3 === 0 ? 'web' : 'worker', team: `t${o % 7}` }, annotations: {} },
          ...stamp(),
        });
      }
    }
  }
  // dev: org user in 3 orgs, developer in 2 spaces of each (6 spaces, 60 apps), as bench/platform-list-apps.ts.
  for (const o of [3, 47, 91]) {
    await role('organization_user', dev.guid, { orgGuid: orgs[o] as string });
    for (const s of [o * 10 + 1, o * 10 + 7])
      await role('space_developer', dev.guid, { spaceGuid: spaces[s] as string });
  }
  await store.close();
  await writeFile(join(SEEDED, 'done'), `${new Date().toISOString()}\n`);
  process.stderr.write(
    `seeded 10,000 apps and ${LOGIN_USERS + 22} users in ${fmt((performance.now() - t0) / 1000)} s\n`,
  );
}

// ---------------------------------------------------------------------------
// Servers

interface Server {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** The CLI to run: compiled into the cache, else (a tree that does not compile now, or --source) from source. */
async function slipwayEntry(): Promise<string | undefined> {
  if (values.source) return undefined;
  try {
    return await buildSlipway('platform-api');
  } catch (err) {
    const emitted = join(BENCH_CACHE, 'platform-api/dist/cli/main.js');
    if (existsSync(emitted)) {
      process.stderr.write(`tsc reported errors (${(err as Error).message.split('\n')[0]}); using what it emitted\n`);
      return emitted;
    }
    process.stderr.write('the compile failed: running from source\n');
    return undefined;
  }
}

/** `slipway serve` on a copy of the seeded platform. */
async function startPlatform(entry: string | undefined): Promise<Server> {
  const home = join(CACHE, 'serve');
  await rm(home, { recursive: true, force: true });
  await mkdir(home, { recursive: true });
  await copyFile(join(SEEDED, 'platform.sqlite'), join(home, 'platform.sqlite'));
  const child = spawn(
    process.execPath,
    [
      entry ?? join(ROOT, 'bin/slipway.js'),
      '--json',
      'serve',
      '--addr',
      '127.0.0.1:0',
      '--gc-interval',
      '0',
      '--token-expiry',
      '3600',
      // The API and the registry only: no router, no build workers, no reconciler beside the load.
      '--no-run',
    ],
    {
      env: { ...process.env, SLIPWAY_HOME: home, ...(entry ? {} : { SLIPWAY_FROM_SOURCE: '1' }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      let printed: { url?: string };
      try {
        printed = JSON.parse(stdout) as { url?: string };
      } catch {
        return; // not the whole document yet
      }
      if (printed.url) resolve(printed.url);
      else reject(new Error(`slipway serve printed no URL: ${stdout}\n${stderr}`));
    });
    void exited.then(() => reject(new Error(`slipway serve exited before serving:\n${stderr}`)));
  });
  return {
    url,
    pid: child.pid as number,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** `slipway registry serve --auth token` with one users-file user (alice, bench/:pull,push). */
async function startRegistry(entry: string | undefined): Promise<Server> {
  const home = join(CACHE, 'registry');
  await rm(home, { recursive: true, force: true });
  await mkdir(home, { recursive: true });
  await slipwayOk(
    home,
    ['registry', 'user', 'add', 'alice', '--password-stdin', '--grant', 'bench/:pull,push'],
    {},
    PASSWORD,
  );
  const server = await startSlipwayRegistry(home, ['--auth', 'token', '--gc-interval', '0'], entry ? { entry } : {});
  return { url: server.url, pid: server.pid, stop: async () => void (await server.stop()) };
}

// ---------------------------------------------------------------------------
// wrk

interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** wrk -t2 -cN -dS --latency, with headers or a Lua script; latencies in ms. */
async function wrk(
  url: string,
  connections: number,
  options: { headers?: string[]; script?: string } = {},
): Promise<Load> {
  const args = ['-t2', `-c${connections}`, `-d${SECONDS}s`, '--latency'];
  for (const h of options.headers ?? []) args.push('-H', h);
  if (options.script) args.push('-s', options.script);
  const { stdout } = await exec('wrk', [...args, url], { maxBuffer: 16 << 20 });
  const ms = (label: string) => {
    const m = new RegExp(`\\s${label}%\\s+([\\d.]+)(us|ms|s)\\b`).exec(stdout);
    if (!m) return Number.NaN;
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
  };
  const errors =
    Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0) +
    [...stdout.matchAll(/(connect|read|write|timeout) (\d+)/g)].reduce((n, m) => n + Number(m[2]), 0);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]), p50: ms('50'), p99: ms('99'), errors };
}

/** Writes a wrk Lua script into the cache; its path. */
async function script(name: string, lua: string): Promise<string> {
  const path = join(CACHE, `${name}.lua`);
  await writeFile(path, lua);
  return path;
}

const luaList = (xs: string[]) => `{${xs.map((x) => JSON.stringify(x)).join(',')}}`;
const basic = (user: string) => `Basic ${Buffer.from(`${user}:${PASSWORD}`).toString('base64')}`;

// ---------------------------------------------------------------------------

const rows: string[] = [];
const row = (...cells: string[]) => rows.push(`| ${cells.join(' | ')} |`);

async function listBench(platform: Server, c: PlatformClient): Promise<void> {
  const dev = await c.login('dev', PASSWORD);
  const admin = await c.login('admin', PASSWORD);
  const page = await c.ok('GET', '/v3/apps?per_page=50', dev);
  if (page.pagination.total_results !== 60 || page.resources.length !== 50)
    throw new Error(`the developer sees ${page.pagination.total_results} apps`);
  const dev3 = (
    await c.ok('GET', '/v3/spaces?names=space-1&organization_guids=' + (await orgGuid(c, admin, 'org-3')), dev)
  ).resources[0].guid;
  const ci = await c.apiToken(dev, dev3, 'bench');
  // 32 connections as the target says; 4 as a reference below saturation (the same work, less queueing).
  const cases: [string, string, number][] = [
    ['space developer (6 spaces, 60 apps)', dev, 32],
    ['API token of that developer (1 space)', `bearer ${ci.token}`, 32],
    ['admin (all 10,000)', admin, 32],
    ['space developer (6 spaces, 60 apps)', dev, 4],
  ];
  for (const [who, auth, connections] of cases) {
    const loads: Load[] = [];
    for (let i = 0; i < RUNS; i++)
      loads.push(
        await wrk(`${platform.url}/v3/apps?per_page=50`, connections, { headers: [`Authorization: ${auth}`] }),
      );
    process.stderr.write(
      `  list as ${who}, ${connections} connections: ${loads.map((l) => `${fmt(l.rps, 0)} req/s p99 ${fmt(l.p99, 2)} ms`).join('; ')}\n`,
    );
    row(
      `GET /v3/apps?per_page=50 as ${who}`,
      String(connections),
      fmt(median(loads.map((l) => l.rps)), 0),
      fmt(median(loads.map((l) => l.p50)), 2),
      fmt(median(loads.map((l) => l.p99)), 2),
      String(loads.reduce((n, l) => n + l.errors, 0)),
    );
  }
}

async function orgGuid(c: PlatformClient, admin: string, name: string): Promise<string> {
  return (await c.ok('GET', `/v3/organizations?names=${name}`, admin)).resources[0].guid;
}

async function manifestBench(platform: Server, c: PlatformClient, entry: string | undefined): Promise<void> {
  const image = makeImage(['bench-layer']);
  const repo = 'org-3/space-1/app-0';
  const devLogin = { username: 'dev', password: PASSWORD };
  const pushed = await c.pushImage(
    await c.registryToken(devLogin, [`repository:${repo}:pull,push`]),
    repo,
    'v1',
    image,
  );
  if (pushed.status !== 201) throw new Error(`push to the platform: ${pushed.status} ${pushed.text}`);
  const platformToken = await c.registryToken(devLogin, [`repository:${repo}:pull`]);

  const registry = await startRegistry(entry);
  try {
    const r = new PlatformClient(registry.url);
    const alice = { username: 'alice', password: PASSWORD };
    const res = await r.pushImage(
      await r.registryToken(alice, ['repository:bench/app:pull,push']),
      'bench/app',
      'v1',
      image,
    );
    if (res.status !== 201) throw new Error(`push to the registry: ${res.status} ${res.text}`);
    const registryToken = await r.registryToken(alice, ['repository:bench/app:pull']);
    const loads: Record<'platform' | 'registry', Load[]> = { platform: [], registry: [] };
    for (let i = 0; i < RUNS; i++) {
      const order = i % 2 === 0 ? (['platform', 'registry'] as const) : (['registry', 'platform'] as const);
      for (const which of order) {
        const [url, token] =
          which === 'platform'
            ? [`${platform.url}/v2/${repo}/manifests/v1`, platformToken]
            : [`${registry.url}/v2/bench/app/manifests/v1`, registryToken];
        const load = await wrk(url, 32, { headers: [`Authorization: ${token}`, `Accept: ${OCI_MANIFEST}`] });
        loads[which].push(load);
        process.stderr.write(
          `  manifest ${which} run ${i + 1}: ${fmt(load.rps, 0)} req/s, p99 ${fmt(load.p99, 2)} ms\n`,
        );
      }
    }
    for (const which of ['platform', 'registry'] as const) {
      const l = loads[which];
      row(
        which === 'platform'
          ? `manifest GET, slipway serve (ORG/SPACE/APP, roles)`
          : 'manifest GET, slipway registry serve --auth token',
        '32',
        fmt(median(l.map((x) => x.rps)), 0),
        fmt(median(l.map((x) => x.p50)), 2),
        fmt(median(l.map((x) => x.p99)), 2),
        String(l.reduce((n, x) => n + x.errors, 0)),
      );
    }
    const ratio = median(loads.platform.map((x) => x.rps)) / median(loads.registry.map((x) => x.rps));
    rows.push(`| **platform / registry alone** | | **${fmt(ratio, 2)}x** | | | |`);
  } finally {
    await registry.stop();
  }
}

async function tokenBench(platform: Server): Promise<void> {
  const users = Array.from({ length: LOGIN_USERS }, (_, i) => `login-${i}`);
  const cfClient = `Basic ${Buffer.from('cf:').toString('base64')}`;
  const form = (u: string) =>
    new URLSearchParams({ grant_type: 'password', username: u, password: PASSWORD }).toString();
  // Every run and each of its two threads walks its own share of the users: no login is asked twice.
  const share = Math.floor(LOGIN_USERS / (RUNS * 2));
  const rotating = (run: number, list: string, setter: string) => `
local items = ${list}
local n = 0
offset = ${run * 2 * share}
function setup(thread) thread:set("offset", offset); offset = offset + ${share} end
request = function()
  n = n + 1
  local item = items[offset + (n - 1) % ${share} + 1]
  ${setter}
end
`;
  const post = `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\nwrk.headers["Authorization"] = "${cfClient}"\n`;
  const uaaUrl = `${platform.url}/uaa/oauth/token`;
  const tokenUrl = `${platform.url}/token?service=slipway&scope=repository:org-3/space-1/app-0:pull`;
  const cases: [string, string, (run: number) => Promise<{ headers?: string[]; script?: string }>][] = [
    [
      'POST /uaa/oauth/token, one user (login remembered)',
      uaaUrl,
      async () => ({ script: await script('uaa-same', `${post}wrk.body = ${JSON.stringify(form('dev'))}\n`) }),
    ],
    [
      'POST /uaa/oauth/token, a new user each (argon2id each)',
      uaaUrl,
      async (run) => ({
        script: await script(
          `uaa-new-${run}`,
          post + rotating(run, luaList(users.map(form)), 'return wrk.format("POST", nil, nil, item)'),
        ),
      }),
    ],
    [
      'GET /token (registry), one user (login remembered)',
      tokenUrl,
      async () => ({ headers: [`Authorization: ${basic('dev')}`] }),
    ],
    [
      'GET /token (registry), a new user each (argon2id each)',
      tokenUrl,
      async (run) => ({
        script: await script(
          `token-new-${run}`,
          rotating(run, luaList(users.map(basic)), 'return wrk.format("GET", nil, { ["Authorization"] = item }, nil)'),
        ),
      }),
    ],
  ];
  for (const [name, url, options] of cases) {
    const loads: Load[] = [];
    for (let run = 0; run < RUNS; run++) loads.push(await wrk(url, 8, await options(run)));
    process.stderr.write(`  ${name}: ${loads.map((l) => `${fmt(l.rps, 0)}/s`).join(', ')}\n`);
    row(
      name,
      '8',
      fmt(median(loads.map((l) => l.rps)), 0),
      fmt(median(loads.map((l) => l.p50)), 2),
      fmt(median(loads.map((l) => l.p99)), 2),
      String(loads.reduce((n, l) => n + l.errors, 0)),
    );
  }
}

async function main(): Promise<void> {
  const entry = await slipwayEntry();
  await seed();
  const started = loadavg()[0] as number;
  let platform = await startPlatform(entry);
  try {
    const c = new PlatformClient(platform.url);
    if (only.has('list')) await listBench(platform, c);
    if (only.has('manifest')) await manifestBench(platform, c, entry);
    if (only.has('tokens')) {
      await platform.stop();
      platform = await startPlatform(entry);
      await tokenBench(platform);
    }
  } finally {
    await platform.stop();
  }
  console.log(
    `\n## slipway serve under load (${cpus().length} cores, Node ${process.version}, ${entry ? 'compiled' : 'from source'}, ` +
      `median of ${RUNS} runs of ${SECONDS} s with wrk -t2; load average ${fmt(started, 2)} at start, ${fmt(loadavg()[0] as number, 2)} at end)\n`,
  );
  console.log('| request | connections | req/s | p50 ms | p99 ms | errors |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
}

await main();
