import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalStore } from '../src/store/local-store.js';
import { importRootfs } from '../src/copy/import-rootfs.js';
import { commandExists, debianRootfs, slipwayOk, tempDir } from './helpers.js';
import { appLayers, localImage, makeApp, makeStackVersion, osRelease } from './rebase-fixtures.js';

/**
 * The rebased app runs (slipway run, runc): a run image of a real Debian minbase plus
 * a layer with /etc/os-release that changes between versions; after the rebase the
 * app's container reads version 2's file, through the app's own launcher.
 */

const isRoot = process.getuid?.() === 0;
const canRun = isRoot && commandExists('runc') && commandExists('mmdebstrap');
let home: { path: string; cleanup: () => Promise<void> };
let store: LocalStore;

before(async () => {
  if (!canRun) return;
  home = await tempDir('rebase-run');
  store = await LocalStore.open(home.path);
});

after(async () => {
  await store?.close();
  await home?.cleanup();
});

describe('a rebased app runs', {
  skip: !canRun && 'running containers needs root, runc and a Debian rootfs (mmdebstrap)',
}, () => {
  test('slipway run of the rebased image sees the new base file', async () => {
    await importRootfs(store, await debianRootfs(), 'debian', 'bookworm');
    const [debian] = await (await localImage(store, 'debian:bookworm')).layers();
    const v1 = await makeStackVersion(store, 'deb', '1', {
      baseLayer: debian!,
      layers: [{ 'etc/os-release': osRelease('1') }],
    });
    await makeApp(store, 'deb', v1, 'apps/hello', 'v1', await appLayers(store));
    await makeStackVersion(store, 'deb', '2', { baseLayer: debian!, layers: [{ 'etc/os-release': osRelease('2') }] });

    const before = await slipwayOk(home.path, [
      'run',
      '--rm',
      'apps/hello:v1',
      '--',
      'cat',
      '/etc/os-release',
      '/workspace/app.js',
    ]);
    assert.match(before, /PATCH_LEVEL=1/);
    await slipwayOk(home.path, ['rebase', 'apps/hello:v1']);
    const after = await slipwayOk(home.path, [
      'run',
      '--rm',
      'apps/hello:v1',
      '--',
      'cat',
      '/etc/os-release',
      '/workspace/app.js',
    ]);
    assert.match(after, /PATCH_LEVEL=2/);
    assert.match(after, /console\.log\("app"\)/, 'the app layer is still there');
  });
});
