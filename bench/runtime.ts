/**
 * Runtime benchmark (on demand, not in CI): `slipway run` side by side with podman and
 * with umoci + runc on the same image, in the same run. See bench/README.md, "Runtime".
 *
 *   node --import tsx bench/runtime.ts [--only cached,uncached] [--runs 15] [--uncached-runs 3]
 *
 * - cached: start-to-exit wall time of `true` in the Debian bookworm minbase image
 *   whose layer is cached: `slipway run --rm IMAGE -- true` vs `podman run --rm
 *   --runtime runc IMAGE true` (podman's overlay storage driver, its fastest here; the
 *   image already in its storage). Runs alternate which tool goes first.
 *   Then slipway's own phases (`run --timings`: CLI start, layer cache check, overlay
 *   mount and spec, runc create and start, the process, cleanup), medians.
 * - uncached: first start of the same image (~170 MB of tar, 8,742 entries) with an
 *   empty layer cache (unpack included) vs `umoci unpack` of the same OCI layout into
 *   a bundle + `runc run` of it.
 * Slipway runs compiled (tsc into the cache), not through tsx. Needs root.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { debianRootfs } from '../test/helpers.js';
import { BENCH_CACHE, buildSlipway, median, recordResult } from './common.js';

const exec = promisify(execFile);
// podman names an image taken from an OCI layout after its path: keep it lowercase.
const WORK = join(BENCH_CACHE, 'runtime');
const HOME = join(WORK, 'home');
const LAYOUT = join(WORK, 'layout');
const PODMAN = join(WORK, 'podman');

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'cached,uncached' },
    runs: { type: 'string', default: '15' },
    'uncached-runs': { type: 'string', default: '3' },
  },
});
const only = new Set(values.only.split(','));

/** Wall time of one command in ms; fails on a non-zero exit. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (code === 0) resolve(ms);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr}`));
    });
  });
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the runtime benchmark needs root');
  console.log(
    `runtime bench: ${cpus().length} cores, ${cpus()[0]?.model}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, Node ${process.version}`,
  );
  const main = await buildSlipway('runtime');
  const slipway = (args: string[]) =>
    exec(process.execPath, [main, ...args], { env: { ...process.env, SLIPWAY_HOME: HOME }, maxBuffer: 64 << 20 });
  const slipwayRun = (args: string[]) =>
    timed(process.execPath, [main, '--quiet', 'run', '--rm', ...args], { SLIPWAY_HOME: HOME });

  // The image: Debian bookworm minbase, one layer, in the store and as an OCI layout.
  await mkdir(WORK, { recursive: true });
  if (!existsSync(join(LAYOUT, 'index.json'))) {
    await rm(HOME, { recursive: true, force: true });
    await slipway(['import', '--rootfs', await debianRootfs(), 'debian:bench']);
    await slipway(['copy', 'debian:bench', `oci:${LAYOUT}:bench`]);
  }

  if (only.has('cached')) {
    const runs = Number(values.runs);
    await mkdir(PODMAN, { recursive: true });
    const conf = join(PODMAN, 'containers.conf');
    await writeFile(conf, '[containers]\ndefault_ulimits = []\n');
    const podmanArgs = [
      '--runtime',
      'runc',
      '--root',
      join(PODMAN, 'storage'),
      '--runroot',
      join(PODMAN, 'run'),
      '--storage-driver',
      'overlay',
    ];
    const podmanEnv = { CONTAINERS_CONF: conf };
    await exec('podman', [...podmanArgs, 'pull', '--quiet', `oci:${LAYOUT}:bench`], {
      env: { ...process.env, ...podmanEnv },
    });
    const podmanImage = (
      await exec('podman', [...podmanArgs, 'images', '--quiet'], { env: { ...process.env, ...podmanEnv } })
    ).stdout
      .trim()
      .split('\n')[0]!;
    // Warm both: the layer cache, podman's storage, the page cache.
    await slipwayRun(['debian:bench', '--', 'true']);
    await timed('podman', [...podmanArgs, 'run', '--rm', podmanImage, 'true'], podmanEnv);
    const mine: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? ['slipway', 'podman'] : ['podman', 'slipway'];
      for (const who of order) {
        if (who === 'slipway') mine.push(await slipwayRun(['debian:bench', '--', 'true']));
        else theirs.push(await timed('podman', [...podmanArgs, 'run', '--rm', podmanImage, 'true'], podmanEnv));
      }
    }
    const [m, p] = [median(mine), median(theirs)];
    console.log(`\n(a) cached start-to-exit of \`true\`, median of ${runs}:`);
    console.log(
      `    slipway run --rm        ${fmt(m)}   (min ${fmt(Math.min(...mine))}, max ${fmt(Math.max(...mine))})`,
    );
    console.log(
      `    podman run --rm (runc)  ${fmt(p)}   (min ${fmt(Math.min(...theirs))}, max ${fmt(Math.max(...theirs))})`,
    );
    console.log(`    ratio slipway/podman    ${(m / p).toFixed(2)}x`);
    // Where slipway's time goes (`run --timings`), phase by phase, medians; podman's whole run beside it.
    const byPhase = new Map<string, number[]>();
    for (let i = 0; i < runs; i++) {
      const { stderr } = await exec(
        process.execPath,
        [main, 'run', '--rm', '--timings', 'debian:bench', '--', 'true'],
        {
          env: { ...process.env, SLIPWAY_HOME: HOME },
        },
      );
      const line = /^timings: (.*)$/m.exec(stderr)?.[1] ?? '';
      for (const [, phase, ms] of line.matchAll(/(?:^|, )(.+?) (\d+\.\d) ms/g))
        byPhase.set(phase!, [...(byPhase.get(phase!) ?? []), Number(ms)]);
    }
    console.log(`    slipway's phases (run --timings), median of ${runs}:`);
    for (const [phase, times] of byPhase) console.log(`      ${phase.padEnd(26)} ${median(times).toFixed(1)} ms`);
    console.log(`      (podman run --rm, whole:   ${fmt(p)})`);
    recordResult({
      path: 'start from a cached image (`true`)',
      slipway: m,
      peer: p,
      peerName: 'podman run --runtime runc',
      unit: 'ms',
      runs,
      target: '<= 0.7x podman',
      met: m <= 0.7 * p,
    });
  }

  if (only.has('uncached')) {
    const runs = Number(values['uncached-runs']);
    const bundle = join(WORK, 'bundle');
    const mine: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? ['slipway', 'umoci'] : ['umoci', 'slipway'];
      for (const who of order) {
        if (who === 'slipway') {
          await slipway(['gc']); // no container uses the layer: it leaves the cache
          await exec('sync');
          mine.push(await slipwayRun(['debian:bench', '--', 'true']));
        } else {
          await rm(bundle, { recursive: true, force: true });
          await exec('sync');
          const unpack = await timed('umoci', ['unpack', '--image', `${LAYOUT}:bench`, bundle]);
          // umoci's config.json asks for a terminal and rlimits; make it run `true` like ours (not timed: a few ms of JSON).
          const config = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8'));
          config.process = { ...config.process, terminal: false, args: ['true'] };
          delete config.process.rlimits;
          await writeFile(join(bundle, 'config.json'), JSON.stringify(config));
          const start = await timed('runc', ['run', '--bundle', bundle, `bench-${process.pid}`]);
          theirs.push(unpack + start);
        }
      }
    }
    await rm(bundle, { recursive: true, force: true });
    // The floor both pay: creating the image's 8,742 inodes. GNU tar -xzf of the same layer blob, nothing else.
    const floor: number[] = [];
    const layerBlob = await firstLayerBlob();
    for (let i = 0; i < runs; i++) {
      const dir = join(WORK, 'tar-floor');
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir);
      await exec('sync');
      floor.push(await timed('tar', ['-xzf', layerBlob, '-C', dir]));
      await rm(dir, { recursive: true, force: true });
    }
    const [m, u] = [median(mine), median(theirs)];
    console.log(`\n(b) first start of the uncached ~170 MB image (unpack included), median of ${runs}:`);
    console.log(`    slipway run --rm        ${fmt(m)}   (all: ${mine.map(fmt).join(', ')})`);
    console.log(`    umoci unpack + runc run ${fmt(u)}   (all: ${theirs.map(fmt).join(', ')})`);
    console.log(`    speed-up over umoci+runc ${(u / m).toFixed(2)}x`);
    recordResult({
      path: 'first start of an uncached ~170 MB image',
      slipway: m,
      peer: u,
      peerName: 'umoci unpack + runc run',
      unit: 'ms',
      runs,
    });
    console.log(
      `    (floor: GNU tar -xzf of the layer alone ${fmt(median(floor))}; all: ${floor.map(fmt).join(', ')})`,
    );
  }
}

/** The path of the bench image's (only) layer blob in the OCI layout. */
async function firstLayerBlob(): Promise<string> {
  const index = JSON.parse(await readFile(join(LAYOUT, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(
    await readFile(join(LAYOUT, 'blobs/sha256', index.manifests[0]!.digest.slice(7)), 'utf8'),
  ) as { layers: { digest: string }[] };
  return join(LAYOUT, 'blobs/sha256', manifest.layers[0]!.digest.slice(7));
}

await main();
