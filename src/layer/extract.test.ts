import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, existsSync, lstatSync } from 'node:fs';
import {
  chmod,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { getAttribute, setAttribute } from '@napi-rs/xattr';
import { isSlipwayError } from '../errors.js';
import { type RawEntry, tarBuffer } from '../../test/fixtures/hostile/tar.js';
import { snapshot } from '../../test/fixtures/hostile/snapshot.js';
import { compressStream } from './compress.js';
import type { TarEntry } from './entry.js';
import { type ExtractOptions, extractLayer } from './extract.js';

const CAPABILITY = Buffer.from('0100000200040000000000000000000000000000', 'hex');

let base: string;
let target: string;
let outside: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'slipway-extract-'));
  target = join(base, 'target');
  outside = join(base, 'outside');
  await mkdir(target);
  await mkdir(outside, { mode: 0o755 });
  await writeFile(join(outside, 'secret'), 'do not touch\n');
  await utimes(outside, 1_234_567_890, 1_234_567_890);
});
afterEach(() => rm(base, { recursive: true, force: true }));

async function extract(entries: RawEntry[], options?: ExtractOptions): ReturnType<typeof extractLayer> {
  return extractLayer(Readable.from([await tarBuffer(entries)]), target, options);
}

/** The hostile archive must fail naming `entry`, and leave the sentinel directory exactly as it was. */
async function assertRefused(entries: RawEntry[], entry: string, options?: ExtractOptions): Promise<void> {
  const before = snapshot(outside);
  await assert.rejects(extract(entries, options), (err) => {
    assert.ok(isSlipwayError(err, 'UNSAFE_ARCHIVE_ENTRY'), `expected UNSAFE_ARCHIVE_ENTRY, got ${String(err)}`);
    assert.ok(err.message.includes(`"${entry}"`), `the message names ${entry}: ${err.message}`);
    return true;
  });
  assert.deepEqual(snapshot(outside), before, 'nothing outside the target changed');
  assert.ok(!existsSync(join(base, 'pwned')) && !existsSync(join(outside, 'pwned')), 'no file was planted');
}

describe('extractLayer refuses hostile archives', () => {
  it('a path climbing out with ".."', () =>
    assertRefused([{ name: '../outside/pwned', content: 'x' }], '../outside/pwned'));

  it('an absolute path', async () => {
    const name = join(outside, 'pwned');
    await assertRefused([{ name, content: 'x' }], name);
  });

  it('a ".." hidden in the middle of a path', () =>
    assertRefused([{ name: 'a/../../outside/pwned', content: 'x' }], 'a/../../outside/pwned'));

  it('a file written through a symlink the same archive planted', () =>
    assertRefused(
      [
        { name: 'evil', type: 'symlink', linkname: outside },
        { name: 'evil/pwned', content: 'x' },
      ],
      'evil/pwned',
    ));

  it('a file written through a symlink to ".."', () =>
    assertRefused(
      [
        { name: 'up', type: 'symlink', linkname: '..' },
        { name: 'up/outside/pwned', content: 'x' },
      ],
      'up/outside/pwned',
    ));

  it('a directory written through a symlink a lower layer planted', async () => {
    await symlink(outside, join(target, 'evil'));
    await assertRefused([{ name: 'evil/sub', type: 'directory' }], 'evil/sub');
  });

  it('a symlink entry replacing a directory, then a file below it', () =>
    assertRefused(
      [
        { name: 'd', type: 'directory' },
        { name: 'd/ok', content: 'fine' },
        { name: 'd', type: 'symlink', linkname: outside },
        { name: 'd/pwned', content: 'x' },
      ],
      'd/pwned',
    ));

  it('a hardlink to an absolute path', () =>
    assertRefused([{ name: 'h', type: 'link', linkname: join(outside, 'secret') }], 'h'));

  it('a hardlink to /etc/passwd', () =>
    assertRefused([{ name: 'passwd', type: 'link', linkname: '/etc/passwd' }], 'passwd'));

  it('a hardlink climbing out with ".."', () =>
    assertRefused([{ name: 'h', type: 'link', linkname: '../outside/secret' }], 'h'));

  it('a hardlink through a symlinked directory', async () => {
    await assertRefused(
      [
        { name: 'evil', type: 'symlink', linkname: outside },
        { name: 'h', type: 'link', linkname: 'evil/secret' },
      ],
      'h',
    );
    assert.equal(lstatSync(join(outside, 'secret')).nlink, 1, 'the outside file gained no link');
  });

  it('a hardlink to something that does not exist', () =>
    assertRefused([{ name: 'h', type: 'link', linkname: 'nowhere' }], 'h'));

  it('a whiteout for ".."', () => assertRefused([{ name: 'a/.wh...', content: '' }], 'a/.wh...'));

  it('a whiteout reaching through a symlink', async () => {
    await symlink(outside, join(target, 'evil'));
    await assertRefused([{ name: 'evil/.wh.secret' }], 'evil/.wh.secret');
    await assertRefused([{ name: 'evil/.wh..wh..opq' }], 'evil/.wh..wh..opq');
  });

  it('a whiteout climbing out with ".."', () =>
    assertRefused([{ name: '../outside/.wh.secret' }], '../outside/.wh.secret'));
});

describe('extractLayer never acts through a link', () => {
  it('a whiteout of a symlink removes the link, not what it points to', async () => {
    await symlink(outside, join(target, 'link'));
    const before = snapshot(outside);
    await extract([{ name: '.wh.link' }]);
    assert.ok(!existsSync(join(target, 'link')));
    assert.deepEqual(snapshot(outside), before);
  });

  it('a file replacing a symlink is written in place of the link', async () => {
    await symlink(join(outside, 'secret'), join(target, 'f'));
    await extract([{ name: 'f', content: 'new' }]);
    assert.equal(await readFile(join(outside, 'secret'), 'utf8'), 'do not touch\n');
    assert.ok((await lstat(join(target, 'f'))).isFile());
    assert.equal(await readFile(join(target, 'f'), 'utf8'), 'new');
  });

  it('a directory later replaced by a symlink does not get its mode and mtime applied through the link', async () => {
    const before = snapshot(outside);
    await extract([
      { name: 'd', type: 'directory', mode: 0o700, mtime: 42 },
      { name: 'd', type: 'symlink', linkname: outside },
    ]);
    assert.equal(await readlink(join(target, 'd')), outside);
    assert.deepEqual(snapshot(outside), before);
  });

  it('a file written over an existing hardlink replaces the name, not the shared inode', async () => {
    await link(join(outside, 'secret'), join(target, 'h'));
    await extract([{ name: 'h', content: 'overwritten?', mode: 0o777 }]);
    assert.equal(await readFile(join(outside, 'secret'), 'utf8'), 'do not touch\n');
    assert.equal(lstatSync(join(outside, 'secret')).mode & 0o777, 0o644);
    assert.equal(await readFile(join(target, 'h'), 'utf8'), 'overwritten?');
  });

  it('a hardlink to a symlink links the symlink itself', async () => {
    await extract([
      { name: 'l', type: 'symlink', linkname: join(outside, 'secret') },
      { name: 'h', type: 'link', linkname: 'l' },
    ]);
    assert.ok((await lstat(join(target, 'h'))).isSymbolicLink());
    assert.equal(lstatSync(join(outside, 'secret')).nlink, 1);
  });
});

describe('extractLayer writes what the archive says', () => {
  it('matches GNU tar extracting the same archive (modes, setuid, xattrs, links, devices, mtimes, owners)', async () => {
    const src = join(base, 'src');
    await makeSampleTree(src);
    const archive = join(base, 'sample.tar');
    execFileSync('tar', [
      '--format=posix',
      '--xattrs',
      '--xattrs-include=security.capability',
      '-cf',
      archive,
      '-C',
      src,
      '.',
    ]);
    const byTar = join(base, 'by-tar');
    await mkdir(byTar);
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--same-owner', '-xpf', archive, '-C', byTar]);
    const counts = await extractLayer(createReadStream(archive), target);
    assert.deepEqual(snapshot(target), snapshot(byTar));
    assert.deepEqual(snapshot(target), snapshot(src), 'and both equal the source tree');
    assert.deepEqual(await getAttribute(join(target, 'bin/ping'), 'security.capability'), CAPABILITY);
    assert.deepEqual(
      {
        files: counts.files,
        hardlinks: counts.hardlinks,
        symlinks: counts.symlinks,
        fifos: counts.fifos,
        devices: counts.devices,
      },
      { files: 4, hardlinks: 1, symlinks: 1, fifos: 1, devices: 1 },
    );
  });

  it('fills a read-only directory and gives it its mode and mtime after its children', async () => {
    await extract([
      { name: 'ro', type: 'directory', mode: 0o555, mtime: 1000 },
      { name: 'ro/sub', type: 'directory', mode: 0o500, mtime: 2000 },
      { name: 'ro/sub/f', content: 'x', mode: 0o444, mtime: 3000 },
    ]);
    const ro = await stat(join(target, 'ro'));
    const sub = await stat(join(target, 'ro/sub'));
    assert.equal(ro.mode & 0o7777, 0o555);
    assert.equal(ro.mtimeMs, 1000_000);
    assert.equal(sub.mode & 0o7777, 0o500);
    assert.equal(sub.mtimeMs, 2000_000);
    assert.equal((await stat(join(target, 'ro/sub/f'))).mtimeMs, 3000_000);
  });

  it('keeps owners as root with owner "keep" and leaves them with "ignore"', async () => {
    const entries: RawEntry[] = [
      { name: 'd', type: 'directory', uid: 1234, gid: 5678 },
      { name: 'd/f', uid: 1234, gid: 5678, mode: 0o4755, content: 'x' },
      { name: 'l', type: 'symlink', linkname: 'd', uid: 1234, gid: 5678 },
    ];
    await extract(entries);
    for (const path of ['d', 'd/f', 'l'])
      assert.deepEqual(pickOwner(lstatSync(join(target, path))), [1234, 5678], path);
    assert.equal(
      lstatSync(join(target, 'd/f')).mode & 0o7777,
      0o4755,
      'chown did not clear setuid: mode is set after it',
    );
    await rm(target, { recursive: true });
    await mkdir(target);
    await extract(entries, { owner: 'ignore' });
    for (const path of ['d', 'd/f', 'l']) assert.deepEqual(pickOwner(lstatSync(join(target, path))), [0, 0], path);
  });

  it('replaces existing non-directories, merges into existing directories (taking the new attributes)', async () => {
    await mkdir(join(target, 'dir'), { mode: 0o700 });
    await writeFile(join(target, 'dir/lower'), 'lower');
    await writeFile(join(target, 'file'), 'old');
    await mkdir(join(target, 'was-dir/deep'), { recursive: true });
    await extract([
      { name: 'dir', type: 'directory', mode: 0o751 },
      { name: 'dir/upper', content: 'upper' },
      { name: 'file', type: 'symlink', linkname: 'dir' },
      { name: 'was-dir', content: 'now a file' },
    ]);
    assert.deepEqual((await import('node:fs')).readdirSync(join(target, 'dir')).sort(), ['lower', 'upper']);
    assert.equal((await stat(join(target, 'dir'))).mode & 0o7777, 0o751);
    assert.equal(await readlink(join(target, 'file')), 'dir');
    assert.equal(await readFile(join(target, 'was-dir'), 'utf8'), 'now a file');
  });

  it('creates missing parents, applies the archive root to the target and reports each entry', async () => {
    const seen: TarEntry[] = [];
    const counts = await extract(
      [
        { name: './', type: 'directory', mode: 0o711, mtime: 77 },
        { name: 'x/y/z', content: 'deep' },
      ],
      { onEntry: (e) => seen.push(e) },
    );
    assert.deepEqual(
      seen.map((e) => e.path),
      ['', 'x/y/z'],
    );
    assert.equal(await readFile(join(target, 'x/y/z'), 'utf8'), 'deep');
    assert.equal((await stat(target)).mode & 0o7777, 0o711);
    assert.equal((await stat(target)).mtimeMs, 77_000);
    assert.equal(counts.entries, 2);
    assert.equal(counts.bytes, 4);
  });

  it('never takes trusted.overlay.* xattrs from an archive', async () => {
    await extract([
      {
        name: 'd',
        type: 'directory',
        pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc', 'SCHILY.xattr.user.ok': 'yes' },
      },
    ]);
    assert.equal(await getAttribute(join(target, 'd'), 'trusted.overlay.redirect'), null);
    assert.equal((await getAttribute(join(target, 'd'), 'user.ok'))?.toString(), 'yes');
  });

  it('skips device nodes, with a count, when not root', async (t) => {
    t.mock.method(process as { getuid: () => number }, 'getuid', () => 1000);
    const counts = await extract([
      { name: 'null', type: 'character-device', devmajor: 1, devminor: 3 },
      { name: 'p', type: 'fifo' },
    ]);
    assert.equal(counts.skippedDevices, 1);
    assert.ok(!existsSync(join(target, 'null')));
    assert.ok(lstatSync(join(target, 'p')).isFIFO());
  });

  for (const compression of ['gzip', 'zstd'] as const) {
    it(`reads a ${compression}-compressed layer, telling it by its first bytes`, async () => {
      const tar = await tarBuffer([
        { name: 'd', type: 'directory' },
        { name: 'd/f', content: 'compressed' },
      ]);
      const counts = await extractLayer(compressStream(Readable.from([tar]), compression), target);
      assert.equal(await readFile(join(target, 'd/f'), 'utf8'), 'compressed');
      assert.equal(counts.files, 1);
    });
  }

  for (const compression of ['none', 'gzip', 'zstd'] as const) {
    it(`fails a truncated ${compression} layer with INVALID_ARCHIVE`, async () => {
      const tar = await tarBuffer([
        { name: 'big', content: Buffer.alloc(64 * 1024, 7) },
        { name: 'after', content: 'x' },
      ]);
      const chunks: Buffer[] = [];
      for await (const chunk of compressStream(Readable.from([tar]), compression)) chunks.push(chunk as Buffer);
      const blob = Buffer.concat(chunks);
      await assert.rejects(extractLayer(Readable.from([blob.subarray(0, blob.length >> 1)]), target), (err) =>
        isSlipwayError(err, 'INVALID_ARCHIVE'),
      );
    });
  }

  it('refuses a hardlink to itself and a path below a whiteout name as invalid archives', async () => {
    await assert.rejects(
      extract([
        { name: 'h', content: 'x' },
        { name: 'h', type: 'link', linkname: 'h' },
      ]),
      (err) => isSlipwayError(err, 'INVALID_ARCHIVE'),
    );
    await assert.rejects(extract([{ name: '.wh.x/y', content: 'x' }]), (err) => isSlipwayError(err, 'INVALID_ARCHIVE'));
  });
});

/** A tree with one of everything a rootfs layer holds. */
async function makeSampleTree(src: string): Promise<void> {
  await mkdir(join(src, 'bin'), { recursive: true });
  await mkdir(join(src, 'etc/ro'), { recursive: true });
  await mkdir(join(src, 'dev'));
  await writeFile(join(src, 'bin/ping'), 'ping binary');
  await setAttribute(join(src, 'bin/ping'), 'security.capability', CAPABILITY);
  await writeFile(join(src, 'bin/su'), 'su binary');
  await chmod(join(src, 'bin/su'), 0o4755);
  await writeFile(join(src, 'etc/ro/conf'), 'conf');
  await writeFile(join(src, 'etc/owned'), 'owned');
  execFileSync('chown', ['1234:5678', join(src, 'etc/owned')]);
  await link(join(src, 'bin/su'), join(src, 'bin/sudo'));
  await symlink('../bin/su', join(src, 'etc/su-link'));
  execFileSync('mkfifo', ['-m', '0620', join(src, 'dev/initctl')]);
  execFileSync('mknod', ['-m', '0666', join(src, 'dev/null'), 'c', '1', '3']);
  await chmod(join(src, 'etc/ro'), 0o555);
  await chmod(join(src, 'dev'), 0o751);
  for (const p of [
    'bin/ping',
    'bin/su',
    'etc/ro/conf',
    'etc/owned',
    'dev/initctl',
    'dev/null',
    'etc/ro',
    'etc',
    'bin',
    'dev',
    '.',
  ]) {
    await utimes(join(src, p), 1_500_000_000, 1_500_000_000);
  }
  execFileSync('touch', ['-h', '-d', '@1500000000', join(src, 'etc/su-link')]);
}

function pickOwner(st: { uid: number; gid: number }): [number, number] {
  return [st.uid, st.gid];
}
