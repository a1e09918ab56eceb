import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  GZIP_CHUNK_SIZE,
  compressStream,
  decompressing,
  fixedChunks,
  gzipParallel,
  sniffCompression,
  zstdCompress,
} from './compress.js';

/** 3.5 MiB that compress like a real layer: repetitive text with random islands. */
function sample(): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0, length = 0; length < 3.5 * GZIP_CHUNK_SIZE; i++) {
    parts.push(
      Buffer.from(`line ${i} of a config file with some words ${'abc'.repeat(i % 50)}\n`.repeat(40)),
      randomBytes(1024),
    );
    length += parts[parts.length - 2]!.length + 1024;
  }
  return Buffer.concat(parts).subarray(0, 3.5 * GZIP_CHUNK_SIZE);
}

/** `data` in pieces of the given sizes, cycling, as a stream would deliver it. */
async function* pieces(data: Buffer, sizes: number[]): AsyncGenerator<Uint8Array> {
  for (let offset = 0, i = 0; offset < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield data.subarray(offset, offset + n);
    offset += n;
  }
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of source) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

describe('compression', () => {
  let dir: string;
  let data: Buffer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-compress-'));
    data = sample();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('cuts any input chunking into the same fixed-size chunks', async () => {
    const sizes: number[][] = [];
    for (const split of [[509], [4096, 1, 999_999], [data.length]]) {
      const chunks: number[] = [];
      for await (const chunk of fixedChunks(pieces(data, split), GZIP_CHUNK_SIZE)) chunks.push(chunk.length);
      sizes.push(chunks);
    }
    const expected = [GZIP_CHUNK_SIZE, GZIP_CHUNK_SIZE, GZIP_CHUNK_SIZE, GZIP_CHUNK_SIZE / 2];
    assert.deepEqual(sizes, [expected, expected, expected]);
  });

  it('gzips in parallel to the same bytes however the input arrives, as one valid gzip stream', async () => {
    const outputs = await Promise.all(
      [[7919], [GZIP_CHUNK_SIZE], [data.length], [100_000, 3]].map((split) =>
        collect(gzipParallel(pieces(data, split))),
      ),
    );
    for (const out of outputs.slice(1)) assert.ok(out.equals(outputs[0]!), 'same bytes for every input chunking');
    const gz = outputs[0]!;
    const file = join(dir, 'data.gz');
    writeFileSync(file, gz);
    execFileSync('gzip', ['-t', file]);
    assert.equal(sha256(execFileSync('gzip', ['-dc', file], { maxBuffer: 1 << 26 })), sha256(data));
    assert.ok(gz.length < data.length / 2, 'it does compress');
  });

  it('makes each MiB of input an independent gzip -1 member (so any member boundary is a valid cut)', async () => {
    const whole = await collect(gzipParallel(pieces(data, [65536])));
    const members: Buffer[] = [];
    for (let offset = 0; offset < data.length; offset += GZIP_CHUNK_SIZE) {
      const member = gzipSync(data.subarray(offset, offset + GZIP_CHUNK_SIZE), { level: 1, memLevel: 9 });
      member[9] = 3; // OS = Unix
      members.push(member);
    }
    assert.equal(members.length, 4);
    assert.ok(whole.equals(Buffer.concat(members)));
  });

  it('pins the gzip header (no mtime, Unix OS byte) and does not depend on concurrency', async () => {
    const one = await collect(gzipParallel(pieces(data, [65536]), { concurrency: 1 }));
    const many = await collect(gzipParallel(pieces(data, [65536]), { concurrency: 8 }));
    assert.ok(one.equals(many));
    assert.deepEqual([...one.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3]);
  });

  it('gzipParallel hands out the members before a source error, then the error; stopping early closes the source', async () => {
    let closed = false;
    async function* source(failAfter: number): AsyncGenerator<Uint8Array> {
      try {
        for (let i = 0; i < 6; i++) {
          if (i === failAfter) throw new Error('read failed');
          yield data.subarray(0, GZIP_CHUNK_SIZE);
        }
      } finally {
        closed = true;
      }
    }
    const members: Buffer[] = [];
    await assert.rejects(async () => {
      for await (const member of gzipParallel(source(3))) members.push(member);
    }, /read failed/);
    assert.equal(members.length, 3, 'the three members before the failure');
    closed = false;
    for await (const _ of gzipParallel(source(-1), { concurrency: 2 })) break;
    assert.ok(closed, 'the source was closed when the consumer stopped');
  });

  it('writes a valid (empty) gzip stream for empty input', async () => {
    const gz = await collect(gzipParallel(pieces(Buffer.alloc(0), [1])));
    const file = join(dir, 'empty.gz');
    writeFileSync(file, gz);
    execFileSync('gzip', ['-t', file]);
    assert.equal(execFileSync('gzip', ['-dc', file]).length, 0);
  });

  it('compresses zstd to the same bytes however the input arrives, read back by the zstd CLI', async () => {
    const a = await collect(zstdCompress(pieces(data, [4099])));
    const b = await collect(zstdCompress(pieces(data, [data.length])));
    assert.ok(a.equals(b));
    const file = join(dir, 'data.zst');
    writeFileSync(file, a);
    execFileSync('zstd', ['-q', '-t', file]);
    assert.equal(sha256(execFileSync('zstd', ['-q', '-dc', file], { maxBuffer: 1 << 26 })), sha256(data));
    assert.ok(a.length < data.length / 2);
  });

  it('compresses zstd to the same bytes with 1, 2, 3 or 8 workers, over several jobs, and refuses 0', async () => {
    // Four times the sample, each a little different: 14 MiB, more than three 4 MiB jobs.
    const big = Buffer.concat([0, 1, 2, 3].map((i) => Buffer.concat([Buffer.from(`part ${i}\n`), data])));
    const outputs = await Promise.all(
      [1, 2, 3, 8].map(async (workers) => collect(zstdCompress(pieces(big, [65536 + workers]), { workers }))),
    );
    const digests = outputs.map(sha256);
    assert.deepEqual(new Set(digests).size, 1, `digests by worker count: ${digests.join(', ')}`);
    assert.ok(outputs[0]!.length < big.length / 2);
    const file = join(dir, 'workers.zst');
    writeFileSync(file, outputs[0]!);
    assert.equal(sha256(execFileSync('zstd', ['-q', '-dc', file], { maxBuffer: 1 << 26 })), sha256(big));
    await assert.rejects(collect(zstdCompress(pieces(big, [1 << 20]), { workers: 0 })), /zstd workers/);
  });

  it('compressStream passes "none" through and refuses an unknown compression', async () => {
    assert.ok((await collect(compressStream(pieces(data, [1 << 16]), 'none'))).equals(data));
    assert.throws(() => compressStream(pieces(data, [1]), 'brotli' as 'none'), /unknown compression/);
  });

  it('decompressing() sniffs gzip (all members), zstd and plain data', async () => {
    const gz = await collect(gzipParallel(pieces(data, [1 << 20])));
    const zst = await collect(zstdCompress(pieces(data, [1 << 20])));
    for (const [name, blob] of [
      ['gzip', gz],
      ['zstd', zst],
      ['plain', data],
    ] as const) {
      const out = await collect(await decompressing(pieces(blob, [3, 1 << 16]))); // a 3-byte first chunk: magic split across chunks
      assert.equal(sha256(out), sha256(data), name);
    }
    const tiny = await collect(await decompressing(pieces(Buffer.from('ab'), [1])));
    assert.equal(tiny.toString(), 'ab', 'input shorter than any magic is plain');
  });

  it('decompressing() reads a multi-member gzip written by GNU gzip', async () => {
    const file = join(dir, 'two.gz');
    execFileSync('bash', ['-c', '{ echo hello | gzip; echo world | gzip -9; } > "$1"', '_', file]);
    const out = await collect(await decompressing(createReadStream(file)));
    assert.equal(out.toString(), 'hello\nworld\n');
  });

  it('decompressing() fails on a truncated zstd frame and on corrupt gzip', async () => {
    const zst = await collect(zstdCompress(pieces(data, [1 << 20])));
    await assert.rejects(collect(await decompressing(pieces(zst.subarray(0, zst.length - 100), [1 << 16]))));
    const gz = Buffer.from(await collect(gzipParallel(pieces(data, [1 << 20]))));
    gz[gz.length - 5]! ^= 0xff; // damage the last member's CRC/size trailer
    await assert.rejects(collect(await decompressing(pieces(gz, [1 << 16]))));
  });

  it('a source error reaches the reader of decompressing()', async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.from([0x1f, 0x8b, 8, 0]);
      throw new Error('disk on fire');
    }
    await assert.rejects(collect(await decompressing(failing())), /disk on fire/);
  });

  it('sniffCompression() tells gzip, zstd and plain from the first bytes of a stream', async () => {
    const file = join(dir, 'sniff.zst');
    writeFileSync(file, await collect(zstdCompress(pieces(Buffer.from('x'), [1]))));
    assert.equal(await sniffCompression(createReadStream(file)), 'zstd');
    assert.equal(await sniffCompression(Readable.from([Buffer.from([0x1f]), Buffer.from([0x8b, 8])])), 'gzip');
    assert.equal(await sniffCompression(Readable.from([Buffer.from('ustar')])), 'none');
  });
});
