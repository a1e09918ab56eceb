import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../oci/digest.js';
import { LocalStore } from '../../store/local-store.js';
import { allowAll } from '../auth/types.js';
import { serveRegistry, type RunningRegistry } from './serve.js';

// Over a real socket on the filesystem store: the in-process tests (blobs.test.ts) never
// reach the path that pipes a file into the socket in 1 MiB reads, where a range that
// crosses a read boundary or a HEAD that leaks body bytes would go wrong.

const SIZE = 3 * (1 << 20) + 12_345;
const data = randomBytes(SIZE);
const digest = digestOf(data);
const empty = Buffer.alloc(0);
const emptyDigest = digestOf(empty);

let dir: string;
let store: LocalStore;
let registry: RunningRegistry;
let port: number;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function send(method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The raw bytes a server sends for one HEAD and then one GET on the same connection:
 * a HEAD that wrote any body would show it before the GET's status line.
 */
function headThenGet(headPath: string, headHeaders: string, getPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const text = Buffer.concat(chunks).toString('latin1');
      // The GET asks for the manifest-free /v2/ base: a small JSON body ends the exchange.
      if (/HTTP\/1\.1 [\s\S]*HTTP\/1\.1 200[\s\S]*\r\n\r\n\{\}$/.test(text)) {
        socket.end();
        resolve(text);
      }
    });
    socket.on('error', reject);
    socket.write(
      `HEAD ${headPath} HTTP/1.1\r\nHost: x\r\n${headHeaders}\r\n` + `GET ${getPath} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slipway-blob-ranges-'));
  store = await LocalStore.open(join(dir, 'home'));
  registry = await serveRegistry({ store, auth: allowAll, addr: '127.0.0.1:0' });
  port = Number(new URL(registry.url).port);
  for (const [bytes, d] of [
    [data, digest],
    [empty, emptyDigest],
  ] as const) {
    const res = await send('POST', `/v2/r/app/blobs/uploads/?digest=${d}`, {}, bytes);
    assert.equal(res.status, 201);
  }
});
after(async () => {
  agent.destroy();
  await registry.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const blob = `/v2/r/app/blobs/${digest}`;

describe('blob ranges and HEAD over a socket, filesystem store', () => {
  it('serves single ranges, including ones that cross a 1 MiB read, open-ended and suffix ranges', async () => {
    const mib = 1 << 20;
    const cases: [string, number, number][] = [
      ['bytes=0-0', 0, 0],
      [`bytes=${mib - 7}-${mib + 7}`, mib - 7, mib + 7],
      [`bytes=100-${2 * mib + 100}`, 100, 2 * mib + 100],
      [`bytes=${2 * mib + 1}-`, 2 * mib + 1, SIZE - 1],
      ['bytes=0-', 0, SIZE - 1],
      ['bytes=-1', SIZE - 1, SIZE - 1],
      [`bytes=-${mib + 3}`, SIZE - mib - 3, SIZE - 1],
      [`bytes=-${SIZE + 10}`, 0, SIZE - 1],
      [`bytes=${SIZE - 2}-${SIZE + 1000}`, SIZE - 2, SIZE - 1],
    ];
    for (const [range, start, end] of cases) {
      const res = await send('GET', blob, { Range: range });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${SIZE}`, range);
      assert.equal(res.headers['content-length'], String(end - start + 1), range);
      assert.equal(res.headers['docker-content-digest'], digest, range);
      assert.ok(res.body.equals(data.subarray(start, end + 1)), `${range}: the bytes of the range`);
    }
  });

  it('serves the whole blob without a Range, bit for bit', async () => {
    const res = await send('GET', blob);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(SIZE));
    assert.equal(res.headers['content-range'], undefined);
    assert.equal(digestOf(res.body), digest);
  });

  it('serves concurrent GETs bit for bit (reused read buffers never shared) and goes on after a client leaves mid-body', async () => {
    const get = (range?: string) =>
      new Promise<Buffer>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, path: blob, agent: false, headers: range ? { Range: range } : {} },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve(Buffer.concat(chunks)));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end();
      });
    const [a, b, c, d] = await Promise.all([get(), get(), get('bytes=1000-'), get()]);
    for (const body of [a!, b!, d!]) assert.equal(digestOf(body), digest);
    assert.ok(c!.equals(data.subarray(1000)));
    // A client that reads a little of the body and hangs up.
    await new Promise<void>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let got = 0;
      socket.on('data', (chunk: Buffer) => {
        got += chunk.length;
        if (got > 100_000) {
          socket.destroy();
          resolve();
        }
      });
      socket.on('error', reject);
      socket.write(`GET ${blob} HTTP/1.1\r\nHost: x\r\n\r\n`);
    });
    assert.equal(digestOf(await get()), digest, 'the next GET after the hang-up');
  });

  it('answers an unsatisfiable range with 416, Content-Range */size and an OCI error, and the connection goes on', async () => {
    for (const range of [`bytes=${SIZE}-`, `bytes=${SIZE}-${SIZE + 10}`, 'bytes=10-5', 'bytes=-0']) {
      const res = await send('GET', blob, { Range: range });
      assert.equal(res.status, 416, range);
      assert.equal(res.headers['content-range'], `bytes */${SIZE}`, range);
      const body = JSON.parse(res.body.toString('utf8')) as { errors: { code: string }[] };
      assert.equal(body.errors[0]?.code, 'RANGE_INVALID', range);
      const next = await send('GET', blob, { Range: 'bytes=5-9' });
      assert.ok(next.body.equals(data.subarray(5, 10)), `${range}: the next request on the connection`);
    }
    const none = await send('GET', `/v2/r/app/blobs/${emptyDigest}`, { Range: 'bytes=0-' });
    assert.equal(none.status, 416, 'no byte of an empty blob can be asked for');
    assert.equal(none.headers['content-range'], 'bytes */0');
  });

  it('answers HEAD with Content-Length and Docker-Content-Digest and writes no body', async () => {
    const text = await headThenGet(blob, '', '/v2/');
    const [head, rest] = text.split('\r\n\r\n', 2) as [string, string];
    assert.match(head, /^HTTP\/1\.1 200 /);
    assert.match(head, new RegExp(`\r\ncontent-length: ${SIZE}\r\n`, 'i'));
    assert.match(head, new RegExp(`\r\ndocker-content-digest: ${digest}(\r\n|$)`, 'i'));
    assert.match(rest, /^HTTP\/1\.1 200 /, 'the next response starts right after the HEAD headers');
  });

  it('answers HEAD with a Range as the GET would, without the bytes', async () => {
    const ok = await headThenGet(blob, 'Range: bytes=10-19\r\n', '/v2/');
    const [head, rest] = ok.split('\r\n\r\n', 2) as [string, string];
    assert.match(head, /^HTTP\/1\.1 206 /);
    assert.match(head, /\r\ncontent-length: 10(\r\n|$)/i);
    assert.match(head, new RegExp(`\r\ncontent-range: bytes 10-19/${SIZE}(\r\n|$)`, 'i'));
    assert.match(rest, /^HTTP\/1\.1 200 /);

    const bad = await headThenGet(blob, `Range: bytes=${SIZE}-\r\n`, '/v2/');
    const [badHead, badRest] = bad.split('\r\n\r\n', 2) as [string, string];
    assert.match(badHead, /^HTTP\/1\.1 416 /);
    assert.match(badHead, new RegExp(`\r\ncontent-range: bytes \\*/${SIZE}(\r\n|$)`, 'i'));
    assert.match(badRest, /^HTTP\/1\.1 200 /, 'no error body after a HEAD');
  });

  it('answers HEAD on an unknown blob with 404 and no body, and HEAD on an empty blob with length 0', async () => {
    const unknown = `/v2/r/app/blobs/${digestOf(Buffer.from('not pushed'))}`;
    const [head, rest] = (await headThenGet(unknown, '', '/v2/')).split('\r\n\r\n', 2) as [string, string];
    assert.match(head, /^HTTP\/1\.1 404 /);
    assert.match(rest, /^HTTP\/1\.1 200 /);

    const res = await send('HEAD', `/v2/r/app/blobs/${emptyDigest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], '0');
    assert.equal(res.headers['docker-content-digest'], emptyDigest);
  });
});
