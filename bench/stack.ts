/**
 * Stack figures: time of `slipway stack create default` cold (mmdebstrap runs) and warm
 * (the stack cache has it: in the same store, and in a new store), whether two cold
 * bootstraps of the same mirror state give the same digests, and the sizes of the run
 * and build images against a debian:bookworm-slim-like minbase.
 *
 *   node --import tsx bench/stack.ts                 # 2 cold runs, 3 warm runs of each kind, sizes
 *   node --import tsx bench/stack.ts --cold 1 --warm 5
 *   node --import tsx bench/stack.ts --cold 0        # warm only (uses /var/cache/slipway/stacks)
 *
 * Needs root, mmdebstrap and Debian's mirror. Cold runs use a private, empty stack cache
 * each; warm runs use one that a cold run filled (or the default cache with --cold 0).
 * Times are wall times of the CLI started from source (node + tsx start-up included,
 * about 1 s, measured separately as `slipway --version`).
 */
import { spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { ROOT } from '../test/helpers.js';
import { median } from './common.js';

interface ImageReport {
  digest: string;
  layerSize: number;
  packages: number;
  cached: boolean;
}
interface StackReport {
  version: string;
  newVersion: boolean;
  run: ImageReport;
  build: ImageReport;
}

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const COLD = arg('cold', 2);
const WARM = arg('warm', 3);
const BENCH_CACHE = process.env.SLIPWAY_BENCH_CACHE ?? '/var/cache/slipway-bench';

function slipway(
  home: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ seconds: number; stdout: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/slipway.js'), ...args], {
      env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: home, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) =>
      code === 0
        ? resolve({ seconds: (performance.now() - started) / 1000, stdout })
        : reject(new Error(`slipway ${args.join(' ')}: ${stderr}`)),
    );
  });
}

async function createDefault(home: string, cache: string): Promise<{ seconds: number; report: StackReport }> {
  const r = await slipway(home, ['--json', 'stack', 'create', 'default'], { SLIPWAY_STACK_CACHE: cache });
  return { seconds: r.seconds, report: JSON.parse(r.stdout) as StackReport };
}

/** Bytes of a gzip blob once decompressed (the layer's tar). */
async function tarSize(home: string, digest: string): Promise<number> {
  let n = 0;
  for await (const chunk of createReadStream(join(home, 'blobs/sha256', digest.slice(7))).pipe(createGunzip()))
    n += (chunk as Buffer).length;
  return n;
}

async function layerOf(home: string, ref: string): Promise<{ digest: string; size: number }> {
  const info = JSON.parse((await slipway(home, ['--json', 'inspect', ref])).stdout) as {
    layers: { digest: string; size: number }[];
  };
  return info.layers[0]!;
}

/** debian:bookworm-slim made the way its build does (minbase, merged /usr, docs/man/locales left out), cached. */
async function slimLikeRootfs(): Promise<string> {
  const dir = join(BENCH_CACHE, 'rootfs-bookworm-slimlike');
  if (existsSync(join(dir, 'etc/os-release'))) return dir;
  await mkdir(BENCH_CACHE, { recursive: true });
  await rm(`${dir}.tmp`, { recursive: true, force: true });
  const excludes = ['man', 'info', 'groff', 'lintian', 'linda', 'locale', 'doc'].map(
    (d) => `--dpkgopt=path-exclude=/usr/share/${d}/*`,
  );
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      'mmdebstrap',
      [
        '--quiet',
        '--variant=minbase',
        '--mode=root',
        '--format=directory',
        '--hook-dir=/usr/share/mmdebstrap/hooks/maybe-merged-usr',
        ...excludes,
        '--dpkgopt=path-include=/usr/share/doc/*/copyright',
        'bookworm',
        `${dir}.tmp`,
        'http://deb.debian.org/debian',
      ],
      { stdio: 'inherit', env: { ...process.env, SOURCE_DATE_EPOCH: '315532801' } },
    );
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`mmdebstrap exited ${code}`))));
  });
  await rename(`${dir}.tmp`, dir);
  return dir;
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

const work = await mkdtemp(join(tmpdir(), 'slipway-bench-stack-'));
try {
  const startup = await slipway(join(work, 'startup'), ['--version']);
  console.log(`CLI start-up (slipway --version from source): ${startup.seconds.toFixed(2)} s`);

  let warmCache = process.env.SLIPWAY_STACK_CACHE ?? '/var/cache/slipway/stacks';
  const colds: { seconds: number; report: StackReport }[] = [];
  for (let i = 0; i < COLD; i++) {
    const cache = join(work, `cold-cache-${i}`);
    const r = await createDefault(join(work, `cold-home-${i}`), cache);
    colds.push(r);
    warmCache = cache;
    console.log(
      `cold ${i + 1}: ${r.seconds.toFixed(1)} s  run ${r.report.run.digest.slice(0, 19)}  build ${r.report.build.digest.slice(0, 19)}`,
    );
  }
  if (colds.length > 1) {
    const same = colds.every(
      (c) =>
        c.report.run.digest === colds[0]!.report.run.digest && c.report.build.digest === colds[0]!.report.build.digest,
    );
    console.log(`cold bootstraps of one mirror state give the same digests: ${same ? 'yes' : 'NO'}`);
  }

  const home = join(work, 'warm-home');
  const first = await createDefault(home, warmCache);
  const sameStore: number[] = [];
  const newStore: number[] = [];
  for (let i = 0; i < WARM; i++) {
    sameStore.push((await createDefault(home, warmCache)).seconds);
    const fresh = join(work, `warm-new-${i}`);
    newStore.push((await createDefault(fresh, warmCache)).seconds);
    await rm(fresh, { recursive: true, force: true });
  }
  console.log(
    `warm, same store (no new version): median ${median(sameStore).toFixed(2)} s of ${sameStore.map((s) => s.toFixed(2)).join(', ')}`,
  );
  console.log(
    `warm, new store (layers imported from the cache): median ${median(newStore).toFixed(2)} s of ${newStore.map((s) => s.toFixed(2)).join(', ')}`,
  );
  if (colds.length) console.log(`cold: median ${median(colds.map((c) => c.seconds)).toFixed(1)} s`);

  const { run, build } = first.report;
  const slim = await slimLikeRootfs();
  await slipway(home, ['import', '--rootfs', slim, 'reference/bookworm-slimlike:1']);
  const ref = await layerOf(home, 'reference/bookworm-slimlike:1');
  console.log('\nimage                                 layer (gzip)   tar        packages');
  for (const [name, digest, size, pkgs] of [
    ['default/run (minbase + ca-certificates, tzdata)', run.digest, run.layerSize, run.packages],
    ['default/build (+ build-essential, git, curl, jq)', build.digest, build.layerSize, build.packages],
  ] as const) {
    const layer = await layerOf(home, `default/${name.startsWith('default/run') ? 'run' : 'build'}:1`);
    console.log(
      `${name.padEnd(50)} ${mb(size).padStart(9)} ${mb(await tarSize(home, layer.digest)).padStart(9)}   ${pkgs}   (${digest.slice(0, 19)})`,
    );
  }
  console.log(
    `${'bookworm-slim-like minbase (reference)'.padEnd(50)} ${mb(ref.size).padStart(9)} ${mb(await tarSize(home, ref.digest)).padStart(9)}`,
  );
  console.log(`build / run: ${(build.layerSize / run.layerSize).toFixed(2)}x`);
} finally {
  await rm(work, { recursive: true, force: true });
}
