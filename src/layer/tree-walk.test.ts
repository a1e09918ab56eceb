import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, link, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setAttribute } from '@napi-rs/xattr';
import { isSlipwayError } from '../errors.js';
import type { TarEntry } from './entry.js';
import { DEFAULT_MTIME, defaultMtime, deviceNumbers, walkTree, type WalkOptions } from './tree-walk.js';

const CAPABILITY = Buffer.from('0100000200200000000000000000000000000000', 'hex');

async function walk(root: string, options: WalkOptions = {}): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  for await (const e of walkTree(root, options)) entries.push(e);
  return entries;
}

/** The member order of `tar --sort=name -C root .`, without the leading "./". */
function gnuTarOrder(root: string): string[] {
  const listing = execFileSync('bash', ['-c', 'tar --sort=name -cf - -C "$1" . | tar -tf -', '_', root], {
    encoding: 'utf8',
  });
  return listing
    .split('\n')
    .map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''))
    .filter((p) => p !== '' && p !== '.');
}

describe('walkTree', () => {
  let dir: string;
  let tree: string;
  const socket = createServer();
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-tree-walk-'));
    tree = join(dir, 'tree');
    await mkdir(tree);
    // Names whose byte order differs from JS string order and from locale order.
    for (const name of ['B', 'a.b', 'a-b', 'é', '\u{1F600}', '\uFF21', 'Z', '_'])
      await writeFile(join(tree, name), name);
    await mkdir(join(tree, 'a/b/c'), { recursive: true });
    await writeFile(join(tree, 'a/b/c/deep'), 'deep');
    await writeFile(join(tree, 'a/b0'), 'b0');
    await writeFile(join(tree, 'first'), 'same inode');
    await link(join(tree, 'first'), join(tree, 'a/b/second'));
    await link(join(tree, 'first'), join(tree, 'zz-third'));
    await symlink('a', join(tree, 'link-to-dir'));
    await symlink('/nonexistent', join(tree, 'dangling'));
    execFileSync('mkfifo', [join(tree, 'fifo')]);
    execFileSync('mknod', [join(tree, 'null'), 'c', '1', '3']);
    execFileSync('mknod', [join(tree, 'bigdev'), 'b', '300', '70000']);
    await writeFile(join(tree, 'ping'), 'ELF');
    await setAttribute(join(tree, 'ping'), 'security.capability', CAPABILITY);
    await setAttribute(join(tree, 'a/b0'), 'user.ignored', Buffer.from('not carried'));
    await chmod(join(tree, 'ping'), 0o4755);
    await chmod(join(tree, 'a/b'), 0o1777);
    await new Promise<void>((resolve) => socket.listen(join(tree, 'socket'), resolve)); // the socket file exists while it listens
  });
  after(async () => {
    await new Promise((resolve) => socket.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('lists entries in the order of tar --sort=name, parents first', async () => {
    const entries = await walk(tree);
    const paths = entries.map((e) => e.path);
    assert.deepEqual(
      paths,
      gnuTarOrder(tree).filter((p) => p !== 'socket'),
    );
    assert.ok(paths.indexOf('a') < paths.indexOf('a/b') && paths.indexOf('a/b') < paths.indexOf('a/b/c/deep'));
    assert.ok(paths.indexOf('\uFF21') < paths.indexOf('\u{1F600}'), 'UTF-8 byte order, not UTF-16 code unit order');
  });

  it('normalises metadata: fixed mtime, mode bits only, owner kept or mapped', async () => {
    const kept = await walk(tree, { mtime: 1234 });
    assert.ok(kept.every((e) => e.mtime === 1234));
    const deep = kept.find((e) => e.path === 'a/b/c/deep')!;
    assert.deepEqual(
      { type: deep.type, size: deep.size, uid: deep.uid, sourcePath: deep.sourcePath },
      {
        type: 'file',
        size: 4,
        uid: process.getuid!(),
        sourcePath: join(tree, 'a/b/c/deep'),
      },
    );
    assert.equal(kept.find((e) => e.path === 'ping')!.mode, 0o4755);
    assert.equal(kept.find((e) => e.path === 'a/b')!.mode, 0o1777);
    const mapped = await walk(tree, { owner: { kind: 'map', uid: 1000, gid: 3_000_000 } });
    assert.ok(mapped.every((e) => e.uid === 1000 && e.gid === 3_000_000));
  });

  it('turns later links to an already seen inode into hardlink entries naming the first path', async () => {
    const entries = await walk(tree);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    // "a/b/second" sorts before "first": it is the one archived with content.
    assert.equal(byPath.get('a/b/second')!.type, 'file');
    assert.deepEqual([byPath.get('first')!.type, byPath.get('first')!.linkname], ['hardlink', 'a/b/second']);
    assert.deepEqual([byPath.get('zz-third')!.type, byPath.get('zz-third')!.linkname], ['hardlink', 'a/b/second']);
    assert.equal(byPath.get('first')!.size, 0);
  });

  it('keeps symlinks (never follows them), fifos and devices; skips sockets', async () => {
    const byPath = new Map((await walk(tree)).map((e) => [e.path, e]));
    assert.deepEqual([byPath.get('link-to-dir')!.type, byPath.get('link-to-dir')!.linkname], ['symlink', 'a']);
    assert.ok(![...byPath.keys()].some((p) => p.startsWith('link-to-dir/')));
    assert.equal(byPath.get('dangling')!.linkname, '/nonexistent');
    assert.equal(byPath.get('fifo')!.type, 'fifo');
    assert.deepEqual(pick(byPath.get('null')!), { type: 'char-device', devmajor: 1, devminor: 3 });
    assert.deepEqual(pick(byPath.get('bigdev')!), { type: 'block-device', devmajor: 300, devminor: 70000 });
    assert.equal(byPath.has('socket'), false);
  });

  it('carries security.capability of regular files, and no other xattr', async () => {
    const byPath = new Map((await walk(tree)).map((e) => [e.path, e]));
    assert.deepEqual(byPath.get('ping')!.xattrs, { 'security.capability': CAPABILITY });
    assert.equal(byPath.get('a/b0')!.xattrs, undefined);
  });

  it('puts the tree under a prefix, with the prefix directories when includeRoot is set', async () => {
    const plain = await walk(join(tree, 'a'), { prefix: '/workspace/app/' });
    assert.deepEqual(plain.map((e) => e.path).slice(0, 2), ['workspace/app/b', 'workspace/app/b/c']);
    const rooted = await walk(join(tree, 'a'), {
      prefix: 'workspace/app',
      includeRoot: true,
      owner: { kind: 'map', uid: 7, gid: 8 },
    });
    assert.deepEqual(
      rooted.slice(0, 3).map((e) => [e.path, e.type, e.uid]),
      [
        ['workspace', 'directory', 7],
        ['workspace/app', 'directory', 7],
        ['workspace/app/b', 'directory', 7],
      ],
    );
    await assert.rejects(walk(tree, { prefix: 'a/../b' }), (err) => isSlipwayError(err, 'INVALID_ARGUMENT'));
  });

  it('lets a transform rewrite, expand or drop entries (whiteout devices into .wh. files)', async () => {
    const entries = await walk(tree, {
      transform: (entry, stat) => {
        if (stat.isCharacterDevice() && entry.path === 'null')
          return { ...entry, type: 'file', path: '.wh.null', devmajor: undefined, devminor: undefined };
        if (entry.path === 'a') return [entry, { ...entry, path: 'a/.wh..wh..opq', type: 'file', size: 0 }];
        if (entry.path.startsWith('a/b')) return null;
        return entry;
      },
    });
    const paths = entries.map((e) => e.path);
    assert.ok(paths.includes('.wh.null') && !paths.includes('null'));
    assert.equal(paths[paths.indexOf('a') + 1], 'a/.wh..wh..opq');
    assert.ok(!paths.some((p) => p.startsWith('a/b')), 'dropped entries');
  });

  it('reads SOURCE_DATE_EPOCH for the default mtime and refuses a malformed one', () => {
    assert.equal(defaultMtime({}), DEFAULT_MTIME);
    assert.equal(new Date(DEFAULT_MTIME * 1000).toISOString(), '1980-01-01T00:00:01.000Z');
    assert.equal(defaultMtime({ SOURCE_DATE_EPOCH: '1700000000' }), 1_700_000_000);
    assert.throws(
      () => defaultMtime({ SOURCE_DATE_EPOCH: 'yesterday' }),
      (err) => isSlipwayError(err, 'INVALID_ARGUMENT'),
    );
  });

  it('decodes device numbers as glibc does, including 64-bit encodings', () => {
    assert.deepEqual(deviceNumbers(0x103), { devmajor: 1, devminor: 3 });
    // major 0x12345, minor 0x6789a in glibc's layout: MMMmmmMMmm hex digits.
    const rdev = Number((0x12000n << 32n) | (0x678n << 20n) | (0x345n << 8n) | 0x9an);
    assert.deepEqual(deviceNumbers(rdev), { devmajor: 0x12345, devminor: 0x6789a });
  });

  it('fails with the path when the root is missing or not a directory, or a name is not UTF-8', async () => {
    await assert.rejects(
      walk(join(dir, 'missing')),
      (err) => isSlipwayError(err, 'NOT_FOUND') && err.message.includes('missing'),
    );
    await assert.rejects(walk(join(tree, 'first')), (err) => isSlipwayError(err, 'INVALID_ARGUMENT'));
    const bad = join(dir, 'bad');
    await mkdir(bad);
    execFileSync('bash', ['-c', `touch "$1"/$'\\xff\\xfe'`, '_', bad]);
    await assert.rejects(
      walk(bad),
      (err) => isSlipwayError(err, 'UNSUPPORTED') && err.message.includes('not valid UTF-8'),
    );
  });
});

function pick(e: TarEntry): Partial<TarEntry> {
  return { type: e.type, devmajor: e.devmajor, devminor: e.devminor };
}
