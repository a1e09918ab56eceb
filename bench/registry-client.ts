/**
 * Registry client benchmark (on demand, not in CI): `slipway copy` side by side with
 * `skopeo copy` in the same run, both against the same CNCF Distribution 2.8 registries
 * (Debian's docker-registry). See bench/README.md, "Registry client".
 *
 *   node --import tsx bench/registry-client.ts [--runs 5] [--only copy,promote] [--layer-mb 100] [--profile DIR]
 *
 * `--profile DIR` writes a `--cpu-prof` profile of each slipway run into DIR.
 *
 * - copy: a 5 x 100 MB image (random data, gzip with stored blocks) held by a source
 *   Distribution, copied to an empty second Distribution (registry -> registry; two
 *   registries, so that neither tool can mount) and to a fresh OCI layout
 *   (registry -> oci). Runs alternate which tool goes first; each destination is new.
 * - promote: an app image (the 5 x 100 MB base + a 20 MB app layer) promoted to a
 *   registry that already holds the base; bytes sent (the --json report) against the
 *   app layer's size, and the time against skopeo copy of the same.
 * Slipway runs compiled (tsc into the cache), not through tsx.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { addRandomImage, commandExists, startDistribution, type RegistryProcess } from '../test/helpers.js';
import { BENCH_CACHE, buildSlipwayBin, median, recordResult } from './common.js';

const exec = promisify(execFile);
const MB = 1e6;
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    only: { type: 'string', default: 'copy,promote' },
    'layer-mb': { type: 'string', default: '100' },
    profile: { type: 'string' },
  },
});
const runs = Number(values.runs);
const layerMB = Number(values['layer-mb']);
const only = new Set(values.only!.split(','));
const fmt = (n: number, digits = 2) => n.toFixed(digits);

let slipwayMain = '';
const profileArgs = values.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', values.profile];
const slipway = (home: string, ...args: string[]) =>
  exec(process.execPath, [...profileArgs, slipwayMain, '--json', ...args], {
    env: { ...process.env, SLIPWAY_HOME: home },
    maxBuffer: 16 << 20,
  });
const skopeo = (...args: string[]) => exec('skopeo', ['--insecure-policy', ...args], { maxBuffer: 16 << 20 });

async function distribution(dir: string): Promise<RegistryProcess> {
  await rm(dir, { recursive: true, force: true });
  return startDistribution(dir);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

type Tool = 'slipway' | 'skopeo';

async function copyBench(work: string, layout: string, bytes: number): Promise<void> {
  const source = await distribution(join(work, 'source'));
  const times: Record<Tool, { r2r: number[]; r2oci: number[] }> = {
    slipway: { r2r: [], r2oci: [] },
    skopeo: { r2r: [], r2oci: [] },
  };
  try {
    await skopeo(
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      `oci:${layout}:big`,
      `docker://${source.host}/bench/big:v1`,
    );
    const src = `${source.host}/bench/big:v1`;
    for (let run = 0; run < runs; run++) {
      const order: Tool[] = run % 2 === 0 ? ['slipway', 'skopeo'] : ['skopeo', 'slipway'];
      for (const tool of order) {
        const dest = await distribution(join(work, 'dest'));
        const out = join(work, 'layout-out');
        const home = join(work, 'home');
        await rm(out, { recursive: true, force: true });
        await rm(home, { recursive: true, force: true });
        try {
          if (tool === 'slipway') {
            times.slipway.r2r.push(await timed(() => slipway(home, 'copy', src, `${dest.host}/bench/big:v1`)));
            times.slipway.r2oci.push(await timed(() => slipway(home, 'copy', src, `oci:${out}:big`)));
          } else {
            times.skopeo.r2r.push(
              await timed(() =>
                skopeo(
                  'copy',
                  '--quiet',
                  '--src-tls-verify=false',
                  '--dest-tls-verify=false',
                  `docker://${src}`,
                  `docker://${dest.host}/bench/big:v1`,
                ),
              ),
            );
            times.skopeo.r2oci.push(
              await timed(() =>
                skopeo('copy', '--quiet', '--src-tls-verify=false', `docker://${src}`, `oci:${out}:big`),
              ),
            );
          }
        } finally {
          await dest.stop();
        }
        process.stderr.write(
          `  run ${run + 1} ${tool}: registry->registry ${fmt(times[tool].r2r.at(-1)!)} s, registry->oci ${fmt(times[tool].r2oci.at(-1)!)} s\n`,
        );
      }
    }
  } finally {
    await source.stop();
  }
  console.log(`\n## copy of a 5 x ${layerMB} MB image (${fmt(bytes / MB, 0)} MB), median of ${runs} runs`);
  console.log('| tool | registry -> registry s | MB/s | registry -> oci s | MB/s |');
  console.log('|---|---:|---:|---:|---:|');
  for (const tool of ['slipway', 'skopeo'] as Tool[]) {
    const t = times[tool];
    console.log(
      `| ${tool} | ${fmt(median(t.r2r))} | ${fmt(bytes / MB / median(t.r2r), 0)} | ${fmt(median(t.r2oci))} | ${fmt(bytes / MB / median(t.r2oci), 0)} |`,
    );
  }
  console.log(
    `\nthroughput ratio slipway / skopeo: registry->registry ${fmt(median(times.skopeo.r2r) / median(times.slipway.r2r))}x, registry->oci ${fmt(median(times.skopeo.r2oci) / median(times.slipway.r2oci))}x`,
  );
  console.log(`all runs (s): ${JSON.stringify(times)}`);
  for (const [what, label, target] of [
    ['r2r', 'registry to registry', 2],
    ['r2oci', 'registry to OCI layout', undefined],
  ] as const) {
    const [mine, theirs] = [median(times.slipway[what]), median(times.skopeo[what])];
    recordResult({
      path: `\`slipway copy\` 5 x ${layerMB} MB, ${label}`,
      slipway: mine,
      peer: theirs,
      peerName: 'skopeo copy',
      unit: 's',
      runs,
      ...(target ? { target: `>= ${target}x skopeo`, met: theirs / mine >= target } : {}),
    });
  }
}

async function promoteBench(work: string, layout: string): Promise<void> {
  const app = await addRandomImage(
    layout,
    'app',
    [0, 1, 2, 3, 4]
      .map((i) => ({ seed: `bench-registry-layer-${i}`, size: layerMB * MB }))
      .concat([{ seed: 'bench-app-layer', size: (layerMB / 5) * MB }]),
  );
  const appLayer = app.layers.at(-1)!.size;
  const staging = await distribution(join(work, 'staging'));
  const sent: number[] = [];
  const times: Record<Tool, number[]> = { slipway: [], skopeo: [] };
  try {
    await skopeo(
      'copy',
      '--quiet',
      '--dest-tls-verify=false',
      `oci:${layout}:app`,
      `docker://${staging.host}/shop/app:v1`,
    );
    for (let run = 0; run < runs; run++) {
      const order: Tool[] = run % 2 === 0 ? ['slipway', 'skopeo'] : ['skopeo', 'slipway'];
      for (const tool of order) {
        const prod = await distribution(join(work, 'prod'));
        try {
          // the base is already in production, in the app's repository
          await skopeo(
            'copy',
            '--quiet',
            '--dest-tls-verify=false',
            `oci:${layout}:big`,
            `docker://${prod.host}/shop/app:base`,
          );
          if (tool === 'slipway') {
            let report = { bytesSent: 0, digest: '' };
            times.slipway.push(
              await timed(async () => {
                report = JSON.parse(
                  (
                    await slipway(
                      join(work, 'home'),
                      'promote',
                      `${staging.host}/shop/app:v1`,
                      `${prod.host}/shop/app:v1`,
                    )
                  ).stdout,
                ) as typeof report;
              }),
            );
            if (report.digest !== app.digest) throw new Error(`promote gave ${report.digest}, expected ${app.digest}`);
            sent.push(report.bytesSent);
          } else {
            times.skopeo.push(
              await timed(() =>
                skopeo(
                  'copy',
                  '--quiet',
                  '--src-tls-verify=false',
                  '--dest-tls-verify=false',
                  `docker://${staging.host}/shop/app:v1`,
                  `docker://${prod.host}/shop/app:v1`,
                ),
              ),
            );
          }
        } finally {
          await prod.stop();
        }
      }
    }
  } finally {
    await staging.stop();
  }
  const bytes = median(sent);
  recordResult({
    path: `\`slipway promote\` (base at the destination, ${layerMB / 5} MB app layer)`,
    slipway: median(times.slipway),
    peer: median(times.skopeo),
    peerName: 'skopeo copy',
    unit: 's',
    runs,
    target: '>= 1.0x skopeo',
    met: median(times.skopeo) / median(times.slipway) >= 1,
  });
  console.log(`\n## promote of an app whose 5 x ${layerMB} MB base is at the destination, median of ${runs} runs`);
  console.log(
    `app layer ${appLayer} bytes; slipway sent ${bytes} bytes (${fmt((bytes / appLayer - 1) * 100, 3)}% over the app layer: the config blob)`,
  );
  console.log(
    `time: slipway promote ${fmt(median(times.slipway))} s, skopeo copy ${fmt(median(times.skopeo))} s (ratio ${fmt(median(times.skopeo) / median(times.slipway))}x)`,
  );
}

async function main(): Promise<void> {
  for (const tool of ['skopeo', 'docker-registry'])
    if (!commandExists(tool)) throw new Error(`${tool} is not installed (bash scripts/install.sh --test)`);
  slipwayMain = await buildSlipwayBin('registry-client-dist');
  const layout = join(BENCH_CACHE, `registry-5x${layerMB}MB`);
  const image = await addRandomImage(
    layout,
    'big',
    [0, 1, 2, 3, 4].map((i) => ({ seed: `bench-registry-layer-${i}`, size: layerMB * MB })),
  );
  const bytes = image.layers.reduce((n, l) => n + l.size, 0);
  const work = join(tmpdir(), `slipway-bench-client-${process.pid}`);
  await mkdir(work, { recursive: true });
  console.log(
    `# registry client benchmark: ${cpus().length} CPUs, load ${loadavg()
      .map((l) => fmt(l))
      .join(' ')}`,
  );
  try {
    if (only.has('copy')) await copyBench(work, layout, bytes);
    if (only.has('promote')) await promoteBench(work, layout);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
