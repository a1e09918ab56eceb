/**
 * Scale-out benchmark (on demand; bench/all runs it quickly): the registry on
 * PostgreSQL + S3 (a real Ceph RGW) side by side with the embedded default and with
 * CNCF Distribution 2.8 on its S3 driver against the same RGW, in the same run.
 * See bench/README.md, "Scale-out".
 *
 *   node --import tsx bench/scale-out.ts [--only push,manifest] [--runs 3] [--layer-mb 100] [--seconds 10]
 *
 * - push/pull: a 5 x N MB image from a cached OCI layout with skopeo, into a fresh
 *   repository each run (Slipway embedded, Slipway on PostgreSQL + S3, Distribution on
 *   S3), runs alternating which goes first.
 * - manifest: GET and HEAD of a manifest by tag at 32 connections (bench/http-load.ts),
 *   through HAProxy in front of two `slipway registry serve` nodes on PostgreSQL + S3,
 *   against one such node alone.
 * Builds per minute with one and two workers are measured by test/scale-out-workers's
 * topology in bench/README.md's figures (the Node example takes minutes per run here).
 */
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { startPostgres } from '../src/store/postgres-test-cluster.js';
import { startS3, type S3TestServer } from '../src/store/s3-test-server.js';
import {
  addRandomImage,
  freePort,
  startDistribution,
  startSlipwayRegistry,
  type RegistryProcess,
} from '../test/helpers.js';
import { startHaproxy } from '../test/scale-out-world.js';
import { BENCH_CACHE, buildSlipway, httpLoad, median, recordResult } from './common.js';

const exec = promisify(execFile);
const MB = 1e6;
const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'push,manifest' },
    runs: { type: 'string', default: '3' },
    'layer-mb': { type: 'string', default: '100' },
    seconds: { type: 'string', default: '10' },
  },
});
const only = new Set(values.only!.split(','));
const runs = Number(values.runs);
const layerMB = Number(values['layer-mb']);
const seconds = Number(values.seconds);
const fmt = (n: number, d = 2) => n.toFixed(d);
const skopeo = (...args: string[]) => exec('skopeo', ['--insecure-policy', ...args], { maxBuffer: 16 << 20 });

const work = join(BENCH_CACHE, 'scale-out-work');
await rm(work, { recursive: true, force: true });
await mkdir(work, { recursive: true });
const entry = await buildSlipway('scale-out');
const [pg, s3] = await Promise.all([startPostgres(), startS3()]);
let homes = 0;

/** `slipway registry serve` (compiled), anonymous; on PostgreSQL + S3 when `shared` is given. */
async function slipwayRegistry(shared?: { database: string; blobs: string }): Promise<RegistryProcess> {
  const home = join(work, `home-${++homes}`);
  await mkdir(home, { recursive: true });
  const saved = { ...process.env };
  if (shared) Object.assign(process.env, s3.env, { SLIPWAY_DATABASE: shared.database, SLIPWAY_BLOBS: shared.blobs });
  try {
    return await startSlipwayRegistry(home, ['--storage', home, '--gc-interval', '0'], { entry });
  } finally {
    process.env = saved;
  }
}

/** Distribution 2.8 with its S3 driver on the same RGW, under a prefix of its own. */
async function distributionOnS3(server: S3TestServer, prefix: string): Promise<RegistryProcess> {
  // aws-sdk-go refuses AWS_CA_BUNDLE with Distribution's HTTP transport (and the RGW is plain HTTP).
  const saved = process.env['AWS_CA_BUNDLE'];
  delete process.env['AWS_CA_BUNDLE'];
  try {
    return await startDistributionS3(server, prefix);
  } finally {
    if (saved !== undefined) process.env['AWS_CA_BUNDLE'] = saved;
  }
}

function startDistributionS3(server: S3TestServer, prefix: string): Promise<RegistryProcess> {
  return startDistribution(join(work, `dist-${prefix}`), [
    'storage:',
    '  s3:',
    `    accesskey: ${server.env['AWS_ACCESS_KEY_ID']}`,
    `    secretkey: ${server.env['AWS_SECRET_ACCESS_KEY']}`,
    '    region: us-east-1',
    `    regionendpoint: ${server.endpoint}`,
    `    bucket: ${server.bucket}`,
    '    secure: false',
    '    v4auth: true',
    `    rootdirectory: /${prefix}`,
  ]);
}

type Name = 'embedded' | 'postgres+s3' | 'distribution-s3';

async function pushPull(): Promise<void> {
  const layout = join(BENCH_CACHE, `registry-5x${layerMB}MB`);
  const image = await addRandomImage(
    layout,
    'big',
    [0, 1, 2, 3, 4].map((i) => ({ seed: `bench-registry-layer-${i}`, size: layerMB * MB })),
  );
  const bytes = image.layers.reduce((n, l) => n + l.size, 0);
  const names: Name[] = ['embedded', 'postgres+s3', 'distribution-s3'];
  const times = Object.fromEntries(names.map((n) => [n, { push: [] as number[], pull: [] as number[] }])) as Record<
    Name,
    { push: number[]; pull: number[] }
  >;
  for (let run = 0; run < runs; run++) {
    const order = run % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const server =
        name === 'embedded'
          ? await slipwayRegistry()
          : name === 'postgres+s3'
            ? await slipwayRegistry({ database: await pg.createDatabase(), blobs: s3.url(`slipway-${run}`) })
            : await distributionOnS3(s3, `dist-${run}`);
      try {
        const ref = `docker://${server.host}/bench/big:v1`;
        let t = performance.now();
        await skopeo('copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:big`, ref);
        times[name].push.push((performance.now() - t) / 1000);
        const out = join(work, 'pulled');
        await rm(out, { recursive: true, force: true });
        t = performance.now();
        await skopeo('copy', '--quiet', '--src-tls-verify=false', ref, `oci:${out}:v1`);
        times[name].pull.push((performance.now() - t) / 1000);
        await rm(out, { recursive: true, force: true });
      } finally {
        await server.stop();
      }
      process.stderr.write(
        `  run ${run + 1} ${name}: push ${fmt(times[name].push.at(-1)!)} s, pull ${fmt(times[name].pull.at(-1)!)} s\n`,
      );
    }
  }
  console.log(`\n## push and pull of a 5 x ${layerMB} MB image (${fmt(bytes / MB, 0)} MB), skopeo, median of ${runs}`);
  console.log('| registry | push s | push MB/s | pull s | pull MB/s |');
  console.log('|---|---:|---:|---:|---:|');
  for (const name of names) {
    const t = times[name];
    console.log(
      `| ${name} | ${fmt(median(t.push))} | ${fmt(bytes / MB / median(t.push), 0)} | ${fmt(median(t.pull))} | ${fmt(bytes / MB / median(t.pull), 0)} |`,
    );
  }
  for (const what of ['push', 'pull'] as const) {
    recordResult({
      path: `scale-out ${what} 5 x ${layerMB} MB on PostgreSQL + S3 (RGW)`,
      slipway: median(times['postgres+s3'][what]),
      peer: median(times['distribution-s3'][what]),
      peerName: 'Distribution 2.8, S3 driver, same RGW',
      unit: 's',
      runs,
    });
    recordResult({
      path: `scale-out ${what} 5 x ${layerMB} MB: PostgreSQL + S3 against the embedded default`,
      slipway: median(times['postgres+s3'][what]),
      peer: median(times.embedded[what]),
      peerName: 'Slipway embedded (SQLite + filesystem)',
      unit: 's',
      runs,
    });
  }
}

/** Requests per second of GET or HEAD at 32 connections; any answer but 200 ends the benchmark. */
async function load(url: string, method: 'GET' | 'HEAD'): Promise<number> {
  const r = await httpLoad(url, method, seconds, 'application/vnd.oci.image.manifest.v1+json');
  if (r.errors > 0) throw new Error(`${method} ${url}: ${r.errors} errors or answers other than 200`);
  return r.rps;
}

async function manifests(): Promise<void> {
  const shared = { database: await pg.createDatabase(), blobs: s3.url('manifests') };
  const a = await slipwayRegistry(shared);
  const b = await slipwayRegistry(shared);
  const lb = await startHaproxy(join(work, 'lb'), await freePort(), [a.host, b.host]);
  try {
    const layout = join(BENCH_CACHE, 'scale-out-small');
    await addRandomImage(layout, 'small', [{ seed: 'scale-out-small', size: 1000 }]);
    await skopeo(
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      `oci:${layout}:small`,
      `docker://${a.host}/bench/small:v1`,
    );
    const path = '/v2/bench/small/manifests/v1';
    const rows: string[] = [];
    for (const method of ['GET', 'HEAD'] as const) {
      const one: number[] = [];
      const two: number[] = [];
      for (let r = 0; r < runs; r++) {
        one.push(await load(`${a.url}${path}`, method));
        two.push(await load(`${lb.url}${path}`, method));
      }
      rows.push(`| ${method} | ${fmt(median(one), 0)} | ${fmt(median(two), 0)} | ${fmt(median(two) / median(one))}x |`);
      recordResult({
        path: `scale-out manifest ${method}, 32 connections: two nodes behind HAProxy`,
        slipway: median(two),
        peer: median(one),
        peerName: 'one node (PostgreSQL + S3)',
        unit: 'req/s',
        higherIsBetter: true,
        runs,
      });
    }
    console.log(`\n## manifest GET/HEAD at 32 connections, ${seconds} s each, median of ${runs}`);
    console.log('| method | one node req/s | two nodes + HAProxy req/s | ratio |');
    console.log('|---|---:|---:|---:|');
    for (const row of rows) console.log(row);
  } finally {
    await lb.stop();
    await a.stop();
    await b.stop();
  }
}

try {
  if (only.has('push')) await pushPull();
  if (only.has('manifest')) await manifests();
  console.log(
    `\nload average at the end: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
} finally {
  await s3.stop();
  await pg.stop();
  await rm(work, { recursive: true, force: true });
}
