import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { link, mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setAttribute } from '@napi-rs/xattr';
import { isSlipwayError } from '../errors.js';
import { tarBuffer } from '../../test/fixtures/hostile/tar.js';
import type { TarEntry } from './entry.js';
import { normalizeTarPath } from './path-safety.js';
import { parsePaxRecords, readTar } from './tar-reader.js';

// A real file capability blob (VFS_CAP_REVISION_2, cap_net_bind_service): binary, with NUL bytes.
const CAPABILITY = Buffer.from('0100000200040000000000000000000000000000', 'hex');
const BINARY = Buffer.from([0xff, 0x00, 0xc3, 0x28]); // not valid UTF-8
const LONG_DIR = Array.from({ length: 4 }, (_, i) => `${i}`.repeat(60)).join('/');

async function entriesOf(source: Readable): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  for await (const { entry } of readTar(source)) entries.push(entry); // content left unread on purpose
  return entries;
}

function gnuTarList(archive: string): string[] {
  return execFileSync('tar', ['-tf', archive], { encoding: 'utf8' }).split('\n').filter(Boolean).map(normalizeTarPath);
}

describe('readTar on archives written by GNU tar', () => {
  let dir: string;
  let src: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-tar-reader-'));
    src = join(dir, 'src');
    await mkdir(join(src, 'd'), { recursive: true });
    await mkdir(join(src, LONG_DIR), { recursive: true });
    await writeFile(join(src, 'd/f'), 'hello\n');
    await writeFile(join(src, LONG_DIR, 'file'), 'long\n');
    await link(join(src, 'd/f'), join(src, 'd/hard'));
    await symlink('../d/f', join(src, 'd/sym'));
    execFileSync('mkfifo', [join(src, 'd/fifo')]);
    execFileSync('mknod', [join(src, 'd/null'), 'c', '1', '3']);
    await setAttribute(join(src, 'd/f'), 'security.capability', CAPABILITY);
    await setAttribute(join(src, 'd/f'), 'user.bin', BINARY);
    const common = ['--xattrs', '--xattrs-include=*', '--owner=big:5000000', '--group=big:5000001', '-C', src, '.'];
    execFileSync('tar', ['--format=posix', '-cf', join(dir, 'posix.tar'), ...common]);
    execFileSync('tar', ['--format=gnu', '-cf', join(dir, 'gnu.tar'), '-C', src, '.']);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const format of ['posix', 'gnu']) {
    it(`reads the same members as tar -t (${format} format), long names included`, async () => {
      const archive = join(dir, `${format}.tar`);
      const entries = await entriesOf(createReadStream(archive));
      assert.deepEqual(
        entries.map((e) => e.path),
        gnuTarList(archive),
      );
      assert.ok(entries.some((e) => e.path === `${LONG_DIR}/file` && e.type === 'file' && e.size === 5));
      const byPath = new Map(entries.map((e) => [e.path, e]));
      assert.equal(byPath.get('')?.type, 'directory');
      assert.equal(byPath.get('d')?.type, 'directory');
      assert.equal(byPath.get('d/fifo')?.type, 'fifo');
      assert.deepEqual(pick(byPath.get('d/null')), { type: 'char-device', devmajor: 1, devminor: 3 });
      assert.deepEqual(pick(byPath.get('d/sym')), { type: 'symlink', linkname: '../d/f' });
      assert.deepEqual(pick(byPath.get('d/hard')), { type: 'hardlink', linkname: 'd/f' });
    });
  }

  it('carries binary SCHILY.xattr values byte for byte', async () => {
    const entries = await entriesOf(createReadStream(join(dir, 'posix.tar')));
    const f = entries.find((e) => e.path === 'd/f');
    assert.ok(f?.xattrs, 'd/f has xattrs');
    assert.deepEqual(f.xattrs['security.capability'], CAPABILITY);
    assert.deepEqual(f.xattrs['user.bin'], BINARY);
  });

  it('applies PAX uid, gid and sub-second mtime, which tar-stream alone ignores', async () => {
    const entries = await entriesOf(createReadStream(join(dir, 'posix.tar')));
    const f = entries.find((e) => e.path === 'd/f')!;
    assert.equal(f.uid, 5000000);
    assert.equal(f.gid, 5000001);
    const st = await stat(join(src, 'd/f'));
    assert.ok(Math.abs(f.mtime - st.mtimeMs / 1000) < 1e-3, `${f.mtime} vs ${st.mtimeMs / 1000}`);
    assert.notEqual(f.mtime, Math.floor(f.mtime), 'the fraction is kept');
  });

  it('streams file content and skips what the consumer leaves unread', async () => {
    const seen: string[] = [];
    for await (const { entry, content } of readTar(createReadStream(join(dir, 'posix.tar')))) {
      if (entry.path === 'd/f') {
        const chunks: Buffer[] = [];
        for await (const chunk of content) chunks.push(chunk as Buffer);
        assert.equal(Buffer.concat(chunks).toString(), 'hello\n');
      }
      seen.push(entry.path);
    }
    assert.equal(seen.length, gnuTarList(join(dir, 'posix.tar')).length);
  });
});

describe('readTar on hand-made archives', () => {
  it('normalises "./", "//" and trailing slashes but keeps "/" and ".." for the extractor to refuse', async () => {
    const tar = await tarBuffer([
      { name: './', type: 'directory' },
      { name: './a//b/./c/', type: 'directory' },
      { name: '/abs/path', content: 'x' },
      { name: 'a/../../x', content: 'x' },
    ]);
    const entries = await entriesOf(Readable.from([tar]));
    assert.deepEqual(
      entries.map((e) => e.path),
      ['', 'a/b/c', '/abs/path', 'a/../../x'],
    );
  });

  it('rejects a truncated archive with INVALID_ARCHIVE', async () => {
    const tar = await tarBuffer([{ name: 'big', content: Buffer.alloc(4096, 1) }]);
    await assert.rejects(entriesOf(Readable.from([tar.subarray(0, 2048)])), (err) =>
      isSlipwayError(err, 'INVALID_ARCHIVE'),
    );
  });

  it('rejects an archive cut inside the content being read with INVALID_ARCHIVE', async () => {
    const tar = await tarBuffer([{ name: 'big', content: Buffer.alloc(4096, 1) }]);
    const readAll = async (): Promise<void> => {
      for await (const { content } of readTar(Readable.from([tar.subarray(0, 2048)]))) for await (const _ of content);
    };
    await assert.rejects(
      readAll(),
      (err) => isSlipwayError(err, 'INVALID_ARCHIVE') && /Unexpected end/.test(err.message),
    );
  });

  it('rejects garbage with INVALID_ARCHIVE', async () => {
    await assert.rejects(entriesOf(Readable.from([Buffer.alloc(1024, 0x41)])), (err) =>
      isSlipwayError(err, 'INVALID_ARCHIVE'),
    );
  });

  it('refuses entry types it cannot represent (a GNU sparse file), naming the entry', async () => {
    const tar = await tarBuffer([{ name: 'sparse', content: 'x' }]);
    setTypeflag(tar, 0, 'S');
    await assert.rejects(
      entriesOf(Readable.from([tar])),
      (err) => isSlipwayError(err, 'UNSUPPORTED') && /"sparse"/.test(err.message),
    );
  });
});

describe('parsePaxRecords', () => {
  it('keeps binary values and multi-byte keys intact', () => {
    const record = (key: string, value: Buffer): Buffer => {
      const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
      let length = body.length + 1;
      if (String(length).length + body.length !== length) length = String(length + 1).length + body.length;
      return Buffer.concat([Buffer.from(String(length)), body]);
    };
    const buf = Buffer.concat([record('SCHILY.xattr.user.ü', BINARY), record('path', Buffer.from('a=b'))]);
    const records = parsePaxRecords(buf);
    assert.deepEqual(records.get('SCHILY.xattr.user.ü'), BINARY);
    assert.equal(records.get('path')?.toString(), 'a=b');
  });

  it('stops at a malformed record instead of reading past it', () => {
    assert.equal(parsePaxRecords(Buffer.from('999 path=x\n')).size, 0);
    assert.equal(parsePaxRecords(Buffer.from('junk')).size, 0);
  });
});

function pick(e: TarEntry | undefined): Partial<TarEntry> {
  if (!e) return {};
  const out: Partial<TarEntry> = { type: e.type };
  if (e.linkname !== undefined) out.linkname = e.linkname;
  if (e.devmajor !== undefined) out.devmajor = e.devmajor;
  if (e.devminor !== undefined) out.devminor = e.devminor;
  return out;
}

/** Rewrites the type flag of the header at `offset` and fixes its checksum. */
function setTypeflag(tar: Buffer, offset: number, flag: string): void {
  tar[offset + 156] = flag.charCodeAt(0);
  tar.fill(0x20, offset + 148, offset + 156);
  let sum = 0;
  for (let i = offset; i < offset + 512; i++) sum += tar[i]!;
  tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, offset + 148, 'latin1');
}
