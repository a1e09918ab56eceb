import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalStore } from '../src/store/local-store.js';
import { Registries } from '../src/registry/client/registries.js';
import { rebaseImage } from '../src/rebase/rebase.js';
import { slipwayOk, startSlipwayRegistry, tempDir, type RegistryProcess } from './helpers.js';
import { appLayers, makeApp, makeStackVersion, osRelease } from './rebase-fixtures.js';

/**
 * Issue 24: a registry that serves the CLI's own store already holds every blob of a
 * local image (under the image's local repository). A push to another repository of
 * it, and a registry rebase onto a run image of the local store, mount those blobs
 * instead of sending them again. What the registry received is read from /metrics.
 */

let home: { path: string; cleanup: () => Promise<void> };
let store: LocalStore;
let registry: RegistryProcess;

async function received(): Promise<number> {
  const text = await (await fetch(`${registry.url}/metrics`)).text();
  let total = 0;
  for (const m of text.matchAll(/^slipway_registry_received_bytes_total(?:\{[^}]*\})? ([0-9.e+]+)$/gm))
    total += Number(m[1]);
  return total;
}

before(async () => {
  home = await tempDir('registry-mounts');
  store = await LocalStore.open(home.path);
  registry = await startSlipwayRegistry(home.path);
});

after(async () => {
  await registry?.stop();
  await store?.close();
  await home?.cleanup();
});

describe('a registry serving the same store', () => {
  test('a push of a local image to a new repository mounts every blob, sending none', async () => {
    const v1 = await makeStackVersion(store, 'pushstack', '1');
    await makeApp(store, 'pushstack', v1, 'local/app', 'v1', await appLayers(store, 'push'));
    const before = await received();
    const report = JSON.parse(
      await slipwayOk(home.path, ['--json', 'push', 'local/app:v1', `${registry.host}/team/pushed:v1`]),
    ) as { blobsSent: number; blobsMounted: number; blobsSkipped: number; bytesSent: number };
    // 2 run image layers + 3 app layers + the config.
    assert.equal(report.blobsSent, 0, JSON.stringify(report));
    assert.equal(report.blobsMounted + report.blobsSkipped, 6, JSON.stringify(report));
    assert.equal(report.bytesSent, 0);
    const manifest = await slipwayOk(home.path, ['manifest', `${registry.host}/team/pushed:v1`]);
    assert.equal((await received()) - before, manifest.length, 'the registry received the manifest only');
  });

  test('a registry rebase onto a run image of the local store mounts its layers instead of copying them', async () => {
    const v1 = await makeStackVersion(store, 'localstack', '1');
    // The app's run image is the local store's localstack/run (no registry host in its metadata).
    await makeApp(store, 'localstack', v1, 'team/rebased', 'v1', await appLayers(store, 'rebase'));
    await makeStackVersion(store, 'localstack', '2', {
      layers: [{ 'bin/true': '#!/bin/sh\n' }, { 'etc/os-release': osRelease('2') }],
    });
    const r = await rebaseImage(`${registry.host}/team/rebased:v1`, () => Promise.resolve(store), {
      registries: new Registries(),
    });
    assert.equal(r.status, 'rebased');
    assert.equal(r.transfer.layersCopied, 0, JSON.stringify(r.transfer));
    assert.equal(r.transfer.blobsMounted, 2, 'the two new base layers were mounted');
  });
});
