import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalStore } from '../src/store/local-store.js';
import { rebaseImage } from '../src/rebase/rebase.js';
import { RebaseRefused } from '../src/rebase/compatibility.js';
import { checkRebase } from '../src/rebase/check.js';
import { commandExists, run, slipway, slipwayOk, tempDir } from './helpers.js';
import {
  appLayers,
  layerOf,
  localImage,
  makeApp,
  makeStackVersion,
  osRelease,
  runImage,
  storeImage,
  storeIndex,
} from './rebase-fixtures.js';
import type { Image, Layer } from '../src/image/types.js';
import type { Digest } from '../src/oci/digest.js';

/**
 * Rebase against the local store, end to end: an app built on stack version 1 (its
 * run image has the CNB labels, its lifecycle label is shaped as the lifecycle writes
 * it) is rebased onto version 2 by the CLI and by the library; the result keeps the
 * app layers and config, sees the new base's files (unpacked by umoci), and a second
 * rebase is a no-op. Refusals name what differs; --force overrides them.
 */

let home: { path: string; cleanup: () => Promise<void> };
let store: LocalStore;
const open = () => Promise.resolve(store);
let v1: { image: Image; digest: Digest };
let v2: { image: Image; digest: Digest };
let layers: Layer[];

const diffIds = async (image: Image) => (await image.config()).rootfs.diff_ids;
const labelOf = async (image: Image) =>
  JSON.parse((await image.config()).config!.Labels!['io.buildpacks.lifecycle.metadata']!) as Record<string, any>;

before(async () => {
  home = await tempDir('rebase-local');
  store = await LocalStore.open(home.path);
  v1 = await makeStackVersion(store, 'teststack', '1');
  layers = await appLayers(store);
  await makeApp(store, 'teststack', v1, 'team/web', 'v1', layers);
  await makeApp(store, 'teststack', v1, 'team/api', 'v1', layers, { rebasable: 'false' });
  await makeApp(store, 'teststack', v1, 'team/mirrored', 'v1', layers, {
    runImageName: 'registry.example/stacks/run:latest',
    mirrors: ['teststack/run:latest'],
  });
  v2 = await makeStackVersion(store, 'teststack', '2', {
    packages: { libfoo1: '1.2', 'base-files': '12.5' },
    layers: [
      { 'bin/true': '#!/bin/sh\n' },
      { 'etc/os-release': osRelease('2') },
      { 'usr/lib/libfoo.so.1': 'libfoo 2\n' },
    ],
  });
});

after(async () => {
  await store.close();
  await home.cleanup();
});

describe('rebase in the local store', () => {
  test('the CLI rebases onto the recorded run image tag at its current digest; a second rebase is a no-op', async () => {
    const before = await localImage(store, 'team/web:v1');
    const out = JSON.parse(await slipwayOk(home.path, ['--json', 'rebase', 'team/web:v1'])) as {
      status: string;
      digest: string;
      previousDigest: string;
      transfer: { layersCopied: number };
    };
    assert.equal(out.status, 'rebased');
    assert.equal(out.previousDigest, await before.digest());
    assert.equal(out.transfer.layersCopied, 0);
    const after = await localImage(store, 'team/web:v1');
    assert.equal(await after.digest(), out.digest);
    const appIds = await Promise.all(layers.map((l) => l.diffId()));
    assert.deepEqual(
      await diffIds(after),
      [...(await diffIds(v2.image)), ...appIds],
      'v2 base layers, then the same app layers',
    );

    const cfg = await after.config();
    const old = await before.config();
    assert.deepEqual(cfg.config!.Entrypoint, old.config!.Entrypoint);
    assert.deepEqual(cfg.config!.Env, old.config!.Env);
    assert.equal(cfg.config!.WorkingDir, '/workspace');
    assert.equal(
      cfg.config!.Labels!['io.buildpacks.build.metadata'],
      old.config!.Labels!['io.buildpacks.build.metadata'],
    );
    assert.equal(
      cfg.config!.Labels!['io.buildpacks.base.released'],
      'version 2',
      'base labels come from the new run image',
    );
    assert.equal(cfg.history!.filter((h) => !h.empty_layer).length, cfg.rootfs.diff_ids.length);

    const meta = await labelOf(after);
    const oldMeta = await labelOf(before);
    assert.equal(meta.runImage.topLayer, (await diffIds(v2.image)).at(-1));
    assert.equal(meta.runImage.reference, `teststack/run@${v2.digest}`);
    assert.equal(meta.runImage.image, 'teststack/run:latest');
    for (const key of ['app', 'buildpacks', 'config', 'launcher', 'process-types', 'stack'])
      assert.deepEqual(meta[key], oldMeta[key], `${key} kept`);

    const again = await slipwayOk(home.path, ['rebase', 'team/web:v1']);
    assert.match(again, /already on teststack\/run:latest/);
    assert.equal(await (await localImage(store, 'team/web:v1')).digest(), out.digest);
  });

  test('the rebased app sees the new base files (unpacked by umoci)', { skip: !commandExists('umoci') }, async () => {
    const dir = await tempDir('rebase-umoci');
    try {
      await slipwayOk(home.path, ['copy', 'team/web:v1', `oci:${dir.path}/layout:web`]);
      await run('umoci', ['unpack', '--image', `${dir.path}/layout:web`, `${dir.path}/bundle`]);
      const rootfs = join(dir.path, 'bundle/rootfs');
      assert.match(await readFile(join(rootfs, 'etc/os-release'), 'utf8'), /PATCH_LEVEL=2/);
      assert.equal(await readFile(join(rootfs, 'usr/lib/libfoo.so.1'), 'utf8'), 'libfoo 2\n');
      assert.equal(await readFile(join(rootfs, 'workspace/app.js'), 'utf8'), 'console.log("app")\n');
    } finally {
      await dir.cleanup();
    }
  });

  test('a run image listed as a mirror is accepted; the recorded name stays', async () => {
    const r = await rebaseImage('team/mirrored:v1', open, { runImage: 'teststack/run:2' });
    assert.equal(r.status, 'rebased');
    const meta = await labelOf(await localImage(store, 'team/mirrored:v1'));
    assert.equal(meta.runImage.image, 'registry.example/stacks/run:latest');
    assert.deepEqual(meta.runImage.mirrors, ['teststack/run:latest']);
  });

  test('dry run says what would change and writes nothing', async () => {
    await makeApp(store, 'teststack', v1, 'team/dry', 'v1', layers);
    const before = await (await localImage(store, 'team/dry:v1')).digest();
    const r = await rebaseImage('team/dry:v1', open, { dryRun: true });
    assert.equal(r.status, 'rebased');
    assert.equal(r.dryRun, true);
    assert.notEqual(r.digest, before);
    assert.equal(await (await localImage(store, 'team/dry:v1')).digest(), before);
  });
});

describe('rebase in an OCI layout', () => {
  test('the image is rebased in place; the new base layers are copied into the layout (and reported)', async () => {
    const dir = await tempDir('rebase-layout');
    try {
      await makeApp(store, 'teststack', v1, 'team/layout', 'v1', layers);
      await slipwayOk(home.path, ['copy', 'team/layout:v1', `oci:${dir.path}:app`]);
      const r = await rebaseImage(`oci:${dir.path}:app`, open, { runImage: 'teststack/run:2' });
      assert.equal(r.status, 'rebased');
      assert.equal(r.transfer.layersCopied, 3, 'the run image lives in the store, not in the layout');
      const out = JSON.parse(await slipwayOk(home.path, ['--json', 'inspect', `oci:${dir.path}:app`])) as {
        digest: string;
        layers: { diffID: string }[];
      };
      assert.equal(out.digest, r.digest);
      assert.deepEqual(
        out.layers.slice(0, 3).map((l) => l.diffID),
        await diffIds(v2.image),
      );
      assert.equal((await rebaseImage(`oci:${dir.path}:app`, open, { runImage: 'teststack/run:2' })).status, 'current');
    } finally {
      await dir.cleanup();
    }
  });
});

describe('refusals', () => {
  test('rebasable=false is refused with its reason; --force overrides', async () => {
    const r = await slipway(home.path, ['rebase', 'team/api:v1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /io\.buildpacks\.rebasable=false/);
    assert.match(r.stderr, /--force/);
    const forced = await slipway(home.path, ['rebase', '--force', 'team/api:v1']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, /warning: --force: .*rebasable=false/);
  });

  test('a different stack id is refused', async () => {
    const other = await makeStackVersion(store, 'otherstack', '1', { stackId: 'io.example.other' });
    void other;
    await makeApp(store, 'teststack', v1, 'team/s', 'v1', layers);
    await assert.rejects(rebaseImage('team/s:v1', open, { runImage: 'otherstack/run:1' }), (err: unknown) => {
      assert.ok(err instanceof RebaseRefused);
      assert.deepEqual(err.refusals.map((x) => x.check).sort(), ['run-image', 'stack-id']);
      assert.match(err.message, /stack id io\.example\.other, the image was built for io\.slipway\.stacks\.teststack/);
      assert.match(err.message, /neither the image's run image nor one of its mirrors \(teststack\/run:latest\)/);
      return true;
    });
    const forced = await rebaseImage('team/s:v1', open, { runImage: 'otherstack/run:1', force: true });
    assert.equal(forced.status, 'rebased');
    const meta = await labelOf(await localImage(store, 'team/s:v1'));
    assert.equal(meta.runImage.image, 'otherstack/run:1', 'forced onto an unlisted run image: its name is recorded');
    assert.equal(meta.runImage.mirrors, undefined);
  });

  test('a different architecture is refused', async () => {
    const arm = await runImage(store, 'teststack', '2', { platform: { os: 'linux', architecture: 'arm64' } });
    await storeImage(store, 'teststack/run-arm', ['2'], arm);
    await makeApp(store, 'teststack', v1, 'team/arch', 'v1', layers, { mirrors: ['teststack/run-arm:2'] });
    await assert.rejects(
      rebaseImage('team/arch:v1', open, { runImage: 'teststack/run-arm:2' }),
      /architecture arm64, the image for amd64/,
    );
  });

  test('a run image that is not the recorded one nor a mirror is refused', async () => {
    const other = await runImage(store, 'teststack', '2');
    await storeImage(store, 'elsewhere/run', ['2'], other);
    await makeApp(store, 'teststack', v1, 'team/m', 'v1', layers);
    const r = await slipway(home.path, ['rebase', 'team/m:v1', '--run-image', 'elsewhere/run:2']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the run image elsewhere\/run:2 is neither the image's run image nor one of its mirrors/);
    assert.equal(
      (await slipway(home.path, ['rebase', 'team/m:v1', '--run-image', 'elsewhere/run:2', '--force'])).code,
      0,
    );
  });
});

describe('images without the lifecycle label', () => {
  test('OCI base annotations give the old base; --old-base must be a prefix (the error names the layer)', async () => {
    await makeApp(store, 'teststack', v1, 'plain/app', 'v1', layers, {
      noLifecycleLabel: true,
      baseAnnotations: { name: 'teststack/run:latest', digest: v1.digest },
    });
    const r = await rebaseImage('plain/app:v1', open);
    assert.equal(r.status, 'rebased');
    const after = await localImage(store, 'plain/app:v1');
    assert.equal((await after.manifest()).annotations!['org.opencontainers.image.base.digest'], v2.digest);
    assert.deepEqual((await diffIds(after)).slice(0, 3), await diffIds(v2.image));

    await makeApp(store, 'teststack', v1, 'plain/old', 'v1', layers, { noLifecycleLabel: true });
    await assert.rejects(rebaseImage('plain/old:v1', open, { runImage: 'teststack/run:2' }), /records no base/);
    await assert.rejects(
      rebaseImage('plain/old:v1', open, { runImage: 'teststack/run:2', oldBase: 'teststack/run:2' }),
      /layer 0 of the image \(diffID sha256:[0-9a-f]+\) is not layer 0 of the old base/,
    );
    const ok = await rebaseImage('plain/old:v1', open, { runImage: 'teststack/run:2', oldBase: 'teststack/run:1' });
    assert.equal(ok.platforms[0]!.appLayers, 3);
  });
});

describe('multi-platform', () => {
  test('an index is rebased platform by platform', async () => {
    const arm1 = await runImage(store, 'multi', '1', { platform: { os: 'linux', architecture: 'arm64' } });
    const amd1 = await runImage(store, 'multi', '1');
    const arm2 = await runImage(store, 'multi', '2', {
      platform: { os: 'linux', architecture: 'arm64' },
      layers: [{ 'etc/os-release': osRelease('2-arm') }],
    });
    const amd2 = await runImage(store, 'multi', '2', { layers: [{ 'etc/os-release': osRelease('2-amd') }] });
    for (const img of [arm1, amd1, arm2, amd2]) await storeImage(store, 'multi/run', [], img);
    await storeIndex(store, 'multi/run', '1', [amd1, arm1]);
    const appAmd = await makeApp(
      store,
      'multi',
      { image: amd1, digest: await amd1.digest() },
      'multi/app',
      'amd',
      layers,
      { runImageName: 'multi/run:latest' },
    );
    const appArm = await makeApp(
      store,
      'multi',
      { image: arm1, digest: await arm1.digest() },
      'multi/app',
      'arm',
      layers,
      { runImageName: 'multi/run:latest' },
    );
    await storeIndex(store, 'multi/app', 'v1', [
      await localImage(store, `multi/app@${appAmd}`),
      await localImage(store, `multi/app@${appArm}`),
    ]);
    await storeIndex(store, 'multi/run', 'latest', [amd2, arm2]);

    const r = await rebaseImage('multi/app:v1', open);
    assert.equal(r.status, 'rebased');
    assert.deepEqual(
      r.platforms.map((p) => [p.platform, p.status]),
      [
        ['linux/amd64', 'rebased'],
        ['linux/arm64', 'rebased'],
      ],
    );
    const { artifact } = await (await import('../src/transport/local.js')).readLocal(store, 'multi/app', 'v1');
    assert.equal(artifact.kind, 'index');
    if (artifact.kind !== 'index') return;
    for (const desc of (await artifact.index.index()).manifests) {
      const img = await artifact.index.image(desc);
      const want = desc.platform!.architecture === 'arm64' ? arm2 : amd2;
      assert.deepEqual(
        (await diffIds(img)).slice(0, 1),
        await diffIds(want),
        `${desc.platform!.architecture} is on its own new base`,
      );
    }
    assert.equal((await rebaseImage('multi/app:v1', open)).status, 'current');
  });
});

describe('rebase --check', () => {
  test('lists app files that shadow files the new base changes', async () => {
    const own = [
      ...layers,
      await layerOf(store, { 'usr/lib/libfoo.so.1': 'vendored libfoo\n', 'workspace/README': 'hi\n' }),
    ];
    await makeApp(store, 'teststack', v1, 'team/vendored', 'v1', own, { reference: `teststack/run@${v1.digest}` });
    const out = JSON.parse(
      await slipwayOk(home.path, ['--json', 'rebase', '--check', 'team/vendored:v1', '--run-image', 'teststack/run:2']),
    ) as { shadows: { path: string; change: string; appLayer: number }[] };
    assert.deepEqual(out.shadows, [{ path: '/usr/lib/libfoo.so.1', change: 'changed', appLayer: 3 }]);
    const same = await checkRebase('team/vendored:v1', open, { runImage: 'teststack/run:1' });
    assert.equal(same.sameBase, true);
  });
});
