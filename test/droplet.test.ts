import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importDroplet } from '../src/droplet/import.js';
import { exportDroplet } from '../src/droplet/export.js';
import { DROPLET_LABEL } from '../src/droplet/layout.js';
import type { LocalStore } from '../src/index.js';
import { readLocal } from '../src/transport/local.js';
import { buildStore, imageConfig, runImage } from './build-fixtures.js';
import { run, slipway, slipwayOk, tempDir } from './helpers.js';

/** A droplet in CF's layout, as `tar -czf droplet -C contents .` writes it. */
async function handMadeDroplet(dir: string, options: { deps?: string } = {}): Promise<string> {
  const c = join(dir, 'contents');
  for (const d of ['app/.profile.d', 'deps/0/bin', 'deps/1', 'profile.d', 'tmp', 'logs'])
    mkdirSync(join(c, d), { recursive: true });
  writeFileSync(join(c, 'deps/0/bin/greet'), `#!/bin/sh\necho "greet from deps/0 ${options.deps ?? ''}"\n`);
  chmodSync(join(c, 'deps/0/bin/greet'), 0o755);
  writeFileSync(join(c, 'deps/1/config.yml'), 'name: final\nconfig: {}\n');
  writeFileSync(
    join(c, 'profile.d/0_path.sh'),
    'export PATH=$DEPS_DIR/0/bin:$PATH\nORDER="${ORDER:-}droplet-profile.d "\n',
  );
  writeFileSync(join(c, 'app/.profile.d/app.sh'), 'ORDER="${ORDER}app-.profile.d "\n');
  writeFileSync(join(c, 'app/.profile'), 'ORDER="${ORDER}.profile"\nexport ORDER\n');
  writeFileSync(
    join(c, 'app/start.sh'),
    '#!/bin/sh\ngreet\necho "order=$ORDER home=$HOME tmp=$TMPDIR deps=$DEPS_DIR port=$PORT user=$(id -u)"\necho "vcap=$VCAP_APPLICATION"\necho "args=$*"\n',
  );
  chmodSync(join(c, 'app/start.sh'), 0o755);
  writeFileSync(join(c, 'app/Procfile'), 'web: ./start.sh\n');
  writeFileSync(
    join(c, 'staging_info.yml'),
    JSON.stringify({ detected_buildpack: 'hand-made', start_command: './start.sh web-arg' }),
  );
  const file = join(dir, 'droplet.tgz');
  await run('tar', ['-czf', file, '-C', c, '.']);
  return file;
}

describe('droplet import and export', () => {
  let store: LocalStore;
  let home: string;
  let cleanup: () => Promise<void>;
  let work: { path: string; cleanup: () => Promise<void> };
  before(async () => {
    ({ store, home, cleanup } = await buildStore());
    work = await tempDir('slipway-droplet');
  });
  after(async () => {
    await work.cleanup();
    await cleanup();
  });

  it('a hand-made droplet in CF layout imports and runs through the CF launcher', async () => {
    const file = await handMadeDroplet(join(work.path, 'a'));
    const types = join(work.path, 'types.yml');
    writeFileSync(types, 'worker: echo worker $HOME\n');
    const out = await slipwayOk(home, ['--json', 'droplet', 'import', file, 'apps/hand:v1', '--process-types', types]);
    const report = JSON.parse(out) as {
      digest: string;
      layers: { name: string }[];
      processTypes: Record<string, string>;
    };
    assert.deepEqual(
      report.layers.map((l) => l.name),
      ['droplet', 'deps/0', 'deps/1', 'app', 'launcher', 'process-types'],
    );
    assert.deepEqual(report.processTypes, { web: './start.sh web-arg', worker: 'echo worker $HOME' });

    const config = await imageConfig(store, 'apps/hand', 'v1');
    assert.deepEqual(config.config?.Entrypoint, ['/cf/lifecycle/launcher']);
    assert.equal(config.config?.WorkingDir, '/home/vcap/app');
    const label = JSON.parse(config.config!.Labels![DROPLET_LABEL]!);
    assert.equal(label.detected_buildpack, 'hand-made');
    assert.equal(label.start_command, './start.sh web-arg');
    const lifecycle = JSON.parse(config.config!.Labels!['io.buildpacks.lifecycle.metadata']!);
    assert.match(lifecycle.runImage.topLayer, /^sha256:/);
    assert.match(lifecycle.runImage.reference, /^default\/run@sha256:/);

    const r = await runImage(store, 'apps/hand:v1');
    assert.equal(r.exitCode, 0, r.output);
    assert.match(r.output, /Invoking pre-start scripts\.\nInvoking start command\./);
    assert.match(r.output, /greet from deps\/0/);
    assert.match(
      r.output,
      /order=droplet-profile\.d app-\.profile\.d \.profile home=\/home\/vcap\/app tmp=\/home\/vcap\/tmp deps=\/home\/vcap\/deps port=8080 user=1000/,
    );
    assert.match(r.output, /"port":8080/);
    assert.match(r.output, /args=web-arg/);

    const w = await runImage(store, 'apps/hand:v1', { processType: 'worker' });
    assert.equal(w.exitCode, 0, w.output);
    assert.match(w.output, /worker \/home\/vcap\/app/);
    const p = await runImage(store, 'apps/hand:v1', { port: 9090 });
    assert.match(p.output, /port=9090/);
    // The lifecycle label is what slipway rebase reads: the image is on the stack's current run image.
    assert.match(await slipwayOk(home, ['rebase', 'apps/hand:v1', '--dry-run']), /already on default\/run/);
  });

  it('an exported droplet has CF layout and imports back to the same digest', async () => {
    const file = await handMadeDroplet(join(work.path, 'b'));
    const first = await importDroplet(store, file, 'apps/rt:v1');
    const out = join(work.path, 'exported.tgz');
    await slipwayOk(home, ['droplet', 'export', 'apps/rt:v1', '-o', out]);
    const listing = (await run('tar', ['-tzf', out])).split('\n').filter(Boolean);
    for (const entry of [
      './',
      './app/',
      './app/start.sh',
      './deps/0/bin/greet',
      './profile.d/0_path.sh',
      './staging_info.yml',
      './tmp/',
      './logs/',
    ]) {
      assert.ok(listing.includes(entry), `${entry} in ${listing.join(' ')}`);
    }
    const again = await importDroplet(store, out, 'apps/rt:v2');
    assert.equal(again.digest, first.digest);
    // And export of the re-import is byte-identical.
    const { artifact } = await readLocal(store, 'apps/rt', 'v2');
    assert.equal(artifact.kind, 'image');
    const second = await exportDroplet(
      (artifact as { image: import('../src/index.js').Image }).image,
      'apps/rt:v2',
      join(work.path, 'again.tgz'),
      work.path,
    );
    const firstSum = (await run('sha256sum', [out])).split(' ')[0];
    assert.equal(`sha256:${firstSum}`, second.sha256);
  });

  it('two droplets sharing deps/0 store that layer once', async () => {
    const a = await importDroplet(store, await handMadeDroplet(join(work.path, 'c')), 'apps/share-a');
    const bDir = join(work.path, 'd');
    const b = await importDroplet(store, await handMadeDroplet(bDir), 'apps/share-b');
    const depA = a.layers.find((l) => l.name === 'deps/0')!;
    const depB = b.layers.find((l) => l.name === 'deps/0')!;
    assert.equal(depA.digest, depB.digest);
    assert.equal(depB.reused, false); // the same bytes: the store keeps one blob either way
    const changed = await importDroplet(
      store,
      await handMadeDroplet(join(work.path, 'e'), { deps: 'v2' }),
      'apps/share-c',
    );
    assert.notEqual(changed.layers.find((l) => l.name === 'deps/0')!.digest, depA.digest);
    assert.equal(
      changed.layers.find((l) => l.name === 'deps/1')!.digest,
      a.layers.find((l) => l.name === 'deps/1')!.digest,
    );
  });

  it('droplet:FILE is a copy source giving the digest import gives', async () => {
    const file = await handMadeDroplet(join(work.path, 'f'));
    const imported = await importDroplet(store, file, 'apps/src:v1');
    const layout = join(work.path, 'layout');
    await slipwayOk(home, ['copy', `droplet:${file}`, `oci:${layout}:web`]);
    const index = JSON.parse(await run('cat', [join(layout, 'index.json')])) as { manifests: { digest: string }[] };
    assert.equal(index.manifests[0]!.digest, imported.digest);
    await slipwayOk(home, ['copy', `droplet:${file}:default`, 'apps/src:v2']);
    const { descriptor } = await readLocal(store, 'apps/src', 'v2');
    assert.equal(descriptor.digest, imported.digest);
    const r = await slipway(home, ['copy', 'apps/src:v1', `droplet:${join(work.path, 'out.tgz')}`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /can only be read/);
  });

  it('export of an image without a droplet is refused with a clear error', async () => {
    const r = await slipway(home, ['droplet', 'export', 'default/run', '-o', join(work.path, 'x.tgz')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /holds no droplet/);
  });
});
