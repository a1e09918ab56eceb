/**
 * Layer export benchmark (on demand, not in CI). See bench/README.md.
 *
 *   node --import tsx bench/layer-export.ts [--runs 5] [--rootfs DIR]   speed vs tar | pigz (or zstd) | sha256sum
 *   node --import tsx bench/layer-export.ts --memory                    peak RSS exporting a ~2 GB tree
 *
 * Inputs are cached under $SLIPWAY_BENCH_CACHE (default /var/cache/slipway-bench): a Debian
 * bookworm minbase rootfs made by mmdebstrap, and the generated 2 GB tree. Each of our runs
 * is a child process, so its peak RSS is its own; its time is that of writeLayer alone
 * (node and tsx start-up excluded). Runs alternate between contenders so that a noisy
 * neighbour hurts all of them alike.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeLayerFromDirectory } from '../src/layer/layer-writer.js';
import { median, recordResult } from './common.js';

const CACHE = process.env['SLIPWAY_BENCH_CACHE'] ?? '/var/cache/slipway-bench';
const SELF = fileURLToPath(import.meta.url);
const MB = 1e6;
const MiB = 1 << 20;

type Contender = 'pipeline' | 'zpipeline1' | 'zpipeline' | 'gzip' | 'zstd';
interface Run {
  seconds: number;
  /** user + system CPU seconds, all threads (and for the pipeline, all its processes). */
  cpu?: number;
  tarBytes: number;
  maxRss?: number;
  digest?: string;
  diffId?: string;
}

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    rootfs: { type: 'string' },
    memory: { type: 'boolean', default: false },
    child: { type: 'string' },
    dir: { type: 'string' },
    out: { type: 'string' },
  },
});

/** One export in this (child) process; prints what the parent needs as JSON. */
async function child(what: string, dir: string, out: string): Promise<void> {
  if (what === 'idle') {
    console.log(JSON.stringify({ maxRss: process.resourceUsage().maxRSS * 1024 }));
    return;
  }
  const handle = await open(out, 'w');
  const sink = { write: async (chunk: Uint8Array) => void (await handle.write(chunk)) };
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const layer = await writeLayerFromDirectory(dir, sink, { compression: what as 'gzip' | 'zstd' });
  const seconds = (performance.now() - start) / 1000;
  const cpuUsed = process.cpuUsage(cpuStart);
  await handle.close();
  const cpu = (cpuUsed.user + cpuUsed.system) / 1e6;
  console.log(
    JSON.stringify({
      seconds,
      cpu,
      tarBytes: layer.uncompressedSize,
      maxRss: process.resourceUsage().maxRSS * 1024,
      digest: layer.digest,
      diffId: layer.diffId,
    }),
  );
}

function runChild(what: string, dir: string, out: string): Run {
  const result = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--child', what, '--dir', dir, '--out', out], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`child ${what} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Run;
}

const PIPELINES = {
  pipeline: 'set -o pipefail; tar --sort=name -cf - -C "$1" . | pigz -1 -p2 | sha256sum >/dev/null',
  // The issue's peer: zstd's CLI as a user types it (level 3, one thread).
  zpipeline1: 'set -o pipefail; tar --sort=name -cf - -C "$1" . | zstd -3 -q -c | sha256sum >/dev/null',
  // zstd's CLI at our level (3) and worker count (2): the stricter comparison.
  zpipeline: 'set -o pipefail; tar --sort=name -cf - -C "$1" . | zstd -3 -T2 -q -c | sha256sum >/dev/null',
};

/** The pipeline, timed from here; its CPU time from /usr/bin/time when installed. */
function runPipeline(which: keyof typeof PIPELINES, dir: string, tarBytes: number): Run {
  const timeFile = join(tmpdir(), `slipway-bench-time-${process.pid}`);
  const timed = existsSync('/usr/bin/time');
  const command = timed ? ['/usr/bin/time', '-f', '%U %S', '-o', timeFile, 'bash'] : ['bash'];
  const start = performance.now();
  execFileSync(command[0]!, [...command.slice(1), '-c', PIPELINES[which], '_', dir]);
  const seconds = (performance.now() - start) / 1000;
  if (!timed) return { seconds, tarBytes };
  const [user, system] = readFileSync(timeFile, 'utf8').trim().split(' ').map(Number);
  rmSync(timeFile, { force: true });
  return { seconds, tarBytes, cpu: user! + system! };
}

/** Reads every file once so that each contender starts from a warm page cache. */
function warm(dir: string): number {
  return Number(
    execFileSync('bash', ['-c', 'tar --sort=name -cf - -C "$1" . | wc -c', '_', dir], { encoding: 'utf8' }).trim(),
  );
}

async function speed(runs: number, dir: string): Promise<void> {
  const out = join(tmpdir(), `slipway-bench-${process.pid}.layer`);
  const idle = runChild('idle', dir, out).maxRss!;
  const results: Record<Contender, Run[]> = { pipeline: [], zpipeline1: [], zpipeline: [], gzip: [], zstd: [] };
  const loadBefore = loadavg()[0]!;
  for (let i = 0; i < runs; i++) {
    for (const contender of ['pipeline', 'gzip', 'zpipeline1', 'zpipeline', 'zstd'] as const) {
      const tarBytes = warm(dir);
      const run =
        contender in PIPELINES
          ? runPipeline(contender as keyof typeof PIPELINES, dir, tarBytes)
          : runChild(contender, dir, out);
      results[contender].push(run);
      process.stderr.write(
        `run ${i + 1}/${runs} ${contender.padEnd(8)} ${(run.tarBytes / MB / run.seconds).toFixed(1)} MB/s, ${run.cpu?.toFixed(2) ?? '-'} CPU s\n`,
      );
    }
  }
  rmSync(out, { force: true });
  checkDeterministic(results);
  record(results, runs);
  const base = median(results.pipeline.map(rate));
  console.log(
    `\n${dir}: ${(results.gzip[0]!.tarBytes / MB).toFixed(1)} MB of tar, median of ${runs} runs, ${cpuCount()} cores`,
  );
  console.log(
    `1-minute load average before/after: ${loadBefore.toFixed(2)} / ${loadavg()[0]!.toFixed(2)} (other work on the machine skews wall times)`,
  );
  console.log(`peak RSS of an idle child (node + tsx + modules): ${(idle / MiB).toFixed(0)} MiB\n`);
  console.log(
    `${'contender'.padEnd(40)} ${'median s'.padStart(9)} ${'MB/s'.padStart(7)} ${'vs pipeline'.padStart(12)} ${'CPU s'.padStart(6)} ${'peak RSS MiB'.padStart(13)}`,
  );
  const label: Record<Contender, string> = {
    pipeline: 'tar --sort=name | pigz -1 -p2 | sha256sum',
    zpipeline1: 'tar --sort=name | zstd -3 | sha256sum',
    zpipeline: 'tar --sort=name | zstd -3 -T2 | sha256sum',
    gzip: 'slipway writeLayer gzip',
    zstd: 'slipway writeLayer zstd',
  };
  for (const [contender, list] of Object.entries(results) as [Contender, Run[]][]) {
    const r = median(list.map(rate));
    const rss = list[0]!.maxRss === undefined ? '-' : (Math.max(...list.map((x) => x.maxRss!)) / MiB).toFixed(0);
    const cpu = list[0]!.cpu === undefined ? '-' : median(list.map((x) => x.cpu!)).toFixed(2);
    console.log(
      `${label[contender].padEnd(40)} ${median(list.map((x) => x.seconds))
        .toFixed(2)
        .padStart(
          9,
        )} ${(r / MB).toFixed(1).padStart(7)} ${`${(r / base).toFixed(2)}x`.padStart(12)} ${cpu.padStart(6)} ${rss.padStart(13)}`,
    );
  }
}

function record(results: Record<Contender, Run[]>, runs: number): void {
  const seconds = (c: Contender) => median(results[c].map((r) => r.seconds));
  const mb = (results.gzip[0]!.tarBytes / MB).toFixed(0);
  for (const [mine, peer, peerName, target] of [
    ['gzip', 'pipeline', 'tar | pigz -1 -p2 | sha256sum', 1.1],
    ['zstd', 'zpipeline1', 'tar | zstd -3 | sha256sum', 2],
    ['zstd', 'zpipeline', 'tar | zstd -3 -T2 | sha256sum', undefined],
    ['zstd', 'pipeline', 'tar | pigz -1 -p2 | sha256sum', undefined],
  ] as const) {
    recordResult({
      path: `${mine} layer export, ${mb} MB of tar`,
      slipway: seconds(mine),
      peer: seconds(peer),
      peerName,
      unit: 's',
      runs,
      ...(target ? { target: `>= ${target}x`, met: seconds(peer) / seconds(mine) >= target } : {}),
    });
  }
}

/** Our runs must agree with each other: the same digests every time, the same diffID for gzip and zstd. */
function checkDeterministic(results: Record<Contender, Run[]>): void {
  for (const c of ['gzip', 'zstd'] as const) {
    if (new Set(results[c].map((r) => r.digest)).size !== 1) throw new Error(`${c} digests differ between runs`);
  }
  if (results.gzip[0]!.diffId !== results.zstd[0]!.diffId)
    throw new Error('gzip and zstd layers have different diffIDs');
}

async function memoryCheck(): Promise<void> {
  const dir = ensureBigTree();
  const out = '/dev/null';
  const idle = runChild('idle', dir, out).maxRss!;
  console.log(`${dir}; peak RSS of an idle child (node + tsx + modules): ${(idle / MiB).toFixed(0)} MiB`);
  for (const compression of ['gzip', 'zstd'] as const) {
    warm(dir);
    const run = runChild(compression, dir, out);
    console.log(
      `${compression}: ${(run.tarBytes / MB).toFixed(0)} MB of tar in ${run.seconds.toFixed(1)} s (${(run.tarBytes / MB / run.seconds).toFixed(0)} MB/s), peak RSS ${(run.maxRss! / MiB).toFixed(0)} MiB (idle child ${(idle / MiB).toFixed(0)})`,
    );
  }
}

/** The Debian rootfs, made once with mmdebstrap (about 15-30 s) and renamed into place when complete. */
function ensureRootfs(): string {
  const dir = join(CACHE, 'rootfs-bookworm-minbase');
  if (existsSync(dir)) return dir;
  mkdirSync(CACHE, { recursive: true });
  const partial = `${dir}.partial-${process.pid}`;
  process.stderr.write(`building ${dir} with mmdebstrap...\n`);
  execFileSync('mmdebstrap', ['--variant=minbase', '--format=directory', 'bookworm', partial], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  renameSync(partial, dir);
  return dir;
}

/**
 * About 2 GB: six 300 MiB files and 20,000 small text files in 200 directories. The big
 * files cycle through 64 different MiB of random words: they compress like text (random
 * bytes would make deflate crawl and the run take minutes), and no MiB repeats within
 * a compressor's window.
 */
function ensureBigTree(): string {
  const dir = join(CACHE, 'tree-2g-words');
  if (existsSync(dir)) return dir;
  const partial = `${dir}.partial-${process.pid}`;
  process.stderr.write(`generating ${dir}...\n`);
  mkdirSync(join(partial, 'big'), { recursive: true });
  const blocks = Array.from({ length: 64 }, () => wordBlock(MiB));
  for (let f = 0; f < 6; f++) {
    const fd = openSync(join(partial, 'big', `blob-${f}`), 'w');
    for (let m = 0; m < 300; m++) writeSync(fd, blocks[(f * 300 + m) % blocks.length]!);
    closeSync(fd);
  }
  for (let d = 0; d < 200; d++) {
    mkdirSync(join(partial, 'small', `d${d}`), { recursive: true });
    for (let f = 0; f < 100; f++) {
      writeFileSync(
        join(partial, 'small', `d${d}`, `f${f}.txt`),
        `file ${d}/${f}\n`.repeat(200 + ((d * 7 + f * 13) % 600)),
      );
    }
  }
  renameSync(partial, dir);
  return dir;
}

/** `size` bytes of random words from a 4096-word vocabulary. */
function wordBlock(size: number): Buffer {
  const vocabulary = Array.from({ length: 4096 }, () =>
    randomBytes(6)
      .toString('base64url')
      .slice(0, 3 + (randomBytes(1)[0]! % 6)),
  );
  const picks = randomBytes(size);
  const parts: string[] = [];
  for (let length = 0, i = 0; length < size; i += 2) {
    const word = vocabulary[((picks[i % size]! << 8) | picks[(i + 1) % size]!) % 4096]!;
    const separator = i % 32 === 30 ? '\n' : ' ';
    parts.push(word, separator);
    length += word.length + 1;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

function rate(run: Run): number {
  return run.tarBytes / run.seconds;
}

function cpuCount(): number {
  return Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
}

// Last, so that every constant above is initialised before it runs.
if (values.child) await child(values.child, values.dir!, values.out!);
else if (values.memory) await memoryCheck();
else await speed(Number(values.runs), values.rootfs ?? ensureRootfs());
