/**
 * The published CLI (issue 23): bin/slipway.js over the bundle of scripts/build.mjs, with its
 * V8 code cache. Built into a temporary copy of the layout (bin/ beside dist/), so that the
 * tree's own dist/ is left as it is.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promisify } from 'node:util';
import { ROOT, tempDir } from './helpers.js';

const exec = promisify(execFile);

describe('the bundled CLI', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let bin: string;
  let cache: string;
  let env: NodeJS.ProcessEnv;
  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    exec(process.execPath, ['--', bin, ...args], { env: { ...env, ...extra } });

  before(async () => {
    tmp = await tempDir('slipway-bundle');
    const install = join(tmp.path, 'install');
    await exec(process.execPath, [join(ROOT, 'scripts/build.mjs'), '--no-tsc', '--outdir', join(install, 'dist')]);
    bin = join(install, 'bin/slipway.js');
    await mkdir(join(install, 'bin'));
    await copyFile(join(ROOT, 'bin/slipway.js'), bin);
    await copyFile(join(ROOT, 'bin/package.json'), join(install, 'bin/package.json')); // it is CommonJS
    await writeFile(join(install, 'package.json'), '{"type":"module"}\n');
    await symlink(join(ROOT, 'node_modules'), join(install, 'node_modules'));
    cache = join(tmp.path, 'cache');
    // SLIPWAY_FROM_SOURCE off: a test run may set it (and SLIPWAY_TEST_CLI), this test picks itself.
    env = { ...process.env, SLIPWAY_HOME: join(tmp.path, 'home'), SLIPWAY_CODE_CACHE: cache };
    delete env.SLIPWAY_FROM_SOURCE;
    delete env.SLIPWAY_TEST_CLI;
    const rootfs = join(tmp.path, 'rootfs');
    await mkdir(join(rootfs, 'etc'), { recursive: true });
    await writeFile(join(rootfs, 'etc/hello'), 'hello\n');
    await cli(['--quiet', 'import', '--rootfs', rootfs, 'b/tiny:v1']);
  });
  after(() => tmp?.cleanup());

  it('answers --version from the manifest, as the full CLI does', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal((await cli(['--version'])).stdout, `${pkg.version}\n`);
    // Not a lone --version: the whole CLI (commander) answers, the same.
    assert.equal((await cli(['--home', env.SLIPWAY_HOME!, '--version'])).stdout, `${pkg.version}\n`);
  });

  it('loads every command (--help lists them all, each one loaded)', async () => {
    const { stdout } = await cli(['--help']);
    for (const command of ['import', 'registry', 'serve', 'build', 'sbom', 'scan', 'cf', 'rebase'])
      assert.match(stdout, new RegExp(`^  ${command}\\b`, 'm'));
    // What --help does not run: a command's own module top to bottom (the SBOM library, argon2).
    assert.match((await cli(['sbom', '--help'])).stdout, /Usage: slipway sbom/);
    assert.match((await cli(['registry', 'user', '--help'])).stdout, /Usage: slipway registry user/);
  });

  it('runs commands, and the second start of a command uses the code cache the first wrote', async () => {
    const first = await cli(['images', '--json']);
    assert.equal((JSON.parse(first.stdout) as { name: string }[])[0]?.name, 'b/tiny');
    const [key] = await readdir(cache);
    assert.match(key!, /^[0-9a-f]{16}-v[0-9.]+-[a-z0-9]+$/);
    const file = join(cache, key!, 'images.bin');
    assert.ok((await readFile(file)).length > 1000, 'a cache with code in it');
    const { ino } = await stat(file);
    await cli(['images']);
    // Accepted, so not written again (a write renames a new file into place).
    assert.equal((await stat(file)).ino, ino);
  });

  it('ignores a corrupt cache, and writes a good one in its place', async () => {
    await cli(['inspect', 'b/tiny:v1']);
    const [key] = await readdir(cache);
    const file = join(cache, key!, 'inspect.bin');
    for (const junk of [Buffer.from('not a cache'), Buffer.from('[["main.cjs",5]]\nxxxxx'), Buffer.alloc(0)]) {
      await writeFile(file, junk);
      const r = await cli(['inspect', '--json', 'b/tiny:v1']);
      assert.equal((JSON.parse(r.stdout) as { name: string }).name, 'b/tiny:v1');
      assert.ok((await readFile(file)).length > 1000, 'rewritten');
    }
  });

  it('errors from commands read as before', async () => {
    const r = await cli(['inspect', 'no/such:image']).then(
      () => assert.fail('exit 0'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^slipway: error: /);
  });

  it('SLIPWAY_TEST_CLI=built without a bundle says so and fails', async () => {
    const bare = join(tmp.path, 'bare');
    await mkdir(join(bare, 'bin'), { recursive: true });
    await copyFile(join(ROOT, 'bin/slipway.js'), join(bare, 'bin/slipway.js'));
    await copyFile(join(ROOT, 'bin/package.json'), join(bare, 'bin/package.json'));
    const r = await exec(process.execPath, [join(bare, 'bin/slipway.js'), 'images'], {
      env: { ...env, SLIPWAY_TEST_CLI: 'built' },
    }).then(
      () => assert.fail('exit 0'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /SLIPWAY_TEST_CLI=built but there is no bundle/);
  });
});
