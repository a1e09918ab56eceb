/**
 * CLI start-up (issue 23): the wall time of short commands of the installed CLI
 * (`bin/slipway.js` over what `npm run build` leaves: the bundle dist/bundle/cli with its V8
 * code cache, warmed by one run of each command), side by side in the same run with
 * `node -e 0` (the floor any Node CLI pays) and the peers' own start (`skopeo --version`,
 * `podman --version`). Contenders alternate, each a new process; medians of --runs.
 *
 *   node --import tsx bench/cli-start.ts [--runs 15] [--profile DIR] [--no-bundle]
 *
 * --no-bundle measures bin/slipway.js over the tsc output alone (dist/cli/main.js), as before the bundle.
 *
 * - version: `slipway --version`               target: at most node -e 0 + 15 ms
 * - images:  `slipway images` (a store of 1 image)   target: at most node -e 0 + 60 ms
 * - inspect: `slipway inspect IMAGE`            target: at most node -e 0 + 60 ms
 * --profile DIR also runs each command once under `node --cpu-prof` and prints where the
 * time goes: self time by part (Node's own start, module loading and compiling, each
 * package, Slipway's folders, GC), the profiles left in DIR for Chrome's DevTools.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { commandExists } from '../test/helpers.js';
import { buildSlipwayBin, median, recordResult } from './common.js';

const exec = promisify(execFile);
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    profile: { type: 'string' },
    'no-bundle': { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);

/** Wall time in ms of one command, to its exit; fails on a non-zero exit. */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Number(process.hrtime.bigint() - start) / 1e6);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr}`));
    });
  });
}

interface ProfileNode {
  id: number;
  callFrame: { url: string; functionName: string };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** What each chunk of the bundle mostly holds (scripts/build.mjs writes it). */
let chunkLabels: Record<string, string> = {};

/** Which part of a start a profile node's self time belongs to. */
function part(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url === 'node:vm') return "node: vm.Script (compiling the bundle's chunks)";
  if (url.startsWith('node:internal/modules') || url.includes('/esm/') || url.startsWith('node:internal/vm'))
    return 'node: module loader';
  const chunk = /\/dist\/bundle\/cli\/(.+\.cjs)$/.exec(url)?.[1];
  if (chunk) return `bundle: ${chunkLabels[chunk] ?? chunk}`;
  if (url.endsWith('/bin/slipway.js')) return 'bin/slipway.js (its loader)';
  if (url.startsWith('node:')) return 'node: other built-ins';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `package ${pkg[1]}`;
  const ours = /\/dist\/([^/]+)(?:\/([^/]+))?/.exec(url);
  if (ours) return `slipway dist/${ours[2] && !ours[1]!.endsWith('.js') ? `${ours[1]}/` : ours[1]}`;
  return url.replace(/^file:\/\//, '');
}

/** Self time (ms) by part, from a .cpuprofile. */
async function summarize(file: string): Promise<[string, number][]> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const key = part(byId.get(id)!);
    totals.set(key, (totals.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return [...totals].sort((a, b) => b[1] - a[1]);
}

async function main(): Promise<void> {
  // The published entry over the bundle (or, with --no-bundle, over the tsc output alone).
  const bin = await buildSlipwayBin('cli-start-dist', { bundle: !values['no-bundle'] });
  const work = join(tmpdir(), `slipway-bench-cli-${process.pid}`);
  const home = join(work, 'home');
  const rootfs = join(work, 'rootfs');
  await mkdir(join(rootfs, 'etc'), { recursive: true });
  await writeFile(join(rootfs, 'etc/hello'), 'hello\n');
  // A code cache of this run's own, written by the warm-up run of each command.
  const env = { SLIPWAY_HOME: home, SLIPWAY_CODE_CACHE: join(work, 'code-cache') };
  await exec(process.execPath, [bin, '--quiet', 'import', '--rootfs', rootfs, 'bench/tiny:v1'], {
    env: { ...process.env, ...env },
  });
  console.log(
    `# CLI start: ${cpus().length} cores, ${cpus()[0]?.model}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, Node ${process.version}`,
  );
  const contenders: [string, string, string[]][] = [
    ['node -e 0', process.execPath, ['-e', '0']],
    ['slipway --version', process.execPath, [bin, '--version']],
    ['slipway images', process.execPath, [bin, 'images']],
    ['slipway inspect', process.execPath, [bin, 'inspect', 'bench/tiny:v1']],
    ...(values['no-bundle']
      ? []
      : [
          ['slipway images, no code cache', 'env', ['SLIPWAY_CODE_CACHE=0', process.execPath, bin, 'images']] as [
            string,
            string,
            string[],
          ],
        ]),
    ...(commandExists('skopeo') ? [['skopeo --version', 'skopeo', ['--version']] as [string, string, string[]]] : []),
    ...(commandExists('podman') ? [['podman --version', 'podman', ['--version']] as [string, string, string[]]] : []),
  ];
  const times = new Map<string, number[]>(contenders.map(([label]) => [label, []]));
  try {
    for (const [, cmd, args] of contenders) await timed(cmd, args, env); // warm the page cache
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? contenders : [...contenders].reverse();
      for (const [label, cmd, args] of order) times.get(label)!.push(await timed(cmd, args, env));
    }
    const floor = median(times.get('node -e 0')!);
    console.log(`\n| command | median ms | over node -e 0 | min ms | max ms |`);
    console.log('|---|---:|---:|---:|---:|');
    for (const [label, list] of times)
      console.log(
        `| ${label} | ${median(list).toFixed(1)} | ${(median(list) - floor).toFixed(1)} | ${Math.min(...list).toFixed(1)} | ${Math.max(...list).toFixed(1)} |`,
      );
    const budgets: [string, number][] = [
      ['slipway --version', 15],
      ['slipway images', 60],
      ['slipway inspect', 60],
    ];
    for (const [label, budget] of budgets) {
      const m = median(times.get(label)!);
      recordResult({
        path: `\`${label}\` (start to exit)`,
        slipway: m,
        peer: floor,
        peerName: 'node -e 0',
        unit: 'ms',
        runs,
        target: `at most node -e 0 + ${budget} ms`,
        met: m <= floor + budget,
      });
    }
    if (times.has('skopeo --version'))
      recordResult({
        path: '`slipway --version` against skopeo',
        slipway: median(times.get('slipway --version')!),
        peer: median(times.get('skopeo --version')!),
        peerName: 'skopeo --version',
        unit: 'ms',
        runs,
      });
    if (values.profile) await profile(values.profile, bin, env);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** One run of each command under --cpu-prof, and its self time by part. */
async function profile(dir: string, bin: string, env: NodeJS.ProcessEnv): Promise<void> {
  const labels = join(dirname(dirname(bin)), 'dist/bundle/cli/chunks.json');
  chunkLabels = JSON.parse(await readFile(labels, 'utf8').catch(() => '{}')) as Record<string, string>;
  for (const [label, args] of [
    ['node -e 0', ['-e', '0']],
    ['version', [bin, '--version']],
    ['images', [bin, 'images']],
    ['inspect', [bin, 'inspect', 'bench/tiny:v1']],
  ] as [string, string[]][]) {
    const out = join(dir, label.replace(/\W+/g, '-'));
    await rm(out, { recursive: true, force: true });
    await mkdir(out, { recursive: true });
    await exec(process.execPath, ['--cpu-prof', '--cpu-prof-interval', '200', '--cpu-prof-dir', out, ...args], {
      env: { ...process.env, ...env },
    });
    const [file] = await readdir(out);
    const parts = await summarize(join(out, file!));
    const total = parts.reduce((n, [, ms]) => n + ms, 0);
    console.log(`\n### --cpu-prof of ${label}: ${total.toFixed(1)} ms profiled (${join(out, file!)})`);
    console.log('| part | self ms |\n|---|---:|');
    for (const [name, ms] of parts.filter(([, ms]) => ms >= 0.5)) console.log(`| ${name} | ${ms.toFixed(1)} |`);
  }
}

await main();
