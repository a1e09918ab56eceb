import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalStore } from '../src/store/local-store.js';
import { createStack } from '../src/stack/index.js';
import { updateStackAndRebase } from '../src/rebase/stack-update.js';
import { tempDir } from './helpers.js';
import { appLayers, localImage, makeApp } from './rebase-fixtures.js';

/**
 * `stack update NAME --rebase` as the library gives it: a real stack made by the stack
 * API (from a small rootfs whose /etc/os-release and dpkg status change between
 * versions), an app on version 1, then one call that makes version 2 and rebases the
 * app onto it, reporting the package that changed.
 */

let home: { path: string; cleanup: () => Promise<void> };
let store: LocalStore;
const rootfs = () => join(home.path, 'rootfs');

async function writeRootfs(v: string): Promise<void> {
  await mkdir(join(rootfs(), 'etc'), { recursive: true });
  await mkdir(join(rootfs(), 'var/lib/dpkg'), { recursive: true });
  await writeFile(join(rootfs(), 'etc/os-release'), `ID=debian\nVERSION_ID="12"\nPATCH_LEVEL=${v}\n`);
  await writeFile(join(rootfs(), 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  await writeFile(join(rootfs(), 'etc/group'), 'root:x:0:\n');
  await writeFile(
    join(rootfs(), 'var/lib/dpkg/status'),
    `Package: libfoo1\nStatus: install ok installed\nVersion: 1.${v}\nArchitecture: amd64\n\n`,
  );
}

before(async () => {
  home = await tempDir('rebase-stack');
  store = await LocalStore.open(home.path);
});

after(async () => {
  await store?.close();
  await home?.cleanup();
});

describe('stack update, then rebase', () => {
  test('updateStackAndRebase makes a new version and rebases every app on the old one', async () => {
    await writeRootfs('1');
    const cacheDir = join(home.path, 'stack-cache');
    await createStack(store, 'real', { source: { kind: 'rootfs', build: rootfs(), run: rootfs() }, cacheDir });
    const run1 = await localImage(store, 'real/run:1');
    await makeApp(
      store,
      'real',
      { image: run1, digest: await run1.digest() },
      'apps/web',
      'v1',
      await appLayers(store),
    );

    await writeRootfs('2');
    const { stack, rebase } = await updateStackAndRebase(store, 'real', { cacheDir });
    assert.equal(stack.version, '2');
    assert.deepEqual(
      rebase.rebased.map((e) => [e.image, e.from?.version, e.to?.version]),
      [['apps/web:v1', '1', '2']],
    );
    assert.deepEqual(rebase.packageChanges, [
      { from: '1', to: '2', run: { added: [], removed: [], changed: [{ name: 'libfoo1', from: '1.1', to: '1.2' }] } },
    ]);
    const app = await localImage(store, 'apps/web:v1');
    const run2 = await localImage(store, 'real/run:2');
    const ids = (await app.config()).rootfs.diff_ids;
    const baseIds = (await run2.config()).rootfs.diff_ids;
    assert.deepEqual(ids.slice(0, baseIds.length), baseIds);
    assert.equal(ids.length, baseIds.length + 3);

    const again = await updateStackAndRebase(store, 'real', { cacheDir });
    assert.equal(again.stack.newVersion, false);
    assert.equal(again.rebase.rebased.length, 0);
    assert.equal(again.rebase.current.length, 1);
  });
});
