/**
 * Registry benchmark (on demand, not in CI): Slipway's registry side by side with CNCF
 * Distribution 2.8 (Debian's docker-registry) in the same run, skopeo as the client for
 * both. See bench/README.md, "Registry".
 *
 *   node --import tsx bench/registry.ts [--only push,manifest,rss,scale] [--runs 5] [--duration 10] [--layer-mb 100] [--blob-gb 5] [--profile DIR]
 *
 * - push/pull: a 5 x 100 MB image (random data, gzip with stored blocks: as big as
 *   the data) from a cached OCI layout; every run starts both registries on empty
 *   storage, pushes with skopeo, then pulls into a fresh layout. Runs alternate which
 *   registry goes first.
 * - manifest: GET and HEAD of a manifest by tag at 32 connections with bench/http-load.ts
 *   (a child process; wrk 4.1 cannot time HEAD), GET also with wrk -t2 -c32.
 * - rss: one 5 GB blob pushed (POST, one streamed PATCH, PUT) and pulled through a real
 *   socket; VmHWM and VmRSS of the server sampled from /proc.
 * - scale: 10,000 repositories and 100,000 tags made through the store API, then
 *   tags/list and _catalog timed over HTTP.
 * - pull is also timed with curl (the 5 blobs at once, to /dev/null), a client that costs
 *   less than skopeo, to see whether the server or the client is the limit.
 * - --profile DIR: every Slipway server runs under V8's CPU profiler (push and pull in
 *   two server processes on the same storage, so each has a profile of its own); the
 *   profiles land in DIR and a summary of each (self time by function and by module)
 *   is printed at the end.
 * Slipway runs compiled (tsc into the cache), not through tsx. Inputs and the build are
 * kept under $SLIPWAY_BENCH_CACHE (default /var/cache/slipway-bench).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import {
  addRandomImage,
  commandExists,
  randomStream,
  startDistribution,
  startSlipwayRegistry,
  type RegistryProcess,
} from '../test/helpers.js';
import { LocalStore } from '../src/store/local-store.js';
import {
  BENCH_CACHE,
  buildSlipway,
  cpuSeconds,
  httpLoad as runHttpLoad,
  type Load,
  median,
  recordResult,
  writeProfileEntry,
} from './common.js';

const exec = promisify(execFile);
const CACHE = BENCH_CACHE;
const MB = 1e6;
const MiB = 1 << 20;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const ACCEPT = `${OCI_MANIFEST}, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json`;

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'push,manifest,rss,scale' },
    runs: { type: 'string', default: '5' },
    duration: { type: 'string', default: '10' },
    'blob-gb': { type: 'string', default: '5' },
    'layer-mb': { type: 'string', default: '100' },
    profile: { type: 'string' },
  },
});
const profileDir = values.profile === undefined ? undefined : resolve(values.profile);
const only = new Set(values.only!.split(','));
const runs = Number(values.runs);
const layerMB = Number(values['layer-mb']);

const fmt = (n: number, digits = 2) => n.toFixed(digits);

async function procStatus(pid: number): Promise<{ rss: number; hwm: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

// ---------------------------------------------------------------------------
// Servers

let slipwayMain = '';

let profiles = 0;
let profileEntry = '';

/**
 * `slipway registry serve` (compiled) on a free loopback port, anonymous, storing in
 * `storage`; under --profile, profiled, its profile named after `label`.
 */
function startSlipway(storage: string, label = 'server'): Promise<RegistryProcess> {
  const args = ['--storage', storage, '--gc-interval', '0'];
  if (profileDir === undefined) return startSlipwayRegistry(storage, args, { entry: slipwayMain });
  process.env['SLIPWAY_BENCH_PROFILE'] = join(profileDir, `${String(++profiles).padStart(2, '0')}-${label}.cpuprofile`);
  try {
    // The child's environment is copied when it is spawned, before this returns.
    return startSlipwayRegistry(storage, args, { entry: profileEntry });
  } finally {
    delete process.env['SLIPWAY_BENCH_PROFILE'];
  }
}

type Name = 'slipway' | 'distribution';

async function start(name: Name, dir: string, label?: string): Promise<RegistryProcess> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return name === 'slipway' ? startSlipway(join(dir, 'store'), label) : startDistribution(dir);
}

/** The same registry again on the storage `start` gave it (under --profile: pull in a process of its own). */
async function restart(name: Name, dir: string, server: RegistryProcess, label: string): Promise<RegistryProcess> {
  await server.stop();
  return name === 'slipway' ? startSlipway(join(dir, 'store'), label) : startDistribution(dir);
}

const skopeo = (...args: string[]) => exec('skopeo', ['--insecure-policy', ...args], { maxBuffer: 16 << 20 });

// ---------------------------------------------------------------------------
// push and pull of 5 x 100 MB

async function bigLayout(): Promise<{ layout: string; bytes: number; layers: string[] }> {
  const layout = join(CACHE, `registry-5x${layerMB}MB`);
  const image = await addRandomImage(
    layout,
    'big',
    [0, 1, 2, 3, 4].map((i) => ({ seed: `bench-registry-layer-${i}`, size: layerMB * MB })),
  );
  return { layout, bytes: image.layers.reduce((n, l) => n + l.size, 0), layers: image.layers.map((l) => l.digest) };
}

/** Seconds for curl to GET every blob at once (one curl, --parallel), bodies to /dev/null; throws unless all are 200. */
async function curlPull(server: RegistryProcess, repo: string, digests: string[]): Promise<number> {
  const args = ['-s', '--parallel', '--parallel-max', String(digests.length), '-w', '%{http_code}\n'];
  for (const d of digests) args.push('-o', '/dev/null', `${server.url}/v2/${repo}/blobs/${d}`);
  const t = performance.now();
  const { stdout } = await exec('curl', args);
  const seconds = (performance.now() - t) / 1000;
  const codes = stdout.trim().split('\n');
  if (codes.length !== digests.length || codes.some((c) => c !== '200')) throw new Error(`curl pull: ${stdout}`);
  return seconds;
}

type Times = Record<'push' | 'pull' | 'pushCpu' | 'pullCpu' | 'curl' | 'curlCpu', number[]>;

async function pushPull(work: string): Promise<void> {
  const { layout, bytes, layers } = await bigLayout();
  const withCurl = commandExists('curl');
  const empty = (): Times => ({ push: [], pull: [], pushCpu: [], pullCpu: [], curl: [], curlCpu: [] });
  const times: Record<Name, Times> = { slipway: empty(), distribution: empty() };
  for (let run = 0; run < runs; run++) {
    const order: Name[] = run % 2 === 0 ? ['slipway', 'distribution'] : ['distribution', 'slipway'];
    for (const name of order) {
      const dir = join(work, name);
      let server = await start(name, dir, `push-${run + 1}`);
      try {
        let ref = `docker://${server.host}/bench/big:v1`;
        let cpu = await cpuSeconds(server.pid);
        let t = performance.now();
        await skopeo('copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:big`, ref);
        times[name].push.push((performance.now() - t) / 1000);
        times[name].pushCpu.push((await cpuSeconds(server.pid)) - cpu);
        if (profileDir !== undefined && name === 'slipway') {
          server = await restart(name, dir, server, `pull-${run + 1}`);
          ref = `docker://${server.host}/bench/big:v1`; // a new port
        }
        const out = join(work, 'pulled');
        await rm(out, { recursive: true, force: true });
        cpu = await cpuSeconds(server.pid);
        t = performance.now();
        await skopeo('copy', '--quiet', '--src-tls-verify=false', ref, `oci:${out}:v1`);
        times[name].pull.push((performance.now() - t) / 1000);
        times[name].pullCpu.push((await cpuSeconds(server.pid)) - cpu);
        await rm(out, { recursive: true, force: true });
        if (withCurl) {
          cpu = await cpuSeconds(server.pid);
          times[name].curl.push(await curlPull(server, 'bench/big', layers));
          times[name].curlCpu.push((await cpuSeconds(server.pid)) - cpu);
        }
      } finally {
        await server.stop();
      }
      process.stderr.write(
        `  run ${run + 1} ${name}: push ${fmt(times[name].push.at(-1)!)} s, pull ${fmt(times[name].pull.at(-1)!)} s${withCurl ? `, curl pull ${fmt(times[name].curl.at(-1)!)} s` : ''}\n`,
      );
    }
  }
  console.log(
    `\n## push and pull of a 5 x ${layerMB} MB image (${fmt(bytes / MB, 0)} MB), skopeo, median of ${runs} runs`,
  );
  console.log(
    `| registry | push s | push MB/s | server CPU s | pull s | pull MB/s | server CPU s |${withCurl ? ' pull, curl s | curl MB/s | server CPU s |' : ''}`,
  );
  console.log(`|---|---:|---:|---:|---:|---:|---:|${withCurl ? '---:|---:|---:|' : ''}`);
  for (const name of ['slipway', 'distribution'] as Name[]) {
    const t = times[name];
    const curl = withCurl
      ? ` ${fmt(median(t.curl))} | ${fmt(bytes / MB / median(t.curl), 0)} | ${fmt(median(t.curlCpu))} |`
      : '';
    console.log(
      `| ${name} | ${fmt(median(t.push))} | ${fmt(bytes / MB / median(t.push), 0)} | ${fmt(median(t.pushCpu))} | ${fmt(median(t.pull))} | ${fmt(bytes / MB / median(t.pull), 0)} | ${fmt(median(t.pullCpu))} |${curl}`,
    );
  }
  const ratio = (what: keyof Times) => fmt(median(times.distribution[what]) / median(times.slipway[what]));
  console.log(
    `\nthroughput ratio Slipway / Distribution: push ${ratio('push')}x, pull ${ratio('pull')}x${withCurl ? `, pull with curl ${ratio('curl')}x` : ''}`,
  );
  console.log(`all runs (s): ${JSON.stringify(times)}`);
  const peerName = 'Distribution 2.8 (skopeo client)';
  for (const [what, target] of [
    ['push', '>= 1.5x Distribution'],
    ['pull', '>= 1.5x Distribution'],
  ] as const) {
    const [mine, theirs] = [median(times.slipway[what]), median(times.distribution[what])];
    recordResult({
      path: `registry ${what} 5 x ${layerMB} MB (wall)`,
      slipway: mine,
      peer: theirs,
      peerName,
      unit: 's',
      runs,
      target,
      met: theirs / mine >= 1.5,
    });
    const cpu = what === 'push' ? 'pushCpu' : 'pullCpu';
    const [myCpu, theirCpu] = [median(times.slipway[cpu]), median(times.distribution[cpu])];
    recordResult({
      path: `registry ${what} 5 x ${layerMB} MB, server CPU per GB`,
      slipway: myCpu / (bytes / 1e9),
      peer: theirCpu / (bytes / 1e9),
      peerName,
      unit: 's/GB',
      runs,
      ...(what === 'pull' ? { target: "at most Distribution's", met: myCpu <= theirCpu } : {}),
    });
  }
  if (withCurl)
    recordResult({
      path: `registry pull 5 x ${layerMB} MB, curl client (wall)`,
      slipway: median(times.slipway.curl),
      peer: median(times.distribution.curl),
      peerName: 'Distribution 2.8 (curl client)',
      unit: 's',
      runs,
    });
}

// ---------------------------------------------------------------------------
// manifest GET and HEAD at 32 connections

/** GET with wrk (-t2 -c32), a separate process. wrk 4.1 cannot time HEAD (it waits for a body). */
async function wrk(url: string, seconds: number): Promise<Load> {
  const { stdout } = await exec('wrk', ['-t2', '-c32', `-d${seconds}s`, '--latency', '-H', `Accept: ${ACCEPT}`, url]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const errors =
    Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0) +
    Number(/Socket errors:.*?(\d+)/.exec(stdout)?.[1] ?? 0);
  return { rps, errors, p99: /\s99%\s+(\S+)/.exec(stdout)?.[1] ?? '?' };
}

/** GET or HEAD of a manifest with bench/http-load.ts (32 connections). */
const httpLoad = (url: string, method: 'GET' | 'HEAD', seconds: number) => runHttpLoad(url, method, seconds, ACCEPT);

async function manifests(work: string): Promise<void> {
  const seconds = Number(values.duration);
  const withWrk = commandExists('wrk');
  const layout = join(CACHE, 'registry-small');
  await addRandomImage(layout, 'small', [{ seed: 'bench-registry-small', size: MB }]);
  const servers = {} as Record<Name, RegistryProcess>;
  const results: Record<string, { rps: number[]; cpu: number[]; errors: number; p99: string[] }> = {};
  const rounds = Math.max(1, Math.min(runs, 3));
  const contenders: [string, (url: string) => Promise<Load>][] = [
    ['GET', (url) => httpLoad(url, 'GET', seconds)],
    ['HEAD', (url) => httpLoad(url, 'HEAD', seconds)],
    ...(withWrk ? [['GET (wrk)', (url: string) => wrk(url, seconds)] as [string, (url: string) => Promise<Load>]] : []),
  ];
  try {
    for (const name of ['slipway', 'distribution'] as Name[]) {
      servers[name] = await start(name, join(work, `manifest-${name}`), 'manifest');
      await skopeo(
        'copy',
        '--quiet',
        '--dest-tls-verify=false',
        `oci:${layout}:small`,
        `docker://${servers[name].host}/bench/small:v1`,
      );
    }
    for (let round = 0; round < rounds; round++) {
      for (const [label, load] of contenders) {
        const order: Name[] = round % 2 === 0 ? ['slipway', 'distribution'] : ['distribution', 'slipway'];
        for (const name of order) {
          const key = `${name} ${label}`;
          const cpu = await cpuSeconds(servers[name].pid);
          const r = await load(`${servers[name].url}/v2/bench/small/manifests/v1`);
          const entry = (results[key] ??= { rps: [], cpu: [], errors: 0, p99: [] });
          entry.rps.push(r.rps);
          entry.cpu.push((((await cpuSeconds(servers[name].pid)) - cpu) / (r.rps * seconds)) * 1000);
          entry.errors += r.errors;
          entry.p99.push(r.p99);
          process.stderr.write(`  ${key}: ${fmt(r.rps, 0)} req/s\n`);
        }
      }
    }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }
  console.log(
    `\n## manifest GET/HEAD by tag, 32 connections, ${seconds} s each, median of ${rounds} rounds (bench/http-load.ts${withWrk ? '; GET also with wrk -t2 -c32' : ''})`,
  );
  console.log(`| registry, method | req/s | server CPU ms/request | p99 latency per round | non-200/errors |`);
  console.log(`|---|---:|---:|---:|---:|`);
  for (const [key, r] of Object.entries(results).sort())
    console.log(
      `| ${key} | ${fmt(median(r.rps), 0)} | ${fmt(median(r.cpu), 3)} | ${r.p99.join(' / ')} | ${r.errors} |`,
    );
  for (const [label] of contenders) {
    const [mine, theirs] = [median(results[`slipway ${label}`]!.rps), median(results[`distribution ${label}`]!.rps)];
    recordResult({
      path: `manifest ${label}, 32 connections`,
      slipway: mine,
      peer: theirs,
      peerName: 'Distribution 2.8',
      unit: 'req/s',
      higherIsBetter: true,
      runs: rounds,
      target: '>= 15x Distribution',
      met: mine / theirs >= 15,
    });
    console.log(
      `${label} ratio Slipway / Distribution: ${fmt(median(results[`slipway ${label}`]!.rps) / median(results[`distribution ${label}`]!.rps))}x`,
    );
  }
}

// ---------------------------------------------------------------------------
// RSS with a 5 GB blob

const peaks: Partial<Record<Name, number>> = {};

async function bigBlob(name: Name, work: string, size: number): Promise<void> {
  const server = await start(name, join(work, `rss-${name}`), 'rss');
  const samples: number[] = [];
  const idle = await procStatus(server.pid);
  const sampler = setInterval(
    () =>
      void procStatus(server.pid).then(
        (s) => samples.push(s.rss),
        () => undefined,
      ),
    100,
  );
  try {
    const repo = 'bench/huge';
    const startRes = await fetch(`${server.url}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    if (startRes.status !== 202) throw new Error(`POST: ${startRes.status} ${await startRes.text()}`);
    const hash = createHash('sha256');
    const source = await randomStream(`bench-registry-huge-${size}`, size);
    source.on('data', (chunk: Buffer) => hash.update(chunk));
    let t = performance.now();
    const patch = await fetch(new URL(startRes.headers.get('location')!, server.url), {
      method: 'PATCH',
      body: Readable.toWeb(source) as ReadableStream,
      headers: { 'Content-Type': 'application/octet-stream' },
      duplex: 'half',
    } as RequestInit);
    if (patch.status !== 202) throw new Error(`PATCH: ${patch.status} ${await patch.text()}`);
    const digest = `sha256:${hash.digest('hex')}`;
    const location = patch.headers.get('location')!;
    const put = await fetch(new URL(`${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, server.url), {
      method: 'PUT',
    });
    if (put.status !== 201) throw new Error(`PUT: ${put.status} ${await put.text()}`);
    const pushSeconds = (performance.now() - t) / 1000;
    const afterPush = (await procStatus(server.pid)).hwm;
    t = performance.now();
    const res = await fetch(`${server.url}/v2/${repo}/blobs/${digest}`);
    const check = createHash('sha256');
    let got = 0;
    for await (const chunk of res.body!) {
      check.update(chunk);
      got += chunk.length;
    }
    const pullSeconds = (performance.now() - t) / 1000;
    if (`sha256:${check.digest('hex')}` !== digest || got !== size) throw new Error('the pulled blob differs');
    const end = await procStatus(server.pid);
    peaks[name] = Math.max(end.hwm, ...samples);
    console.log(
      `| ${name} | ${fmt(idle.rss / MiB, 0)} | ${fmt(afterPush / MiB, 0)} | ${fmt(end.hwm / MiB, 0)} | ${fmt(Math.max(...samples) / MiB, 0)} | ${fmt(pushSeconds, 1)} (${fmt(size / MB / pushSeconds, 0)} MB/s) | ${fmt(pullSeconds, 1)} (${fmt(size / MB / pullSeconds, 0)} MB/s) |`,
    );
  } finally {
    clearInterval(sampler);
    await server.stop();
    await rm(join(work, `rss-${name}`), { recursive: true, force: true });
  }
}

async function rss(work: string): Promise<void> {
  const size = Number(values['blob-gb']) * 1e9;
  console.log(
    `\n## server memory while one ${fmt(size / 1e9, 0)} GB blob is pushed (POST, one streamed PATCH, PUT) and pulled`,
  );
  console.log(
    `| registry | idle RSS MiB | peak (VmHWM) after push MiB | peak (VmHWM) after pull MiB | max sampled RSS MiB | push s | pull s |`,
  );
  console.log(`|---|---:|---:|---:|---:|---:|---:|`);
  for (const name of ['slipway', 'distribution'] as Name[]) await bigBlob(name, work, size);
  recordResult({
    path: `registry peak RSS, one ${fmt(size / 1e9, 2)} GB blob pushed and pulled`,
    slipway: peaks.slipway! / MiB,
    peer: peaks.distribution! / MiB,
    peerName: 'Distribution 2.8',
    unit: 'MiB',
    runs: 1,
    target: '< 100 MB',
    met: peaks.slipway! < 100e6,
  });
}

// ---------------------------------------------------------------------------
// 10,000 repositories, 100,000 tags

const REPOS = 10_000;
const TAGS_PER_REPO = 9;
const BIG_REPO_TAGS = 100_000 - (REPOS - 1) * TAGS_PER_REPO;

/** The store for the scale check, made once through the store API and cached. */
async function scaleStore(): Promise<string> {
  const home = join(CACHE, `registry-scale-${REPOS}x${TAGS_PER_REPO}`);
  if (existsSync(join(home, 'done'))) return home;
  await rm(home, { recursive: true, force: true });
  const t = performance.now();
  const store = await LocalStore.open(home);
  try {
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const configInfo = await store.withLease((l) => l.putBytes(config));
    const manifest = (i: number) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: {
            mediaType: 'application/vnd.oci.image.config.v1+json',
            digest: configInfo.digest,
            size: configInfo.size,
          },
          layers: [],
          annotations: { n: String(i) },
        }),
      );
    for (let i = 0; i < REPOS - 1; i++) {
      const tags = Array.from({ length: TAGS_PER_REPO }, (_, k) => `v${k}`);
      await store.putManifest(`scale/team-${Math.floor(i / 100)}/app-${i}`, manifest(i), OCI_MANIFEST, tags);
      if (i % 1000 === 0) process.stderr.write(`  ${i} repositories\n`);
    }
    const big = manifest(-1);
    const desc = await store.putManifest('scale/big', big, OCI_MANIFEST, ['latest']);
    for (let k = 1; k < BIG_REPO_TAGS; k++)
      await store.meta.setTag('scale/big', `build-${String(k).padStart(6, '0')}`, desc.digest);
  } finally {
    await store.close();
  }
  await writeFile(join(home, 'done'), `${(performance.now() - t) / 1000} s\n`);
  return home;
}

async function timeGet(url: string, reps = 20): Promise<{ ms: number; p95: number; bytes: number; status: number }> {
  const times: number[] = [];
  let bytes = 0;
  let status = 0;
  for (let i = 0; i < reps + 2; i++) {
    const t = performance.now();
    const res = await fetch(url);
    const body = await res.arrayBuffer();
    if (i >= 2) times.push(performance.now() - t); // two warm-up requests
    bytes = body.byteLength;
    status = res.status;
  }
  times.sort((a, b) => a - b);
  return { ms: median(times), p95: times[Math.floor(times.length * 0.95) - 1]!, bytes, status };
}

async function scale(): Promise<void> {
  const home = await scaleStore();
  const server = await startSlipway(home, 'scale');
  try {
    const u = (path: string) => `${server.url}${path}`;
    const cases: [string, string][] = [
      ['tags/list, a repository of 9 tags', '/v2/scale/team-50/app-5000/tags/list'],
      [`tags/list?n=100, a repository of ${BIG_REPO_TAGS} tags`, '/v2/scale/big/tags/list?n=100'],
      ['tags/list?n=100&last= (middle page)', '/v2/scale/big/tags/list?n=100&last=build-005000'],
      [`tags/list, all ${BIG_REPO_TAGS} tags`, '/v2/scale/big/tags/list'],
      ['_catalog?n=100', '/v2/_catalog?n=100'],
      ['_catalog?n=100&last= (middle page)', '/v2/_catalog?n=100&last=scale/team-50/app-5000'],
      [`_catalog, all ${REPOS} repositories`, '/v2/_catalog'],
      ['manifest GET by tag', '/v2/scale/team-50/app-5000/manifests/v3'],
    ];
    console.log(
      `\n## scale: ${REPOS} repositories, 100,000 tags (store made through the store API), sequential requests, median of 20`,
    );
    console.log(`| request | status | median ms | p95 ms | body bytes |`);
    console.log(`|---|---:|---:|---:|---:|`);
    for (const [, path] of cases) await timeGet(u(path), 3); // warm up: JIT, SQLite page cache
    for (const [label, path] of cases) {
      const r = await timeGet(u(path));
      console.log(`| ${label} | ${r.status} | ${fmt(r.ms)} | ${fmt(r.p95)} | ${r.bytes} |`);
    }
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// --profile: what each server spent its CPU on

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Where a frame's code lives: a package, a Node built-in, one of our modules, or V8's own. */
function moduleOf(url: string): string {
  if (url === '') return '(V8 / native)';
  if (url.startsWith('node:')) return 'node:*';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const ours = /\/dist\/(.*)$/.exec(url);
  return ours ? ours[1]! : url;
}

/** Self time by function and by module of each profile in DIR, the top entries of each. */
async function summarizeProfiles(dir: string, top = 18): Promise<void> {
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort()) {
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map<number, number>();
    for (const [i, id] of profile.samples.entries()) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
    const byFunction = new Map<string, number>();
    const byModule = new Map<string, number>();
    let busy = 0;
    for (const [id, us] of self) {
      const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
      const special = functionName.startsWith('(') && url === '';
      const key = special ? functionName : `${functionName || '(anonymous)'} ${basename(url)}:${lineNumber + 1}`;
      byFunction.set(key, (byFunction.get(key) ?? 0) + us);
      if (functionName !== '(idle)') busy += us;
      const mod = special ? functionName : moduleOf(url);
      byModule.set(mod, (byModule.get(mod) ?? 0) + us);
    }
    const wall = (profile.endTime - profile.startTime) / 1000;
    const rows = (m: Map<string, number>) =>
      [...m]
        .sort((x, y) => y[1] - x[1])
        .slice(0, top)
        .map(([k, us]) => `  ${fmt(us / 1000, 1).padStart(9)} ms  ${k}`)
        .join('\n');
    console.log(`\n## profile ${file}: ${fmt(wall, 0)} ms recorded, ${fmt(busy / 1000, 0)} ms not idle (main thread)`);
    console.log(`self time by module:\n${rows(byModule)}\nself time by function:\n${rows(byFunction)}`);
  }
}

async function main(): Promise<void> {
  for (const tool of ['skopeo', 'docker-registry'])
    if (!commandExists(tool)) throw new Error(`${tool} is not installed: bash scripts/install.sh --test`);
  await mkdir(CACHE, { recursive: true });
  if (profileDir !== undefined) await mkdir(profileDir, { recursive: true });
  const work = join(tmpdir(), `slipway-bench-registry-${process.pid}`);
  await mkdir(work, { recursive: true });
  process.stderr.write('building Slipway (tsc) into the bench cache\n');
  slipwayMain = await buildSlipway('registry-dist');
  if (profileDir !== undefined) profileEntry = await writeProfileEntry(slipwayMain);
  const { stdout: versions } = await exec('sh', [
    '-c',
    'skopeo --version; docker-registry --version; wrk --version 2>&1 | head -1; true',
  ]);
  console.log(
    `# registry bench, ${new Date().toISOString()}, ${cpus().length} cores, node ${process.version}, load average ${loadavg()
      .map((x) => fmt(x))
      .join(' ')}`,
  );
  console.log(
    versions
      .trim()
      .split('\n')
      .map((l) => `# ${l}`)
      .join('\n'),
  );
  try {
    if (only.has('push')) await pushPull(work);
    if (only.has('manifest')) await manifests(work);
    if (only.has('rss')) await rss(work);
    if (only.has('scale')) await scale();
    if (profileDir !== undefined) await summarizeProfiles(profileDir);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  console.log(
    `\n# load average at the end ${loadavg()
      .map((x) => fmt(x))
      .join(' ')}`,
  );
}

await main();
