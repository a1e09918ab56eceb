/**
 * What the build sandbox costs (issue 15): the Node.js example built by Slipway before
 * the sandbox (a commit given with --before, default db0443f: host network, no limits,
 * no seccomp, the cache in the store home) and as it is now (this tree: own network
 * namespace with slirp4netns, seccomp, cgroup limits, the app's build volume mounted
 * for the build), in one run, the two alternating:
 *
 *   cold        a fresh store: Node.js and npm downloaded, npm ci, every layer written
 *   no-change   the same source again
 *   one-line    greeting.js changed: only the app layer is new
 *
 * Both compiled (as installed) and timed as commands, start-up included. Medians of
 * --runs (default 5). Targets: at most +50 ms warm, +5 % cold.
 *
 *   node --import tsx bench/sandbox-cost.ts [--runs 5] [--before COMMIT]
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BENCH_CACHE, buildSlipway, median } from './common.js';
import { ROOT } from '../test/helpers.js';

const exec = promisify(execFile);
const arg = (name: string, fallback: string) =>
  process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1]! : fallback;
const runs = Number(arg('--runs', '5'));
const before = arg('--before', 'db0443f');

type Phase = 'cold' | 'no-change' | 'one-line';
const PHASES: Phase[] = ['cold', 'no-change', 'one-line'];
const times: Record<'before' | 'after', Record<Phase, number[]>> = {
  before: { cold: [], 'no-change': [], 'one-line': [] },
  after: { cold: [], 'no-change': [], 'one-line': [] },
};

const worktree = join(BENCH_CACHE, 'sandbox-before-src');
if (!existsSync(join(worktree, '.git'))) {
  rmSync(worktree, { recursive: true, force: true });
  await exec('git', ['-C', ROOT, 'worktree', 'add', '--force', '--detach', worktree, before]);
} else {
  await exec('git', ['-C', worktree, 'checkout', '--detach', before]);
}
// Its compiler finds the types (and the compiled code its modules) in ours.
if (!existsSync(join(worktree, 'node_modules')))
  symlinkSync(join(ROOT, 'node_modules'), join(worktree, 'node_modules'));
const entries = { before: await buildSlipway('sandbox-before', worktree), after: await buildSlipway('sandbox-after') };
const work = mkdtempSync(join(tmpdir(), 'slipway-bench-sandbox-'));

async function build(which: 'before' | 'after', home: string, app: string): Promise<number> {
  const t0 = performance.now();
  await exec(process.execPath, [entries[which], '--quiet', 'build', 'bench/node', '--path', app], {
    env: { ...process.env, SLIPWAY_HOME: home },
    maxBuffer: 64 << 20,
  });
  return (performance.now() - t0) / 1000;
}

try {
  for (let i = 0; i < runs; i++) {
    const order: ('before' | 'after')[] = i % 2 === 0 ? ['before', 'after'] : ['after', 'before'];
    const homes = { before: join(work, `before-${i}`), after: join(work, `after-${i}`) };
    const apps = { before: join(work, `app-before-${i}`), after: join(work, `app-after-${i}`) };
    for (const which of order) {
      mkdirSync(homes[which]);
      cpSync(join(ROOT, 'examples', 'nodejs'), apps[which], { recursive: true });
      await exec(process.execPath, [entries[which], '--quiet', 'stack', 'create', 'default'], {
        env: { ...process.env, SLIPWAY_HOME: homes[which] },
      });
      // The build image unpacked into the runtime's layer cache once, as on any host that built before.
      await exec(
        process.execPath,
        [entries[which], '--quiet', 'build', 'bench/warmup', '--path', join(ROOT, 'examples', 'procfile')],
        { env: { ...process.env, SLIPWAY_HOME: homes[which] } },
      );
    }
    for (const phase of PHASES) {
      if (phase === 'one-line')
        for (const app of Object.values(apps))
          writeFileSync(join(app, 'greeting.js'), `module.exports = { greeting: 'Hello ${i}' };\n`);
      for (const which of order) times[which][phase].push(await build(which, homes[which], apps[which]));
    }
    process.stderr.write(
      `round ${i + 1}/${runs}: ${PHASES.map((p) => `${p} ${times.before[p].at(-1)!.toFixed(2)} -> ${times.after[p].at(-1)!.toFixed(2)} s`).join('; ')}\n`,
    );
  }
  console.log(
    `| Node.js example (median of ${runs}) | before the sandbox (${before}) | sandboxed | difference | target |`,
  );
  console.log('|---|---|---|---|---|');
  for (const phase of PHASES) {
    const b = median(times.before[phase]);
    const a = median(times.after[phase]);
    const target = phase === 'cold' ? `+5 % (${((a / b - 1) * 100).toFixed(1)} %)` : '+50 ms';
    console.log(
      `| ${phase} | ${b.toFixed(3)} s | ${a.toFixed(3)} s | ${a - b >= 0 ? '+' : ''}${((a - b) * 1000).toFixed(0)} ms | ${target} |`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
