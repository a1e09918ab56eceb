/**
 * Build figures for the Node.js example (examples/nodejs: express, Node.js from the npm
 * registry), `slipway build` side by side with `buildah bud --layers` (Debian's buildah)
 * of the equivalent cache-friendly multi-stage Dockerfile (bench/build.Dockerfile) on
 * the same stack images, in one run, the two tools alternating:
 *
 *   cold        first build: Node.js and npm downloaded, npm ci, every layer written
 *               (slipway: a fresh store with the stack; buildah: its build cache pruned)
 *   no-change   the same source again (answered from the build's reuse record: no
 *               container, the image of the cold build re-tagged)
 *   one-line    greeting.js changed: the dependencies reused, only the app is new
 *
 * Both are timed as commands, start-up included (slipway compiled, as installed). Also
 * slipway's own detect/build/export split and bytes of new layers, from --json.
 * Medians of --runs (default 3).
 *
 *   node --import tsx bench/build.ts [--runs 3]
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LocalStore, ensureDefaultStack } from '../src/index.js';
import { BENCH_CACHE, buildSlipwayBin, median } from './common.js';

const exec = promisify(execFile);
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 3) || 3;
const ROOT = join(import.meta.dirname, '..');
const example = join(ROOT, 'examples', 'nodejs');
const caBundle = process.env['SSL_CERT_FILE'] ?? '/etc/ssl/certs/ca-certificates.crt';

type Phase = 'cold' | 'no-change' | 'one-line';
interface SlipwayRow {
  wall: number;
  total: number;
  detect: number;
  build: number;
  export: number;
  bytes: number;
  sameDigest: boolean;
  /** Answered by the no-change shortcut (no container started). */
  reused: boolean;
}
const slip: Record<Phase, SlipwayRow[]> = { cold: [], 'no-change': [], 'one-line': [] };
const buildah: Record<Phase, number[]> = { cold: [], 'no-change': [], 'one-line': [] };

const entry = await buildSlipwayBin('build');
const work = mkdtempSync(join(tmpdir(), 'slipway-bench-build-'));
const buildahRoot = join(BENCH_CACHE, 'buildah');
const buildahArgs = [
  '--root',
  join(buildahRoot, 'storage'),
  '--runroot',
  join(buildahRoot, 'run'),
  '--storage-driver',
  'overlay',
];

async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { seconds: (performance.now() - t0) / 1000, value };
}

function slipwayBuild(home: string, app: string): Promise<{ seconds: number; value: Record<string, any> }> {
  return timed(async () =>
    JSON.parse(
      (
        await exec(process.execPath, [entry, '--json', 'build', 'bench/node', '--path', app], {
          env: { ...process.env, SLIPWAY_HOME: home },
          maxBuffer: 64 << 20,
        })
      ).stdout,
    ),
  );
}

function buildahBud(app: string): Promise<{ seconds: number; value: unknown }> {
  return timed(() =>
    exec(
      'buildah',
      [
        ...buildahArgs,
        'bud',
        '--layers',
        '--isolation',
        'chroot',
        '--quiet',
        '-v',
        `${caBundle}:/etc/ssl/certs/ca-certificates.crt:ro`,
        '-f',
        join(ROOT, 'bench', 'build.Dockerfile'),
        '-t',
        'bench-node',
        app,
      ],
      { maxBuffer: 64 << 20 },
    ),
  );
}

const loadBefore = loadavg()[0]!;
try {
  // The stack images, for both tools: the default stack, copied into buildah's storage.
  const stackHome = join(work, 'stack-home');
  const store = await LocalStore.open(stackHome);
  await ensureDefaultStack(store);
  await store.close();
  // buildah names an image pulled from an OCI layout after its path: keep it lowercase.
  const layout = join(BENCH_CACHE, 'build-stack-layout');
  rmSync(layout, { recursive: true, force: true });
  for (const image of ['build', 'run']) {
    await exec(process.execPath, [entry, '--quiet', 'copy', `default/${image}`, `oci:${layout}:${image}`], {
      env: { ...process.env, SLIPWAY_HOME: stackHome },
    });
    const id =
      (await exec('buildah', [...buildahArgs, 'pull', '--quiet', `oci:${layout}:${image}`])).stdout
        .trim()
        .split('\n')
        .at(-1) ?? '';
    await exec('buildah', [...buildahArgs, 'tag', id, `localhost/stack-${image}`]);
  }

  for (let i = 0; i < runs; i++) {
    const home = join(work, `home-${i}`);
    mkdirSync(home);
    await exec(process.execPath, [entry, '--quiet', 'stack', 'create', 'default'], {
      env: { ...process.env, SLIPWAY_HOME: home },
    });
    // A fresh store unpacks the build image into its runtime layer cache once: warm that
    // (buildah has the stack images in its storage already), not the app's build.
    await exec(
      process.execPath,
      [entry, '--quiet', 'build', 'bench/warmup', '--path', join(ROOT, 'examples', 'procfile')],
      { env: { ...process.env, SLIPWAY_HOME: home } },
    );
    await exec('buildah', [...buildahArgs, 'rmi', '--force', 'bench-node']).catch(() => undefined);
    await exec('buildah', [...buildahArgs, 'rmi', '--prune']).catch(() => undefined);
    const appS = join(work, `app-s-${i}`);
    const appB = join(work, `app-b-${i}`);
    cpSync(example, appS, { recursive: true });
    cpSync(example, appB, { recursive: true });

    let previous: string | undefined;
    for (const phase of ['cold', 'no-change', 'one-line'] as Phase[]) {
      if (phase === 'one-line')
        for (const app of [appS, appB])
          writeFileSync(join(app, 'greeting.js'), `module.exports = { greeting: 'Hello ${i}' };\n`);
      // Alternate which tool goes first, so neither always has the warmer machine.
      const order = (i + (phase === 'no-change' ? 1 : 0)) % 2 === 0 ? ['slipway', 'buildah'] : ['buildah', 'slipway'];
      for (const tool of order) {
        if (tool === 'buildah') {
          buildah[phase].push((await buildahBud(appB)).seconds);
          continue;
        }
        const { seconds, value: r } = await slipwayBuild(home, appS);
        slip[phase].push({
          wall: seconds,
          total: r.seconds.total,
          detect: r.seconds.detect,
          build: r.seconds.build,
          export: r.seconds.export,
          bytes: r.bytesWritten,
          sameDigest: r.digest === previous,
          reused: r.reused !== undefined,
        });
        previous = r.digest;
      }
    }
    process.stderr.write(
      `round ${i + 1}/${runs}: ${(['cold', 'no-change', 'one-line'] as Phase[]).map((p) => `${p} slipway ${slip[p].at(-1)!.wall.toFixed(2)} s, buildah ${buildah[p].at(-1)!.toFixed(2)} s`).join('; ')}\n`,
    );
  }

  console.log(
    `| Node.js example (median of ${runs}) | buildah bud --layers | slipway build | ratio | slipway detect / build / export s | new layer bytes | same digest | reused, no container |`,
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const phase of ['cold', 'no-change', 'one-line'] as Phase[]) {
    const m = (k: keyof SlipwayRow) => median(slip[phase].map((r) => Number(r[k])));
    const b = median(buildah[phase]);
    console.log(
      `| ${phase} | ${b.toFixed(2)} s | ${m('wall').toFixed(2)} s (in-process ${m('total').toFixed(2)}) | ${(m('wall') / b).toFixed(2)}x | ${m('detect').toFixed(2)} / ${m('build').toFixed(2)} / ${m('export').toFixed(2)} | ${Math.round(m('bytes'))} | ${phase === 'cold' ? '-' : slip[phase].map((r) => (r.sameDigest ? 'yes' : 'no')).join('/')} | ${slip[phase].filter((r) => r.reused).length}/${slip[phase].length} |`,
    );
  }
  console.log(
    `\nload average (1 min): ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after; ${runs} runs`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
