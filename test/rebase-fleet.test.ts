import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalStore } from '../src/store/local-store.js';
import { importRootfs } from '../src/copy/import-rootfs.js';
import { fleetRebase, type FleetReport } from '../src/rebase/fleet.js';
import { slipwayOk, tempDir } from './helpers.js';
import { appLayers, localImage, makeApp, makeStackVersion, osRelease } from './rebase-fixtures.js';
import type { Image } from '../src/image/types.js';
import type { Digest } from '../src/oci/digest.js';

/**
 * Fleet rebase in the local store: 200 app images on stack version 1 (in 20
 * repositories), one image marked rebasable=false, one on another stack and one
 * plain image; after `stack` version 2 appears, one fleet rebase moves all 200, the
 * report says which were refused and why, and the second run rebases nothing.
 */

const N = 200;
let home: { path: string; cleanup: () => Promise<void> };
let store: LocalStore;
let v1: { image: Image; digest: Digest };
let v2: { image: Image; digest: Digest };

before(async () => {
  home = await tempDir('rebase-fleet');
  store = await LocalStore.open(home.path);
  v1 = await makeStackVersion(store, 'fleet', '1');
  const other = await makeStackVersion(store, 'other', '1', { layers: [{ 'etc/os-release': osRelease('other') }] });
  const layers = await appLayers(store);
  for (let i = 0; i < N; i++)
    await makeApp(store, 'fleet', v1, `apps/app-${String(i % 20).padStart(2, '0')}`, `v${i}`, layers, {
      env: [`APP=${i}`],
    });
  await makeApp(store, 'fleet', v1, 'apps/pinned', 'v1', layers, { rebasable: 'false' });
  await makeApp(store, 'other', other, 'apps/other', 'v1', layers);
  const dir = await tempDir('rebase-fleet-plain');
  await importRootfs(store, dir.path, 'apps/plain', 'v1');
  await dir.cleanup();
  v2 = await makeStackVersion(store, 'fleet', '2', {
    packages: { libfoo1: '1.2', 'base-files': '12.4', tzdata: '2026a' },
    layers: [{ 'bin/true': '#!/bin/sh\n' }, { 'etc/os-release': osRelease('2') }],
  });
});

after(async () => {
  await store?.close();
  await home?.cleanup();
});

describe('fleet rebase', () => {
  test('--dry-run prints the blast radius and writes nothing', async () => {
    const report = JSON.parse(
      await slipwayOk(home.path, ['--json', 'rebase', '--all', '--stack', 'fleet', '--dry-run']),
    ) as FleetReport;
    assert.equal(report.dryRun, true);
    assert.equal(report.rebased.length, N);
    assert.equal(report.refused.length, 1);
    assert.equal(report.scanned, N + 3);
    assert.equal(report.onStack, N + 1);
    assert.deepEqual(report.rebased[0]!.from, { version: '1', digest: v1.digest });
    assert.deepEqual(report.rebased[0]!.to, { version: '2', digest: v2.digest });
    assert.deepEqual(report.packageChanges, [
      {
        from: '1',
        to: '2',
        run: {
          added: [{ name: 'tzdata', to: '2026a' }],
          removed: [],
          changed: [{ name: 'libfoo1', from: '1.1', to: '1.2' }],
        },
      },
    ]);
    assert.equal(report.transfer.manifestsWritten, 0);
    assert.equal(
      await (await localImage(store, 'apps/app-00:v0')).digest(),
      report.rebased.find((e) => e.image === 'apps/app-00:v0')!.previousDigest,
    );

    const text = await slipwayOk(home.path, ['rebase', '--all', '--stack', 'fleet', '--dry-run']);
    assert.match(text, /Run image packages, version 1 -> 2: \+ tzdata 2026a, ~ libfoo1 1\.1 -> 1\.2/);
    assert.match(
      text,
      /apps\/pinned:v1 +1 +2 +refused +refusing to rebase apps\/pinned:v1: the image is labelled io\.buildpacks\.rebasable=false/,
    );
  });

  test(`all ${N} images are rebased, the report is right, and a second run rebases nothing`, async () => {
    const first = await fleetRebase(store, { stack: 'fleet', concurrency: 8 });
    assert.equal(first.rebased.length, N);
    assert.equal(first.current.length, 0);
    assert.deepEqual(
      first.refused.map((e) => [e.image, e.refusals!.map((r) => r.check)]),
      [['apps/pinned:v1', ['rebasable']]],
    );
    assert.equal(first.failed.length, 0);
    const sample = await localImage(store, 'apps/app-07:v7');
    const ids = (await sample.config()).rootfs.diff_ids;
    assert.deepEqual(ids.slice(0, 2), (await v2.image.config()).rootfs.diff_ids);
    assert.ok((await sample.config()).config!.Env!.includes('APP=7'));
    assert.equal(new Set(first.rebased.map((e) => e.digest)).size, N, 'every image keeps its own identity');

    const second = await fleetRebase(store, { stack: 'fleet' });
    assert.equal(second.rebased.length, 0);
    assert.equal(second.current.length, N);
    assert.equal(second.refused.length, 1);
    assert.equal(second.transfer.manifestsWritten, 0);
  });
});
