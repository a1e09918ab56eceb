import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, run, slipway, slipwayOk, tempDir } from './helpers.js';

/**
 * SIGKILL imports of a large image at random moments, then check with a fresh process
 * that the store lists, verifies (every blob re-hashed) and imports again cleanly.
 */
describe('crash safety of imports', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let layout: string;
  let bigTree: string;

  before(async () => {
    work = await tempDir('crash');
    // A three-layer image of incompressible data (~90 MB), made by umoci.
    layout = join(work.path, 'big-layout');
    const bundle = join(work.path, 'bundle');
    await run('umoci', ['init', '--layout', layout]);
    await run('umoci', ['new', '--image', `${layout}:big`]);
    await run('umoci', ['unpack', '--image', `${layout}:big`, bundle]);
    for (let i = 0; i < 3; i++) {
      await writeFile(join(bundle, 'rootfs', `data-${i}.bin`), randomBytes(30 << 20));
      await run('umoci', ['repack', '--image', `${layout}:big`, bundle]);
    }
    bigTree = join(work.path, 'tree');
    await mkdir(bigTree);
    for (let i = 0; i < 40; i++) await writeFile(join(bigTree, `f${i}.bin`), randomBytes(1 << 20));
  });
  after(() => work.cleanup());

  const killAt = (home: string, args: string[], ms: number) =>
    new Promise<void>((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'bin/slipway.js'), ...args], {
        env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: home },
        stdio: 'ignore',
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      child.on('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });

  test('random SIGKILLs during imports leave a consistent store', async () => {
    const home = join(work.path, 'home');
    const started = Date.now();
    await slipwayOk(home, ['import', `oci:${layout}:big`, 'big:reference']);
    const full = Date.now() - started;
    for (let round = 0; round < 10; round++) {
      const ms = Math.floor(Math.random() * full * 1.1);
      const args =
        round % 3 === 2
          ? ['import', '--rootfs', bigTree, `tree:r${round}`]
          : ['import', `oci:${layout}:big`, `big:r${round}`];
      await killAt(home, args, ms);
    }
    const images = JSON.parse(await slipwayOk(home, ['images', '--json'])) as { name: string; tag: string }[];
    assert.ok(images.some((i) => i.name === 'big' && i.tag === 'reference'));
    for (const i of images) await slipwayOk(home, ['inspect', '--json', `${i.name}:${i.tag}`]);
    const verify = await slipway(home, ['verify', '--json']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    assert.deepEqual(JSON.parse(verify.stdout).problems, []);

    // The store keeps working: a complete import, then gc removes what the killed runs left.
    await slipwayOk(home, ['import', `oci:${layout}:big`, 'big:after']);
    const gc = JSON.parse(await slipwayOk(home, ['gc', '--json']));
    assert.equal(typeof gc.blobsRemoved, 'number');
    const again = await slipway(home, ['verify', '--json']);
    assert.equal(again.code, 0, again.stdout);
    const digests = JSON.parse(await slipwayOk(home, ['images', '--json']))
      .filter((i: { name: string }) => i.name === 'big')
      .map((i: { digest: string }) => i.digest);
    assert.equal(new Set(digests).size, 1, 'every complete import of the same layout has the same digest');
  });
});
