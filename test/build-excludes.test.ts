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
  let user: string;
  let home: string;
  let bp: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const dir = await tempDir('slipway-build-excludes');
    // A user's home directory with the store in it, as ~ and ~/.slipway are.
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
    const app = join(user, 'app');
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
});
