import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalStore } from '../src/index.js';
import { withLabels } from '../src/image/mutate.js';
import { buildApp, type BuildAppOptions, type BuildAppReport } from '../src/stage/cnb/build-app.js';
import { publishVersion, storeImage } from '../src/stack/stack-catalog.js';
import { readLocal } from '../src/transport/local.js';
import { buildStore, scratchDirs } from './build-fixtures.js';
import { slipway } from './helpers.js';

/**
 * The no-change shortcut of `slipway build`: the same inputs answer with the image of
 * the last build (no container), and any input that decides the result makes it build.
 */
describe('slipway build: an unchanged build reuses its image', () => {
  let store: LocalStore;
  let home: string;
  let cleanup: () => Promise<void>;
  let work: string;
  const { app, bps } = scratchDirs(() => work);

  before(async () => {
    ({ store, home, work, cleanup } = await buildStore());
  });
  after(async () => cleanup());

  /** A buildpack that says it ran and copies the app's files and one env var into a launch layer. */
  const copying = () =>
    bps([
      {
        id: 'test/copy',
        build: `
        echo "building with GREETING=$(cat "$CNB_PLATFORM_DIR/env/GREETING" 2>/dev/null || echo none)"
        mkdir -p "$CNB_LAYERS_DIR/out"
        cat /workspace/hello.txt > "$CNB_LAYERS_DIR/out/hello"
        cat "$CNB_PLATFORM_DIR/env/GREETING" > "$CNB_LAYERS_DIR/out/greeting" 2>/dev/null || true
        printf '[types]\\nlaunch = true\\n' > "$CNB_LAYERS_DIR/out.toml"`,
      },
    ]);

  async function build(
    repository: string,
    dir: string,
    options: Partial<BuildAppOptions> = {},
  ): Promise<BuildAppReport & { output: string }> {
    let output = '';
    const r = await buildApp(store, {
      image: repository,
      path: dir,
      sbom: false,
      reuse: true,
      output: (t) => (output += t),
      ...options,
    });
    return { ...r, output };
  }

  test('the same source, stack, buildpacks and env: the image of the last build, no container, the same digest a real rebuild gives', async () => {
    const dir = app();
    const b = copying();
    const first = await build('reuse/same', dir, { buildpacks: b });
    assert.match(first.output, /building with GREETING=none/);
    assert.equal(first.reused, undefined);

    const again = await build('reuse/same', dir, { buildpacks: b });
    assert.equal(again.output, '', 'no buildpack ran');
    assert.deepEqual(again.reused?.digest, first.digest);
    assert.equal(again.digest, first.digest);
    assert.equal(again.bytesWritten, 0);
    assert.ok(again.layers.every((l) => l.reused));

    // Another tag of the same repository: re-tagged, not rebuilt.
    const tagged = await build('reuse/same:v2', dir, { buildpacks: b });
    assert.equal(tagged.reused?.digest, first.digest);
    assert.equal((await store.resolve('reuse/same', 'v2')).digest, first.digest);

    // Not asked for (the platform's staging): a build runs even with a record for its inputs.
    const real = await build('reuse/same', dir, { buildpacks: b, reuse: undefined });
    assert.match(real.output, /building/);
    assert.equal(real.reused, undefined);
    assert.equal(real.digest, first.digest, 'a real rebuild gives the digest the shortcut answered with');

    const cleared = await build('reuse/same', dir, { buildpacks: b, clearCache: true });
    assert.match(cleared.output, /building/, '--clear-cache builds for real');
    assert.equal(cleared.digest, first.digest);
  });

  test("a file's content changed with its size and mtime put back: built again", async () => {
    const dir = app();
    const b = copying();
    const file = join(dir, 'hello.txt');
    writeFileSync(file, 'aaaa\n');
    // Whole seconds, so putting the mtime back below is exact to the nanosecond.
    const old = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
    utimesSync(file, old, old);
    const first = await build('reuse/content', dir, { buildpacks: b });
    // Wait out the racy window so the file's hash is cached by stat, then build again: that is the cache path.
    await new Promise((r) => setTimeout(r, 2100));
    assert.equal((await build('reuse/content', dir, { buildpacks: b })).reused?.digest, first.digest);
    const records = join(store.home, 'build-reuse');
    const cachedPaths = readdirSync(records).flatMap(
      (f) => Object.keys(JSON.parse(readFileSync(join(records, f), 'utf8')).files) as string[],
    );
    assert.ok(cachedPaths.includes(file), "the file's hash is cached by its stat");

    const before = statSync(file, { bigint: true });
    writeFileSync(file, 'bbbb\n');
    utimesSync(file, old, old);
    const after = statSync(file, { bigint: true });
    assert.equal(after.size, before.size);
    assert.equal(after.mtimeNs, before.mtimeNs, 'the same size and mtime');
    const changed = await build('reuse/content', dir, { buildpacks: b });
    assert.equal(changed.reused, undefined);
    assert.match(changed.output, /building/);
    assert.notEqual(changed.digest, first.digest);
  });

  test('a mode changed, a file added: built again', async () => {
    const dir = app();
    const b = copying();
    const first = await build('reuse/tree', dir, { buildpacks: b });
    const { chmodSync } = await import('node:fs');
    chmodSync(join(dir, 'hello.txt'), 0o600);
    const moded = await build('reuse/tree', dir, { buildpacks: b });
    assert.equal(moded.reused, undefined);
    assert.notEqual(moded.digest, first.digest);
    writeFileSync(join(dir, 'new.txt'), 'new\n');
    const added = await build('reuse/tree', dir, { buildpacks: b });
    assert.equal(added.reused, undefined);
    // An ignored file is not the build's input: still reused.
    writeFileSync(join(dir, '.slipwayignore'), 'scratch.log\n');
    const ignoring = await build('reuse/tree', dir, { buildpacks: b });
    assert.equal(ignoring.reused, undefined, 'a new ignore file is an input');
    writeFileSync(join(dir, 'scratch.log'), 'noise\n');
    assert.equal((await build('reuse/tree', dir, { buildpacks: b })).reused?.digest, ignoring.digest);
  });

  test('the env changed (-e, then --env-file): built again; back to the first env: that image again', async () => {
    const dir = app();
    const b = copying();
    const plain = await build('reuse/env', dir, { buildpacks: b });
    const hi = await build('reuse/env', dir, { buildpacks: b, env: ['GREETING=hi'] });
    assert.equal(hi.reused, undefined);
    assert.match(hi.output, /GREETING=hi/);
    assert.notEqual(hi.digest, plain.digest);
    const envFile = join(work, 'reuse.env');
    writeFileSync(envFile, 'GREETING=from the file\n');
    const fromFile = await build('reuse/env', dir, { buildpacks: b, envFile });
    assert.equal(fromFile.reused, undefined);
    assert.match(fromFile.output, /GREETING=from the file/);
    const back = await build('reuse/env', dir, { buildpacks: b, env: ['GREETING=hi'] });
    assert.equal(back.reused?.digest, hi.digest, 'a recent variant is still remembered');
    assert.equal((await store.resolve('reuse/env', 'latest')).digest, hi.digest, 'and tagged again');
    const created = await build('reuse/env', dir, { buildpacks: b, env: ['GREETING=hi'], creationTime: '1700000000' });
    assert.equal(created.reused, undefined, 'another creation time is another image');
  });

  test('a buildpack changed: built again; the image deleted from the store: built again', async () => {
    const dir = app();
    const b = copying();
    const first = await build('reuse/bp', dir, { buildpacks: b });
    const script = join(b[0]!, 'bin', 'build');
    writeFileSync(script, readFileSync(script, 'utf8').replace('building with', 'building (v2) with'));
    const changed = await build('reuse/bp', dir, { buildpacks: b });
    assert.equal(changed.reused, undefined);
    assert.match(changed.output, /building \(v2\) with/);
    assert.equal(changed.digest, first.digest, 'the same layers: the script is not in the image');

    await store.deleteImage('reuse/bp', changed.digest);
    const rebuilt = await build('reuse/bp', dir, { buildpacks: b });
    assert.equal(rebuilt.reused, undefined, 'no image to reuse');
    assert.match(rebuilt.output, /building/);
  });

  test('slipway build: the summary and --json say which build was reused; --clear-cache and --no-reuse build', async () => {
    const dir = app();
    const [bp] = copying();
    const args = ['build', 'reuse/cli', '--path', dir, '-b', bp!, '--no-sbom'];
    const first = await slipway(home, ['--json', ...args]);
    assert.equal(first.code, 0, first.stderr);
    const r1 = JSON.parse(first.stdout);
    assert.equal(r1.reused, undefined);
    const again = await slipway(home, args);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`unchanged: reused ${r1.digest} from the build at \\d{4}-`));
    assert.match(again.stdout, /no container started/);
    const json = JSON.parse((await slipway(home, ['--json', ...args])).stdout);
    assert.equal(json.reused.digest, r1.digest);
    assert.equal(json.digest, r1.digest);
    const cleared = JSON.parse((await slipway(home, ['--json', ...args, '--clear-cache'])).stdout);
    assert.equal(cleared.reused, undefined);
    assert.equal(cleared.digest, r1.digest);
    const forced = await slipway(home, [...args, '--no-reuse']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.doesNotMatch(forced.stdout, /unchanged/);
    assert.match(forced.stdout, /took .* \(detect /);
    assert.match(forced.stdout, new RegExp(`^digest ${r1.digest}$`, 'm'));
  });

  test('a new stack version: built again on it', async () => {
    const dir = app();
    const b = copying();
    const first = await build('reuse/stack', dir, { buildpacks: b });
    assert.equal((await build('reuse/stack', dir, { buildpacks: b })).reused?.digest, first.digest);
    // Version 2 of the default stack: the same build image, a run image with one more label.
    const read = async (repo: string) => {
      const { artifact } = await readLocal(store, repo, 'latest');
      assert.equal(artifact.kind, 'image');
      return artifact.kind === 'image' ? artifact.image : (undefined as never);
    };
    const run = await withLabels(await read('default/run'), { 'org.example.patched': 'yes' });
    const buildImage = await read('default/build');
    await store.withLease(async (lease) => {
      await storeImage(store, lease, 'default/run', run);
      await publishVersion(store, lease, 'default', { run, build: buildImage });
    });
    const next = await build('reuse/stack', dir, { buildpacks: b });
    assert.equal(next.reused, undefined);
    assert.match(next.output, /building/);
    assert.notEqual(next.stack.version, first.stack.version);
    assert.notEqual(next.digest, first.digest);
  });
});
