import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { debianRootfs, run, slipwayOk, tempDir, treeSnapshot } from './helpers.js';

/** The same tree gives the same digest, whatever its mtimes or where it lies. */
describe('reproducible export of a real Debian root filesystem', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let rootfs: string;

  before(async () => {
    work = await tempDir('repro');
    rootfs = await debianRootfs();
  });
  after(() => work.cleanup());

  const digestOf = async (home: string, dir: string, extra: string[] = []) => {
    await slipwayOk(home, ['import', '--rootfs', dir, 'debian:test', ...extra]);
    const info = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'debian:test']));
    return {
      digest: info.digest as string,
      diffID: info.layers[0].diffID as string,
      layerDigest: info.layers[0].digest as string,
    };
  };

  test('two copies in different places, one with every mtime changed, give identical digests', async () => {
    const copy = join(work.path, 'copy');
    await run('cp', ['-a', rootfs, copy]);
    await run('find', [copy, '-exec', 'touch', '-h', '{}', '+']);
    const a = await digestOf(join(work.path, 'home-a'), rootfs);
    const b = await digestOf(join(work.path, 'home-b'), copy);
    assert.deepEqual(b, a);
  });

  test('the layer unpacks with GNU tar into the same tree', async () => {
    const home = join(work.path, 'home-c');
    const a = await digestOf(home, rootfs);
    const out = join(work.path, 'unpacked');
    await run('mkdir', ['-p', out]);
    await run('tar', ['--numeric-owner', '-xzf', join(home, 'blobs', 'sha256', a.layerDigest.slice(7)), '-C', out]);
    assert.deepEqual(await treeSnapshot(out), await treeSnapshot(rootfs));
  });

  test('SOURCE_DATE_EPOCH sets the mtimes and created time, so it changes the digest', async () => {
    const a = await digestOf(join(work.path, 'home-d'), rootfs);
    const home = join(work.path, 'home-e');
    await slipwayOk(home, ['import', '--rootfs', rootfs, 'debian:epoch'], { SOURCE_DATE_EPOCH: '1600000000' });
    const other = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'debian:epoch']));
    assert.notEqual(other.layers[0].diffID, a.diffID);
    assert.equal(other.created, '2020-09-13T12:26:40Z');
  });
});
