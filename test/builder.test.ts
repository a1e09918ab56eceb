import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalStore } from '../src/index.js';
import { withLabels } from '../src/image/mutate.js';
import { readBuilderImage } from '../src/stage/cnb/builder-image.js';
import { readLocal } from '../src/transport/local.js';
import { buildStore, imageConfig, runImage, stageApp, writeBuildpacks } from './build-fixtures.js';
import { slipway, slipwayOk, startSlipwayRegistry, tempDir, type RegistryProcess } from './helpers.js';

/**
 * Builder images and buildpackages (distribution.md, pack builder create / buildpack
 * package): made by Slipway, used by `build --builder IMAGE` and `-b IMAGE` from the
 * store, a registry and a .cnb file, with real builds in runc.
 */
describe('builder images and buildpackages', () => {
  let store: LocalStore;
  let home: string;
  let cleanup: () => Promise<void>;
  let work: string;
  let registry: RegistryProcess;
  let registryHome: { path: string; cleanup: () => Promise<void> };
  let config: string;

  const app = (name: string) => {
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'hello.txt'), 'hi\n');
    return dir;
  };
  const json = async (args: string[]) => JSON.parse(await slipwayOk(home, ['--json', ...args]));

  before(async () => {
    ({ store, home, work, cleanup } = await buildStore());
    registryHome = await tempDir('slipway-builder-registry');
    registry = await startSlipwayRegistry(registryHome.path);
    writeBuildpacks(join(work, 'builder', 'bps'), [
      { id: 'test/never', detect: 'exit 100' },
      {
        id: 'test/first',
        build: `
          echo "first ran"
          mkdir -p "$CNB_LAYERS_DIR/tool/bin"
          printf '#!/bin/sh\\necho "hello from first: $(cat /workspace/hello.txt)"\\n' > "$CNB_LAYERS_DIR/tool/bin/hello"; chmod +x "$CNB_LAYERS_DIR/tool/bin/hello"
          printf '[types]\\nlaunch = true\\n' > "$CNB_LAYERS_DIR/tool.toml"
          printf '[[processes]]\\ntype = "web"\\ncommand = ["hello"]\\ndefault = true\\n' > "$CNB_LAYERS_DIR/launch.toml"`,
      },
      { id: 'test/second', version: '2.0.0', build: 'echo "second ran"' },
    ]);
    config = join(work, 'builder', 'builder.toml');
    writeFileSync(
      config,
      `
description = "a test builder"
[[buildpacks]]
uri = "bps/test_first"
[[buildpacks]]
uri = "bps/test_second"
[[buildpacks]]
uri = "file://${join(work, 'builder', 'bps', 'test_never')}"
[[order]]
[[order.group]]
id = "test/never"
[[order]]
[[order.group]]
id = "test/first"
[[order.group]]
id = "test/second"
optional = true
`,
    );
  });
  after(async () => {
    await registry?.stop();
    await registryHome?.cleanup();
    await cleanup();
  });

  test('builder create: the stack build image + one layer per buildpack + /cnb files, labels as pack writes them, reproducible', async () => {
    const made = await json(['builder', 'create', 'builders/test:1', '--config', config]);
    assert.equal(made.image, 'builders/test:1');
    assert.match(made.runImage, /^default\/run@sha256:[0-9a-f]{64}$/);
    const again = await json(['builder', 'create', 'builders/test:again', '--config', config]);
    assert.equal(again.digest, made.digest, 'same builder.toml, buildpacks and stack: same digest');

    const cfg = await imageConfig(store, 'builders/test', '1');
    const build = await imageConfig(store, 'default/build', 'latest');
    assert.deepEqual(
      cfg.rootfs.diff_ids.slice(0, build.rootfs.diff_ids.length),
      build.rootfs.diff_ids,
      'the stack build image is the base',
    );
    assert.equal(
      cfg.rootfs.diff_ids.length,
      build.rootfs.diff_ids.length + 4,
      'three buildpack layers and the order/run layer',
    );
    assert.equal(cfg.config?.User, build.config?.User);
    const labels = cfg.config?.Labels ?? {};
    const meta = JSON.parse(labels['io.buildpacks.builder.metadata']!);
    assert.equal(meta.description, 'a test builder');
    assert.deepEqual(meta.buildpacks, [
      { id: 'test/first', version: '1.0.0' },
      { id: 'test/never', version: '1.0.0' },
      { id: 'test/second', version: '2.0.0' },
    ]);
    assert.deepEqual(meta.stack, { runImage: { image: made.runImage, mirrors: [] } });
    assert.deepEqual(meta.run, { images: [{ image: made.runImage }] });
    assert.deepEqual(meta.createdBy, { name: 'Slipway', version: '0.1.0' });
    assert.equal(typeof meta.lifecycle.version, 'string');
    const layers = JSON.parse(labels['io.buildpacks.buildpack.layers']!);
    assert.deepEqual(Object.keys(layers).sort(), ['test/first', 'test/never', 'test/second']);
    assert.equal(layers['test/second']['2.0.0'].api, '0.10');
    for (const id of Object.keys(layers))
      for (const v of Object.values(layers[id]) as { layerDiffID: string }[])
        assert.ok(cfg.rootfs.diff_ids.includes(v.layerDiffID as never));
    assert.deepEqual(JSON.parse(labels['io.buildpacks.buildpack.order']!), [
      { group: [{ id: 'test/never', version: '1.0.0' }] },
      {
        group: [
          { id: 'test/first', version: '1.0.0' },
          { id: 'test/second', version: '2.0.0', optional: true },
        ],
      },
    ]);
    const files = await runImage(store, 'builders/test:1', {
      args: [
        'sh',
        '-c',
        'cat /cnb/run.toml; ls /cnb/buildpacks/test_second/2.0.0/bin; grep -c order.group /cnb/order.toml',
      ],
    });
    assert.equal(files.output, `[[images]]\nimage = "${made.runImage}"\n\nbuild\ndetect\n3\n`);
  });

  test('build --builder IMAGE: detect and build in the builder, its order and buildpacks, its run image; the app runs', async () => {
    const r = await slipway(home, ['build', 'apps/by-builder', '--path', app('a1'), '--builder', 'builders/test:1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /buildpacks: test\/first@1.0.0, test\/second@2.0.0\n/);
    assert.match(r.stdout, /stack default \(version \d+\), builder builders\/test:1 \([0-9a-f]{12}\)/);
    assert.match(r.stderr, /first ran[\s\S]*second ran/, 'buildpack output');
    const report = JSON.parse(
      await slipwayOk(home, [
        '--json',
        'build',
        'apps/by-builder',
        '--path',
        join(work, 'a1'),
        '--builder',
        'builders/test:1',
      ]),
    );
    assert.equal(report.stack.name, 'default');
    assert.equal((await runImage(store, 'apps/by-builder')).output, 'hello from first: hi\n');
    const lifecycle = JSON.parse(
      (await imageConfig(store, 'apps/by-builder')).config!.Labels!['io.buildpacks.lifecycle.metadata']!,
    );
    assert.equal(lifecycle.runImage.image, 'default/run', 'rebase finds the run image as for a stack build');
    assert.equal(lifecycle.runImage.reference, `default/run@${report.stack.run}`);

    // The library path, with the buildpack trees cached per layer.
    const builder = await readBuilderImage(store, 'builders/test:1', undefined);
    assert.equal(builder.trees.length, 3);
    assert.ok(builder.trees.every((t) => t.startsWith(join(home, 'buildpacks'))));
    const lib = await stageApp(store, app('a2'), 'apps/by-builder-lib', { builder });
    assert.deepEqual(
      lib.group.map((g) => g.id),
      ['test/first', 'test/second'],
    );
  });

  test('a builder without the order and layers labels (as other tools may make it): /cnb/order.toml, every layer scanned for /cnb/buildpacks', async () => {
    const { artifact } = await readLocal(store, 'builders/test', '1');
    assert.equal(artifact.kind, 'image');
    const bare = await withLabels(artifact.image, {
      'io.buildpacks.buildpack.order': undefined,
      'io.buildpacks.buildpack.layers': undefined,
    });
    await store.withLease(async (lease) => {
      await lease.putBytes(await bare.rawConfig());
      await store.putManifest('builders/bare', await bare.rawManifest(), await bare.mediaType(), ['1'], lease);
    });
    const builder = await readBuilderImage(store, 'builders/bare:1', undefined);
    assert.deepEqual(builder.order, [
      [{ id: 'test/never', version: '1.0.0' }],
      [
        { id: 'test/first', version: '1.0.0' },
        { id: 'test/second', version: '2.0.0', optional: true },
      ],
    ]);
    assert.equal(builder.trees.length, 3, 'only the buildpack layers hold buildpacks');
    const r = await stageApp(store, app('bare'), 'apps/bare-builder', { builder });
    assert.deepEqual(
      r.group.map((g) => g.id),
      ['test/first', 'test/second'],
    );
  });

  test('a builder pushed to a registry is pulled by HOST/NAME; project.toml may name it', async () => {
    await slipwayOk(home, ['push', 'builders/test:1', `${registry.host}/builders/remote:1`]);
    const r = await slipway(home, [
      '--json',
      'build',
      'apps/remote-builder',
      '--path',
      app('a3'),
      '--builder',
      `${registry.host}/builders/remote:1`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      JSON.parse(r.stdout).group.map((g: { id: string }) => g.id),
      ['test/first', 'test/second'],
    );
    assert.equal((await runImage(store, 'apps/remote-builder')).output, 'hello from first: hi\n');
    const dir = app('a4');
    writeFileSync(
      join(dir, 'project.toml'),
      `[_]\nschema-version = "0.2"\n[io.buildpacks]\nbuilder = "${registry.host}/builders/remote:1"\n`,
    );
    const p = await slipway(home, ['--json', 'build', 'apps/project-builder', '--path', dir]);
    assert.equal(p.code, 0, p.stderr);
    assert.deepEqual(
      JSON.parse(p.stdout).group.map((g: { id: string }) => g.id),
      ['test/first', 'test/second'],
    );

    // [[run.images]] naming a registry image: the builder keeps the name, the build pulls it and records it for rebase.
    await slipwayOk(home, ['push', 'default/run:latest', `${registry.host}/stacks/run:latest`]);
    const cfg = join(work, 'builder', 'remote-run.toml');
    writeFileSync(
      cfg,
      `[[buildpacks]]\nuri = "bps/test_first"\n[[order]]\n[[order.group]]\nid = "test/first"\n[[run.images]]\nimage = "${registry.host}/stacks/run:latest"\nmirrors = ["default/run"]\n`,
    );
    const made = await json(['builder', 'create', 'builders/remote-run', '--config', cfg]);
    assert.equal(made.runImage, `${registry.host}/stacks/run:latest`);
    const meta = JSON.parse(
      (await imageConfig(store, 'builders/remote-run')).config!.Labels!['io.buildpacks.builder.metadata']!,
    );
    assert.deepEqual(meta.stack.runImage, { image: `${registry.host}/stacks/run:latest`, mirrors: ['default/run'] });
    await slipwayOk(home, ['build', 'apps/remote-run', '--path', app('a5'), '--builder', 'builders/remote-run']);
    assert.equal((await runImage(store, 'apps/remote-run')).output, 'hello from first: hi\n');
    const lifecycle = JSON.parse(
      (await imageConfig(store, 'apps/remote-run')).config!.Labels!['io.buildpacks.lifecycle.metadata']!,
    );
    assert.equal(lifecycle.runImage.image, `${registry.host}/stacks/run`);
    assert.match(lifecycle.runImage.reference, /^stacks\/run@sha256:/);
  });

  test('-b buildpackage: a local image, one from a registry, a .cnb file; and in a builder.toml', async () => {
    const [third] = writeBuildpacks(join(work, 'pkg'), [
      { id: 'test/third', version: '3.0.0', build: 'echo "third ran from $CNB_BUILDPACK_DIR"' },
    ]);
    const pkg = await json(['buildpack', 'package', 'bp/third:3', '--path', third!]);
    assert.equal(pkg.id, 'test/third');
    const labels = (await imageConfig(store, 'bp/third', '3')).config!.Labels!;
    assert.deepEqual(JSON.parse(labels['io.buildpacks.buildpackage.metadata']!), {
      id: 'test/third',
      version: '3.0.0',
      stacks: [{ id: '*' }],
    });

    const local = await slipway(home, ['build', 'apps/bp-local', '--path', app('b1'), '-b', 'bp/third:3']);
    assert.equal(local.code, 0, local.stderr);
    assert.match(local.stdout, /buildpacks: test\/third@3.0.0\n/);
    assert.match(local.stderr, /third ran from \/cnb\/buildpacks\/test_third\/3.0.0/);

    await slipwayOk(home, ['push', 'bp/third:3', `${registry.host}/bp/third:3`]);
    const remote = await slipway(home, [
      '--json',
      'build',
      'apps/bp-remote',
      '--path',
      app('b2'),
      '-b',
      `docker://${registry.host}/bp/third:3`,
    ]);
    assert.equal(remote.code, 0, remote.stderr);
    assert.deepEqual(JSON.parse(remote.stdout).group, [{ id: 'test/third', version: '3.0.0' }]);

    const cnb = join(work, 'third.cnb');
    await slipwayOk(home, ['copy', 'bp/third:3', `oci-archive:${cnb}`]);
    const file = await slipway(home, [
      '--json',
      'build',
      'apps/bp-cnb',
      '--path',
      app('b3'),
      '-b',
      cnb,
      '-b',
      'bp/third:3',
    ]);
    assert.equal(file.code, 0, file.stderr);
    // The same buildpack named twice runs once, as the lifecycle skips an id it has taken.
    assert.deepEqual(
      JSON.parse(file.stdout).group.map((g: { id: string }) => g.id),
      ['test/third'],
    );

    const dir = app('b4');
    writeFileSync(
      join(dir, 'project.toml'),
      `[_]\nschema-version = "0.2"\n[[io.buildpacks.group]]\nuri = "docker://${registry.host}/bp/third:3"\n`,
    );
    const project = await slipway(home, ['build', 'apps/bp-project', '--path', dir]);
    assert.equal(project.code, 0, project.stderr);
    assert.match(project.stdout, /buildpacks: test\/third@3.0.0\n/);

    // A builder.toml taking a buildpackage by image name: the builder's layer for it has the same diffID.
    const cfg = join(work, 'pkg', 'builder.toml');
    writeFileSync(
      cfg,
      `[[buildpacks]]\nuri = "docker://${registry.host}/bp/third:3"\n[[buildpacks]]\nimage = "bp/third:3"\n[[order]]\n[[order.group]]\nid = "test/third"\n`,
    );
    const made = await json(['builder', 'create', 'builders/third', '--config', cfg]);
    assert.equal(made.buildpacks.length, 1, 'the same buildpackage from the registry and the store is one buildpack');
    assert.equal(made.buildpacks[0].layerDiffID, (await imageConfig(store, 'bp/third', '3')).rootfs.diff_ids[0]);
  });

  test('an image that is not a builder, or not a buildpackage, is named in a clear error', async () => {
    const notBuilder = await slipway(home, [
      'build',
      'apps/nope',
      '--path',
      app('c1'),
      '--builder',
      'default/build:latest',
    ]);
    assert.equal(notBuilder.code, 1);
    assert.match(
      notBuilder.stderr,
      /default\/build:latest is not a builder image: it has no io.buildpacks.builder.metadata label/,
    );
    const notPackage = await slipway(home, ['build', 'apps/nope', '--path', app('c2'), '-b', 'default/run:latest']);
    assert.equal(notPackage.code, 1);
    assert.match(
      notPackage.stderr,
      /default\/run:latest is not a buildpackage: it has no io.buildpacks.buildpackage.metadata label/,
    );
    const missing = await slipway(home, ['build', 'apps/nope', '--path', app('c3'), '--builder', 'builders/missing:1']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /there is no image builders\/missing:1 in the local store/);
    const noDir = await slipway(home, ['build', 'apps/nope', '--path', app('c5'), '--builder', './no-such-builder']);
    assert.match(noDir.stderr, /builder directory .\/no-such-builder does not exist/);
    const both = await slipway(home, [
      'build',
      'apps/nope',
      '--path',
      app('c4'),
      '--builder',
      'builders/test:1',
      '--stack',
      'default',
    ]);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /give --stack or a builder image \(builders\/test:1\), not both/);
    const quiet = await slipway(home, [
      '--quiet',
      'builder',
      'create',
      'builders/quiet',
      '--config',
      join(work, 'nope.toml'),
    ]);
    assert.equal(quiet.code, 1);
    assert.match(quiet.stderr, /builder config .*nope.toml does not exist/);
    const bad = join(work, 'bad-builder.toml');
    writeFileSync(bad, '[[buildpacks]]\nuri = "bps/none"\n[[order]]\n[[order.group]]\nid = "test/none"\n');
    assert.match(
      (await slipway(home, ['builder', 'create', 'builders/bad', '--config', bad])).stderr,
      /bps\/none does not exist/,
    );
    writeFileSync(
      bad,
      `[[buildpacks]]\nuri = "${join(work, 'builder', 'bps', 'test_first')}"\n[[order]]\n[[order.group]]\nid = "test/unlisted"\n`,
    );
    assert.match(
      (await slipway(home, ['builder', 'create', 'builders/bad', '--config', bad])).stderr,
      /buildpack test\/unlisted is not available/,
    );
  });

  test('--help of builder, builder create, buildpack package and build --builder, with examples', async () => {
    for (const args of [['builder'], ['builder', 'create'], ['buildpack'], ['buildpack', 'package']]) {
      const help = await slipwayOk(home, [...args, '--help']);
      assert.match(help, /Example/, `${args.join(' ')} --help has no example`);
      assert.match(help, new RegExp(`slipway ${args.join(' ')}`));
    }
    assert.match(await slipwayOk(home, ['build', '--help']), /--builder <image\|dir>\s+a builder image/);
  });
});
