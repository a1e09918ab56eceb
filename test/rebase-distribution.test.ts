import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalStore } from '../src/store/local-store.js';
import { Registries } from '../src/registry/client/registries.js';
import { copy } from '../src/copy/copy.js';
import { parseTransport } from '../src/oci/transport.js';
import { MANIFEST_ACCEPT } from '../src/registry/client/remote-source.js';
import { rebaseImage } from '../src/rebase/rebase.js';
import { fleetRebase } from '../src/rebase/fleet.js';
import { commandExists, startDistribution, tempDir, type RegistryProcess } from './helpers.js';
import { appLayers, localImage, makeApp, makeStackVersion, osRelease } from './rebase-fixtures.js';

/**
 * Rebase in another registry (CNCF Distribution 2.8): the app and the stack's run
 * image are pushed there; the rebase mounts the new run image's layers from their
 * repository and sends the config and manifest only.
 */

const haveDistribution = commandExists('docker-registry');
let home: { path: string; cleanup: () => Promise<void> };
let store: LocalStore;
let dist: RegistryProcess;
const open = () => Promise.resolve(store);

before(async () => {
  if (!haveDistribution) return;
  home = await tempDir('rebase-dist');
  store = await LocalStore.open(home.path);
  dist = await startDistribution(`${home.path}/distribution`);
});

after(async () => {
  await dist?.stop();
  await store?.close();
  await home?.cleanup();
});

describe('rebase in CNCF Distribution', { skip: !haveDistribution }, () => {
  test('base layers are mounted from the run image repository; only config and manifest are sent', async () => {
    const push = (from: string, to: string) => copy(parseTransport(from), parseTransport(`${dist.host}/${to}`), open);
    const v1 = await makeStackVersion(store, 'teststack', '1');
    await push('teststack/run:1', 'stacks/run:latest');
    await makeApp(store, 'teststack', v1, 'team/web', 'v1', await appLayers(store), {
      runImageName: `${dist.host}/stacks/run:latest`,
      reference: `${dist.host}/stacks/run@${v1.digest}`,
    });
    await push('team/web:v1', 'team/web:v1');
    await makeStackVersion(store, 'teststack', '2', {
      layers: [{ 'bin/true': '#!/bin/sh\n' }, { 'etc/os-release': osRelease('2') }],
    });
    await push('teststack/run:2', 'stacks/run:latest');

    const registries = new Registries();
    const r = await rebaseImage(`${dist.host}/team/web:v1`, open, { registries });
    assert.equal(r.status, 'rebased');
    assert.equal(r.transfer.layersCopied, 0);
    assert.equal(r.transfer.blobsMounted, 2);
    assert.equal(r.transfer.blobsSent, 1, 'the config');
    const client = await registries.client(dist.host);
    assert.equal((await client.getManifest('team/web', 'v1', MANIFEST_ACCEPT)).digest, r.digest);
    assert.equal((await rebaseImage(`${dist.host}/team/web:v1`, open, { registries })).status, 'current');
  });

  test('a fleet rebase onto a run image the registry lacks copies its layers once, then mounts them', async () => {
    const push = (from: string, to: string) => copy(parseTransport(from), parseTransport(`${dist.host}/${to}`), open);
    const v1 = {
      image: await localImage(store, 'teststack/run:1'),
      digest: (await store.resolve('teststack/run', '1')).digest,
    };
    const layers = await appLayers(store);
    for (const repo of ['fleet/a', 'fleet/b', 'fleet/c']) {
      await makeApp(store, 'teststack', v1, repo, 'v1', layers, {
        runImageName: `${dist.host}/stacks/run:latest`,
        reference: `${dist.host}/stacks/run@${v1.digest}`,
      });
      await push(`${repo}:v1`, `${repo}:v1`);
    }
    const report = await fleetRebase(store, {
      stack: 'teststack',
      registry: dist.host,
      repoPrefix: 'fleet/',
      concurrency: 1,
    });
    assert.equal(report.rebased.length, 3);
    assert.equal(
      report.runImage.name,
      'teststack/run:2',
      'the run image is not in the registry under its stack name: the local one is used',
    );
    assert.equal(report.transfer.layersCopied, 2, 'copied into the first repository only');
    assert.equal(report.transfer.blobsMounted, 4, 'then mounted into the two others');
  });
});
