import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalStore } from '../src/store/local-store.js';
import { createStack, updateStack } from '../src/stack/index.js';
import { fleetRebase } from '../src/rebase/fleet.js';
import { importAdvisories } from '../src/vuln/import.js';
import { imagesWithCve, scanImages } from '../src/vuln/scan.js';
import { vulnDbStatus } from '../src/vuln/status.js';
import { fixesOfStackVersion } from '../src/vuln/stack-fixes.js';
import { localImage, layerOf, makeApp } from './rebase-fixtures.js';
import { slipway, tempDir } from './helpers.js';

/**
 * Scans against advisories written here from the formats' documentation: a Debian
 * Security Tracker entry for a package of a real stack (made by the stack API from a
 * small rootfs whose dpkg status changes between versions) and an OSV record for an
 * npm package the app's lock file pins. Then the stack gets the fixed package, scan
 * says a rebase fixes the base finding, the fleet rebase runs, and the finding is gone.
 */
let home: { path: string; cleanup: () => Promise<void> };
let store: LocalStore;
const rootfs = () => join(home.path, 'rootfs');
const cacheDir = () => join(home.path, 'stack-cache');

async function writeRootfs(fooVersion: string): Promise<void> {
  await mkdir(join(rootfs(), 'etc'), { recursive: true });
  await mkdir(join(rootfs(), 'var/lib/dpkg'), { recursive: true });
  await writeFile(join(rootfs(), 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n');
  await writeFile(join(rootfs(), 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  await writeFile(join(rootfs(), 'etc/group'), 'root:x:0:\n');
  await writeFile(
    join(rootfs(), 'var/lib/dpkg/status'),
    [
      `Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nSource: foo\nVersion: ${fooVersion}\n`,
      'Package: bar\nStatus: install ok installed\nArchitecture: all\nVersion: 2.0-1\n',
      'Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1.0\n',
    ].join('\n'),
  );
}

const TRACKER = {
  foo: {
    'CVE-2099-1111': {
      description: 'foo overflows',
      scope: 'remote',
      releases: {
        bookworm: { status: 'resolved', repositories: { bookworm: '1.2-1' }, fixed_version: '1.2-1', urgency: 'high' },
        sid: { status: 'resolved', repositories: { sid: '1.3-1' }, fixed_version: '1.3-1', urgency: 'high' },
      },
    },
    // fixed_version "0": bookworm's foo never had it.
    'CVE-2099-2222': { releases: { bookworm: { status: 'resolved', fixed_version: '0', urgency: 'low' } } },
  },
  bar: { 'CVE-2099-4444': { releases: { bookworm: { status: 'open', urgency: 'medium' } } } },
};

const OSV_LODASH = {
  schema_version: '1.6.0',
  id: 'GHSA-test-lod4-sh00',
  modified: '2099-01-01T00:00:00Z',
  aliases: ['CVE-2099-3333'],
  summary: 'Prototype pollution in lodash',
  affected: [
    {
      package: { ecosystem: 'npm', name: 'lodash', purl: 'pkg:npm/lodash' },
      ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '4.17.21' }] }],
    },
  ],
  database_specific: { severity: 'HIGH' },
};

before(async () => {
  home = await tempDir('vuln-scan');
  store = await LocalStore.open(home.path);
});

after(async () => {
  await store?.close();
  await home?.cleanup();
});

describe('scan', () => {
  test('findings in the base and the app; a stack update with the fix, a rebase, and the base finding is gone', async () => {
    await writeRootfs('1.1-1');
    await createStack(store, 'real', {
      source: { kind: 'rootfs', build: rootfs(), run: rootfs() },
      cacheDir: cacheDir(),
    });
    const run1 = await localImage(store, 'real/run:1');
    const layers = [
      await layerOf(store, { 'cnb/lifecycle/launcher': '#!/bin/sh\nexec "$@"\n' }),
      await layerOf(store, { 'layers/samples_node/node/bin/node': 'node\n' }),
      await layerOf(store, {
        'workspace/package-lock.json': JSON.stringify({
          name: 'app',
          lockfileVersion: 3,
          packages: { '': { name: 'app' }, 'node_modules/lodash': { version: '4.17.20' } },
        }),
        'workspace/node_modules/lodash/package.json': JSON.stringify({ name: 'lodash', version: '4.17.20' }),
      }),
    ];
    await makeApp(store, 'real', { image: run1, digest: await run1.digest() }, 'apps/web', 'v1', layers);

    const trackerFile = join(home.path, 'tracker.json');
    await writeFile(trackerFile, JSON.stringify(TRACKER));
    const osvFile = join(home.path, 'GHSA-test-lod4-sh00.json');
    await writeFile(osvFile, JSON.stringify(OSV_LODASH));
    const imported = await importAdvisories(store.home, trackerFile);
    assert.equal(imported.kind, 'debian-tracker');
    assert.equal(imported.added, 4);
    assert.equal((await importAdvisories(store.home, trackerFile)).unchanged, true);
    assert.equal((await importAdvisories(store.home, osvFile)).added, 1);
    const status = vulnDbStatus(store.home);
    assert.deepEqual(
      status.sources.map((s) => [s.name, s.advisories]),
      [
        ['debian-tracker', 4],
        ['osv:GHSA-test-lod4-sh00.json', 1],
      ],
    );

    const before = await scanImages(store, ['apps/web:v1']);
    const summary = (f: (typeof before.images)[number]['findings']) =>
      f.map((x) => [x.cve, x.package, x.installed, x.fixed ?? null, x.severity, x.where, x.remedy]);
    assert.deepEqual(summary(before.images[0]!.findings), [
      ['CVE-2099-1111', 'libfoo1', '1.1-1', '1.2-1', 'high', 'base', 'no fixed stack version yet (fixed in 1.2-1)'],
      ['CVE-2099-3333', 'lodash', '4.17.20', '4.17.21', 'high', 'app', 'fixed in 4.17.21: rebuild with it'],
      ['CVE-2099-4444', 'bar', '2.0-1', null, 'medium', 'base', 'no fixed stack version yet'],
    ]);
    assert.deepEqual(
      summary((await scanImages(store, ['apps/web:v1'], { severity: 'high' })).images[0]!.findings).map((f) => f[0]),
      ['CVE-2099-1111', 'CVE-2099-3333'],
    );

    // The stack's version 2 carries the fix: a rebase onto it would fix the base finding.
    await writeRootfs('1.2-1');
    const update = await updateStack(store, 'real', { cacheDir: cacheDir() });
    assert.equal(update.version, '2');
    const pending = (await scanImages(store, ['apps/web:v1'])).images[0]!.findings.find(
      (f) => f.cve === 'CVE-2099-1111',
    );
    assert.equal(pending?.remedy, 'fixed by rebasing to real version 2');
    assert.deepEqual(pending?.rebaseTo, { stack: 'real', version: '2' });
    const byCve = await imagesWithCve(store, 'CVE-2099-1111');
    // What stack update reports: version 2 fixes CVE-2099-1111 of libfoo1, in the app (and in the stack's own version 1).
    const fixes = await fixesOfStackVersion(store, 'real', '2');
    assert.deepEqual(
      fixes?.map((f) => [f.cve, f.package, f.fixed]),
      [['CVE-2099-1111', 'libfoo1', '1.2-1']],
    );
    assert.ok(fixes?.[0]?.images.includes('apps/web:v1'), JSON.stringify(fixes));
    // --cve lists the app (and, inventoried by the fleet scan above, the stack's version 1 images).
    assert.deepEqual(
      byCve.images.map((i) => i.names),
      [['apps/web:v1']],
    );

    const rebase = await fleetRebase(store, { stack: 'real' });
    assert.deepEqual(
      rebase.rebased.map((e) => e.image),
      ['apps/web:v1'],
    );
    const afterRebase = await scanImages(store, ['apps/web:v1']);
    assert.deepEqual(
      afterRebase.images[0]!.findings.map((f) => f.cve),
      ['CVE-2099-3333', 'CVE-2099-4444'],
    );
    // --cve finds no image with it any more among the tagged ones (the old digest is no longer tagged).
    const gone = await imagesWithCve(store, 'CVE-2099-1111');
    assert.ok(gone.images.every((i) => !i.names.includes('apps/web:v1')));
    // A not-affected release is never a finding.
    assert.deepEqual((await imagesWithCve(store, 'CVE-2099-2222')).images, []);
  });

  test('the CLI: vulndb status, scan --json, and a clear error for no images', async () => {
    const st = await slipway(home.path, ['vulndb', 'status', '--json']);
    assert.equal(st.code, 0, st.stderr);
    assert.equal(JSON.parse(st.stdout).advisories, 5);
    const scan = await slipway(home.path, ['scan', '--json', 'apps/web:v1']);
    assert.equal(scan.code, 0, scan.stderr);
    assert.deepEqual(
      JSON.parse(scan.stdout).images[0].findings.map((f: { cve: string }) => f.cve),
      ['CVE-2099-3333', 'CVE-2099-4444'],
    );
    const attached = await slipway(home.path, ['scan', '--json', '--attach', 'apps/web:v1']);
    assert.equal(attached.code, 0, attached.stderr);
    const { image, referrer } = JSON.parse(attached.stdout).images[0];
    const refs = await store.meta.referrers('apps/web', image);
    assert.deepEqual(
      refs.filter((r) => r.digest === referrer).map((r) => r.artifactType),
      ['application/vnd.slipway.vulnerability-report.v1+json'],
    );
    const doc = JSON.parse(
      (await store.blobs.read(JSON.parse((await store.blobs.read(referrer)).toString()).layers[0].digest)).toString(),
    );
    assert.equal(doc.database.advisories, 5);
    assert.deepEqual(
      doc.findings.map((f: { cve: string }) => f.cve),
      ['CVE-2099-3333', 'CVE-2099-4444'],
    );
    for (const args of [['sbom'], ['scan'], ['vulndb', 'import'], ['vulndb', 'status']]) {
      const help = await slipway(home.path, [...args, '--help']);
      assert.match(help.stdout, new RegExp(`Examples:\\n  \\$ slipway ${args.join(' ')}`), `${args.join(' ')} --help`);
    }
    const bad = await slipway(home.path, ['scan']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /name the images to scan, or give --all or --cve/);
    const cve = await slipway(home.path, ['scan', '--cve', 'CVE-2099-3333']);
    assert.match(cve.stdout, /CVE-2099-3333: 1 images\napps\/web:v1/);
  });
});
