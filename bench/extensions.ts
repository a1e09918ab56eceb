/**
 * Extension cost (issue 22): the GMP example (examples/fullfs-gmp's gmp-demo.c) built
 * two ways in one run, alternating:
 *
 *   extension   build --builder examples/cnb-gmp: a CNB image extension's
 *               build.Dockerfile adds libgmp-dev to the build image, its run.Dockerfile
 *               libgmp10 to the run image (each applied as root in the sandbox), and
 *               the C buildpack compiles the app as the stack user
 *   full-fs     build --full-fs -b examples/fullfs-gmp/buildpack: the classic
 *               buildpack's bin/compile installs gcc and libgmp-dev as root in an
 *               overlay over the run image, compiles, purges the compiler
 *
 *   cold        a fresh store (the stack from the stack cache, its images already in
 *               the host's layer cache, as on any host that built before)
 *   warm        the same source again in the same store
 *
 * Both compiled (as installed) and timed as commands, start-up included; each image is
 * run once at the end to check it prints what it should. Medians of --runs (default 3).
 *
 *   node --import tsx bench/extensions.ts [--runs 3]
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { advantage, buildSlipway, median, recordResult } from './common.js';
import { ROOT } from '../test/helpers.js';

const exec = promisify(execFile);
const arg = (name: string, fallback: string) =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1]! : fallback;
const runs = Number(arg('--runs', '3'));

type Way = 'extension' | 'full-fs';
type Phase = 'cold' | 'warm';
const APP = join(ROOT, 'examples', 'fullfs-gmp');
const ARGS: Record<Way, string[]> = {
  extension: ['build', 'bench/gmp-ext', '--builder', join(ROOT, 'examples', 'cnb-gmp'), '--path', APP],
  'full-fs': ['build', 'bench/gmp-fullfs', '--full-fs', '-b', join(APP, 'buildpack'), '--path', APP],
};
const times: Record<Way, Record<Phase, number[]>> = {
  extension: { cold: [], warm: [] },
  'full-fs': { cold: [], warm: [] },
};

const entry = await buildSlipway('extensions');
const work = mkdtempSync(join(tmpdir(), 'slipway-bench-extensions-'));

async function slipway(home: string, args: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, [entry, '--quiet', ...args], {
    env: { ...process.env, SLIPWAY_HOME: home },
    maxBuffer: 64 << 20,
  });
  return stdout;
}

async function timed(home: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  await slipway(home, args);
  return (performance.now() - t0) / 1000;
}

try {
  let last: Record<Way, string> = { extension: '', 'full-fs': '' };
  for (let i = 0; i < runs; i++) {
    const order: Way[] = i % 2 === 0 ? ['extension', 'full-fs'] : ['full-fs', 'extension'];
    const homes: Record<Way, string> = { extension: join(work, `ext-${i}`), 'full-fs': join(work, `fullfs-${i}`) };
    for (const way of order) {
      mkdirSync(homes[way]);
      await slipway(homes[way], ['stack', 'create', 'default']);
      // Both stack images in the layer cache once, as on any host that built and ran before.
      await slipway(homes[way], ['build', 'bench/warmup', '--path', join(ROOT, 'examples', 'procfile')]);
      await slipway(homes[way], ['run', '--rm', 'bench/warmup']);
    }
    for (const phase of ['cold', 'warm'] as const)
      for (const way of order) {
        const s = await timed(homes[way], ARGS[way]);
        times[way][phase].push(s);
        process.stderr.write(`run ${i + 1}/${runs} ${phase} ${way}: ${s.toFixed(2)} s\n`);
      }
    last = homes;
  }
  // What the images print: the same program, built both ways.
  for (const [way, image] of [
    ['extension', 'bench/gmp-ext'],
    ['full-fs', 'bench/gmp-fullfs'],
  ] as const) {
    const out = await slipway(last[way], ['run', '--rm', image]);
    if (!/^gmp \d+\.\d+\.\d+: 2\^200 = 1606938044258990275541962092341162602522202993782792835301376$/m.test(out))
      throw new Error(`${way}: ${image} printed ${JSON.stringify(out)}`);
  }

  const rows = (['cold', 'warm'] as const).map((phase) => {
    const ext = median(times.extension[phase]);
    const fullfs = median(times['full-fs'][phase]);
    const result = {
      path: `GMP app, image extension vs full-filesystem staging, ${phase}`,
      slipway: ext,
      peer: fullfs,
      peerName: 'Slipway full-filesystem staging',
      unit: 's',
      runs,
    };
    recordResult(result);
    return { phase, ext, fullfs, ratio: advantage(result) };
  });
  console.log(`Extension cost: the GMP app, medians of ${runs} runs (s)\n`);
  console.log('| phase | image extension | full-filesystem staging | full-fs / extension |');
  console.log('|---|---|---|---|');
  for (const r of rows)
    console.log(`| ${r.phase} | ${r.ext.toFixed(2)} | ${r.fullfs.toFixed(2)} | ${r.ratio?.toFixed(2) ?? '-'}x |`);
  console.log(
    `\nruns (s): ${(['extension', 'full-fs'] as const).map((w) => `${w} cold ${times[w].cold.map((t) => t.toFixed(1)).join('/')}, warm ${times[w].warm.map((t) => t.toFixed(1)).join('/')}`).join('; ')}`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
