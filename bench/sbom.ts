/**
 * SBOM and scan benchmark (on demand, not in CI). See bench/README.md, "SBOMs and scans".
 *
 *   node --import tsx bench/sbom.ts [--runs 5] [--images 1000] [--cve-images 10000] [--advisories 60000] [--skip-build]
 *
 * - sbom: the Node.js example rebuilt warm with one line changed (a new app layer, the
 *   rest reused), then what `slipway build` adds: `attachBuildSbom` (the SBOM made with
 *   the store's layer facts cache, attached, its inventory recorded), against the warm
 *   build itself; and `generateSbom` once with the cache emptied (every layer read). No peer runs here: syft and trivy come from GitHub releases and
 *   Docker Hub, which this machine cannot reach, and Debian packages neither.
 * - scan --all: N images in the store (the default run image's real packages, the Node
 *   example's real lock file, versions varied per image), inventoried, against a
 *   database of M advisory rows generated from the formats (Debian tracker rows for the
 *   image's source packages and for made-up ones, releases bullseye/bookworm/trixie/sid,
 *   fixed, open and not-affected; OSV npm ranges), timed in-process and by the CLI.
 * - scan --cve: the same with K images, one CVE of a base package.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cp, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDefaultStack, LocalStore } from '../src/index.js';
import { digestOf, type Digest } from '../src/oci/digest.js';
import { MediaType } from '../src/oci/media-types.js';
import { parseTransport } from '../src/oci/transport.js';
import { canonicalJson } from '../src/image/json.js';
import { generateSbom } from '../src/sbom/sbom.js';
import { buildApp } from '../src/stage/cnb/build-app.js';
import { attachBuildSbom } from '../src/vuln/inventory.js';
import type { SbomComponent } from '../src/sbom/types.js';
import type { AdvisoryRow } from '../src/vuln/advisory.js';
import { imagesWithCve, scanImages } from '../src/vuln/scan.js';
import { VulnDb } from '../src/vuln/vuln-db.js';
import { ROOT, tempDir } from '../test/helpers.js';
import { median, recordResult } from './common.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    images: { type: 'string', default: '1000' },
    'cve-images': { type: 'string', default: '10000' },
    advisories: { type: 'string', default: '60000' },
    'skip-build': { type: 'boolean', default: false },
  },
});
const RUNS = Number(args.runs);
const IMAGES = Number(args.images);
const CVE_IMAGES = Number(args['cve-images']);
const ADVISORIES = Number(args.advisories);

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const rows: { path: string; value: string }[] = [];
const report = (path: string, value: number, unit: string, target?: string, met?: boolean) => {
  console.log(`  ${path}: ${value.toFixed(1)} ${unit}`);
  rows.push({
    path,
    value: `${value.toFixed(1)} ${unit}${target ? ` (target ${target}: ${met ? 'met' : 'not met'})` : ''}`,
  });
  recordResult({
    path,
    slipway: Math.round(value * 10) / 10,
    unit,
    runs: RUNS,
    ...(target ? { target, met: met! } : {}),
  });
};

const dir = await tempDir('bench-sbom');
const store = await LocalStore.open(dir.path);
try {
  await ensureDefaultStack(store);
  const base = await generateSbom(parseTransport('default/run:latest'), async () => store, { attach: false });
  const baseDebs = base.inventory.components.filter((c) => c.ecosystem === 'deb');

  // 1. SBOM cost on a warm build of the Node.js example: a one-line change each run (a
  // new app layer, so a new image whose SBOM is made, attached and recorded).
  if (!args['skip-build']) {
    const app = join(dir.path, 'nodejs');
    await cp(join(ROOT, 'examples/nodejs'), app, { recursive: true });
    const build = (sbom: boolean) => buildApp(store, { image: 'ex/node:latest', path: app, sbom });
    await build(false); // cold: downloads Node.js and the packages
    const builds: number[] = [];
    const sboms: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      await writeFile(
        join(app, 'greeting.js'),
        `${readFileSync(join(ROOT, 'examples/nodejs/greeting.js'), 'utf8')}// ${i}\n`,
      );
      let t = process.hrtime.bigint();
      const r = await build(false);
      builds.push(ms(t));
      t = process.hrtime.bigint();
      await attachBuildSbom(store, 'ex/node', r.digest);
      sboms.push(ms(t));
    }
    const uncached: number[] = [];
    for (let i = 0; i < Math.min(RUNS, 3); i++) {
      await rm(join(dir.path, 'cache', 'sbom-layers'), { recursive: true, force: true });
      const t = process.hrtime.bigint();
      await generateSbom(parseTransport('ex/node:latest'), async () => store, { attach: false });
      uncached.push(ms(t));
    }
    report('warm build of the Node example, one line changed (no SBOM)', median(builds), 'ms');
    report(
      'SBOM of that build (made, attached, recorded; layer facts cached), added to it',
      median(sboms),
      'ms',
      '< 150 ms',
      median(sboms) < 150,
    );
    report('SBOM of the same image, layer facts cache empty', median(uncached), 'ms');
  }

  // 2. The fleet: images with real package sets, versions varied.
  const lock = JSON.parse(readFileSync(join(ROOT, 'examples/nodejs/package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string }>;
  };
  const npmPackages = Object.entries(lock.packages)
    .filter(([p, v]) => p !== '' && v.version)
    .map(([p, v]) => ({ name: p.slice(p.lastIndexOf('node_modules/') + 13), version: v.version! }));
  const db = VulnDb.open(dir.path);
  const sources = [...new Set(baseDebs.map((c) => c.source!))];
  const advisories = makeAdvisories(sources, baseDebs, npmPackages, ADVISORIES);
  let t = process.hrtime.bigint();
  db.importSource(
    {
      name: 'bench-tracker',
      kind: 'debian-tracker',
      location: 'generated',
      imported: new Date().toISOString(),
      fingerprint: 'x',
    },
    advisories,
  );
  report(`vulndb import of ${advisories.length} advisory rows`, ms(t), 'ms');

  const layer = base.inventory.layers[0]!.diffId;
  let made = 0;
  const makeImages = async (upTo: number) => {
    for (; made < upTo; made++) {
      const digest = await storeTinyImage(store, `fleet/app${made % 100}`, `v${made}`, made);
      const comps: SbomComponent[] = [
        ...baseDebs.map((c, j) => (j % 7 === made % 7 ? { ...c, version: `${c.version}+x${made % 3}` } : c)),
        ...npmPackages.map((p, j) => ({
          ecosystem: 'npm' as const,
          name: p.name,
          version: j % 5 === made % 5 ? bump(p.version, made % 4) : p.version,
          purl: `pkg:npm/${p.name}@${p.version}`,
          layer: `sha256:${'a'.repeat(64)}` as Digest,
          foundIn: `workspace/node_modules/${p.name}/package.json`,
        })),
      ];
      db.putInventory(
        {
          image: digest,
          release: 'bookworm',
          stack: 'default',
          layers: JSON.stringify([{ diffId: layer, index: 0, origin: 'base' }]),
        },
        comps.map((c) => ({ ...c, layer: c.ecosystem === 'deb' ? layer : c.layer })),
      );
    }
  };
  t = process.hrtime.bigint();
  await makeImages(IMAGES);
  rows.push({ path: `fixture: ${IMAGES} images stored and inventoried`, value: `${(ms(t) / 1000).toFixed(1)} s` });
  db.close();

  const all: number[] = [];
  let findings = 0;
  await scanImages(store, 'all'); // warm-up: the stack versions are read once per process in real use too
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = await scanImages(store, 'all');
    all.push(ms(t0));
    findings = r.images.reduce((n, x) => n + x.findings.length, 0);
  }
  report(
    `scan --all, ${IMAGES} images x ${advisories.length} advisories (in-process; ${findings} findings)`,
    median(all),
    'ms',
    '< 3 s',
    median(all) < 3000,
  );
  const cliAll = await cliTimes(dir.path, ['scan', '--all', '--json']);
  report(`scan --all, ${IMAGES} images (CLI, node start included)`, median(cliAll), 'ms');

  const db2 = VulnDb.open(dir.path);
  t = process.hrtime.bigint();
  for (; made < CVE_IMAGES; made++) {
    const digest = await storeTinyImage(store, `fleet/app${made % 100}`, `v${made}`, made);
    db2.putInventory(
      {
        image: digest,
        release: 'bookworm',
        stack: 'default',
        layers: JSON.stringify([{ diffId: layer, index: 0, origin: 'base' }]),
      },
      baseDebs.map((c) => ({ ...c, layer })),
    );
  }
  rows.push({ path: `fixture: ${CVE_IMAGES} images in all`, value: `${(ms(t) / 1000).toFixed(1)} s more` });
  db2.close();
  // A CVE of a base package that bookworm's version has: what an operator asks about.
  const cve = advisories.find(
    (a) => a.release === 'bookworm' && a.ecosystem === 'deb' && a.fixed?.includes('+deb12u'),
  )!.cve;
  const byCve: number[] = [];
  let hits = 0;
  for (let i = 0; i < RUNS + 1; i++) {
    const t0 = process.hrtime.bigint();
    const r = await imagesWithCve(store, cve);
    if (i > 0) byCve.push(ms(t0));
    hits = r.images.length;
  }
  report(
    `scan --cve across ${CVE_IMAGES} images (in-process; ${hits} affected)`,
    median(byCve),
    'ms',
    '< 100 ms',
    median(byCve) < 100,
  );
  const cliCve = await cliTimes(dir.path, ['scan', '--json', '--cve', cve]);
  report(`scan --cve across ${CVE_IMAGES} images (CLI, node start included)`, median(cliCve), 'ms');
} finally {
  await store.close();
  await dir.cleanup();
}

console.log(
  `\nSBOM and scan benchmark, ${RUNS} runs, medians; load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
for (const r of rows) console.log(`  ${r.path.padEnd(90)} ${r.value}`);

/** A distinct tiny image (its own config, one shared empty layer) tagged in the store: what scan --all walks. */
async function storeTinyImage(s: LocalStore, repository: string, tag: string, n: number): Promise<Digest> {
  const layerBytes = Buffer.alloc(1024);
  const config = canonicalJson({
    architecture: 'amd64',
    os: 'linux',
    config: { Env: [`N=${n}`] },
    rootfs: { type: 'layers', diff_ids: [digestOf(layerBytes)] },
  });
  return s.withLease(async (lease) => {
    await lease.putBytes(layerBytes);
    await lease.putBytes(config);
    const manifest = canonicalJson({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: digestOf(config), size: config.length },
      layers: [{ mediaType: MediaType.OciLayer, digest: digestOf(layerBytes), size: layerBytes.length }],
    });
    return (await s.putManifest(repository, manifest, MediaType.OciManifest, [tag], lease)).digest;
  });
}

function bump(v: string, by: number): string {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v);
  return m ? `${m[1]}.${m[2]}.${Number(m[3]) + by}` : v;
}

/**
 * Advisory rows as the two formats give them: for each real source package a few CVEs
 * across four releases (fixed above or below the installed version, open, fixed_version 0),
 * OSV npm ranges for the lock file's packages, and the rest for made-up packages so the
 * database has the size of Debian's tracker.
 */
function makeAdvisories(
  sources: string[],
  debs: SbomComponent[],
  npm: { name: string; version: string }[],
  total: number,
): AdvisoryRow[] {
  const out: AdvisoryRow[] = [];
  const releases = ['bullseye', 'bookworm', 'trixie', 'sid'];
  const versionOf = new Map(debs.map((c) => [c.source!, c.sourceVersion!]));
  let n = 0;
  const id = () => `CVE-2090-${String(++n).padStart(5, '0')}`;
  for (const src of sources) {
    for (let k = 0; k < 8; k++) {
      const cve = id();
      for (const [ri, release] of releases.entries()) {
        // 1 in 8 fixed after the installed version, 1 in 8 open, 3 in 8 fixed before it, 3 in 8 not affected.
        const kind = [0, 1, 2, 2, 2, 3, 3, 3][(k + ri) % 8]!;
        const installed = versionOf.get(src)!;
        out.push({
          id: cve,
          cve,
          ecosystem: 'deb',
          package: src,
          release,
          status: kind === 3 ? 'not-affected' : kind === 1 ? 'open' : 'affected',
          severity: (['low', 'medium', 'high', 'critical'] as const)[k % 4]!,
          ...(kind === 0 ? { fixed: `${installed}+deb12u${k + 50}` } : kind === 2 ? { fixed: '0.1-1' } : {}),
        });
      }
    }
  }
  for (const [j, p] of npm.entries()) {
    if (j % 10 !== 0) continue; // one package in ten has an advisory
    const cve = id();
    out.push({
      id: `GHSA-${n}`,
      cve,
      ecosystem: 'npm',
      package: p.name,
      release: '',
      status: 'affected',
      severity: 'high',
      ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: bump(p.version, 1) }] }],
    });
  }
  for (let i = 0; out.length < total; i++) {
    const cve = id();
    for (const release of releases) {
      if (out.length >= total) break;
      out.push({
        id: cve,
        cve,
        ecosystem: 'deb',
        package: `made-up-${i % 9000}`,
        release,
        status: 'affected',
        severity: 'medium',
        fixed: `1.${i % 50}-1`,
      });
    }
  }
  return out;
}

/** The CLI's wall time, median of RUNS, from source (tsx). */
async function cliTimes(home: string, cliArgs: string[]): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['--', join(ROOT, 'bin/slipway.js'), ...cliArgs], {
        env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: home },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`slipway ${cliArgs.join(' ')} exited ${code}`)),
      );
    });
    times.push(ms(t0));
  }
  return times;
}
