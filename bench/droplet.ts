/**
 * Droplet benchmark (on demand, not in CI). See bench/README.md, "Droplets".
 *
 *   node --import tsx bench/droplet.ts [--runs 7] [--app-mb 40] [--deps-mb 30]
 *
 * - start: the same droplet (an app of many small files plus a deps/0 of bigger ones)
 *   started two ways, to exit of its start command (`echo started`):
 *   image: `ContainerRuntime.run` of the image `slipway droplet import` made, its
 *   layers already cached (overlay mount, runc);
 *   droplet way (what the talk describes Diego doing): copy the droplet tgz, copy the
 *   stack rootfs into a fresh directory, extract the droplet into its /home/vcap,
 *   then `runc run` it with the same runtime spec.
 * - size: two apps whose droplets share deps/0: store bytes and bytes to send for the
 *   second when the first is there, against the two droplet tarballs.
 * Both ways run in this process (no CLI start-up in either). Needs root.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { LocalStore, ensureDefaultStack } from '../src/index.js';
import { importDroplet } from '../src/droplet/import.js';
import { parseTransport } from '../src/oci/transport.js';
import { ContainerRuntime, runtimeSpec } from '../src/runtime/index.js';
import { readLocal } from '../src/transport/local.js';
import { extractLayer } from '../src/layer/extract.js';
import { BENCH_CACHE, median, recordResult } from './common.js';

const exec = promisify(execFile);
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    'app-mb': { type: 'string', default: '40' },
    'deps-mb': { type: 'string', default: '30' },
  },
});
const RUNS = Number(values.runs);
const WORK = join(BENCH_CACHE, 'droplet');

/** A droplet in CF's layout: app/ of 10 KiB files, deps/0 of 1 MiB files, a start command. */
async function makeDroplet(dir: string, appMb: number, deps: Buffer[], seed: string): Promise<string> {
  const c = join(dir, 'contents');
  rmSync(dir, { recursive: true, force: true });
  for (const d of ['app/lib', 'deps/0/lib', 'profile.d', 'tmp', 'logs']) mkdirSync(join(c, d), { recursive: true });
  for (const [i, bytes] of deps.entries()) writeFileSync(join(c, 'deps/0/lib', `dep-${i}.so`), bytes);
  for (let i = 0; i < appMb * 100; i++)
    writeFileSync(
      join(c, 'app/lib', `m${i}.js`),
      `${seed}${randomBytes(5 * 1024).toString('hex')}`.slice(0, 10 * 1024),
    );
  writeFileSync(join(c, 'app/start.sh'), '#!/bin/sh\necho started\n');
  chmodSync(join(c, 'app/start.sh'), 0o755);
  writeFileSync(join(c, 'profile.d/0.sh'), 'export PATH=$DEPS_DIR/0/bin:$PATH\n');
  writeFileSync(
    join(c, 'staging_info.yml'),
    JSON.stringify({ detected_buildpack: 'bench', start_command: './start.sh' }),
  );
  const file = join(dir, 'droplet.tgz');
  await exec('tar', ['-czf', file, '-C', c, '.']);
  return file;
}

function runcRun(bundle: string, id: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('runc', ['--root', join(WORK, 'runc'), 'run', '-b', bundle, id], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`runc exited ${code}: ${err}`))));
  });
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the droplet benchmark needs root');
  mkdirSync(WORK, { recursive: true });
  const home = join(WORK, 'home');
  rmSync(home, { recursive: true, force: true });
  const store = await LocalStore.open(home);
  const stack = await ensureDefaultStack(store);
  const appMb = Number(values['app-mb']);
  const depsMb = Number(values['deps-mb']);
  // The same buildpack dependency (incompressible, like a runtime's binaries) in both apps.
  const deps = Array.from({ length: depsMb }, () => randomBytes(1 << 20));
  const tgzA = await makeDroplet(join(WORK, 'a'), appMb, deps, 'a');
  const tgzB = await makeDroplet(join(WORK, 'b'), appMb, deps, 'b');

  // The stack's run image unpacked once: the rootfs the droplet way copies for each start.
  const base = join(WORK, 'run-rootfs');
  rmSync(base, { recursive: true, force: true });
  mkdirSync(base);
  const run = await readLocal(store, 'default/run', stack.run);
  if (run.artifact.kind !== 'image') throw new Error('run image is an index');
  for (const l of await run.artifact.image.layers()) await extractLayer(await l.uncompressed(), base);

  const a = await importDroplet(store, tgzA, 'bench/a');
  const runtime = ContainerRuntime.open(home);
  const image = { ref: parseTransport('bench/a'), label: 'bench/a', store: async () => store };
  await runtime.run(image, { remove: true, network: 'none' }, { stdio: ['ignore', 'ignore', 'ignore'] }); // caches the layers
  const imageMs: number[] = [];
  const dropletMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    const r = await runtime.run(image, { remove: true, network: 'none' }, { stdio: ['ignore', 'ignore', 'ignore'] });
    if (r.exitCode !== 0) throw new Error(`image run exited ${r.exitCode}`);
    imageMs.push(performance.now() - t);

    const bundle = join(WORK, `bundle-${i}`);
    rmSync(bundle, { recursive: true, force: true });
    t = performance.now();
    mkdirSync(bundle);
    await exec('cp', [tgzA, join(bundle, 'droplet.tgz')]);
    await exec('cp', ['-a', base, join(bundle, 'rootfs')]);
    mkdirSync(join(bundle, 'rootfs/home/vcap'), { recursive: true });
    await exec('tar', ['-xzf', join(bundle, 'droplet.tgz'), '-C', join(bundle, 'rootfs/home/vcap')]);
    const spec = runtimeSpec({
      args: ['/bin/sh', '-c', 'cd /home/vcap/app && for f in ../profile.d/*; do . $f; done; exec sh -c ./start.sh'],
      env: ['PATH=/usr/bin:/bin', 'HOME=/home/vcap/app'],
      cwd: '/home/vcap/app',
      user: { uid: 1000, gid: 1000, additionalGids: [] },
      hostname: 'bench',
      network: 'none',
    });
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
    await runcRun(bundle, `bench-droplet-${i}`);
    dropletMs.push(performance.now() - t);
    rmSync(bundle, { recursive: true, force: true });
  }
  runtime.close();

  const b = await importDroplet(store, tgzB, 'bench/b');
  const sizeOf = (f: string) => statSync(f).size;
  const aDigests = new Set(a.layers.map((l) => l.digest));
  const newForB = b.layers.filter((l) => !aDigests.has(l.digest)).reduce((n, l) => n + l.size, 0);
  const dropletBytes = sizeOf(tgzA) + sizeOf(tgzB);
  const imageLayerBytes = [...a.layers, ...b.layers].reduce((n, l) => n + l.size, 0);
  const unique = new Map([...a.layers, ...b.layers].map((l) => [l.digest, l.size]));
  const uniqueBytes = [...unique.values()].reduce((n, s) => n + s, 0);
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  const result = {
    runs: RUNS,
    appMb,
    depsMb,
    start: {
      imageMedianMs: Math.round(median(imageMs)),
      dropletMedianMs: Math.round(median(dropletMs)),
      speedup: +(median(dropletMs) / median(imageMs)).toFixed(1),
      imageMs: imageMs.map(Math.round),
      dropletMs: dropletMs.map(Math.round),
    },
    size: {
      droplets: mb(dropletBytes),
      imageLayersBoth: mb(imageLayerBytes),
      storedOnce: mb(uniqueBytes),
      sentForSecondApp: mb(newForB),
      secondDropletTgz: mb(sizeOf(tgzB)),
    },
  };
  console.log(JSON.stringify(result, null, 2));
  recordResult({
    path: `start from a droplet-imported image (${appMb} MB app, ${depsMb} MB deps)`,
    slipway: median(imageMs),
    peer: median(dropletMs),
    peerName: 'droplet way (copy rootfs, untar droplet, runc run)',
    unit: 'ms',
    runs: RUNS,
  });
  await store.close();
}

await main();
