/**
 * Rebase benchmark (on demand, not in CI). See bench/README.md, "Rebase".
 *
 *   node --import tsx bench/rebase.ts [--runs 15] [--fleet 1000] [--concurrency 16] [--tsx] [--local] [--profile DIR]
 *
 * `--profile DIR` writes CPU profiles of the registry server (server.cpuprofile, at its exit)
 * and of the first fleet run's CLI (CPU.*.cpuprofile) into DIR.
 *
 * - single: one app image (3 run image layers + 3 app layers, the CNB lifecycle label)
 *   in Slipway's registry over loopback is rebased from stack version 1 to 2 by the
 *   library call `rebaseImage` in this process (one client, keep-alive, warmed by a
 *   first rebase that is not counted), then by the CLI (`slipway rebase HOST/...`, a
 *   new process each time: node start-up included). Each run rebases a different image.
 * - fleet: N images in 50 repositories of the same registry, `slipway rebase --all
 *   --registry` over the catalog, as users run it (a new process, start-up included):
 *   the whole run (catalog, tags, every manifest and config read, checks, config +
 *   manifest written) timed, images/s; then the second run (all current). With
 *   --local, as many images more rebased in the local store (no registry), as
 *   `slipway stack update --rebase` does.
 * The registry and the CLI run compiled (tsc into $SLIPWAY_BENCH_CACHE/rebase-dist),
 * unless --tsx. The fixtures are made with the library, as the tests make them.
 */
import { spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, startSlipwayRegistry, tempDir } from '../test/helpers.js';
import { appLayers, makeApp, makeStackVersion, osRelease } from '../test/rebase-fixtures.js';
import { LocalStore } from '../src/store/local-store.js';
import { Registries } from '../src/registry/client/registries.js';
import { rebaseImage } from '../src/rebase/rebase.js';
import type { FleetReport } from '../src/rebase/fleet.js';
import { buildSlipwayBin, cpuSeconds, median, recordResult, writeProfileEntry } from './common.js';
import { mkdir } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { digestOf } from '../src/oci/digest.js';
import { MediaType } from '../src/oci/media-types.js';
import type { ImageConfig, ImageManifest } from '../src/oci/types.js';

/** The manifest and config of a stored image, parsed. */
async function readImageAt(
  store: LocalStore,
  repository: string,
  tag: string,
): Promise<{ manifest: ImageManifest; config: ImageConfig }> {
  const desc = await store.resolve(repository, tag);
  const manifest = JSON.parse((await store.blobs.read(desc.digest)).toString('utf8')) as ImageManifest;
  const config = JSON.parse((await store.blobs.read(manifest.config.digest)).toString('utf8')) as ImageConfig;
  return { manifest, config };
}

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    fleet: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '16' },
    tsx: { type: 'boolean', default: false },
    local: { type: 'boolean', default: false },
    profile: { type: 'string' },
  },
});
const RUNS = Number(args.runs);
const FLEET = Number(args.fleet);
const CONCURRENCY = Number(args.concurrency);
/** Also a fleet of the same size rebased in the local store, no registry: the path `slipway stack update --rebase` takes. */
const LOCAL = args.local ?? false;

function runCli(main: string[], home: string, cliArgs: string[]): Promise<number> {
  return runCliOutput(main, home, cliArgs).then((r) => r.ms);
}

/** Runs the CLI as a user would (a new process); its time in ms and what it printed. */
function runCliOutput(main: string[], home: string, cliArgs: string[]): Promise<{ ms: number; stdout: string }> {
  // Through tsx the bin runs the source; otherwise it runs the bundle, as published.
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...main, ...cliArgs], {
      env: { ...process.env, SLIPWAY_HOME: home, ...(args.tsx ? { SLIPWAY_FROM_SOURCE: '1' } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) =>
      code === 0
        ? resolve({ ms: performance.now() - started, stdout })
        : reject(new Error(`slipway ${cliArgs.join(' ')}: ${stderr}`)),
    );
  });
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

async function main(): Promise<void> {
  const cli = args.tsx ? [join(ROOT, 'bin/slipway.js')] : [await buildSlipwayBin('rebase-dist')];
  const home = await tempDir('bench-rebase');
  const store = await LocalStore.open(home.path);
  const profileDir = args.profile === undefined ? undefined : resolve(args.profile);
  if (profileDir !== undefined) {
    await mkdir(profileDir, { recursive: true });
    process.env['SLIPWAY_BENCH_PROFILE'] = join(profileDir, 'server.cpuprofile');
  }
  const serverEntry = profileDir === undefined ? cli[0]! : await writeProfileEntry(cli[0]!);
  const registry = await startSlipwayRegistry(
    home.path,
    ['--gc-interval', '0'],
    args.tsx ? {} : { entry: serverEntry },
  );
  delete process.env['SLIPWAY_BENCH_PROFILE'];
  try {
    console.log(
      `load average at start: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    const v1 = await makeStackVersion(store, 'bench', '1', {
      layers: [{ 'bin/true': 'x' }, { 'lib/libc.so.6': 'libc 1' }, { 'etc/os-release': osRelease('1') }],
    });
    const layers = await appLayers(store);
    const recorded = {
      runImageName: `${registry.host}/bench/run:latest`,
      reference: `${registry.host}/bench/run@${v1.digest}`,
    };
    const singles = RUNS + 1;
    const cliRuns = Math.max(3, Math.min(RUNS, 7));
    let t = performance.now();
    for (let i = 0; i < singles; i++)
      await makeApp(store, 'bench', v1, 'single/app', `r${i}`, layers, { ...recorded, env: [`RUN=${i}`] });
    for (let i = 0; i < cliRuns; i++)
      await makeApp(store, 'bench', v1, 'single/cli', `r${i}`, layers, { ...recorded, env: [`CLI=${i}`] });
    for (let i = 0; i < FLEET; i++)
      await makeApp(store, 'bench', v1, `fleet/app-${String(i % 50).padStart(2, '0')}`, `v${i}`, layers, {
        ...recorded,
        env: [`APP=${i}`],
      });
    if (LOCAL)
      for (let i = 0; i < FLEET; i++)
        await makeApp(store, 'bench', v1, `local/app-${String(i % 50).padStart(2, '0')}`, `v${i}`, layers, {
          ...recorded,
          env: [`LOCAL=${i}`],
        });
    console.log(
      `fixtures: ${singles + cliRuns + FLEET * (LOCAL ? 2 : 1)} app images in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    await makeStackVersion(store, 'bench', '2', {
      layers: [{ 'bin/true': 'x' }, { 'lib/libc.so.6': 'libc 2' }, { 'etc/os-release': osRelease('2') }],
    });

    // Single rebase, library call in this process.
    const registries = new Registries();
    const open = () => Promise.resolve(store);
    const lib: number[] = [];
    for (let i = 0; i < singles; i++) {
      t = performance.now();
      const r = await rebaseImage(`${registry.host}/single/app:r${i}`, open, { registries });
      const ms = performance.now() - t;
      if (r.status !== 'rebased' || r.transfer.layersCopied !== 0)
        throw new Error(`run ${i}: ${r.status}, ${r.transfer.layersCopied} layers copied`);
      if (i > 0) lib.push(ms); // the first one opens the connection and reads the run image
    }
    console.log(
      `single rebase, library (${lib.length} runs): median ${fmt(median(lib))}, min ${fmt(Math.min(...lib))}, max ${fmt(Math.max(...lib))}`,
    );

    const cliTimes: number[] = [];
    for (let i = 0; i < cliRuns; i++)
      cliTimes.push(await runCli(cli, home.path, ['--quiet', 'rebase', `${registry.host}/single/cli:r${i}`]));
    const version = await runCli(cli, home.path, ['--version']);
    const floor: number[] = [];
    for (let i = 0; i < cliRuns; i++) floor.push(await runCli(['-e', '0'], home.path, []));
    recordResult({
      path: '`slipway rebase` one image, CLI',
      slipway: median(cliTimes),
      peer: median(floor),
      peerName: 'node -e 0',
      unit: 'ms',
      runs: cliRuns,
      target: 'at most node -e 0 + 100 ms',
      met: median(cliTimes) <= median(floor) + 100,
    });
    recordResult({
      path: 'rebase one image, the library call (in process)',
      slipway: median(lib),
      unit: 'ms',
      runs: lib.length,
    });
    console.log(
      `single rebase, CLI (${cliRuns} runs, new process each): median ${fmt(median(cliTimes))}; \`slipway --version\` alone: ${fmt(version)}`,
    );

    // Fleet over the catalog, as users run it: `slipway rebase --all --registry` (start-up included).
    const fleetArgs = [
      '--json',
      'rebase',
      '--all',
      '--stack',
      'bench',
      '--registry',
      registry.host,
      '--repo-prefix',
      'fleet/',
      '--concurrency',
      String(CONCURRENCY),
    ];
    const profileArgs = profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir];
    const serverCpu = await cpuSeconds(registry.pid);
    const first = await runCliOutput([...profileArgs, ...cli], home.path, fleetArgs);
    const fleetServerCpu = (await cpuSeconds(registry.pid)) - serverCpu;
    const fleet = JSON.parse(first.stdout) as FleetReport;
    const fleetMs = first.ms;
    if (fleet.rebased.length !== FLEET || fleet.failed.length > 0)
      throw new Error(
        `fleet: ${fleet.rebased.length} rebased, ${fleet.failed.length} failed: ${fleet.failed[0]?.reason}`,
      );
    recordResult({
      path: `fleet rebase of ${FLEET} images (over the registry)`,
      slipway: fleetMs / 1000,
      unit: 's',
      runs: 1,
      target:
        FLEET === 1000 ? '< 5 s' : FLEET === 10_000 ? '< 40 s' : `< ${((FLEET / 1000) * 5).toFixed(2)} s (1,000 < 5 s)`,
      met: fleetMs / 1000 < (FLEET <= 1000 ? (FLEET / 1000) * 5 : (FLEET / 10_000) * 40),
    });
    console.log(
      `fleet rebase of ${FLEET} images, \`slipway rebase --all --registry\` (concurrency ${CONCURRENCY}): ${(fleetMs / 1000).toFixed(2)} s, ${(FLEET / (fleetMs / 1000)).toFixed(0)} images/s (in-process ${fleet.seconds.toFixed(2)} s, registry CPU ${fleetServerCpu.toFixed(2)} s); ${fleet.transfer.layersCopied} layers copied, ${fleet.transfer.blobsMounted} mounts, ${fleet.transfer.bytesSent} bytes sent`,
    );
    const again = await runCliOutput(cli, home.path, fleetArgs);
    const second = JSON.parse(again.stdout) as FleetReport;
    console.log(
      `second fleet run: ${second.rebased.length} rebased, ${second.current.length} current in ${(again.ms / 1000).toFixed(2)} s`,
    );
    if (LOCAL) {
      const localRun = await runCliOutput(cli, home.path, [
        '--json',
        'rebase',
        '--all',
        '--stack',
        'bench',
        '--repo-prefix',
        'local/',
        '--concurrency',
        String(CONCURRENCY),
      ]);
      const local = JSON.parse(localRun.stdout) as FleetReport;
      const localMs = localRun.ms;
      if (local.rebased.length !== FLEET || local.failed.length > 0)
        throw new Error(`local fleet: ${local.rebased.length} rebased, ${local.failed[0]?.reason ?? 'none failed'}`);
      recordResult({
        path: `fleet rebase of ${FLEET} images (local store)`,
        slipway: localMs / 1000,
        unit: 's',
        runs: 1,
      });
      console.log(
        `fleet rebase of ${FLEET} images in the local store, \`slipway rebase --all\` (concurrency ${CONCURRENCY}): ${(localMs / 1000).toFixed(2)} s, ${(FLEET / (localMs / 1000)).toFixed(0)} images/s (in-process ${local.seconds.toFixed(2)} s)`,
      );
    }
    // The floor: what the registry takes to store that many new configs and manifests, written directly.
    const k = Math.min(FLEET, 300);
    const client = await registries.client(registry.host);
    const sample = await readImageAt(store, 'fleet/app-00', 'v0');
    t = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < k) {
          const i = next++;
          const config = Buffer.from(JSON.stringify({ ...sample.config, floor: i }));
          const configDigest = digestOf(config);
          await client.putBlob(`floor/app-${i % 50}`, Readable.from([config]), {
            digest: configDigest,
            size: config.length,
          });
          const manifest = Buffer.from(
            JSON.stringify({
              ...sample.manifest,
              config: { ...sample.manifest.config, digest: configDigest, size: config.length },
              layers: [],
            }),
          );
          await client.putManifest(`floor/app-${i % 50}`, `f${i}`, manifest, MediaType.OciManifest);
        }
      }),
    );
    const floorMs = performance.now() - t;
    console.log(
      `floor: ${k} configs + manifests PUT directly (concurrency ${CONCURRENCY}): ${(floorMs / 1000).toFixed(2)} s, ${(k / (floorMs / 1000)).toFixed(0)} images/s`,
    );
    console.log(
      `load average at end: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await registry.stop();
    await store.close();
    await home.cleanup();
  }
}

await main();
