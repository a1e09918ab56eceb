/**
 * Password guessing against a running registry (on demand, not in CI): the latency of a
 * signed-in client's manifest GET while 8 attackers send wrong passwords as fast as the
 * server answers, side by side with the same GETs and no attack. See bench/README.md,
 * "Registry under password guessing". Issue 15's figure: p99 under attack < 20 ms.
 *
 *   node --import tsx bench/registry-auth-attack.ts [--runs 5] [--requests 2000] [--modes basic,token] [--source]
 *
 * - The server is `slipway registry serve --auth basic` (every request carries Basic
 *   credentials) or `--auth token` (the client holds a bearer token; the attackers go
 *   to /token), compiled (tsc into the bench cache; --source runs it through tsx).
 * - The attackers are test/login-attackers.ts in a child process: 8 loops, one
 *   keep-alive connection each, a new wrong password per request, Retry-After ignored.
 * - The legitimate client (this process) sends `--requests` sequential GETs of one
 *   manifest by tag on one keep-alive connection; p50/p99 per run, medians of `--runs`
 *   runs. Runs alternate which scenario goes first.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { slipwayOk, startSlipwayRegistry, type RegistryProcess } from '../test/helpers.js';
import { startAttackers, type AttackerReport } from '../test/login-attackers.js';
import { BENCH_CACHE, buildSlipway, cpuSeconds, median } from './common.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const PASSWORD = 'bench-alice-secret';
const ALICE = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    requests: { type: 'string', default: '2000' },
    modes: { type: 'string', default: 'basic,token' },
    source: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const requests = Number(values.requests);
const modes = values.modes!.split(',') as ('basic' | 'token')[];
const fmt = (n: number, digits = 2) => n.toFixed(digits);
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Reply {
  status: number;
  body: Buffer;
  ms: number;
}

function http(
  agent: Agent,
  method: string,
  url: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, agent, headers: body ? { ...headers, 'Content-Length': String(body.length) } : headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ms: performance.now() - started }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(samples: number[], fraction: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

/** The CLI to run: compiled into the cache, else (a tree that does not compile now, or --source) from source. */
async function slipwayEntry(): Promise<string | undefined> {
  if (values.source) return undefined;
  try {
    return await buildSlipway('registry-auth-attack');
  } catch (err) {
    const emitted = join(BENCH_CACHE, 'registry-auth-attack/dist/cli/main.js');
    if (existsSync(emitted)) {
      process.stderr.write(`tsc reported errors (${(err as Error).message.split('\n')[0]}); using what it emitted\n`);
      return emitted;
    }
    process.stderr.write('the compile failed: running from source\n');
    return undefined;
  }
}

/** Pushes a small image (config + one 64 KiB layer) as alice, by `authorization`. */
async function pushImage(agent: Agent, url: string, authorization: string): Promise<string> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
  );
  const layer = randomBytes(64 << 10);
  for (const blob of [config, layer]) {
    const res = await http(
      agent,
      'POST',
      `${url}/v2/bench/app/blobs/uploads/?digest=${sha256(blob)}`,
      { Authorization: authorization },
      blob,
    );
    if (res.status !== 201) throw new Error(`blob push: ${res.status} ${res.body}`);
  }
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
    }),
  );
  const res = await http(
    agent,
    'PUT',
    `${url}/v2/bench/app/manifests/v1`,
    { Authorization: authorization, 'Content-Type': OCI_MANIFEST },
    manifest,
  );
  if (res.status !== 201) throw new Error(`manifest push: ${res.status} ${res.body}`);
  return sha256(manifest);
}

async function token(agent: Agent, url: string, scope: string): Promise<string> {
  const res = await http(agent, 'GET', `${url}/token?service=slipway&scope=${scope}`, { Authorization: ALICE });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${res.body}`);
  return `Bearer ${(JSON.parse(res.body.toString()) as { token: string }).token}`;
}

interface RunResult {
  p50: number;
  p99: number;
  max: number;
  /** Attack runs: requests the attackers sent per second, and how many were answered 429 / had their password checked. */
  attackRps?: number;
  refused?: number;
  checked?: number;
  serverCpuPerSecond: number;
}

/** `count` sequential GETs of the manifest; fails on anything but 200. */
async function measure(agent: Agent, url: string, authorization: string, count = requests): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const res = await http(agent, 'GET', `${url}/v2/bench/app/manifests/v1`, {
      Authorization: authorization,
      Accept: OCI_MANIFEST,
    });
    if (res.status !== 200) throw new Error(`legitimate GET ${i}: ${res.status} ${res.body}`);
    latencies.push(res.ms);
  }
  return latencies;
}

async function oneRun(
  server: RegistryProcess,
  mode: 'basic' | 'token',
  authorization: string,
  attacked: boolean,
): Promise<RunResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await measure(agent, server.url, authorization, 200); // warm-up: JIT, caches, the remembered login
    let attack: ReturnType<typeof startAttackers> | undefined;
    if (attacked) {
      attack = startAttackers({
        url: server.url,
        target: mode,
        user: 'alice',
        path: '/v2/bench/app/manifests/v1',
        attackers: 8,
        durationMs: 120_000,
        maxRequests: 1_000_000,
      });
      await attack.started;
      await new Promise((r) => setTimeout(r, 500)); // the attackers' connections are up and hammering
    }
    const cpu = await cpuSeconds(server.pid);
    const started = performance.now();
    const latencies = await measure(agent, server.url, authorization);
    const seconds = (performance.now() - started) / 1000;
    const serverCpuPerSecond = ((await cpuSeconds(server.pid)) - cpu) / seconds;
    const result: RunResult = {
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      max: Math.max(...latencies),
      serverCpuPerSecond,
    };
    if (attack) {
      attack.stop();
      const reports: AttackerReport[] = await attack.done;
      const total = reports.reduce((n, r) => n + r.requests, 0);
      result.attackRps = total / (seconds + 0.5);
      result.refused = reports.reduce((n, r) => n + (r.statuses['429'] ?? 0), 0);
      result.checked = reports.reduce((n, r) => n + (r.statuses['401'] ?? 0), 0);
      if (reports.some((r) => r.first429 === 0))
        throw new Error(`an attacker was never refused: ${JSON.stringify(reports.map((r) => r.statuses))}`);
    }
    return result;
  } finally {
    agent.destroy();
  }
}

async function main(): Promise<void> {
  const entry = await slipwayEntry();
  const home = join(BENCH_CACHE, 'registry-auth-attack/store');
  await rm(home, { recursive: true, force: true });
  await mkdir(home, { recursive: true });
  await slipwayOk(
    home,
    ['registry', 'user', 'add', 'alice', '--password-stdin', '--grant', 'bench/:pull,push'],
    {},
    PASSWORD,
  );
  const table: string[] = [];
  const all: Record<string, RunResult[]> = {};
  for (const mode of modes) {
    // A fresh server per run: the attackers' backoff of one run must not carry into the next.
    const results: Record<'quiet' | 'attacked', RunResult[]> = { quiet: [], attacked: [] };
    for (let run = 0; run < runs; run++) {
      const order: ('quiet' | 'attacked')[] = run % 2 === 0 ? ['quiet', 'attacked'] : ['attacked', 'quiet'];
      for (const scenario of order) {
        const server = await startSlipwayRegistry(home, ['--auth', mode, '--gc-interval', '0'], entry ? { entry } : {});
        try {
          const setup = new Agent({ keepAlive: true, maxSockets: 1 });
          const pushAuth = mode === 'basic' ? ALICE : await token(setup, server.url, 'repository:bench/app:pull,push');
          await pushImage(setup, server.url, pushAuth);
          const authorization = mode === 'basic' ? ALICE : await token(setup, server.url, 'repository:bench/app:pull');
          setup.destroy();
          const r = await oneRun(server, mode, authorization, scenario === 'attacked');
          results[scenario].push(r);
          process.stderr.write(
            `  ${mode} run ${run + 1} ${scenario}: p50 ${fmt(r.p50)} ms, p99 ${fmt(r.p99)} ms, max ${fmt(r.max, 1)} ms` +
              (r.attackRps === undefined
                ? ''
                : `, attackers ${fmt(r.attackRps, 0)} req/s (${r.checked} checked, ${r.refused} refused)`) +
              '\n',
          );
        } finally {
          await server.stop();
        }
      }
    }
    for (const scenario of ['quiet', 'attacked'] as const) {
      const rs = results[scenario];
      all[`${mode} ${scenario}`] = rs;
      const attackers =
        scenario === 'attacked'
          ? `${fmt(median(rs.map((r) => r.attackRps!)), 0)} req/s, ${fmt(median(rs.map((r) => r.checked!)), 0)} checked`
          : '-';
      table.push(
        `| ${mode} | ${scenario === 'quiet' ? 'no attack' : '8 attackers'} | ${fmt(median(rs.map((r) => r.p50)))} | ${fmt(median(rs.map((r) => r.p99)))} | ${fmt(median(rs.map((r) => r.max)), 1)} | ${fmt(median(rs.map((r) => r.serverCpuPerSecond)), 2)} | ${attackers} |`,
      );
    }
  }
  console.log(
    `\n## manifest GET by a signed-in client, ${requests} sequential requests per run, medians of ${runs} runs (${entry ? 'compiled' : 'from source'})`,
  );
  console.log('| auth | scenario | p50 ms | p99 ms | max ms | server CPU s/s | attackers (rate, passwords checked) |');
  console.log('|---|---|---:|---:|---:|---:|---|');
  for (const line of table) console.log(line);
  console.log(`\nall runs: ${JSON.stringify(all)}`);
}

await main();
