import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { chmod, chown, link, mkdir, mkdtemp, open, rm, symlink, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getAttributeSync, setAttribute } from '@napi-rs/xattr';
import { isSlipwayError } from '../errors.js';
import { digestOf } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import type { TarEntry } from './entry.js';
import {
  TAR_CHUNK_SIZE,
  tarChunks,
  writeLayer,
  writeLayerFromDirectory,
  type LayerSink,
  type WriteLayerOptions,
  type WrittenLayer,
} from './layer-writer.js';
import type { WalkOptions } from './tree-walk.js';

// VFS_CAP_REVISION_2, cap_net_raw=ep: what `setcap cap_net_raw+ep` writes.
const CAPABILITY = Buffer.from('0100000200200000000000000000000000000000', 'hex');
const LONG_DIR = `${'d'.repeat(90)}/${'e'.repeat(90)}`; // 181 bytes: ustar prefix alone cannot hold it
const LONG_FILE = `${LONG_DIR}/${'f'.repeat(100)}`; // 282 bytes: PAX path

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const sh = (script: string, ...args: string[]): Buffer =>
  execFileSync('bash', ['-c', script, '_', ...args], { maxBuffer: 1 << 28 });

/** A tree with every kind of entry a rootfs has, and file sizes around block and chunk boundaries. */
async function makeTree(root: string): Promise<void> {
  await mkdir(join(root, 'bin'), { recursive: true });
  await mkdir(join(root, LONG_DIR), { recursive: true });
  await mkdir(join(root, 'tmp'));
  await chmod(join(root, 'tmp'), 0o1777);
  for (const size of [0, 1, 511, 512, 513, TAR_CHUNK_SIZE - 512, 3 * TAR_CHUNK_SIZE + 7]) {
    await writeFile(join(root, `size-${size}`), randomBytes(size));
  }
  await writeFile(join(root, LONG_FILE), 'long name\n');
  await writeFile(join(root, 'bin/ping'), 'ELF ping\n');
  await chmod(join(root, 'bin/ping'), 0o755);
  if (spawnSync('setcap', ['cap_net_raw+ep', join(root, 'bin/ping')]).status !== 0) {
    await setAttribute(join(root, 'bin/ping'), 'security.capability', CAPABILITY);
  }
  await writeFile(join(root, 'bin/su'), 'setuid\n');
  await chmod(join(root, 'bin/su'), 0o4755);
  await writeFile(join(root, 'bin/original'), 'linked twice\n');
  await link(join(root, 'bin/original'), join(root, 'bin/zz-hardlink'));
  await symlink('original', join(root, 'bin/symlink'));
  await symlink('/does/not/exist', join(root, 'dangling'));
  await writeFile(join(root, 'café ☕'), 'utf-8 name\n');
  await writeFile(join(root, 'big-owner'), 'owned by 3000000\n');
  await chown(join(root, 'big-owner'), 3_000_000, 3_000_001);
  execFileSync('mkfifo', [join(root, 'fifo')]);
  execFileSync('mknod', [join(root, 'null'), 'c', '1', '3']);
}

/** Writes a layer of `dir` to `file` through a real file sink. */
async function layerFile(dir: string, file: string, options: WriteLayerOptions & WalkOptions): Promise<WrittenLayer> {
  const handle = await open(file, 'w');
  try {
    const sink: LayerSink = { write: async (chunk) => void (await handle.write(chunk)) };
    return await writeLayerFromDirectory(dir, sink, options);
  } finally {
    await handle.close();
  }
}

/** Every path under `root` with what tar must preserve about it. */
function describeTree(root: string): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  const visit = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(root, path);
      const st = lstatSync(abs);
      const info: Record<string, unknown> = {
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        kind: st.mode & 0o170000,
      };
      if (st.isFile())
        Object.assign(info, {
          sha: sha256(readFileSync(abs)),
          cap: getAttributeSync(abs, 'security.capability')?.toString('hex'),
        });
      if (st.isSymbolicLink()) info['target'] = readlinkSync(abs);
      if (st.isCharacterDevice()) info['rdev'] = st.rdev;
      out.set(path, info);
      if (st.isDirectory()) visit(path);
    }
  };
  visit('');
  return out;
}

describe('writeLayer', () => {
  let dir: string;
  let tree: string;
  let gz: string;
  let gzLayer: WrittenLayer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-layer-writer-'));
    tree = join(dir, 'tree');
    await makeTree(tree);
    gz = join(dir, 'layer.tar.gz');
    gzLayer = await layerFile(tree, gz, { compression: 'gzip' });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reports the digest and size of the bytes written, and the diffID of the tar inside', () => {
    const blob = readFileSync(gz);
    assert.equal(gzLayer.digest, digestOf(blob));
    assert.equal(gzLayer.size, blob.length);
    assert.equal(gzLayer.mediaType, MediaType.OciLayerGzip);
    execFileSync('gzip', ['-t', gz]);
    const tar = sh('gzip -dc "$1"', gz);
    assert.equal(gzLayer.diffId, digestOf(tar));
    assert.equal(gzLayer.uncompressedSize, tar.length);
    assert.equal(tar.length % 512, 0);
    assert.ok(tar.subarray(-1024).equals(Buffer.alloc(1024)), 'ends with two zero blocks');
  });

  it('GNU tar extracts the same tree: content, modes, owners, symlinks, fifos, devices, capability', async () => {
    const out = join(dir, 'extracted');
    await mkdir(out);
    execFileSync('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '-xpzf', gz, '-C', out]);
    const want = describeTree(tree);
    const got = describeTree(out);
    assert.deepEqual([...got.keys()], [...want.keys()]);
    for (const [path, info] of want) assert.deepEqual(got.get(path), info, path);
    assert.equal(got.get('big-owner')!['uid'], 3_000_000);
    assert.equal(got.get('bin/ping')!['cap'], CAPABILITY.toString('hex'));
    assert.equal(
      lstatSync(join(out, 'bin/original')).ino,
      lstatSync(join(out, 'bin/zz-hardlink')).ino,
      'hardlinks stay hardlinks',
    );
  });

  it('lists members in tar --sort=name order, with the fixed mtime and empty owner names', () => {
    const ours = sh('tar -tzf "$1"', gz)
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((p) => p.replace(/\/$/, ''));
    const gnu = sh('tar --sort=name -cf - -C "$1" . | tar -tf -', tree)
      .toString()
      .split('\n')
      .map((p) => p.replace(/^\.\//, '').replace(/\/$/, ''))
      .filter((p) => p !== '' && p !== '.');
    assert.deepEqual(ours, gnu);
    const verbose = sh('TZ=UTC tar --full-time -tvzf "$1"', gz).toString().trimEnd().split('\n');
    assert.ok(
      verbose.every((line) => line.includes(' 1980-01-01 00:00:01 ')),
      'every mtime is 1980-01-01T00:00:01Z',
    );
    assert.ok(
      verbose.some((line) => /^hrw-r--r-- 0\/0 +0 .* bin\/zz-hardlink link to bin\/original$/.test(line)),
      'hardlink member',
    );
    assert.ok(
      verbose.some((line) => line.startsWith('-rw-r--r-- 3000000/3000001 ')),
      'uid beyond the octal field kept',
    );
  });

  it('is reproducible: the same tree twice, after touching every file, and a copy elsewhere give identical bytes', async () => {
    const again = await layerFile(tree, join(dir, 'again.tar.gz'), { compression: 'gzip' });
    assert.deepEqual(again, gzLayer);
    sh('find "$1" -exec touch -h -d "2031-05-06 07:08:09" {} +', tree);
    const touched = await layerFile(tree, join(dir, 'touched.tar.gz'), { compression: 'gzip' });
    assert.deepEqual(touched, gzLayer);
    const copy = join(dir, 'elsewhere', 'deeper', 'copy');
    await mkdir(join(copy, '..'), { recursive: true });
    sh('cp -a "$1" "$2"', tree, copy); // -a keeps modes, owners, hard links and xattrs (the capability too)
    const copied = await layerFile(copy, join(dir, 'copied.tar.gz'), { compression: 'gzip' });
    assert.equal(copied.diffId, gzLayer.diffId);
    assert.ok(readFileSync(join(dir, 'copied.tar.gz')).equals(readFileSync(gz)));
  });

  it('writes zstd that the zstd CLI reads back to the same tar (same diffID as gzip)', async () => {
    const file = join(dir, 'layer.tar.zst');
    const layer = await layerFile(tree, file, { compression: 'zstd' });
    assert.equal(layer.mediaType, MediaType.OciLayerZstd);
    execFileSync('zstd', ['-q', '-t', file]);
    assert.equal(layer.digest, digestOf(readFileSync(file)));
    assert.equal(digestOf(sh('zstd -q -dc "$1"', file)), gzLayer.diffId);
    assert.equal(layer.diffId, gzLayer.diffId);
    assert.ok(layer.size < layer.uncompressedSize);
  });

  it("writes the plain tar for 'none', whose digest is its diffID", async () => {
    const file = join(dir, 'layer.tar');
    const layer = await layerFile(tree, file, { compression: 'none' });
    assert.deepEqual(
      [layer.digest, layer.size, layer.mediaType],
      [gzLayer.diffId, gzLayer.uncompressedSize, MediaType.OciLayer],
    );
    assert.equal(digestOf(readFileSync(file)), gzLayer.diffId);
  });

  it('maps every owner to the uid/gid given, and puts the tree under a prefix', async () => {
    const file = join(dir, 'mapped.tar');
    await layerFile(join(tree, 'bin'), file, {
      compression: 'none',
      owner: { kind: 'map', uid: 1000, gid: 3_000_000 },
      prefix: 'workspace',
      includeRoot: true,
    });
    const lines = sh('tar --numeric-owner -tvf "$1"', file)
      .toString()
      .trimEnd()
      .split('\n')
      .map((l) => l.split(/ +/));
    assert.ok(
      lines.every((cols) => cols[1] === '1000/3000000'),
      'all members mapped',
    );
    assert.deepEqual(lines.map((cols) => cols[5]).slice(0, 2), ['workspace/', 'workspace/original']);
  });

  it('builds the tar in fixed 1 MiB chunks, reading a big file lazily as the chunks are taken', async () => {
    const sparse = join(dir, 'sparse');
    await mkdir(sparse);
    const big = join(sparse, 'big');
    const size = 48 * TAR_CHUNK_SIZE + 100;
    await writeFile(big, '');
    await truncate(big, size);
    const entry: TarEntry = { path: 'big', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size, sourcePath: big };
    const sizes: number[] = [];
    for await (const chunk of tarChunks(iterate([entry]))) sizes.push(chunk.length);
    assert.equal(sizes.length, 49);
    assert.ok(sizes.slice(0, -1).every((n) => n === TAR_CHUNK_SIZE));
    assert.equal(
      sizes.reduce((a, b) => a + b),
      512 + 48 * TAR_CHUNK_SIZE + 512 + 1024,
    );

    // Take one chunk, then cut the file: a writer that had read it whole would not notice.
    const chunks = tarChunks(iterate([entry]));
    await chunks.next();
    await truncate(big, 2 * TAR_CHUNK_SIZE);
    await assert.rejects(
      async () => {
        for await (const _ of chunks);
      },
      (err) => isSlipwayError(err, 'IO_ERROR') && err.message.includes(`(${2 * TAR_CHUNK_SIZE} of ${size} bytes)`),
    );
  });

  it('fails naming the path when a file shrank, became a symlink, or an entry has no source', async () => {
    const base = { type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0 } as const;
    const shrunk = join(dir, 'shrunk');
    await writeFile(shrunk, 'short');
    const drain = (entries: TarEntry[]): Promise<WrittenLayer> =>
      writeLayer(iterate(entries), { write: async () => undefined }, { compression: 'gzip' });
    await assert.rejects(
      drain([{ ...base, path: 'shrunk', size: 100, sourcePath: shrunk }]),
      (err) => isSlipwayError(err, 'IO_ERROR') && err.message.includes(shrunk),
    );
    const swapped = join(dir, 'swapped');
    await symlink(shrunk, swapped);
    await assert.rejects(
      drain([{ ...base, path: 'swapped', size: 5, sourcePath: swapped }]),
      (err) => isSlipwayError(err, 'UNSAFE_PATH') && err.message.includes(swapped),
    );
    await unlink(swapped);
    await assert.rejects(
      drain([{ ...base, path: 'nosource', size: 5 }]),
      (err) => isSlipwayError(err, 'INVALID_ARGUMENT') && err.message.includes('nosource'),
    );
  });
});

async function* iterate(entries: TarEntry[]): AsyncGenerator<TarEntry> {
  yield* entries;
}
