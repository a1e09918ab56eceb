import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ROOT } from '../test/helpers.js';

const exec = promisify(execFile);

/** Where benchmarks keep their inputs and builds. */
export const BENCH_CACHE = process.env['SLIPWAY_BENCH_CACHE'] ?? '/var/cache/slipway-bench';

/**
 * Compiles Slipway (tsc) into `$BENCH_CACHE/<name>` so a benchmark runs it as it is
 * installed, not through tsx; returns the path of the compiled CLI entry.
 */
export async function buildSlipway(name: string, source = ROOT): Promise<string> {
  // bench/all compiles this tree once for every script it runs.
  const built = process.env['SLIPWAY_BENCH_MAIN'];
  if (built && source === ROOT && existsSync(built)) return built;
  // One directory per checkout: two trees benchmarked at once (a clone in CI, a work tree) never share a build.
  const dir = join(BENCH_CACHE, `${name}-${createHash('sha256').update(ROOT).digest('hex').slice(0, 8)}`);
  await rm(join(dir, 'dist'), { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await exec(
    join(ROOT, 'node_modules/.bin/tsc'),
    [
      '-p',
      join(source, 'tsconfig.json'),
      '--outDir',
      join(dir, 'dist'),
      '--sourceMap',
      'false',
      '--declaration',
      'false',
    ],
    { cwd: source },
  ).catch((error: { stdout?: string }) => {
    // A type error still emits the JavaScript (tsc's default): measure it, but say so.
    if (!existsSync(join(dir, 'dist/cli/main.js'))) throw error;
    process.stderr.write(`warning: tsc reported type errors; measuring the JavaScript it emitted:\n${error.stdout}`);
  });
  await writeFile(join(dir, 'package.json'), '{"type":"module"}\n');
  // What the compiled code finds next to itself, as in the repository: modules, the
  // built-in buildpacks and the launcher.
  for (const [name, from] of [
    ['node_modules', ROOT],
    ['buildpacks', source],
    ['launcher', source],
  ] as const) {
    await rm(join(dir, name), { force: true });
    await symlink(join(from, name), join(dir, name));
  }
  return join(dir, 'dist/cli/main.js');
}

/**
 * Slipway as `npm run build` publishes it: buildSlipway's dist/ with the CLI bundle beside
 * it (scripts/build.mjs) and a copy of bin/slipway.js that runs it; returns that bin's path.
 * A command a user waits for (a build, a rebase, a promote) is timed through it, start-up
 * as the user pays it. `bundle: false` leaves the bundle out (bin runs the tsc output).
 * Under bench/all the bundle is made once, by the first script that asks.
 */
export async function buildSlipwayBin(name: string, options: { bundle?: boolean } = {}): Promise<string> {
  const bundle = options.bundle ?? true;
  const dist = dirname(dirname(await buildSlipway(name)));
  const bin = join(dirname(dist), 'bin/slipway.js');
  const made = existsSync(join(dist, 'bundle/cli/manifest.json'));
  if (process.env['SLIPWAY_BENCH_MAIN'] && bundle && made && existsSync(bin)) return bin;
  await rm(join(dist, 'bundle'), { recursive: true, force: true });
  if (bundle)
    await exec(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--no-tsc', '--outdir', dist], { cwd: ROOT });
  await mkdir(dirname(bin), { recursive: true });
  await copyFile(join(ROOT, 'bin/slipway.js'), bin);
  await copyFile(join(ROOT, 'bin/package.json'), join(dirname(bin), 'package.json')); // it is CommonJS
  return bin;
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The median (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** One row of bench/all's table: a path a user waits for, Slipway against its peer in the same run. */
export interface BenchResult {
  /** What was measured, e.g. "registry pull 5 x 100 MB". */
  path: string;
  /** Slipway's median, in `unit`. */
  slipway: number;
  /** The peer tool's median in the same run, in `unit` (absent when there is no peer). */
  peer?: number;
  /** Which tool the peer is, e.g. "Distribution 2.8.2 (skopeo)". */
  peerName?: string;
  /** "s", "ms", "req/s", "MB/s", "images/s", ... */
  unit: string;
  /** Whether more is better (throughput) or less is (time): it decides which way the ratio goes. */
  higherIsBetter?: boolean;
  runs: number;
  /** The target for this path, in words, and whether it was met (if it can be judged). */
  target?: string;
  met?: boolean;
}

/**
 * Hands a result to bench/all (it sets SLIPWAY_BENCH_RESULTS to a file for each script
 * it runs; the rows are appended as JSON lines). Run alone, a script just prints its
 * own table and this does nothing.
 */
export function recordResult(result: BenchResult): void {
  const file = process.env['SLIPWAY_BENCH_RESULTS'];
  if (file) appendFileSync(file, `${JSON.stringify(result)}\n`);
}

/**
 * Ratio of Slipway to its peer, > 1 when Slipway is better: peer/slipway for times,
 * slipway/peer for throughputs.
 */
export function advantage(r: Pick<BenchResult, 'slipway' | 'peer' | 'higherIsBetter'>): number | undefined {
  if (r.peer === undefined || r.peer === 0 || r.slipway === 0) return undefined;
  return r.higherIsBetter ? r.slipway / r.peer : r.peer / r.slipway;
}

export interface Load {
  rps: number;
  /** Connection errors plus answers other than 200. */
  errors: number;
  p99: string;
}

/** GET or HEAD with bench/http-load.ts (32 keep-alive connections) in a child process, so it never shares the server's. */
export async function httpLoad(url: string, method: 'GET' | 'HEAD', seconds: number, accept: string): Promise<Load> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'bench/http-load.ts'),
      url,
      '--method',
      method,
      '--connections',
      '32',
      '--seconds',
      String(seconds),
      '--header',
      `Accept: ${accept}`,
    ],
    { cwd: ROOT },
  );
  const r = JSON.parse(stdout) as { rps: number; statuses: Record<string, number>; errors: number; p99ms: number };
  const bad = Object.entries(r.statuses)
    .filter(([s]) => s !== '200')
    .reduce((n, [, c]) => n + c, 0);
  return { rps: r.rps, errors: r.errors + bad, p99: `${r.p99ms}ms` };
}

/**
 * The server's entry under --profile. Node refuses --cpu-prof in NODE_OPTIONS and the
 * server is started as `node ENTRY ...`, so this entry starts V8's profiler through
 * the inspector in the server's own process (its pid and CPU stay the server's), runs
 * the CLI, and writes the profile to $SLIPWAY_BENCH_PROFILE at exit (the server exits
 * normally on SIGTERM). Same-thread inspector calls complete synchronously.
 */
export async function writeProfileEntry(main: string): Promise<string> {
  const entry = join(dirname(main), 'bench-profile-entry.mjs');
  await writeFile(
    entry,
    [
      "import { writeFileSync } from 'node:fs';",
      "import { Session } from 'node:inspector';",
      'const session = new Session();',
      'session.connect();',
      "session.post('Profiler.enable');",
      "session.post('Profiler.setSamplingInterval', { interval: 1000 });",
      "session.post('Profiler.start');",
      "process.on('exit', () => {",
      "  session.post('Profiler.stop', (err, result) => {",
      '    if (!err) writeFileSync(process.env.SLIPWAY_BENCH_PROFILE, JSON.stringify(result.profile));',
      '  });',
      '});',
      `await import(${JSON.stringify(pathToFileURL(main).href)});`,
      '',
    ].join('\n'),
  );
  return entry;
}
