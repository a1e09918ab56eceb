import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { makeFixtureTree, podmanEnv, run, slipway, slipwayOk, tempDir, treeSnapshot } from './helpers.js';

/**
 * Slipway's exports read by independent OCI tools from Debian's packages, and their
 * outputs read back by Slipway with the same digests.
 */
describe('interop with skopeo, umoci, oci-image-tool and podman', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let rootfs: string;
  let digest: string;
  let configDigest: string;
  let diffIds: string[];

  before(async () => {
    work = await tempDir('interop');
    home = join(work.path, 'home');
    rootfs = join(work.path, 'rootfs');
    await makeFixtureTree(rootfs);
    await slipwayOk(home, [
      'import',
      '--rootfs',
      rootfs,
      'demo:v1',
      '--cmd',
      '/bin/hello',
      '--env',
      'GREETING=hi',
      '--label',
      'team=platform',
    ]);
    const info = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'demo:v1']));
    digest = info.digest;
    diffIds = info.layers.map((l: { diffID: string }) => l.diffID);
    const raw = JSON.parse(await readFile(join(home, 'blobs', 'sha256', digest.slice(7)), 'utf8'));
    configDigest = raw.config.digest;
  });
  after(() => work.cleanup());

  test('an exported OCI layout passes oci-image-tool validate and skopeo reads it with the same digest', async () => {
    const layout = join(work.path, 'layout');
    await slipwayOk(home, ['copy', 'demo:v1', `oci:${layout}:v1`]);
    await run('oci-image-tool', ['validate', '--type', 'image', '--ref', 'name=v1', layout]);
    const inspected = JSON.parse(await run('skopeo', ['inspect', `oci:${layout}:v1`]));
    assert.equal(inspected.Digest, digest);
    assert.deepEqual(inspected.Env, ['GREETING=hi']);
    assert.equal(inspected.Labels.team, 'platform');
  });

  test('skopeo copy of the layout keeps the digest, and the copy imports back unchanged', async () => {
    const layout = join(work.path, 'layout-skopeo-src');
    const copied = join(work.path, 'layout-skopeo-dst');
    await slipwayOk(home, ['copy', 'demo:v1', `oci:${layout}:v1`]);
    await run('skopeo', ['copy', '--quiet', `oci:${layout}:v1`, `oci:${copied}:copied`]);
    const index = JSON.parse(await readFile(join(copied, 'index.json'), 'utf8'));
    assert.equal(index.manifests[0].digest, digest);
    await slipwayOk(home, ['import', `oci:${copied}:copied`, 'demo:from-skopeo']);
    const back = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'demo:from-skopeo']));
    assert.equal(back.digest, digest);
  });

  test('umoci unpack gives the original tree back', async () => {
    const layout = join(work.path, 'layout-umoci');
    const bundle = join(work.path, 'bundle');
    await slipwayOk(home, ['copy', 'demo:v1', `oci:${layout}:v1`]);
    await run('umoci', ['unpack', '--image', `${layout}:v1`, bundle]);
    assert.deepEqual(await treeSnapshot(join(bundle, 'rootfs')), await treeSnapshot(rootfs));
    const [a, b] = await Promise.all([
      stat(join(bundle, 'rootfs/bin/hello')),
      stat(join(bundle, 'rootfs/bin/hello-hardlink')),
    ]);
    assert.equal(a.ino, b.ino, 'a hardlink must stay a hardlink');
    const config = JSON.parse(await readFile(join(bundle, 'config.json'), 'utf8'));
    assert.deepEqual(config.process.args, ['/bin/hello']);
  });

  test('a layout written by umoci imports with the same digests', async () => {
    const layout = join(work.path, 'umoci-made');
    const bundle = join(work.path, 'umoci-bundle');
    await run('umoci', ['init', '--layout', layout]);
    await run('umoci', ['new', '--image', `${layout}:base`]);
    await run('umoci', ['unpack', '--image', `${layout}:base`, bundle]);
    await run('sh', ['-c', `echo made by umoci > ${join(bundle, 'rootfs', 'note.txt')}`]);
    await run('umoci', ['repack', '--image', `${layout}:base`, bundle]);
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
    const want = index.manifests.find(
      (m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name'] === 'base',
    ).digest;
    await slipwayOk(home, ['import', `oci:${layout}:base`, 'umoci:base']);
    const got = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'umoci:base']));
    assert.equal(got.digest, want);
    assert.equal(got.layers.length, 1);
  });

  test('an OCI archive round-trips with the same digest and skopeo reads it', async () => {
    const archive = join(work.path, 'demo-oci.tar');
    await slipwayOk(home, ['copy', 'demo:v1', `oci-archive:${archive}:v1`]);
    const inspected = JSON.parse(await run('skopeo', ['inspect', `oci-archive:${archive}:v1`]));
    assert.equal(inspected.Digest, digest);
    await slipwayOk(home, ['import', `oci-archive:${archive}:v1`, 'demo:from-archive']);
    assert.equal(JSON.parse(await slipwayOk(home, ['inspect', '--json', 'demo:from-archive'])).digest, digest);
  });

  test('a docker archive loads with podman load, keeping the image ID and diffIDs', async () => {
    const archive = join(work.path, 'demo-docker.tar');
    await slipwayOk(home, ['copy', 'demo:v1', `docker-archive:${archive}:demo:v1`]);
    const podman = await podmanEnv(join(work.path, 'podman'));
    await run('podman', [...podman.args, 'load', '-i', archive], podman.env);
    const [image] = JSON.parse(
      await run('podman', [...podman.args, 'image', 'inspect', 'docker.io/library/demo:v1'], podman.env),
    );
    assert.equal(`sha256:${image.Id}`, configDigest);
    assert.deepEqual(image.RootFS.Layers, diffIds);
    assert.deepEqual(image.Config.Cmd, ['/bin/hello']);
  });

  test('a docker archive saved by podman imports with the same config digest and diffIDs', async () => {
    const archive = join(work.path, 'demo-docker-2.tar');
    const saved = join(work.path, 'podman-saved.tar');
    await slipwayOk(home, ['copy', 'demo:v1', `docker-archive:${archive}:demo:v1`]);
    const podman = await podmanEnv(join(work.path, 'podman2'));
    await run('podman', [...podman.args, 'load', '-i', archive], podman.env);
    await run(
      'podman',
      [...podman.args, 'save', '--format', 'docker-archive', '-o', saved, 'docker.io/library/demo:v1'],
      podman.env,
    );
    await slipwayOk(home, ['import', `docker-archive:${saved}`, 'demo:from-podman']);
    const back = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'demo:from-podman']));
    assert.deepEqual(
      back.layers.map((l: { diffID: string }) => l.diffID),
      diffIds,
    );
    const manifest = JSON.parse(await readFile(join(home, 'blobs', 'sha256', back.digest.slice(7)), 'utf8'));
    assert.equal(manifest.config.digest, configDigest);
  });

  test('skopeo writes a docker archive that imports with the same layers', async () => {
    const layout = join(work.path, 'layout-for-skopeo-archive');
    const archive = join(work.path, 'skopeo-docker.tar');
    await slipwayOk(home, ['copy', 'demo:v1', `oci:${layout}:v1`]);
    await run('skopeo', ['copy', '--quiet', `oci:${layout}:v1`, `docker-archive:${archive}:demo:skopeo`]);
    await slipwayOk(home, ['import', `docker-archive:${archive}`]);
    const back = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'demo:skopeo']));
    assert.deepEqual(
      back.layers.map((l: { diffID: string }) => l.diffID),
      diffIds,
    );
  });

  test('a missing image gives a clear error and a non-zero exit', async () => {
    const r = await slipway(home, ['inspect', 'nothing:here']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nothing/);
  });
});
