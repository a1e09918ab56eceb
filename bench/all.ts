/**
 * bench/all: every benchmark of bench/ with its peer tool, in one run, and one table of
 * the results (path, Slipway median, peer median, ratio, runs, machine load), printed
 * and written as JSON and Markdown under bench/results/ (not committed).
 *
 *   bench/all                       every benchmark at its own sizes (about an hour)
 *   bench/all --only registry,rebase
 *   bench/all --quick               tiny sizes, one run each: that every script still works
 *   npm run bench -- --quick
 *
 * Each script runs as its own process (as run by hand), with SLIPWAY_BENCH_RESULTS
 * naming a file its `recordResult` rows go to, and SLIPWAY_BENCH_MAIN naming Slipway
 * compiled once for all of them. A script whose tools are missing is skipped and
 * listed as such. It exits non-zero only when a script fails, never on a time: the
 * machine is shared and noisy, so times are reported, not asserted.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { commandExists, ROOT } from '../test/helpers.js';
import { BENCH_CACHE, type BenchResult, advantage, buildSlipway } from './common.js';

/** A benchmark script, how to run it in full and quickly, and what it needs. */
interface Bench {
  name: string;
  /** Arguments of a full run (the script's defaults when empty). */
  full: string[];
  /** Arguments of a quick run, or why it has none (too long or needs the network). */
  quick: string[] | { skip: string };
  /** Commands that must be installed. */
  needs?: string[];
  root?: boolean;
}

const BENCHES: Bench[] = [
  { name: 'cli-start', full: [], quick: ['--runs', '1'], needs: ['skopeo', 'podman'] },
  {
    name: 'layer-export',
    full: [],
    quick: ['--runs', '1', '--rootfs', join(ROOT, 'src')],
    needs: ['pigz', 'zstd', 'mmdebstrap'],
  },
  {
    name: 'registry',
    full: ['--only', 'push,manifest,rss'],
    quick: ['--only', 'push,manifest,rss', '--runs', '1', '--duration', '1', '--layer-mb', '1', '--blob-gb', '0.02'],
    needs: ['skopeo', 'docker-registry'],
  },
  {
    name: 'registry-client',
    full: [],
    quick: ['--runs', '1', '--layer-mb', '1'],
    needs: ['skopeo', 'docker-registry'],
  },
  { name: 'rebase', full: [], quick: ['--runs', '2', '--fleet', '20'] },
  {
    name: 'scale-out',
    full: [],
    quick: ['--runs', '1', '--layer-mb', '1', '--seconds', '1'],
    needs: ['skopeo', 'docker-registry', 'haproxy', 'radosgw'],
  },
  {
    name: 'runtime',
    full: ['--runs', '20'],
    quick: ['--only', 'cached', '--runs', '1'],
    needs: ['podman', 'runc', 'umoci'],
    root: true,
  },
  {
    name: 'droplet',
    full: [],
    quick: ['--runs', '1', '--app-mb', '1', '--deps-mb', '1'],
    needs: ['runc'],
    root: true,
  },
  {
    name: 'router-overhead',
    full: [],
    quick: ['--runs', '1', '--seconds', '1', '--only', 'node-http,slipway'],
  },
  {
    name: 'registry-auth-attack',
    full: [],
    quick: ['--runs', '1', '--requests', '50', '--modes', 'basic'],
  },
  { name: 'platform-list-apps', full: [], quick: { skip: 'seeds 10,000 apps' } },
  {
    name: 'build',
    full: [],
    quick: { skip: 'downloads Node.js and runs npm ci' },
    needs: ['buildah', 'runc'],
    root: true,
  },
  {
    name: 'stack',
    full: [],
    quick: { skip: 'runs mmdebstrap against the Debian mirror' },
    needs: ['mmdebstrap'],
    root: true,
  },
  { name: 'sandbox-cost', full: [], quick: { skip: 'builds the Node.js example twice, cold' }, root: true },
  { name: 'platform-api', full: [], quick: { skip: 'seeds 10,000 apps' }, needs: ['wrk'] },
  { name: 'platform-push', full: [], quick: { skip: 'stages real apps, minutes' }, root: true },
  { name: 'platform-rollout', full: [], quick: { skip: 'stages 50 apps twice' }, root: true },
  { name: 'sbom', full: [], quick: { skip: 'builds the Node.js example and inventories 10,000 images' }, root: true },
  { name: 'dashboard', full: [], quick: { skip: 'seeds 10,000 apps and drives chromium' } },
  { name: 'workers', full: [], quick: { skip: 'stages the Node.js example a dozen times' }, root: true },
  { name: 'extensions', full: [], quick: { skip: 'stages the GMP examples both ways' }, root: true },
];

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    `${readFileSync(new URL(import.meta.url), 'utf8')
      .split('*/')[0]!
      .replace(/^\/\*\*|^ \* ?/gm, '')}\n`,
  );
  process.exit(0);
}

const RESULTS = join(ROOT, 'bench/results');

interface Outcome {
  name: string;
  status: 'ok' | 'failed' | 'skipped';
  why?: string;
  seconds: number;
  load: [number, number];
  rows: BenchResult[];
  log?: string;
}

const load1 = () => loadavg()[0]!;

/** Runs one script to its end, its output into a log file and onto stderr. */
function runScript(bench: Bench, args: string[], rowsFile: string, logFile: string, main: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const log = createWriteStream(logFile);
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, `bench/${bench.name}.ts`), ...args], {
      cwd: ROOT,
      env: { ...process.env, SLIPWAY_BENCH_RESULTS: rowsFile, SLIPWAY_BENCH_MAIN: main },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk: Buffer) => {
        log.write(chunk);
        process.stderr.write(chunk);
      });
    }
    child.on('error', reject);
    child.on('close', (code, signal) => log.end(() => resolve(code ?? (signal ? 128 : 1))));
  });
}

function missing(bench: Bench): string | undefined {
  if (bench.root && process.getuid?.() !== 0) return 'needs root';
  const absent = (bench.needs ?? []).filter((tool) => !commandExists(tool));
  return absent.length ? `${absent.join(', ')} not installed (bash scripts/install.sh --test --bench)` : undefined;
}

async function runAll(): Promise<Outcome[]> {
  const only = values.only ? new Set(values.only.split(',')) : undefined;
  const unknown = [...(only ?? [])].filter((n) => !BENCHES.some((b) => b.name === n));
  if (unknown.length)
    throw new Error(`unknown benchmark ${unknown.join(', ')}: choose from ${BENCHES.map((b) => b.name).join(', ')}`);
  const chosen = BENCHES.filter((b) => !only || only.has(b.name));
  await mkdir(join(RESULTS, 'logs'), { recursive: true });
  await mkdir(BENCH_CACHE, { recursive: true });
  process.stderr.write('bench/all: compiling Slipway (tsc) once for every script\n');
  const main = await buildSlipway('all-dist');
  const outcomes: Outcome[] = [];
  for (const bench of chosen) {
    const args = values.quick ? bench.quick : bench.full;
    const start = performance.now();
    const before = load1();
    const skip = Array.isArray(args) ? missing(bench) : `no quick mode: ${args.skip}`;
    if (skip) {
      process.stderr.write(`\n== ${bench.name}: skipped (${skip})\n`);
      outcomes.push({ name: bench.name, status: 'skipped', why: skip, seconds: 0, load: [before, before], rows: [] });
      continue;
    }
    process.stderr.write(`\n== ${bench.name} ${(args as string[]).join(' ')}\n`);
    const rowsFile = join(RESULTS, 'logs', `${bench.name}.rows.jsonl`);
    const logFile = join(RESULTS, 'logs', `${bench.name}.log`);
    await rm(rowsFile, { force: true });
    const code = await runScript(bench, args as string[], rowsFile, logFile, main);
    const rows = existsSync(rowsFile)
      ? (await readFile(rowsFile, 'utf8'))
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as BenchResult)
      : [];
    outcomes.push({
      name: bench.name,
      status: code === 0 ? 'ok' : 'failed',
      ...(code === 0 ? {} : { why: `exited ${code}, see ${logFile}` }),
      seconds: (performance.now() - start) / 1000,
      load: [before, load1()],
      rows,
      log: logFile,
    });
  }
  return outcomes;
}

/** A table cell: a `|` inside (a shell pipeline) would end it. */
const cell = (text: string) => text.replace(/\|/g, '\\|');

const num = (n: number | undefined, unit = '') =>
  n === undefined ? '-' : `${n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(3)}${unit && ` ${unit}`}`;

function markdown(outcomes: Outcome[], started: Date): string {
  const lines = [
    `# Slipway benchmarks${values.quick ? ' (quick: tiny sizes, one run; not figures to quote)' : ''}`,
    '',
    `${started.toISOString()}; ${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Node ${process.version}.`,
    'Ratio: how many times better Slipway is than its peer (> 1: Slipway ahead), for a time peer/Slipway, for a throughput Slipway/peer. Load: the 1-minute load average before and after the script.',
    '',
    '| path | Slipway | peer | peer median | ratio | target | runs | load |',
    '|---|---:|---|---:|---:|---|---:|---|',
  ];
  for (const o of outcomes) {
    for (const r of o.rows) {
      const ratio = advantage(r);
      const target = r.target ? `${r.target}${r.met === undefined ? '' : r.met ? ' (met)' : ' (not met)'}` : '';
      lines.push(
        `| ${cell(r.path)} | ${num(r.slipway, r.unit)} | ${cell(r.peerName ?? '-')} | ${num(r.peer, r.unit)} | ${ratio === undefined ? '-' : `${ratio.toFixed(2)}x`} | ${target} | ${r.runs} | ${o.load.map((l) => l.toFixed(1)).join('-')} |`,
      );
    }
  }
  lines.push('', '| script | status | seconds | rows |', '|---|---|---:|---:|');
  for (const o of outcomes)
    lines.push(`| ${o.name} | ${o.status}${o.why ? `: ${o.why}` : ''} | ${o.seconds.toFixed(0)} | ${o.rows.length} |`);
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const started = new Date();
  const outcomes = await runAll();
  const md = markdown(outcomes, started);
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const json = JSON.stringify(
    {
      date: started.toISOString(),
      quick: values.quick,
      machine: { cores: cpus().length, cpu: cpus()[0]?.model, memory: totalmem(), node: process.version },
      benchmarks: outcomes,
    },
    null,
    2,
  );
  for (const name of [stamp, 'latest']) {
    await writeFile(join(RESULTS, `${name}.json`), `${json}\n`);
    await writeFile(join(RESULTS, `${name}.md`), md);
  }
  process.stdout.write(`\n${md}\nwritten: bench/results/${stamp}.{json,md} and bench/results/latest.{json,md}\n`);
  const failed = outcomes.filter((o) => o.status === 'failed');
  if (failed.length) {
    process.stderr.write(`bench/all: ${failed.map((o) => o.name).join(', ')} failed\n`);
    process.exitCode = 1;
  }
}

await main();
