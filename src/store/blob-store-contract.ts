import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isSlipwayError } from '../errors.js';
import { digestOf, type Digest } from '../oci/digest.js';
import type { BlobStore } from './types.js';

/** What a back-end gives the contract for each test. */
export interface BlobHarness {
  store: BlobStore;
  /** Another instance on the same storage (another process, or another node). */
  reopen(): Promise<BlobStore>;
  /** Replaces a stored blob's bytes behind the store's back (damage). */
  corrupt(digest: Digest, bytes: Buffer): Promise<void>;
  close(): Promise<void>;
}

/**
 * The one contract every BlobStore keeps (the filesystem and S3 run the same tests):
 * commit verified or nothing, ranges, sha512, concurrent writers of one blob, labels
 * and ingests across instances, abort, errors for what is absent, too large or damaged.
 *
 * @example
 * describeBlobStore('FsBlobStore', async () => ({ store, reopen, corrupt, close }));
 */
export function describeBlobStore(name: string, open: () => Promise<BlobHarness>): void {
  describe(`${name} (BlobStore contract)`, () => {
    let harness: BlobHarness;
    let store: BlobStore;
    beforeEach(async () => {
      harness = await open();
      store = harness.store;
    });
    afterEach(async () => harness.close());

    const put = async (data: Buffer, expected: { digest?: Digest; size?: number } = {}): Promise<Digest> => {
      const w = await store.writer();
      await w.write(data);
      return (await w.commit(expected)).digest;
    };

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
      await harness.corrupt(docDigest, Buffer.from('{"a":2}'));
      await assert.rejects(store.read(docDigest), (e) => isSlipwayError(e, 'DIGEST_MISMATCH'));
    });

    it('deletes blobs, once', async () => {
      const digest = await put(randomBytes(64));
      assert.equal(await store.delete(digest), true);
      assert.equal(await store.delete(digest), false);
      assert.equal(await store.stat(digest), undefined);
    });

    it('rejects digests that are not digests before touching the storage', async () => {
      await assert.rejects(store.stat('sha256:../../etc/passwd' as Digest), (e) => isSlipwayError(e, 'INVALID_DIGEST'));
    });

    it('hashes an empty blob', async () => {
      const digest = await put(Buffer.alloc(0), { size: 0 });
      assert.equal(digest, `sha256:${createHash('sha256').digest('hex')}`);
      assert.equal((await buffer(await store.open(digest))).length, 0);
    });

    it("keeps an ingest's labels across close and resume (a registry upload's repository)", async () => {
      const w = await store.writer({ labels: { repository: 'team/app' } });
      assert.deepEqual(w.labels, { repository: 'team/app' });
      await w.write(Buffer.from('abc'));
      await w.close();
      const other = await harness.reopen();
      const resumed = await other.resume(w.id);
      assert.ok(resumed);
      assert.deepEqual(resumed.labels, { repository: 'team/app' });
      assert.equal(resumed.size, 3);
      await resumed.abort();
    });

    it('resumes an ingest on another instance (another process or node), and commits it checked', async () => {
      const data = randomBytes(11 * 1024 * 1024 + 123);
      const w = await store.writer();
      await w.write(data.subarray(0, 9_000_001));
      await w.close();
      await assert.rejects(w.write(data), (e) => isSlipwayError(e, 'CONFLICT'));
      const other = await harness.reopen();
      const resumed = await other.resume(w.id);
      assert.ok(resumed);
      assert.equal(resumed.size, 9_000_001);
      await resumed.write(data.subarray(9_000_001));
      await assert.rejects(resumed.commit({ digest: digestOf('not it') }), (e) => isSlipwayError(e, 'DIGEST_MISMATCH'));
      assert.equal(await store.stat(digestOf(data)), undefined, 'a wrong digest leaves nothing under any name');
      assert.deepEqual(await store.listIngests(), []);

      const again = await store.writer();
      await again.write(data.subarray(0, 7_000_000));
      await again.close();
      const finish = (await other.resume(again.id))!;
      await finish.write(data.subarray(7_000_000));
      const info = await finish.commit({ digest: digestOf(data), size: data.length });
      assert.deepEqual(await buffer(await store.open(info.digest)), data);
    });
  });
}
