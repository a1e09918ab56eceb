import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, lstatSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { isSlipwayError } from '../errors.js';
import { type RawEntry, tarBuffer } from '../../test/fixtures/hostile/tar.js';
import { snapshot } from '../../test/fixtures/hostile/snapshot.js';
import type { TarEntry } from './entry.js';
import { extractLayer } from './extract.js';
import { layerToOverlay, overlayUpperEntries, writeOverlayDiffLayer } from './overlay.js';

/**
 * These tests use the kernel's overlayfs for real (they need root): what the kernel
 * writes in an upper directory is the input of full-filesystem staging, and a
 * layer cache in overlay form must look, once mounted, exactly like the applied layers.
 */
const canMount = process.getuid?.() === 0 && mountWorks();

const dir = (name: string, mode = 0o755): RawEntry => ({ name, type: 'directory', mode });
const file = (name: string, content = name): RawEntry => ({ name, content });

/** A small rootfs: the lower layer of every test. */
const BASE: RawEntry[] = [
  dir('etc'),
  file('etc/a.conf'),
  file('etc/b.conf'),
  dir('opt'),
  dir('opt/app'),
  file('opt/app/bin'),
  dir('opt/app/lib'),
  file('opt/app/lib/x'),
  dir('keep'),
  file('keep/file', 'old'),
  { name: 'keep/link', type: 'symlink', linkname: 'file' },
];

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'slipway-overlay-'));
});
after(() => rm(work, { recursive: true, force: true }));

async function tarStream(entries: RawEntry[]): Promise<Readable> {
  return Readable.from([await tarBuffer(entries)]);
}

async function freshDir(name: string): Promise<string> {
  const path = join(work, name);
  await mkdir(path, { recursive: true });
  return path;
}

/** Mounts an overlay, runs `fn` with the merged path, and always unmounts. */
async function withOverlay<T>(
  layers: { lower: string[]; upper?: string; work?: string; options?: string },
  fn: (merged: string) => Promise<T> | T,
): Promise<T> {
  const merged = await freshDir(`merged-${Math.random().toString(36).slice(2)}`);
  const parts = [`lowerdir=${layers.lower.join(':')}`];
  if (layers.upper) parts.push(`upperdir=${layers.upper}`, `workdir=${layers.work}`);
  if (layers.options) parts.push(layers.options);
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', parts.join(','), merged]);
  try {
    return await fn(merged);
  } finally {
    execFileSync('umount', [merged]);
  }
}

function sh(cwd: string, script: string): void {
  execFileSync('sh', ['-ec', script], { cwd });
}

async function collect(entries: AsyncIterable<TarEntry>): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  for await (const e of entries) out.push(e);
  return out;
}

describe('an overlay upper directory as an OCI layer', {
  skip: !process.env.CI && !canMount && 'needs root and overlayfs',
}, () => {
  let lower: string;
  let upper: string;
  let mergedView: Record<string, string>;

  before(async () => {
    lower = await freshDir('stage/lower');
    upper = await freshDir('stage/upper');
    const workdir = await freshDir('stage/work');
    await extractLayer(await tarStream(BASE), lower);
    // What a root buildpack does to the filesystem: delete, replace a directory, modify, add.
    mergedView = await withOverlay(
      { lower: [lower], upper, work: workdir, options: 'redirect_dir=off,metacopy=off' },
      (merged) => {
        sh(
          merged,
          'rm etc/a.conf; rm -rf opt/app; mkdir opt/app; echo new > opt/app/new; echo changed > keep/file; mkdir -p usr/lib; echo so > usr/lib/libgmp.so',
        );
        return snapshot(merged, { mtimes: 'none' });
      },
    );
  });

  it('the kernel wrote a whiteout device and an opaque directory (the premise)', () => {
    assert.ok(lstatSync(join(upper, 'etc/a.conf')).isCharacterDevice());
    assert.equal(lstatSync(join(upper, 'etc/a.conf')).rdev, 0);
  });

  it('overlayUpperEntries turns them into .wh. files and an opaque marker after its directory', async () => {
    const entries = await collect(overlayUpperEntries(upper, { owner: { kind: 'map', uid: 0, gid: 0 } }));
    const paths = entries.map((e) => e.path);
    const whiteout = entries.find((e) => e.path === 'etc/.wh.a.conf');
    assert.deepEqual(whiteout && { type: whiteout.type, size: whiteout.size }, { type: 'file', size: 0 });
    assert.equal(
      paths.indexOf('opt/app/.wh..wh..opq'),
      paths.indexOf('opt/app') + 1,
      'the marker follows its directory',
    );
    assert.ok(!entries.some((e) => e.type === 'char-device'), 'no whiteout device is left');
    assert.ok(!paths.includes('etc/b.conf'), 'unchanged lower files are not in the diff');
    assert.ok(paths.includes('usr/lib/libgmp.so') && paths.includes('keep/file'));
  });

  it('the diff layer, applied onto the lower layer, gives the tree the mount showed', async () => {
    const archive = join(work, 'diff.tar');
    const out = await open(archive, 'w');
    try {
      const layer = await writeOverlayDiffLayer(
        upper,
        { write: async (chunk) => void (await out.write(chunk)) },
        { compression: 'none' },
      );
      assert.match(layer.diffId, /^sha256:/);
    } finally {
      await out.close();
    }
    const listed = execFileSync('tar', ['-tf', archive], { encoding: 'utf8' }).split('\n');
    assert.ok(
      listed.includes('etc/.wh.a.conf') && listed.includes('opt/app/.wh..wh..opq'),
      'GNU tar sees the whiteouts',
    );
    const applied = await freshDir('applied');
    await extractLayer(await tarStream(BASE), applied);
    await extractLayer(createReadStream(archive), applied, { whiteouts: 'apply' });
    assert.deepEqual(snapshot(applied, { mtimes: 'none' }), mergedView);
  });

  it('refuses an upper directory holding a redirected (renamed) directory', async () => {
    const up = await freshDir('redirect/upper');
    const wk = await freshDir('redirect/work');
    await withOverlay({ lower: [lower], upper: up, work: wk, options: 'redirect_dir=on' }, (merged) =>
      sh(merged, 'mv opt/app opt/moved'),
    );
    await assert.rejects(
      collect(overlayUpperEntries(up)),
      (err) => isSlipwayError(err, 'UNSUPPORTED') && /opt\/moved/.test(err.message),
    );
  });
});

describe('layers in overlay form as lowerdirs', {
  skip: !process.env.CI && !canMount && 'needs root and overlayfs',
}, () => {
  const DIFF: RawEntry[] = [
    dir('etc'),
    file('etc/.wh.a.conf', ''),
    dir('opt'),
    dir('opt/app'),
    file('opt/app/.wh..wh..opq', ''),
    file('opt/app/only'),
    dir('keep'),
    file('keep/.wh.link', ''),
    file('keep/added'),
  ];

  it('mounted, they show exactly the tree that applying the same layers gives', async () => {
    const base = await freshDir('cache/base');
    const diff = await freshDir('cache/diff');
    await layerToOverlay(await tarStream(BASE), base);
    const counts = await layerToOverlay(await tarStream(DIFF), diff);
    assert.equal(counts.whiteouts, 3);
    const applied = await freshDir('cache/applied');
    await extractLayer(await tarStream(BASE), applied);
    await extractLayer(await tarStream(DIFF), applied);
    const view = await withOverlay({ lower: [diff, base] }, (merged) => snapshot(merged));
    const expected = snapshot(applied);
    // The merged root takes the top layer's directory attributes; compare the content below it.
    delete view['.'];
    delete expected['.'];
    assert.deepEqual(view, expected);
    assert.ok(!('etc/a.conf' in view) && !('opt/app/bin' in view) && 'opt/app/only' in view);
  });

  it('a trusted.overlay xattr smuggled in an archive cannot make a directory opaque', async () => {
    const base = await freshDir('smuggle/base');
    const top = await freshDir('smuggle/top');
    await layerToOverlay(await tarStream(BASE), base);
    await layerToOverlay(
      await tarStream([{ name: 'etc', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } }]),
      top,
    );
    const view = await withOverlay({ lower: [top, base] }, (merged) => snapshot(merged));
    assert.ok('etc/b.conf' in view, 'the lower etc/ still shows through');
  });
});

function mountWorks(): boolean {
  let dir: string | undefined;
  try {
    dir = execFileSync('mktemp', ['-d'], { encoding: 'utf8' }).trim();
    execFileSync(
      'sh',
      ['-ec', 'mkdir l u w m; mount -t overlay overlay -o lowerdir=l,upperdir=u,workdir=w m; umount m'],
      { cwd: dir },
    );
    return true;
  } catch {
    return false;
  } finally {
    if (dir) execFileSync('rm', ['-rf', dir]);
  }
}
