import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalStore, ensureDefaultStack } from '../src/index.js';
import { writeBuildpacks } from './build-fixtures.js';
import { ROOT, type CliResult, slipway, tempDir } from './helpers.js';

/** The CLI run in `cwd` with SLIPWAY_HOME=home. */
function slipwayIn(cwd: string, home: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--', join(ROOT, 'bin/slipway.js'), ...args], {
      cwd,
      env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** What `slipway build` copies of the app: never a store, never what the ignore files name. */
describe('slipway build: the app source it copies', () => {
  let root: string;
  let user: string;
  let home: string;
  let bp: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const dir = await tempDir('slipway-build-excludes');
    // A user's home directory with the store in it, as ~ and ~/.slipway are.
    root = dir.path;
    user = join(dir.path, 'user');
    home = join(user, '.slipway');
    const store = await LocalStore.open(home);
    await ensureDefaultStack(store);
    await store.close();
    [bp] = writeBuildpacks(join(dir.path, 'bps'), [
      {
        id: 'test/list',
        build:
          'printf "[[processes]]\\ntype = \\"web\\"\\ncommand = [\\"ls\\", \\"-A\\"]\\ndefault = true\\n" > "$CNB_LAYERS_DIR/launch.toml"',
      },
    ]) as [string];
    cleanup = dir.cleanup;
  });
  after(async () => cleanup());

  test("the first build shows unpacking the build image into the layer cache and counts it; the summary's layers and processes lines", async () => {
    const app = join(root, 'procfile-app');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'Procfile'), 'web: echo "hello web"\nworker: sleep 1\n');
    const first = await slipway(home, ['build', 'procfile-app', '--path', app, '-b', 'slipway/procfile']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stderr,
      /===> UNPACKING the build image into the layer cache \(\d+ layers?, [\d.]+ MB; once per stack version\)\n(.*\n)*unpacked \d+ layers? in [\d.]+ s\n===> DETECTING/,
    );
    assert.match(
      first.stdout,
      /took [\d.]+ s \(layer cache [\d.]+ \(\d+ layers? of the build image unpacked\), detect /,
    );
    assert.match(first.stdout, /^layers: 4 \(4 new, 0 reused\)$/m);
    assert.match(
      first.stdout,
      /^processes: web \(default\): \/bin\/sh -c 'echo "hello web"'; worker: \/bin\/sh -c 'sleep 1'$/m,
    );
    const again = await slipway(home, ['--json', 'build', 'procfile-app', '--path', app, '-b', 'slipway/procfile']);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /UNPACKING/);
    const report = JSON.parse(again.stdout);
    assert.equal(report.layersUnpacked, 0);
    assert.equal(report.seconds.layerCache < 1, true);
  });

  test('a build with no --path in a directory that holds the store leaves the store out', async () => {
    writeFileSync(join(user, 'notes.txt'), 'x');
    const r = await slipwayIn(user, home, ['build', 'home-app', '-b', bp]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /left out \.slipway\/ \(a Slipway store\) from the app's source/);
    const ls = await slipway(home, ['run', '--rm', 'home-app']);
    assert.equal(ls.code, 0, ls.stderr);
    assert.deepEqual(ls.stdout.split('\n').filter(Boolean).sort(), ['notes.txt']);
    // Nothing of the staging is left in the store's home either.
    assert.ok(!readdirSync(home).some((n) => n.startsWith('stage-')));
  });

  test('.slipwayignore, .cfignore and .dockerignore name what stays out of the build', async () => {
    const app = join(root, 'app');
    mkdirSync(join(app, 'node_modules', 'x'), { recursive: true });
    mkdirSync(join(app, 'out'), { recursive: true });
    writeFileSync(join(app, 'node_modules', 'x', 'index.js'), 'x');
    writeFileSync(join(app, 'out', 'bundle.js'), 'x');
    writeFileSync(join(app, 'server.js'), 'x');
    writeFileSync(join(app, 'debug.log'), 'x');
    writeFileSync(join(app, '.env'), 'SECRET=1');
    writeFileSync(join(app, '.slipwayignore'), 'node_modules/\n');
    writeFileSync(join(app, '.cfignore'), '*.log\n');
    writeFileSync(join(app, '.dockerignore'), '.env\nout\n');
    const r = await slipway(home, ['build', 'ignoring', '--path', app, '-b', bp]);
    assert.equal(r.code, 0, r.stderr);
    const ls = await slipway(home, ['run', '--rm', 'ignoring']);
    assert.deepEqual(ls.stdout.split('\n').filter(Boolean).sort(), [
      '.cfignore',
      '.dockerignore',
      '.slipwayignore',
      'server.js',
    ]);
  });

  test('a very large tree is copied with a note asking whether it is the app (the build of ~ or /)', async () => {
    const app = join(root, 'large');
    for (let d = 0; d < 100; d++) {
      mkdirSync(join(app, `d${d}`), { recursive: true });
      for (let f = 0; f < 500; f++) writeFileSync(join(app, `d${d}`, `f${f}`), '');
    }
    writeFileSync(join(app, '.slipwayignore'), 'd99/\n');
    const small = await slipway(home, ['build', 'large', '--path', app, '-b', bp]);
    assert.equal(small.code, 0, small.stderr);
    assert.doesNotMatch(small.stderr, /is it the app's directory/);
    writeFileSync(join(app, '.slipwayignore'), '');
    const r = await slipway(home, ['build', 'large', '--path', app, '-b', bp]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /copied 50\d{3} files and directories of .*large: is it the app's directory\? \(--path DIR; leave out what the build does not need in \.slipwayignore\)/,
    );
  });

  test('a large app whose buildpacks name their detect inputs is detected before it is copied', async () => {
    const app = join(root, 'large-procfile');
    for (let d = 0; d < 12; d++) {
      mkdirSync(join(app, `d${d}`, 'sub'), { recursive: true });
      for (let f = 0; f < 500; f++) writeFileSync(join(app, `d${d}`, 'sub', `f${f}`), `${d}/${f}`);
    }
    // No Procfile: detection fails at once, having copied nothing of the tree.
    const failed = await slipway(home, ['build', 'large-procfile', '--path', app, '-b', 'slipway/procfile']);
    assert.equal(failed.code, 20, failed.stderr); // the lifecycle's exit code: no group passed
    assert.match(
      failed.stderr,
      /detecting before copying the app: its 6\d{3} files and directories follow once a group passes/,
    );
    assert.match(failed.stderr, /slipway\/procfile: no Procfile/);
    assert.doesNotMatch(failed.stderr, /copied the app/);
    writeFileSync(
      join(app, 'Procfile'),
      'web: echo $(cat d11/sub/f499) && find . -type f | wc -l && stat -c %U d0/sub/f0\n',
    );
    const built = await slipway(home, ['build', 'large-procfile', '--path', app, '-b', 'slipway/procfile']);
    assert.equal(built.code, 0, built.stderr);
    assert.match(built.stderr, /copied the app \(6\d{3} more files and directories\)/);
    const r = await slipway(home, ['run', '--rm', 'large-procfile']);
    assert.equal(r.code, 0, r.stderr);
    const [last, count, owner] = r.stdout.trim().split('\n');
    assert.equal(last, '11/499');
    assert.equal(Number(count), 12 * 500 + 1);
    assert.notEqual(owner, 'root');
    // A buildpack that names no detect inputs sees the whole app at detect, as before.
    const whole = await slipway(home, ['build', 'large-any', '--path', app, '-b', bp]);
    assert.equal(whole.code, 0, whole.stderr);
    assert.doesNotMatch(whole.stderr, /detecting before copying/);
  });
});
