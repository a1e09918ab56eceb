import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isMountPoint, mountOverlay, unmountOverlay, withoutRepeats } from './overlay-mount.js';

const canMount = process.getuid?.() === 0;

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'slipway-overlay-mount-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

/** `count` layer directories: each holds its own file, and all write `shared` (the topmost must win). */
function makeLayers(count: number): string[] {
  const dirs: string[] = [];
  for (let i = 0; i < count; i++) {
    // Long names on purpose: 150 of these as absolute lowerdirs would be ~15 kB of mount data.
    const dir = join(work, 'layers', `${i.toString().padStart(3, '0')}-${'f'.repeat(64)}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `file-${i}`), `${i}`);
    writeFileSync(join(dir, 'shared'), `${i}`);
    dirs.push(dir);
  }
  return dirs;
}

describe('overlay root filesystem', { skip: !canMount && 'needs root to mount overlayfs' }, () => {
  it('mounts 150 layers (far more than absolute lowerdir paths fit in a page) with the topmost layer winning', async () => {
    const layers = makeLayers(150);
    assert.ok(layers.join(':').length > 4096, 'the absolute paths alone would not fit in the mount data');
    const container = join(work, 'c150');
    const { rootfs, upper } = await mountOverlay(container, layers);
    try {
      assert.equal(isMountPoint(rootfs), true);
      assert.equal(readFileSync(join(rootfs, 'shared'), 'utf8'), '149');
      for (const i of [0, 74, 149]) assert.equal(readFileSync(join(rootfs, `file-${i}`), 'utf8'), `${i}`);
      writeFileSync(join(rootfs, 'shared'), 'written by the container');
      assert.equal(
        readFileSync(join(upper, 'shared'), 'utf8'),
        'written by the container',
        'writes land in the upper directory',
      );
      assert.equal(readFileSync(join(layers[149]!, 'shared'), 'utf8'), '149', 'and never in a layer');
    } finally {
      await unmountOverlay(container);
    }
    assert.equal(isMountPoint(rootfs), false);
  });

  it('takes a layer that repeats once, at its topmost position (overlayfs refuses a lowerdir twice)', async () => {
    const [a, b] = makeLayers(2) as [string, string];
    const container = join(work, 'repeat');
    const { rootfs } = await mountOverlay(container, [a, b, a]);
    try {
      assert.equal(readFileSync(join(rootfs, 'shared'), 'utf8'), '0', 'a, applied again over b, wins');
    } finally {
      await unmountOverlay(container);
    }
  });

  it('mounts an image without layers on an empty lower directory', async () => {
    const container = join(work, 'empty');
    const { rootfs } = await mountOverlay(container, []);
    try {
      writeFileSync(join(rootfs, 'x'), 'y');
      assert.equal(existsSync(join(container, 'upper/x')), true);
    } finally {
      await unmountOverlay(container);
    }
  });
});

describe('withoutRepeats', () => {
  it('keeps each directory at its topmost position, base first', () => {
    assert.deepEqual(withoutRepeats(['a', 'b', 'a', 'c', 'b']), ['a', 'c', 'b']);
    assert.deepEqual(withoutRepeats(['a', 'b']), ['a', 'b']);
  });
});
