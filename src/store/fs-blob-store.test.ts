import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { isSlipwayError } from '../errors.js';
import { digestOf, type Digest } from '../oci/digest.js';
import { FsBlobStore } from './fs-blob-store.js';

let root: string;
let store: FsBlobStore;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'slipway-fs-blob-'));
  store = await FsBlobStore.open(root);
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function put(data: Buffer, expected: { digest?: Digest; size?: number } = {}): Promise<Digest> {
  const w = await store.writer();
  await w.write(data);
  return (await w.commit(expected)).digest;
}

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

  it('serves byte ranges, inclusive, clamped to the blob, and refuses ranges outside it', async () => {
    const digest = await put(Buffer.from('0123456789'));
    assert.equal((await buffer(await store.open(digest, { start: 2, end: 4 }))).toString(), '234');
    assert.equal((await buffer(await store.open(digest, { start: 7 }))).toString(), '789');
    assert.equal((await buffer(await store.open(digest, { start: 8, end: 100 }))).toString(), '89');
    await assert.rejects(store.open(digest, { start: 10 }), (e) => isSlipwayError(e, 'RANGE_NOT_SATISFIABLE'));
    await assert.rejects(store.open(digest, { start: 5, end: 3 }), (e) => isSlipwayError(e, 'RANGE_NOT_SATISFIABLE'));
  });

  it('stores sha512 blobs when asked, and verifies a sha512 expectation on a sha256 writer by re-hashing', async () => {
    const data = randomBytes(10_000);
    const w = await store.writer({ algorithm: 'sha512' });
    await w.write(data);
    const info = await w.commit({ digest: digestOf(data, 'sha512') });
    assert.match(info.digest, /^sha512:[0-9a-f]{128}$/);
    assert.deepEqual(await store.read(info.digest), data);

    const other = randomBytes(5_000);
    const digest = await put(other, { digest: digestOf(other, 'sha512') });
    assert.equal(digest, digestOf(other, 'sha512'));
    assert.ok(await store.stat(digest));
    const listed: Digest[] = [];
    for await (const d of store.list()) listed.push(d);
    assert.ok(listed.includes(info.digest) && listed.includes(digest));
  });

  it('leaves nothing visible and no ingest when the digest or the size does not match', async () => {
    const data = randomBytes(1000);
    const wrong = digestOf('something else');
    await assert.rejects(put(data, { digest: wrong }), (e: unknown) => {
      assert.ok(isSlipwayError(e, 'DIGEST_MISMATCH'));
      assert.match(e.message, new RegExp(`${digestOf(data)}.*expected ${wrong}`));
      return true;
    });
    await assert.rejects(
      put(data, { size: 999 }),
      (e) => isSlipwayError(e, 'SIZE_MISMATCH') && /1000 bytes, expected 999/.test(e.message),
    );
    assert.equal(await store.stat(digestOf(data)), undefined);
    assert.equal(await store.stat(wrong), undefined);
    assert.deepEqual(await store.listIngests(), []);
  });

  it('does not make a blob visible when beforeVisible fails', async () => {
    const data = randomBytes(100);
    const w = await store.writer();
    await w.write(data);
    await assert.rejects(
      w.commit({}, async () => {
        throw new Error('lease refused');
      }),
      /lease refused/,
    );
    assert.equal(await store.stat(digestOf(data)), undefined);
    assert.deepEqual(await store.listIngests(), []);
  });

  it('lets two writers of the same blob both succeed', async () => {
    const data = randomBytes(2_000_000);
    const writers = await Promise.all([store.writer(), store.writer()]);
    for (let i = 0; i < data.length; i += 100_000) {
      await Promise.all(writers.map((w) => w.write(data.subarray(i, i + 100_000))));
    }
    const infos = await Promise.all(writers.map((w) => w.commit({ digest: digestOf(data) })));
    assert.deepEqual(infos[0], infos[1]);
    assert.deepEqual(await store.read(digestOf(data)), data);
    assert.deepEqual(await store.listIngests(), []);
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

  it("keeps an ingest's labels across close and resume (a registry upload's repository)", async () => {
    const w = await store.writer({ labels: { repository: 'team/app' } });
    assert.deepEqual(w.labels, { repository: 'team/app' });
    await w.write(Buffer.from('abc'));
    await w.close();
    const reopened = await FsBlobStore.open(root);
    const resumed = await reopened.resume(w.id);
    assert.ok(resumed);
    assert.deepEqual(resumed.labels, { repository: 'team/app' });
    assert.equal(resumed.size, 3);
    await resumed.abort();
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

  it('refuses ingest ids that would name another path', async () => {
    assert.equal(await store.resume('../blobs'), undefined);
    assert.equal(await store.resume('a/b'), undefined);
    await assert.rejects(store.removeIngest('..'), (e) => isSlipwayError(e, 'INVALID_ARGUMENT'));
  });

  it('aborts an ingest, leaving nothing', async () => {
    const w = await store.writer();
    await w.write(randomBytes(10));
    await w.abort();
    assert.deepEqual(await store.listIngests(), []);
  });

  it('says BLOB_UNKNOWN for an absent blob, refuses reads above maxSize, detects corruption on read', async () => {
    const absent = digestOf('absent');
    await assert.rejects(store.open(absent), (e) => isSlipwayError(e, 'BLOB_UNKNOWN') && e.message.includes(absent));
    await assert.rejects(store.read(absent), (e) => isSlipwayError(e, 'BLOB_UNKNOWN'));
    const digest = await put(randomBytes(2048));
    await assert.rejects(store.read(digest, 1024), (e) => isSlipwayError(e, 'TOO_LARGE'));

    const doc = Buffer.from('{"a":1}');
    const docDigest = await put(doc);
    await rm(store.blobPath(docDigest));
    await writeFile(store.blobPath(docDigest), '{"a":2}');
    await assert.rejects(store.read(docDigest), (e) => isSlipwayError(e, 'DIGEST_MISMATCH'));
  });

  it('deletes blobs, once', async () => {
    const digest = await put(randomBytes(64));
    assert.equal(await store.delete(digest), true);
    assert.equal(await store.delete(digest), false);
    assert.equal(await store.stat(digest), undefined);
  });

  it('rejects digests that are not digests before touching the filesystem', async () => {
    await assert.rejects(store.stat('sha256:../../etc/passwd' as Digest), (e) => isSlipwayError(e, 'INVALID_DIGEST'));
  });

  it('hashes an empty blob', async () => {
    const digest = await put(Buffer.alloc(0), { size: 0 });
    assert.equal(digest, `sha256:${createHash('sha256').digest('hex')}`);
    assert.equal((await buffer(await store.open(digest))).length, 0);
  });
});
