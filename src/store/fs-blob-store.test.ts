import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { isSlipwayError } from '../errors.js';
import { digestOf } from '../oci/digest.js';
import { describeBlobStore } from './blob-store-contract.js';
import { FsBlobStore } from './fs-blob-store.js';
import { collectGarbage } from './gc.js';
import { SqliteMetadataStore } from './sqlite-metadata.js';

let root: string;
let store: FsBlobStore;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'slipway-fs-blob-'));
  store = await FsBlobStore.open(root);
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('FsBlobStore', () => {
  it('commits a blob written in chunks under its sha256, read-only, and reads it back', async () => {
    const data = randomBytes(300_000);
    const w = await store.writer();
    for (let i = 0; i < data.length; i += 65536) await w.write(data.subarray(i, i + 65536));
    assert.equal(w.size, data.length);
    const info = await w.commit({ digest: digestOf(data), size: data.length });
    assert.deepEqual(info, { digest: digestOf(data), size: data.length });
    assert.deepEqual(await store.stat(info.digest), info);
    assert.deepEqual(await buffer(await store.open(info.digest)), data);
    assert.equal((await stat(store.blobPath(info.digest))).mode & 0o777, 0o444);
    assert.deepEqual(await readdir(join(root, 'ingest')), [], 'the ingest is gone after commit');
  });

  it('stores small blobs from memory (putSmall), many at once: read-only, the hook first, no ingest left', async () => {
    const blobs = Array.from({ length: 40 }, (_, i) => Buffer.from(`config ${i} ${'x'.repeat(i)}`));
    const visibleAtHook: boolean[] = [];
    await Promise.all(
      blobs.map((data) =>
        store.putSmall(data, { digest: digestOf(data), size: data.length }, async (info) => {
          visibleAtHook.push((await store.stat(info.digest)) !== undefined);
        }),
      ),
    );
    assert.deepEqual(visibleAtHook, Array(40).fill(false), 'the hook runs before the blob appears');
    // Stored again: the blob there is kept, and the staging copy removed.
    await store.putSmall(blobs[0]!, { digest: digestOf(blobs[0]!), size: blobs[0]!.length });
    for (const data of blobs) {
      assert.deepEqual(await store.read(digestOf(data)), data);
      assert.equal((await stat(store.blobPath(digestOf(data)))).mode & 0o777, 0o444);
    }
    assert.deepEqual(await readdir(join(root, 'ingest')), [], 'no staging file is left');
  });

  it('resumes an ingest from another store instance, re-hashing what it holds', async () => {
    const data = randomBytes(3_000_000);
    const w = await store.writer();
    await w.write(data.subarray(0, 1_234_567));
    await w.close();
    await assert.rejects(w.write(data), (e) => isSlipwayError(e, 'CONFLICT'));

    const reopened = await FsBlobStore.open(root);
    const resumed = await reopened.resume(w.id);
    assert.ok(resumed);
    assert.equal(resumed.size, 1_234_567);
    await assert.rejects(reopened.resume(w.id), (e) => isSlipwayError(e, 'CONFLICT'), 'one live writer per ingest');
    await resumed.write(data.subarray(1_234_567));
    const info = await resumed.commit({ digest: digestOf(data), size: data.length });
    assert.deepEqual(await buffer(await reopened.open(info.digest)), data);
  });

  it('reports ingests with their owner and removes them on request', async () => {
    const w = await store.writer();
    await w.write(Buffer.from('partial'));
    const [ingest] = await store.listIngests();
    assert.equal(ingest?.id, w.id);
    assert.equal(ingest?.pid, process.pid);
    await w.close();
    const [parked] = await store.listIngests();
    assert.equal(parked?.pid, undefined, 'a parked ingest has no owner process');
    await store.removeIngest(w.id);
    assert.deepEqual(await store.listIngests(), []);
    assert.equal(await store.resume(w.id), undefined);
  });

  it("a small blob's staging file left by a killed writer is an ingest of its pid, which GC removes once that process is gone", async () => {
    // A pid no process has: the writer was killed between its write and its rename.
    const dead = 2 ** 22 + 17;
    const left = `.new-${dead}-0f0e6e9a-1111-4222-8333-944444444444`;
    await writeFile(join(root, 'ingest', left), 'half a config');
    const ours = `.new-${process.pid}-0f0e6e9a-1111-4222-8333-955555555555`;
    await writeFile(join(root, 'ingest', ours), 'being written');
    const listed = (await store.listIngests()).sort((a, b) => a.id.localeCompare(b.id));
    assert.deepEqual(
      listed.map((i) => [i.id, i.pid]),
      [left, ours].sort().map((id) => [id, id === left ? dead : process.pid]),
    );
    const meta = await SqliteMetadataStore.open(join(root, 'meta.db'));
    try {
      const report = await collectGarbage(store, meta);
      assert.equal(report.ingestsRemoved, 1);
    } finally {
      await meta.close();
    }
    assert.deepEqual(await readdir(join(root, 'ingest')), [ours], "a live writer's file stays");
    await rm(join(root, 'ingest', ours));
  });

  it('refuses ingest ids that would name another path', async () => {
    assert.equal(await store.resume('../blobs'), undefined);
    assert.equal(await store.resume('a/b'), undefined);
    await assert.rejects(store.removeIngest('..'), (e) => isSlipwayError(e, 'INVALID_ARGUMENT'));
  });
});

describeBlobStore('FsBlobStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-fs-contract-'));
  const fs = await FsBlobStore.open(dir);
  return {
    store: fs,
    reopen: () => FsBlobStore.open(dir),
    corrupt: async (digest, bytes) => {
      await rm(fs.blobPath(digest));
      await writeFile(fs.blobPath(digest), bytes);
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
});
