import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getAttributeSync } from '@napi-rs/xattr';
import { isSlipwayError } from '../errors.js';
import type { TarEntry } from './entry.js';
import { BLOCK_SIZE, encodeHeader, endOfArchive, paddingSize, paxRecord } from './tar-header.js';

// VFS_CAP_REVISION_2 with cap_net_raw permitted+effective: binary, with NUL bytes.
const CAPABILITY = Buffer.from('0100000200200000000000000000000000000000', 'hex');
const MTIME = 315532801;

function entry(path: string, more: Partial<TarEntry> = {}): TarEntry {
  return { path, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: MTIME, size: 0, ...more };
}

/** A whole archive: each header, its content and padding, then the end-of-archive blocks. */
function archive(members: Array<[TarEntry, Buffer?]>): Buffer {
  const parts: Buffer[] = [];
  for (const [e, content] of members) {
    parts.push(encodeHeader(e));
    if (content) parts.push(content, Buffer.alloc(paddingSize(content.length)));
  }
  parts.push(endOfArchive());
  return Buffer.concat(parts);
}

/** `tar --numeric-owner -tvf`, one line per member, columns split on runs of spaces. */
function listVerbose(file: string): string[][] {
  const out = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', file], { encoding: 'utf8' });
  return out
    .trimEnd()
    .split('\n')
    .map((line) => line.split(/ +/));
}

describe('encodeHeader', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-tar-header-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const write = (name: string, members: Array<[TarEntry, Buffer?]>): string => {
    const file = join(dir, name);
    writeFileSync(file, archive(members));
    return file;
  };

  it('writes one 512-byte ustar block with a valid checksum, mode, owner, size and mtime', () => {
    const header = encodeHeader(entry('bin/run.sh', { mode: 0o4755, uid: 1000, gid: 1001, size: 12 }));
    assert.equal(header.length, BLOCK_SIZE);
    assert.equal(header.subarray(257, 265).toString('latin1'), 'ustar\x0000');
    assert.equal(header.subarray(265, 329).toString('latin1'), '\0'.repeat(64), 'uname and gname stay empty');
    const file = write('plain.tar', [
      [entry('bin/run.sh', { mode: 0o4755, uid: 1000, gid: 1001, size: 12 }), Buffer.from('#!/bin/sh\n:\n')],
    ]);
    assert.deepEqual(listVerbose(file), [['-rwsr-xr-x', '1000/1001', '12', '1980-01-01', '00:00:01', 'bin/run.sh']]);
  });

  it('is deterministic: the same entry gives the same bytes, whatever the xattr key order', () => {
    const a = entry('f', { xattrs: { 'user.b': Buffer.from('2'), 'security.capability': CAPABILITY } });
    const b = entry('f', { xattrs: { 'security.capability': CAPABILITY, 'user.b': Buffer.from('2') } });
    assert.deepEqual(encodeHeader(a), encodeHeader(b));
    assert.deepEqual(encodeHeader(a), encodeHeader(structuredClone(a)));
  });

  it('splits a 150-byte path into ustar prefix and name, and uses PAX beyond 255 bytes', async () => {
    const medium = `${'m'.repeat(90)}/${'n'.repeat(59)}`;
    const long = `${'d'.repeat(120)}/${'e'.repeat(120)}/${'f'.repeat(60)}`;
    assert.equal(encodeHeader(entry(medium)).length, BLOCK_SIZE, 'no PAX header for a splittable path');
    assert.ok(encodeHeader(entry(long)).length > BLOCK_SIZE, 'a PAX header for a 302-byte path');
    const file = write('long.tar', [
      [entry(medium.split('/')[0]!, { type: 'directory', mode: 0o755 })],
      [entry(medium, { size: 6 }), Buffer.from('medium')],
      [entry(`${'d'.repeat(120)}`, { type: 'directory', mode: 0o755 })],
      [entry(`${'d'.repeat(120)}/${'e'.repeat(120)}`, { type: 'directory', mode: 0o755 })],
      [entry(long, { size: 4 }), Buffer.from('long')],
      [entry('link', { type: 'symlink', mode: 0o777, linkname: long })],
    ]);
    const out = join(dir, 'long-out');
    await mkdir(out);
    execFileSync('tar', ['-xf', file, '-C', out]);
    assert.equal(readFileSync(join(out, medium), 'utf8'), 'medium');
    assert.equal(readFileSync(join(out, long), 'utf8'), 'long');
    assert.equal(readlinkSync(join(out, 'link')), long, 'a 302-byte symlink target goes to PAX linkpath');
  });

  it('puts non-ASCII names in PAX, read back by GNU tar as UTF-8', async () => {
    const file = write('utf8.tar', [
      [entry('café', { size: 2 }), Buffer.from('ok')],
      [entry('中文', { type: 'directory', mode: 0o755 })],
      [entry('中文/文件.txt', { size: 2 }), Buffer.from('ok')],
      [entry('🚀', { type: 'symlink', mode: 0o777, linkname: 'café' })],
    ]);
    assert.ok(encodeHeader(entry('café')).length > BLOCK_SIZE);
    const out = join(dir, 'utf8-out');
    await mkdir(out);
    execFileSync('tar', ['-xf', file, '-C', out]);
    assert.equal(readFileSync(join(out, '中文/文件.txt'), 'utf8'), 'ok');
    assert.equal(readlinkSync(join(out, '🚀')), 'café');
    assert.equal(readFileSync(join(out, 'café'), 'utf8'), 'ok');
  });

  it('writes uid/gid beyond the octal field (3000000) through PAX, read back by tar --numeric-owner', () => {
    const big = entry('f', { uid: 3_000_000, gid: 2_097_152, size: 1 });
    const pax = encodeHeader(big).toString('latin1');
    assert.match(pax, /\n?\d+ uid=3000000\n\d+ gid=2097152\n/, 'exact ids in PAX records');
    const file = write('uid.tar', [[big, Buffer.from('x')]]);
    assert.equal(listVerbose(file)[0]![1], '3000000/2097152');
  });

  it('carries a binary security.capability xattr that GNU tar restores byte for byte', async () => {
    const file = write('xattr.tar', [
      [
        entry('ping', {
          mode: 0o755,
          size: 4,
          xattrs: { 'security.capability': CAPABILITY, 'user.note': Buffer.from([0, 10, 0xff]) },
        }),
        Buffer.from('ELF!'),
      ],
    ]);
    const out = join(dir, 'xattr-out');
    await mkdir(out);
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '-xf', file, '-C', out]);
    assert.deepEqual(getAttributeSync(join(out, 'ping'), 'security.capability'), CAPABILITY);
    assert.deepEqual(getAttributeSync(join(out, 'ping'), 'user.note'), Buffer.from([0, 10, 0xff]));
    const getcap = spawnSync('getcap', [join(out, 'ping')], { encoding: 'utf8' });
    if (getcap.status === 0) assert.match(getcap.stdout, /cap_net_raw[=+]ep/);
  });

  it('encodes device numbers, fifos, hardlinks and directories with a trailing slash', async () => {
    const file = write('special.tar', [
      [entry('dev', { type: 'directory', mode: 0o755 })],
      [entry('dev/null', { type: 'char-device', mode: 0o666, devmajor: 1, devminor: 3 })],
      [entry('dev/sda', { type: 'block-device', mode: 0o660, devmajor: 8, devminor: 1_000_000 })],
      [entry('dev/fifo', { type: 'fifo', mode: 0o600 })],
      [entry('a', { size: 3 }), Buffer.from('abc')],
      [entry('b', { type: 'hardlink', linkname: 'a', size: 3 })],
    ]);
    assert.equal(
      encodeHeader(entry('dev', { type: 'directory' }))
        .subarray(0, 4)
        .toString(),
      'dev/',
    );
    const lines = listVerbose(file);
    assert.deepEqual(
      lines.map((l) => l[0]![0]),
      ['d', 'c', 'b', 'p', '-', 'h'],
    );
    assert.equal(lines[1]![2], '1,3');
    assert.equal(lines[2]![2], '8,1000000');
    assert.deepEqual(lines[5]!.slice(-4), ['b', 'link', 'to', 'a']);
    const out = join(dir, 'special-out');
    await mkdir(out);
    execFileSync('tar', ['-xf', file, '-C', out]);
    assert.ok(lstatSync(join(out, 'dev/null')).isCharacterDevice());
    assert.ok(lstatSync(join(out, 'dev/fifo')).isFIFO());
    assert.equal(statSync(join(out, 'a')).ino, statSync(join(out, 'b')).ino, 'hardlink extracted as the same inode');
    assert.equal(readFileSync(join(out, 'b'), 'utf8'), 'abc');
  });

  it('writes a size beyond 8 GiB and a negative mtime through PAX (and base-256 fields)', () => {
    const big = 10 * 2 ** 30;
    const header = encodeHeader(entry('huge', { size: big, mtime: -86400 }));
    const ustar = header.subarray(header.length - BLOCK_SIZE);
    assert.match(header.toString('latin1'), /\d+ size=10737418240\n\d+ mtime=-86400\n/);
    assert.equal(ustar[124], 0x80, 'size field in base-256');
    assert.equal(ustar.readUIntBE(124 + 6, 6), big);
    assert.equal(ustar[136], 0xff, "negative mtime in base-256 two's complement");
    const file = join(dir, 'huge.tar');
    writeFileSync(file, header); // no content: tar lists the header, then reports the early end
    const listed = spawnSync('tar', ['--numeric-owner', '--full-time', '-tvf', file], {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC' },
    });
    const columns = listed.stdout.split('\n')[0]!.split(/ +/);
    assert.equal(columns[2], String(big));
    assert.equal(columns[3], '1969-12-31');
  });

  it('counts PAX record lengths in bytes, including across a digit boundary', () => {
    for (const valueLength of [0, 1, 2, 3, 4, 5, 6, 80, 86, 87, 88, 89, 90, 91, 95, 96, 997]) {
      const value = Buffer.alloc(valueLength, 0xe9); // raw bytes, not characters
      const record = paxRecord('k', value);
      const declared = Number(record.toString('latin1').split(' ')[0]);
      assert.equal(declared, record.length, `value of ${valueLength} bytes`);
      assert.equal(record[record.length - 1], 0x0a);
    }
  });

  it('rejects entries tar cannot represent, naming the path', () => {
    const cases: TarEntry[] = [
      entry('a\0b'),
      entry(''),
      entry('l', { type: 'symlink' }),
      entry('m', { mode: 0o10000 }),
      entry('u', { uid: -1 }),
      entry('x', { xattrs: { 'user.a=b': Buffer.from('') } }),
    ];
    for (const bad of cases) {
      assert.throws(
        () => encodeHeader(bad),
        (err) => isSlipwayError(err, 'INVALID_ARGUMENT') && err.message.includes(`"${bad.path}"`),
      );
    }
  });
});
