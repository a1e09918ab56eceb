import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../oci/digest.js';
import type { Access, Authenticator } from '../auth/types.js';
import { errorCode, harness, type Harness } from './testdata/client.js';

let h: Harness;
const data = randomBytes(2048);
const digest = digestOf(data);

before(async () => {
  h = await harness();
  await h.client.pushBlob('pull/app', data);
});
after(() => h.dispose());

const get = (path: string, headers: Record<string, string> = {}) => h.client.req('GET', path, { headers });

describe('blob pulls', () => {
  it('serves GET with Content-Length, Content-Type, Docker-Content-Digest, ETag and Accept-Ranges', async () => {
    const res = await get(`/v2/pull/app/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), '2048');
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.equal(res.headers.get('docker-content-digest'), digest);
    assert.equal(res.headers.get('etag'), `"${digest}"`);
    assert.equal(res.headers.get('accept-ranges'), 'bytes');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), data);
  });

  it('answers HEAD with the same headers and no body', async () => {
    const res = await h.client.req('HEAD', `/v2/pull/app/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), '2048');
    assert.equal(res.headers.get('docker-content-digest'), digest);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  it('serves byte ranges with 206 and Content-Range, as the conformance suite asks them', async () => {
    const cases: [string, number, number][] = [
      ['bytes=500-1499', 500, 1499],
      ['bytes=500-', 500, 2047],
      ['bytes=-500', 1548, 2047],
      ['bytes=2000-5000', 2000, 2047],
    ];
    for (const [range, start, end] of cases) {
      const res = await get(`/v2/pull/app/blobs/${digest}`, { Range: range });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/2048`);
      assert.equal(res.headers.get('content-length'), String(end - start + 1));
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), data.subarray(start, end + 1), range);
    }
  });

  it('answers 416 with Content-Range */size for ranges outside the blob, and ignores ranges it does not honour', async () => {
    for (const range of ['bytes=500-0', 'bytes=5000-10000', 'bytes=-0']) {
      const res = await get(`/v2/pull/app/blobs/${digest}`, { Range: range });
      assert.equal(res.status, 416, range);
      assert.equal(res.headers.get('content-range'), 'bytes */2048');
    }
    for (const range of ['bytes=0-1,5-6', 'items=0-5', 'garbage']) {
      const res = await get(`/v2/pull/app/blobs/${digest}`, { Range: range });
      assert.equal(res.status, 200, range);
      assert.equal((await res.arrayBuffer()).byteLength, 2048);
    }
  });

  it('answers 304 to If-None-Match with the digest', async () => {
    const res = await get(`/v2/pull/app/blobs/${digest}`, { 'If-None-Match': `"${digest}"` });
    assert.equal(res.status, 304);
  });

  it('serves only blobs linked to the repository: pushed to A, unknown in B until mounted', async () => {
    const res = await get(`/v2/pull/other/blobs/${digest}`);
    assert.equal(res.status, 404);
    assert.equal(await errorCode(res), 'BLOB_UNKNOWN');
    assert.ok(await h.store.blobs.stat(digest), 'though the store has it');
    const mount = await h.client.req('POST', `/v2/pull/other/blobs/uploads/?mount=${digest}&from=pull/app`);
    assert.equal(mount.status, 201);
    assert.equal(mount.headers.get('location'), `/v2/pull/other/blobs/${digest}`);
    assert.equal(mount.headers.get('docker-content-digest'), digest);
    assert.equal((await get(`/v2/pull/other/blobs/${digest}`)).status, 200);
  });

  it('answers BLOB_UNKNOWN for a digest nobody pushed and DIGEST_INVALID for a malformed one', async () => {
    const res = await get(`/v2/pull/app/blobs/${digestOf('never pushed')}`);
    assert.equal(res.status, 404);
    assert.equal(await errorCode(res), 'BLOB_UNKNOWN');
    for (const bad of ['sha256:1234', 'sha384:' + 'a'.repeat(96), 'nodigest']) {
      const r = await get(`/v2/pull/app/blobs/${bad}`);
      assert.equal(r.status, 400, bad);
      assert.equal(await errorCode(r), 'DIGEST_INVALID');
    }
  });

  it('deletes a blob from one repository (202): gone there, still in the others, 404 the second time', async () => {
    const shared = randomBytes(100);
    const d = await h.client.pushBlob('del/a', shared);
    await h.client.pushBlob('del/b', shared);
    assert.equal((await h.client.req('DELETE', `/v2/del/a/blobs/${d}`)).status, 202);
    assert.equal((await h.client.req('HEAD', `/v2/del/a/blobs/${d}`)).status, 404);
    assert.equal((await h.client.req('HEAD', `/v2/del/b/blobs/${d}`)).status, 200);
    const again = await h.client.req('DELETE', `/v2/del/a/blobs/${d}`);
    assert.equal(again.status, 404);
    assert.equal(await errorCode(again), 'BLOB_UNKNOWN');
  });
});

describe('cross-repository mounts', () => {
  it('falls back to an upload session (202) when the source does not have the blob', async () => {
    const missing = digestOf(randomBytes(16));
    const res = await h.client.req('POST', `/v2/mount/dest/blobs/uploads/?mount=${missing}&from=pull/app`);
    assert.equal(res.status, 202);
    const location = res.headers.get('location')!;
    assert.match(location, /^\/v2\/mount\/dest\/blobs\/uploads\/[0-9a-f-]+$/);
    assert.equal((await h.client.req('GET', location)).status, 204, 'the session is usable');
  });

  it('falls back to an upload when `from` is not a repository name', async () => {
    const res = await h.client.req('POST', `/v2/mount/dest/blobs/uploads/?mount=${digest}&from=NOT..VALID`);
    assert.equal(res.status, 202);
  });

  it('mounts automatically when `from` is absent and the blob is in a repository the client may pull (201)', async () => {
    const res = await h.client.req('POST', `/v2/mount/auto/blobs/uploads/?mount=${digest}`);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('docker-content-digest'), digest);
    assert.equal((await get(`/v2/mount/auto/blobs/${digest}`)).status, 200);
    const nowhere = await h.client.req('POST', `/v2/mount/auto/blobs/uploads/?mount=${digestOf('nowhere')}`);
    assert.equal(nowhere.status, 202);
  });

  it('does not mount from a repository the client may not pull: explicit or automatic, it uploads instead', async () => {
    const noPullFromSecret: Authenticator = {
      async check(_request, required: Access[]) {
        if (required.some((a) => a.name === 'secret/repo'))
          throw Object.assign(new Error('no access'), { status: 403 });
        return { granted: required };
      },
    };
    const guarded = await harness({ auth: noPullFromSecret });
    try {
      const blob = randomBytes(64);
      const d = digestOf(blob);
      await guarded.store.withLease(async (lease) => {
        await lease.putBytes(blob);
        await guarded.store.meta.linkBlob('secret/repo', d);
      });
      const explicit = await guarded.client.req('POST', `/v2/mine/blobs/uploads/?mount=${d}&from=secret/repo`);
      assert.equal(explicit.status, 202);
      const automatic = await guarded.client.req('POST', `/v2/mine/blobs/uploads/?mount=${d}`);
      assert.equal(automatic.status, 202);
      assert.equal((await guarded.client.req('HEAD', `/v2/mine/blobs/${d}`)).status, 404);
    } finally {
      await guarded.dispose();
    }
  });
});
