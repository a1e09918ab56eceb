import assert from 'node:assert/strict';
import { existsSync, lstatSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { getAttribute } from '@napi-rs/xattr';
import { isSlipwayError } from '../errors.js';
import { type RawEntry, tarBuffer } from '../../test/fixtures/hostile/tar.js';
import { snapshot } from '../../test/fixtures/hostile/snapshot.js';
import { type ExtractOptions, extractLayer } from './extract.js';
import { parseWhiteout } from './whiteout.js';

let target: string;
beforeEach(async () => {
  target = await mkdtemp(join(tmpdir(), 'slipway-whiteout-'));
});
afterEach(() => rm(target, { recursive: true, force: true }));

async function apply(entries: RawEntry[], options?: ExtractOptions): ReturnType<typeof extractLayer> {
  return extractLayer(Readable.from([await tarBuffer(entries)]), target, options);
}

const dir = (name: string): RawEntry => ({ name, type: 'directory' });
const file = (name: string, content = name): RawEntry => ({ name, content });

/** The paths under the target, sorted (".": the root). */
function paths(): string[] {
  return Object.keys(snapshot(target))
    .filter((p) => p !== '.')
    .sort();
}

/** The base layer of image-spec layer.md's examples. */
const LOWER: RawEntry[] = [
  dir('a'),
  dir('a/b'),
  dir('a/b/c'),
  file('a/b/c/bar'),
  dir('etc'),
  file('etc/my-app-config'),
  file('etc/keep'),
  dir('bin'),
  file('bin/my-app-binary'),
  file('bin/my-app-tools'),
  dir('bin/tools'),
  file('bin/tools/my-app-tool-one'),
];

describe('whiteouts applied with OCI semantics', () => {
  beforeEach(() => apply(LOWER));

  it('.wh.NAME removes a lower file; an opaque marker empties a lower directory; whiteouts leave no trace', async () => {
    const counts = await apply([
      dir('etc'),
      file('etc/.wh.my-app-config', ''),
      dir('bin'),
      file('bin/.wh..wh..opq', ''),
      file('bin/new'),
    ]);
    assert.deepEqual(paths(), ['a', 'a/b', 'a/b/c', 'a/b/c/bar', 'bin', 'bin/new', 'etc', 'etc/keep']);
    assert.equal(counts.whiteouts, 2);
  });

  it('.wh.NAME removes a whole lower directory', async () => {
    await apply([file('.wh.bin', '')]);
    assert.ok(!existsSync(join(target, 'bin')));
  });

  for (const [order, layer] of [
    ['marker first', [dir('a'), file('a/.wh..wh..opq', ''), dir('a/b'), dir('a/b/c'), file('a/b/c/foo')]],
    ['marker last', [dir('a'), dir('a/b'), dir('a/b/c'), file('a/b/c/foo'), file('a/.wh..wh..opq', '')]],
  ] as const) {
    it(`an opaque directory keeps what its own layer adds, whatever the order (${order})`, async () => {
      await apply([...layer]);
      assert.deepEqual(
        paths().filter((p) => p.startsWith('a')),
        ['a', 'a/b', 'a/b/c', 'a/b/c/foo'],
      );
    });
  }

  it('a whiteout never hides an entry of its own layer, before or after it', async () => {
    await apply([
      dir('etc'),
      file('etc/my-app-config', 'new config'),
      file('etc/.wh.my-app-config', ''),
      dir('bin'),
      file('bin/.wh.tools', ''),
      dir('bin/tools'),
      file('bin/tools/two'),
    ]);
    assert.equal(await readFile(join(target, 'etc/my-app-config'), 'utf8'), 'new config');
    assert.deepEqual(
      paths().filter((p) => p.startsWith('bin/tools')),
      ['bin/tools', 'bin/tools/two'],
    );
  });

  it('a whiteout after its layer wrote below the same directory removes only the lower part', async () => {
    await apply([dir('bin'), dir('bin/tools'), file('bin/tools/two'), file('bin/.wh.tools', '')]);
    assert.deepEqual(
      paths().filter((p) => p.startsWith('bin/tools')),
      ['bin/tools', 'bin/tools/two'],
    );
  });

  it('a whiteout for something absent, or in an absent directory, is a no-op', async () => {
    await apply([file('etc/.wh.nothing', ''), file('nowhere/.wh.x', ''), file('nowhere2/.wh..wh..opq', '')]);
    assert.ok(existsSync(join(target, 'etc/keep')));
    assert.ok(!existsSync(join(target, 'nowhere')));
  });

  it('ignores aufs bookkeeping names (.wh..wh.plnk and what is below it)', async () => {
    await apply([dir('.wh..wh.plnk'), file('.wh..wh.plnk/1234.5678'), file('.wh..wh.aufs', '')]);
    assert.ok(!existsSync(join(target, '.wh..wh.plnk')));
    assert.ok(!existsSync(join(target, '.wh..wh.aufs')));
  });
});

describe('whiteouts written in overlayfs form', () => {
  it('.wh.NAME becomes a 0/0 character device, an opaque marker the trusted.overlay.opaque xattr', async () => {
    const counts = await apply(
      [file('.wh.gone', ''), dir('d'), file('d/.wh..wh..opq', ''), file('d/x'), dir('e'), file('e/.wh.f', '')],
      { whiteouts: 'overlay' },
    );
    const gone = lstatSync(join(target, 'gone'));
    assert.ok(gone.isCharacterDevice());
    assert.equal(gone.rdev, 0);
    assert.ok(lstatSync(join(target, 'e/f')).isCharacterDevice());
    assert.equal((await getAttribute(join(target, 'd'), 'trusted.overlay.opaque'))?.toString(), 'y');
    assert.equal(await getAttribute(join(target, 'e'), 'trusted.overlay.opaque'), null);
    assert.deepEqual(paths(), ['d', 'd/x', 'e', 'e/f', 'gone']);
    assert.equal(counts.whiteouts, 3);
  });

  it('a directory its own layer also whites out becomes opaque, in either order', async () => {
    await apply(
      [
        file('.wh.p', ''),
        dir('p'),
        file('p/x'),
        dir('q'),
        file('q/y'),
        file('.wh.q', ''),
        file('r'),
        file('.wh.r', ''),
      ],
      { whiteouts: 'overlay' },
    );
    for (const name of ['p', 'q']) {
      assert.ok(lstatSync(join(target, name)).isDirectory(), name);
      assert.equal((await getAttribute(join(target, name), 'trusted.overlay.opaque'))?.toString(), 'y', name);
    }
    assert.ok(lstatSync(join(target, 'r')).isFile(), 'a file of the layer is kept, not turned into a whiteout');
  });
});

describe('parseWhiteout', () => {
  it('classifies names', () => {
    assert.equal(parseWhiteout(['a', 'b'], 'a/b'), undefined);
    assert.deepEqual(parseWhiteout(['a', '.wh.b'], 'a/.wh.b'), { kind: 'remove', dir: ['a'], name: 'b' });
    assert.deepEqual(parseWhiteout(['a', '.wh..wh..opq'], 'a/.wh..wh..opq'), { kind: 'opaque', dir: ['a'] });
    assert.deepEqual(parseWhiteout(['.wh..wh.plnk'], '.wh..wh.plnk'), { kind: 'reserved' });
  });

  it('refuses whiteouts that name no sibling', () => {
    for (const name of ['.wh.', '.wh..', '.wh...']) {
      assert.throws(
        () => parseWhiteout(['a', name], `a/${name}`),
        (err) => isSlipwayError(err, 'UNSAFE_ARCHIVE_ENTRY'),
        name,
      );
    }
  });
});
