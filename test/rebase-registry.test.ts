import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalStore } from '../src/store/local-store.js';
import { Registries } from '../src/registry/client/registries.js';
import { rebaseImage } from '../src/rebase/rebase.js';
import { fleetRebase } from '../src/rebase/fleet.js';
import { slipwayOk, startSlipwayRegistry, tempDir, type RegistryProcess } from './helpers.js';
import { appLayers, localImage, makeApp, makeStackVersion, osRelease } from './rebase-fixtures.js';
import type { Image, Layer } from '../src/image/types.js';
import type { Digest } from '../src/oci/digest.js';

/**
 * Rebase against Slipway's registry over a real socket: the registry serves the store
 * the fixtures are written to, so app images and the stack's run image are in it at
 * once. What the registry received is read from its Prometheus /metrics: a rebase
 * sends the new config and manifest and nothing else (the new run image's layers are
 * mounted from its repository), and a fleet rebase over the catalog does the same.
 */

let home: { path: string; cleanup: () => Promise<void> };
let store: LocalStore;
let registry: RegistryProcess;
const open = () => Promise.resolve(store);
let v1: { image: Image; digest: Digest };
let layers: Layer[];

interface Metrics {
  received: number;
  uploadsCompleted: number;
  requests: Map<string, number>;
}

async function metrics(): Promise<Metrics> {
  const text = await (await fetch(`${registry.url}/metrics`)).text();
  let received = 0;
  let uploadsCompleted = 0;
  const requests = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{([^}]*)\} ([0-9.e+]+)$/.exec(line);
    if (!m) continue;
    const [, name, labels, value] = m;
    if (name === 'slipway_registry_received_bytes_total') received += Number(value);
    if (name === 'slipway_registry_uploads_total' && /outcome="(completed|finished|committed|ok)"/.test(labels!))
      uploadsCompleted += Number(value);
    if (name === 'slipway_registry_http_requests_total') {
      const method = /method="(\w+)"/.exec(labels!)![1]!;
      const route = /route="(\w+)"/.exec(labels!)![1]!;
      const key = `${method} ${route}`;
      requests.set(key, (requests.get(key) ?? 0) + Number(value));
    }
  }
  return { received, uploadsCompleted, requests };
}

const delta = (a: Metrics, b: Metrics, key: string) => (b.requests.get(key) ?? 0) - (a.requests.get(key) ?? 0);

before(async () => {
  home = await tempDir('rebase-registry');
  store = await LocalStore.open(home.path);
  registry = await startSlipwayRegistry(home.path);
  v1 = await makeStackVersion(store, 'teststack', '1');
  layers = await appLayers(store);
  const recorded = {
    runImageName: `${registry.host}/teststack/run:latest`,
    reference: `${registry.host}/teststack/run@${v1.digest}`,
  };
  await makeApp(store, 'teststack', v1, 'team/web', 'v1', layers, recorded);
  for (let i = 0; i < 20; i++)
    await makeApp(store, 'teststack', v1, `fleet/app-${i % 5}`, `v${i}`, layers, { ...recorded, env: [`APP=${i}`] });
  await makeStackVersion(store, 'teststack', '2', {
    layers: [{ 'bin/true': '#!/bin/sh\n' }, { 'etc/os-release': osRelease('2') }],
  });
});

after(async () => {
  await registry?.stop();
  await store?.close();
  await home?.cleanup();
});

describe('rebase in a registry', () => {
  test('a registry rebase sends only the config and the manifest; base layers are mounted', async () => {
    const ref = `${registry.host}/team/web:v1`;
    const registries = new Registries();
    const before = await metrics();
    const r = await rebaseImage(ref, open, { registries });
    const after = await metrics();
    assert.equal(r.status, 'rebased');
    assert.equal(r.runImage.name, `${registry.host}/teststack/run:latest`);
    const rebased = await localImage(store, 'team/web:v1');
    assert.equal(await rebased.digest(), r.digest, 'the tag in the registry moved to the rebased manifest');
    const [rawConfig, rawManifest] = await Promise.all([rebased.rawConfig(), rebased.rawManifest()]);
    assert.equal(
      after.received - before.received,
      rawConfig.length + rawManifest.length,
      'bytes received: config + manifest, no layer',
    );
    assert.equal(delta(before, after, 'PATCH upload'), 0, 'no chunked blob upload');
    // The config goes up in one POST ?digest= (no session to PUT to).
    assert.equal(delta(before, after, 'PUT upload'), 0, 'no upload session');
    assert.equal(after.uploadsCompleted - before.uploadsCompleted, 1, 'one blob upload: the config');
    assert.equal(delta(before, after, 'PUT manifest'), 1);
    assert.equal(r.transfer.layersCopied, 0);
    assert.equal(r.transfer.blobsMounted, 2, 'the two new base layers were mounted from teststack/run');
    assert.equal(r.transfer.bytesSent, rawConfig.length);

    const again = await rebaseImage(ref, open, { registries });
    assert.equal(again.status, 'current');
    assert.equal(again.digest, r.digest);
    assert.equal(delta(after, await metrics(), 'PUT manifest'), 0, 'a no-op writes nothing');
  });

  test('the CLI rebases a registry image', async () => {
    await makeApp(store, 'teststack', v1, 'team/cli', 'v1', layers, {
      runImageName: `${registry.host}/teststack/run:latest`,
    });
    const out = JSON.parse(await slipwayOk(home.path, ['--json', 'rebase', `${registry.host}/team/cli:v1`])) as {
      status: string;
      transfer: { layersCopied: number; manifestsWritten: number };
    };
    assert.equal(out.status, 'rebased');
    assert.equal(out.transfer.layersCopied, 0);
    assert.equal(out.transfer.manifestsWritten, 1);
  });

  test('a fleet rebase over the registry catalog rebases every image once, moving no layer bytes', async () => {
    const registries = new Registries();
    const dry = await fleetRebase(store, {
      stack: 'teststack',
      registry: registry.host,
      repoPrefix: 'fleet/',
      dryRun: true,
      registries,
    });
    assert.equal(dry.rebased.length, 20);
    assert.equal(dry.transfer.manifestsWritten, 0);
    assert.deepEqual(
      dry.packageChanges.map((c) => [c.from, c.to]),
      [['1', '2']],
    );

    const before = await metrics();
    const report = await fleetRebase(store, {
      stack: 'teststack',
      registry: registry.host,
      repoPrefix: 'fleet/',
      concurrency: 4,
      registries,
    });
    const after = await metrics();
    assert.equal(report.rebased.length, 20, JSON.stringify(report.failed.concat(report.refused), null, 1));
    assert.equal(report.failed.length + report.refused.length, 0);
    assert.ok(report.rebased.every((e) => e.from?.version === '1' && e.to?.version === '2'));
    assert.equal(report.transfer.layersCopied, 0);
    assert.equal(delta(before, after, 'PATCH upload'), 0);
    assert.equal(delta(before, after, 'PUT upload'), 0, 'each config in one POST, no session');
    assert.equal(after.uploadsCompleted - before.uploadsCompleted, 20, 'one config per image');
    assert.equal(delta(before, after, 'PUT manifest'), 20);

    const second = await fleetRebase(store, {
      stack: 'teststack',
      registry: registry.host,
      repoPrefix: 'fleet/',
      registries,
    });
    assert.equal(second.rebased.length, 0);
    assert.equal(second.current.length, 20);
  });
});
