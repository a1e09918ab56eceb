import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../oci/digest.js';
import { reopenTestStore } from '../../store/testdata/test-backends.js';
import { createRegistryApp } from './app.js';
import { errorCode, harness, TestClient, type Harness } from './testdata/client.js';

let h: Harness;
let client: TestClient;

before(async () => {
  h = await harness();
  client = h.client;
});
after(() => h.dispose());

const octets = { 'Content-Type': 'application/octet-stream' };

async function pull(repo: string, digest: string, c: TestClient = client): Promise<Buffer> {
  const res = await c.req('GET', `/v2/${repo}/blobs/${digest}`);
  assert.equal(res.status, 200, `GET ${repo} ${digest}`);
  assert.equal(res.headers.get('docker-content-digest'), digest);
  return Buffer.from(await res.arrayBuffer());
}

async function patch(location: string, chunk: Buffer, start: number): Promise<Response> {
  return client.req('PATCH', location, {
    body: chunk,
    headers: {
      ...octets,
      'Content-Range': `${start}-${start + chunk.length - 1}`,
      'Content-Length': String(chunk.length),
    },
  });
}

describe('blob uploads', () => {
  it('takes a monolithic POST ?digest= (201, Location, Docker-Content-Digest) and serves it back', async () => {
    const data = randomBytes(10_000);
    const digest = digestOf(data);
    const res = await client.req('POST', `/v2/mono/app/blobs/uploads/?digest=${digest}`, {
      body: data,
      headers: octets,
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('location'), `/v2/mono/app/blobs/${digest}`);
    assert.equal(res.headers.get('docker-content-digest'), digest);
    assert.deepEqual(await pull('mono/app', digest), data);
  });

  it('takes POST then PUT with the whole blob', async () => {
    const data = randomBytes(5000);
    const location = await client.startUpload('postput');
    const res = await client.req('PUT', `${location}?digest=${digestOf(data)}`, { body: data, headers: octets });
    assert.equal(res.status, 201);
    assert.deepEqual(await pull('postput', digestOf(data)), data);
  });

  it('answers POST with 202, a Location with the session id, Docker-Upload-UUID and Range 0-0', async () => {
    const res = await client.req('POST', '/v2/session/blobs/uploads/');
    assert.equal(res.status, 202);
    const id = res.headers.get('docker-upload-uuid')!;
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(res.headers.get('location'), `/v2/session/blobs/uploads/${id}`);
    assert.equal(res.headers.get('range'), '0-0');
  });

  it('takes chunks in order (202 with Range), reports progress on GET (204), and closes with PUT', async () => {
    const data = randomBytes(3 * 70_000 + 17);
    let location = await client.startUpload('chunked');
    for (let start = 0; start < data.length; start += 70_000) {
      const chunk = data.subarray(start, start + 70_000);
      const res = await patch(location, chunk, start);
      assert.equal(res.status, 202);
      assert.equal(res.headers.get('range'), `0-${start + chunk.length - 1}`);
      location = res.headers.get('location')!;
      const status = await client.req('GET', location);
      assert.equal(status.status, 204);
      assert.equal(status.headers.get('range'), `0-${start + chunk.length - 1}`);
    }
    const res = await client.req('PUT', `${location}?digest=${digestOf(data)}`);
    assert.equal(res.status, 201);
    assert.deepEqual(await pull('chunked', digestOf(data)), data);
  });

  it('takes the last chunk in the closing PUT', async () => {
    const data = randomBytes(2000);
    const location = await client.startUpload('lastchunk');
    assert.equal((await patch(location, data.subarray(0, 1500), 0)).status, 202);
    const res = await client.req('PUT', `${location}?digest=${digestOf(data)}`, {
      body: data.subarray(1500),
      headers: { ...octets, 'Content-Range': '1500-1999' },
    });
    assert.equal(res.status, 201);
    assert.deepEqual(await pull('lastchunk', digestOf(data)), data);
  });

  it('refuses an out-of-order chunk with 416 and the Range it holds, then goes on from there', async () => {
    const data = randomBytes(3000);
    const location = await client.startUpload('ooo');
    assert.equal((await patch(location, data.subarray(0, 1000), 0)).status, 202);
    for (const [start, end] of [
      [2000, 2999],
      [0, 999],
      [500, 1499],
    ] as const) {
      const res = await patch(location, data.subarray(start, end + 1), start);
      assert.equal(res.status, 416, `chunk ${start}-${end}`);
      assert.equal(res.headers.get('range'), '0-999');
      assert.equal(res.headers.get('location'), location);
      assert.equal(await errorCode(res), 'RANGE_INVALID');
    }
    const put = await client.req('PUT', `${location}?digest=${digestOf(data)}`, {
      body: data.subarray(2000),
      headers: { ...octets, 'Content-Range': '2000-2999' },
    });
    assert.equal(put.status, 416, 'an out-of-order final chunk in the PUT too');
    assert.equal((await patch(location, data.subarray(1000, 2000), 1000)).status, 202);
    assert.equal(
      (await client.req('PUT', `${location}?digest=${digestOf(data)}`, { body: data.subarray(2000), headers: octets }))
        .status,
      201,
    );
    assert.deepEqual(await pull('ooo', digestOf(data)), data);
  });

  it('refuses a chunk whose Content-Length differs from its Content-Range (SIZE_INVALID)', async () => {
    const location = await client.startUpload('badlength');
    const res = await client.req('PATCH', location, {
      body: randomBytes(10),
      headers: { ...octets, 'Content-Range': '0-19', 'Content-Length': '10' },
    });
    assert.equal(res.status, 400);
    assert.equal(await errorCode(res), 'SIZE_INVALID');
  });

  it('takes a streamed PATCH without Content-Range (chunked transfer) and a PUT without body', async () => {
    const parts = Array.from({ length: 8 }, () => randomBytes(300_000));
    const data = Buffer.concat(parts);
    const location = await client.startUpload('streamed');
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) controller.enqueue(part);
        controller.close();
      },
    });
    const res = await client.req('PATCH', location, { body, headers: octets });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('range'), `0-${data.length - 1}`);
    assert.equal((await client.req('PUT', `${location}?digest=${digestOf(data)}`)).status, 201);
    assert.deepEqual(await pull('streamed', digestOf(data)), data);
  });

  it('cancels an upload with DELETE (204): the session and its data are gone', async () => {
    const location = await client.startUpload('cancel');
    assert.equal((await patch(location, randomBytes(100), 0)).status, 202);
    assert.equal((await client.req('DELETE', location)).status, 204);
    const res = await client.req('GET', location);
    assert.equal(res.status, 404);
    assert.equal(await errorCode(res), 'BLOB_UPLOAD_UNKNOWN');
    assert.equal((await client.req('DELETE', location)).status, 404);
    const id = location.split('/').pop()!;
    assert.ok(!(await h.store.blobs.listIngests()).some((i) => i.id === id));
  });

  it('refuses a blob whose bytes do not match the digest: DIGEST_INVALID, nothing stored, session gone', async () => {
    const data = randomBytes(4000);
    const wrong = digestOf(randomBytes(10));
    const mono = await client.req('POST', `/v2/liar/blobs/uploads/?digest=${wrong}`, { body: data, headers: octets });
    assert.equal(mono.status, 400);
    assert.equal(await errorCode(mono), 'DIGEST_INVALID');
    const location = await client.startUpload('liar');
    assert.equal((await patch(location, data, 0)).status, 202);
    const put = await client.req('PUT', `${location}?digest=${wrong}`);
    assert.equal(put.status, 400);
    assert.equal(await errorCode(put), 'DIGEST_INVALID');
    assert.equal(await h.store.blobs.stat(digestOf(data)), undefined);
    assert.equal(await h.store.blobs.stat(wrong), undefined);
    assert.equal((await client.req('GET', location)).status, 404);
    assert.equal((await client.req('HEAD', `/v2/liar/blobs/${wrong}`)).status, 404);
  });

  it('asks for a digest to close an upload, and keeps the session when it is missing or malformed', async () => {
    const location = await client.startUpload('nodigest');
    for (const query of ['', '?digest=sha256:abc', '?digest=md5:0000']) {
      const res = await client.req('PUT', `${location}${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(await errorCode(res), 'DIGEST_INVALID');
    }
    assert.equal((await client.req('GET', location)).status, 204);
  });

  it('stores sha512 blobs: monolithic, a sha512 session, and a sha256 session closed with a sha512 digest', async () => {
    const a = randomBytes(3000);
    const digestA = digestOf(a, 'sha512');
    assert.equal(await client.pushBlob('sha512', a, 'sha512'), digestA);
    assert.deepEqual(await pull('sha512', digestA), a);

    const b = randomBytes(3000);
    const location = await client.startUpload('sha512', '?digest-algorithm=sha512');
    assert.equal((await patch(location, b, 0)).status, 202);
    assert.equal((await client.req('PUT', `${location}?digest=${digestOf(b, 'sha512')}`)).status, 201);
    assert.deepEqual(await pull('sha512', digestOf(b, 'sha512')), b);

    const c = randomBytes(3000);
    const plain = await client.startUpload('sha512');
    assert.equal(
      (await client.req('PUT', `${plain}?digest=${digestOf(c, 'sha512')}`, { body: c, headers: octets })).status,
      201,
    );
    assert.deepEqual(await pull('sha512', digestOf(c, 'sha512')), c);
    assert.equal((await client.req('POST', '/v2/sha512/blobs/uploads/?digest-algorithm=md5')).status, 400);
  });

  it('stores an empty blob', async () => {
    const empty = Buffer.alloc(0);
    const digest = await client.pushBlob('empty', empty);
    const res = await client.req('GET', `/v2/empty/blobs/${digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), '0');
    assert.equal((await res.arrayBuffer()).byteLength, 0);
  });

  it('does not let another repository use a session', async () => {
    const location = await client.startUpload('owner');
    const id = location.split('/').pop()!;
    for (const method of ['GET', 'PATCH', 'PUT', 'DELETE']) {
      const res = await client.req(method, `/v2/thief/blobs/uploads/${id}?digest=${digestOf('')}`);
      assert.equal(res.status, 404, method);
      assert.equal(await errorCode(res), 'BLOB_UPLOAD_UNKNOWN');
    }
    assert.equal((await client.req('GET', location)).status, 204, 'the owner still has it');
  });

  it('answers BLOB_UPLOAD_UNKNOWN for unknown or malformed session ids', async () => {
    for (const id of ['0f0e6e9a-1111-4222-8333-944444444444', 'a%2F..%2F..%2Fblobs', '.new-1-x']) {
      const res = await client.req('GET', `/v2/app/blobs/uploads/${id}`);
      assert.equal(res.status, 404, id);
      assert.equal(await errorCode(res), 'BLOB_UPLOAD_UNKNOWN');
    }
  });

  it('drops an upload that grows past maxUploadBytes (413 SIZE_INVALID)', async () => {
    const small = await harness({ limits: { maxUploadBytes: 1000 } });
    try {
      const location = await small.client.startUpload('limited');
      const res = await small.client.req('PATCH', location, { body: randomBytes(1500), headers: octets });
      assert.equal(res.status, 413);
      assert.equal(await errorCode(res), 'SIZE_INVALID');
      assert.equal((await small.client.req('GET', location)).status, 404, 'the session is dropped');
      const mono = await small.client.req('POST', `/v2/limited/blobs/uploads/?digest=${digestOf(randomBytes(1))}`, {
        body: randomBytes(2000),
        headers: octets,
      });
      assert.equal(mono.status, 413);
      assert.deepEqual(await small.store.blobs.listIngests(), []);
      assert.equal((await small.client.pushBlob('limited', randomBytes(1000))).length, 71, 'up to the limit is fine');
    } finally {
      await small.dispose();
    }
  });

  it('resumes a chunked upload after a restart (a new app on a reopened store)', async () => {
    const data = randomBytes(200_000);
    const location = await client.startUpload('restart');
    assert.equal((await patch(location, data.subarray(0, 120_000), 0)).status, 202);
    await h.app.close(); // parks the session as a shutdown does
    const store = await reopenTestStore(h.store);
    const app = createRegistryApp({ store, auth: (await import('../auth/types.js')).allowAll });
    const second = new TestClient(app);
    try {
      const status = await second.req('GET', location);
      assert.equal(status.status, 204);
      assert.equal(status.headers.get('range'), '0-119999');
      const res = await second.req('PATCH', location, {
        body: data.subarray(120_000),
        headers: { ...octets, 'Content-Range': `120000-${data.length - 1}` },
      });
      assert.equal(res.status, 202);
      assert.equal((await second.req('PUT', `${location}?digest=${digestOf(data)}`)).status, 201);
      assert.deepEqual(await pull('restart', digestOf(data), second), data);
    } finally {
      await app.close();
      await store.close();
    }
  });
});
