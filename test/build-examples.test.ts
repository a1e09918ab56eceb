import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copy, type LocalStore } from '../src/index.js';
import { parseTransport } from '../src/oci/transport.js';
import { ContainerRuntime } from '../src/runtime/index.js';
import { buildStore, imageConfig, runImage, stageApp } from './build-fixtures.js';
import { ROOT, commandExists, freePort, podmanEnv, run } from './helpers.js';

/**
 * The built-in buildpacks on the examples, end to end: slipway/nodejs (Node.js and
 * npm from the npm registry), slipway/procfile, slipway/apt + slipway/make (a C
 * program linking libgmp); the images run under `slipway run` and podman; rebuilds
 * reuse what did not change; builds are reproducible across fresh stores.
 */
describe('slipway build: the examples', () => {
  let store: LocalStore;
  let cleanup: () => Promise<void>;
  let work: string;
  const examples = join(ROOT, 'examples');

  before(async () => {
    ({ store, work, cleanup } = await buildStore());
  });
  after(async () => cleanup());

  test('Procfile app: web is the default process, worker by --process', async () => {
    const r = await stageApp(store, join(examples, 'procfile'), 'ex/procfile');
    assert.deepEqual(
      r.group.map((g) => g.id),
      ['slipway/procfile'],
    );
    assert.equal(
      (await runImage(store, 'ex/procfile')).output,
      'hello from the Procfile app, greeting=none\nThe Procfile app says hi.\n',
    );
    assert.equal(
      (await runImage(store, 'ex/procfile', { processType: 'worker', args: ['a', 'b'] })).output,
      'worker a b\n',
    );
  });

  test('C app with libgmp: apt installs libgmp-dev without root, make builds it, it prints 100!', async () => {
    const r = await stageApp(store, join(examples, 'c-gmp'), 'ex/c-gmp');
    assert.deepEqual(
      r.group.map((g) => g.id),
      ['slipway/apt', 'slipway/make'],
    );
    const out = await runImage(store, 'ex/c-gmp');
    assert.equal(
      out.output,
      '100! = 93326215443944152681699238856266700490715968264381621468592963895217599993229915608941463976156518286253697920827223758251185210916864000000000000000000000000\n',
    );
    assert.equal(
      (await runImage(store, 'ex/c-gmp', { args: ['bigfact', '25'] })).output,
      '25! = 15511210043330985984000000\n',
    );
  });

  let nodeFirst: Awaited<ReturnType<typeof stageApp>>;
  test('Node.js app: Node.js from engines.node, npm ci, web answers over HTTP', async () => {
    nodeFirst = await stageApp(store, join(examples, 'nodejs'), 'ex/node');
    assert.match(nodeFirst.output, /Node.js 22\.\d+\.\d+ from npm \(engines.node: 22.x\)/);
    assert.match(nodeFirst.output, /npm ci/);
    assert.deepEqual(
      nodeFirst.layers.slice(0, 2).map((l) => l.name),
      ['slipway/nodejs:node', 'slipway/nodejs:node_modules'],
    );
    const once = await runImage(store, 'ex/node', { args: ['node', 'server.js', '--once'] });
    assert.match(once.output, /^Hello from Slipway \(Node.js v22\.\d+\.\d+, express 4.21.2\)\n$/);

    const port = await freePort();
    const runtime = ContainerRuntime.open(store.home);
    const name = `node-${randomBytes(3).toString('hex')}`;
    try {
      await runtime.run(
        { ref: parseTransport('ex/node'), label: 'ex/node', store: async () => store },
        { name, detach: true, port },
      );
      let body = '';
      for (let i = 0; i < 100 && !body; i++) {
        body = await fetch(`http://127.0.0.1:${port}/`).then(
          (r) => r.text(),
          () => '',
        );
        if (!body) await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(body, /^Hello from Slipway \(Node.js v22\.\d+\.\d+, express 4.21.2, NODE_ENV=production\)\n$/);
    } finally {
      await runtime.remove(name, { force: true }).catch(() => undefined);
      runtime.close();
    }
  });

  test('Node.js app, no change: same digest, nothing rebuilt or written', async () => {
    const again = await stageApp(store, join(examples, 'nodejs'), 'ex/node');
    assert.equal(again.digest, nodeFirst.digest);
    assert.match(again.output, /Reusing node_modules/);
    assert.doesNotMatch(again.output, /npm ci|Downloading/);
    assert.equal(again.bytesWritten, 0);
  });

  test('Node.js app, one file changed: node_modules is reused, only the app layer differs', async () => {
    const app = join(work, 'node-changed');
    cpSync(join(examples, 'nodejs'), app, { recursive: true });
    writeFileSync(join(app, 'greeting.js'), "module.exports = { greeting: 'Hello again' };\n");
    // Same repository: the previous image and cache are the app's.
    const before = await imageConfig(store, 'ex/node');
    const changed = await stageApp(store, app, 'ex/node');
    assert.match(changed.output, /Reusing node_modules \(package-lock.json unchanged\)/);
    assert.doesNotMatch(changed.output, /npm ci/);
    assert.ok(changed.layers.find((l) => l.name === 'slipway/nodejs:node_modules')!.reused);
    assert.ok(!changed.layers.find((l) => l.name === 'app')!.reused);
    const after = await imageConfig(store, 'ex/node');
    const differing = before.rootfs.diff_ids
      .map((d, i) => (d === after.rootfs.diff_ids[i] ? -1 : i))
      .filter((i) => i >= 0);
    const appIndex = after.rootfs.diff_ids.indexOf(changed.layers.find((l) => l.name === 'app')!.diffId);
    assert.deepEqual(differing, [appIndex], 'only the app layer differs (the config layer and labels follow from it)');
    assert.match((await runImage(store, 'ex/node', { args: ['node', 'server.js', '--once'] })).output, /^Hello again/);
  });

  test('the images run under podman from an OCI layout', { skip: !commandExists('podman') }, async () => {
    // Beside the suite's directory, not in it: podman takes the path of an oci: layout as an image name, lowercase only.
    const layout = join(tmpdir(), `slipway-build-podman-${randomBytes(6).toString('hex')}`);
    try {
      const pm = await podmanEnv(join(work, 'podman'));
      for (const [image, tag] of [
        ['ex/procfile', 'procfile'],
        ['ex/c-gmp', 'gmp'],
      ] as const) {
        await copy(parseTransport(image), parseTransport(`oci:${layout}:${tag}`), async () => store);
      }
      assert.equal(
        await run('podman', [...pm.args, 'run', '--rm', `oci:${layout}:procfile`], pm.env),
        'hello from the Procfile app, greeting=none\nThe Procfile app says hi.\n',
      );
      assert.match(
        await run('podman', [...pm.args, 'run', '--rm', `oci:${layout}:gmp`], pm.env),
        /^100! = 93326215443944152681699238856266700490715968264381621468592963895217599993229915608941463976156518286253697920827223758251185210916864000000000000000000000000\n$/,
      );
      assert.equal(
        await run(
          'podman',
          [...pm.args, 'run', '--rm', '--entrypoint', '/cnb/process/worker', `oci:${layout}:procfile`, 'x'],
          pm.env,
        ),
        'worker x\n',
      );
    } finally {
      rmSync(layout, { recursive: true, force: true });
    }
  });

  test('reproducible: the same app in two fresh stores gives the same digest', async () => {
    const digests: string[] = [];
    for (let i = 0; i < 2; i++) {
      const fresh = await buildStore();
      try {
        digests.push((await stageApp(fresh.store, join(examples, 'procfile'), 'repro/procfile')).digest);
      } finally {
        await fresh.cleanup();
      }
    }
    assert.equal(digests[0], digests[1]);
    const here = await stageApp(store, join(examples, 'procfile'), 'repro/procfile');
    assert.equal(here.digest, digests[0]);
  });
});
