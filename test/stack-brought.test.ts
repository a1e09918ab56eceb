import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { debianRootfs, run, slipway, slipwayOk, tempDir } from './helpers.js';

/**
 * Stacks operators bring: a rootfs (directory or tarball) or images Slipway can read.
 * Uses the cached Debian minbase rootfs of the test helpers (no mmdebstrap run here).
 */

interface ImageInfo {
  digest: string;
  config: { User?: string; Env?: string[]; Labels?: Record<string, string> };
  layers: { digest: string; diffID: string }[];
}
interface StackReport {
  version: string;
  newVersion: boolean;
  run: { digest: string; packages: number };
  build: { digest: string };
}

describe('stack create --from-rootfs and --from-image', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let rootfs: string;
  let dpkgPackages: Record<string, string>;
  const json = async <T>(...args: string[]) => JSON.parse(await slipwayOk(home, ['--json', ...args])) as T;

  before(async () => {
    work = await tempDir('stack-brought');
    home = join(work.path, 'home');
    rootfs = await debianRootfs();
    const listed = execFileSync(
      'dpkg-query',
      [`--admindir=${rootfs}/var/lib/dpkg`, '-W', '-f', '${db:Status-Abbrev}|${Package}|${Version}\n'],
      { encoding: 'utf8' },
    );
    dpkgPackages = Object.fromEntries(
      listed
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('ii'))
        .map((l) => l.split('|').slice(1) as [string, string]),
    );
  });
  after(() => work.cleanup());

  test('a rootfs directory becomes both images, with the stack user added in a layer of its own', async () => {
    const made = await json<StackReport>('stack', 'create', 'mine', '--from-rootfs', `${rootfs},${rootfs}`);
    assert.equal(made.version, '1');
    const image = await json<ImageInfo>('inspect', 'mine/run:1');
    assert.equal(image.layers.length, 2, 'the rootfs, then the user layer (minbase has no cnb user)');
    assert.equal(image.config.User, '1000:1000');
    assert.deepEqual(JSON.parse(image.config.Labels?.['io.slipway.stack.packages'] ?? '{}'), dpkgPackages);
    assert.equal(image.config.Labels?.['io.buildpacks.base.distro.name'], 'debian');
    const out = await slipwayOk(home, ['--quiet', 'run', '--rm', 'mine/run:1', '--', 'sh', '-c', 'id; ls -ld "$HOME"']);
    assert.match(out, /uid=1000\(cnb\) gid=1000\(cnb\)/);
    assert.match(out, /cnb\s+cnb .*\/home\/cnb$/m);
  });

  test('the same rootfs as a tarball gives the same layer (diffID) as the directory', async () => {
    const tar = join(work.path, 'rootfs.tar');
    await run('tar', ['--numeric-owner', '--xattrs', '-C', rootfs, '-cf', tar, '.']);
    await slipwayOk(home, ['stack', 'create', 'tarred', '--from-rootfs', `${tar},${tar}`]);
    const fromDir = await json<ImageInfo>('inspect', 'mine/run:1');
    const fromTar = await json<ImageInfo>('inspect', 'tarred/run:1');
    assert.deepEqual(
      fromTar.layers.map((l) => l.diffID),
      fromDir.layers.map((l) => l.diffID),
    );
  });

  test('--user sets another user on both images', async () => {
    await slipwayOk(home, [
      'stack',
      'create',
      'other-user',
      '--from-rootfs',
      `${rootfs},${rootfs}`,
      '--user',
      'app:2000:2001',
    ]);
    for (const role of ['run', 'build']) {
      const image = await json<ImageInfo>('inspect', `other-user/${role}:1`);
      assert.equal(image.config.User, '2000:2001');
      assert.ok(image.config.Env?.includes('CNB_USER_ID=2000') && image.config.Env.includes('CNB_GROUP_ID=2001'));
    }
    const out = await slipwayOk(home, ['--quiet', 'run', '--rm', 'other-user/run:1', '--', 'id']);
    assert.match(out, /uid=2000\(app\) gid=2001\(app\)/);
  });

  test('images from an OCI layout become a stack: their layers kept, labels and user set, packages read from the layers', async () => {
    const layout = join(work.path, 'layout');
    await slipwayOk(home, ['copy', 'mine/run:1', `oci:${layout}:run`]);
    await slipwayOk(home, ['copy', 'mine/build:1', `oci:${layout}:build`]);
    const made = await json<StackReport>(
      'stack',
      'create',
      'theirs',
      '--from-image',
      `oci:${layout}:build,oci:${layout}:run`,
    );
    assert.equal(made.version, '1');
    const source = await json<ImageInfo>('inspect', 'mine/run:1');
    const image = await json<ImageInfo>('inspect', 'theirs/run:1');
    assert.deepEqual(
      image.layers.map((l) => l.digest),
      source.layers.map((l) => l.digest),
      'the user exists already: no layer added',
    );
    assert.equal(image.config.Labels?.['io.buildpacks.stack.id'], 'io.slipway.stacks.theirs');
    assert.deepEqual(JSON.parse(image.config.Labels?.['io.slipway.stack.packages'] ?? '{}'), dpkgPackages);
    assert.notEqual(image.digest, source.digest);
  });

  test('a user that exists with another uid is refused, naming the uid the image has', async () => {
    const r = await slipway(home, [
      '--json',
      'stack',
      'create',
      'clash',
      '--from-image',
      'mine/build:1,mine/run:1',
      '--user',
      'cnb:2000:2000',
    ]);
    assert.equal(r.code, 1);
    const error = JSON.parse(r.stdout).error;
    assert.equal(error.code, 'INVALID_ARGUMENT');
    assert.match(error.message, /--user cnb:1000:1000/);
    assert.deepEqual(
      (await json<{ name: string }[]>('stack', 'ls')).map((s) => s.name).filter((n) => n === 'clash'),
      [],
    );
  });

  test('update of a brought stack re-reads its sources: unchanged, no new version; package flags are refused', async () => {
    const updated = await json<StackReport>('stack', 'update', 'mine');
    assert.equal(updated.newVersion, false);
    assert.equal(updated.version, '1');
    const r = await slipway(home, ['--json', 'stack', 'update', 'mine', '--run-packages', 'less']);
    assert.equal(r.code, 1);
    assert.match(JSON.parse(r.stdout).error.message, /--from-rootfs/);
  });
});
