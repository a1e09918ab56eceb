/**
 * Build figures for the Node.js example (examples/nodejs), through the library API
 * (node and tsx start-up excluded), in a fresh store with the default stack:
 *
 *   cold        first build: Node.js and npm downloaded, npm ci, every layer exported
 *   no-change   the same source again: nothing runs but the buildpack's checks
 *   one-line    greeting.js changed: node_modules reused, only the app layer is new
 *
 * For each: wall time, the detect/build/export split, bytes of new layer blobs, and
 * whether the digest matched the previous build. Medians of --runs (default 3).
 *
 *   node --import tsx bench/build.ts [--runs 3]
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStore, ensureDefaultStack } from '../src/index.js';
import { stage, type StageReport } from '../src/stage/stage.js';
import { median } from './common.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 3) || 3;
const example = join(import.meta.dirname, '..', 'examples', 'nodejs');

interface Row { total: number; detect: number; build: number; export: number; bytes: number; sameDigest: boolean }
const rows: Record<'cold' | 'no-change' | 'one-line', Row[]> = { cold: [], 'no-change': [], 'one-line': [] };

for (let i = 0; i < runs; i++) {
  const home = mkdtempSync(join(tmpdir(), 'slipway-bench-build-'));
  const app = mkdtempSync(join(tmpdir(), 'slipway-bench-app-'));
  cpSync(example, app, { recursive: true });
  const store = await LocalStore.open(home);
  try {
    await ensureDefaultStack(store);
    // Warm the runtime's layer cache of this store (a fresh store unpacks the build image once).
    const build = (): Promise<StageReport> => stage(store, { path: app, repository: 'bench/node', tag: 'latest', created: 315532801 });
    const row = (r: StageReport, previous?: string): Row => ({
      total: r.seconds.total, detect: r.seconds.detect, build: r.seconds.build, export: r.seconds.export, bytes: r.bytesWritten, sameDigest: r.digest === previous,
    });
    await stage(store, { path: join(import.meta.dirname, '..', 'examples', 'procfile'), repository: 'bench/warmup', tag: 'latest', created: 315532801 });
    const cold = await build();
    rows.cold.push(row(cold));
    const again = await build();
    rows['no-change'].push(row(again, cold.digest));
    writeFileSync(join(app, 'greeting.js'), `module.exports = { greeting: 'Hello ${i}' };\n`);
    const changed = await build();
    rows['one-line'].push(row(changed, again.digest));
  } finally {
    await store.close();
    rmSync(home, { recursive: true, force: true });
    rmSync(app, { recursive: true, force: true });
  }
}

console.log(`| build (median of ${runs}) | total s | detect s | build s | export s | new layer bytes | same digest |`);
console.log('|---|---|---|---|---|---|---|');
for (const [name, list] of Object.entries(rows)) {
  const m = (k: keyof Row) => median(list.map((r) => Number(r[k])));
  console.log(`| ${name} | ${m('total').toFixed(2)} | ${m('detect').toFixed(2)} | ${m('build').toFixed(2)} | ${m('export').toFixed(2)} | ${Math.round(m('bytes'))} | ${list.map((r) => (r.sameDigest ? 'yes' : 'no')).join('/')} |`);
}
