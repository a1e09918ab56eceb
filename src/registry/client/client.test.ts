import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { importRootfs } from '../../copy/import-rootfs.js';
import { isSlipwayError } from '../../errors.js';
import { digestOf, type Digest } from '../../oci/digest.js';
import { serveRegistry, type RunningRegistry } from '../../server/registry/serve.js';
import { allowAll } from '../../server/auth/types.js';
import { LocalStore } from '../../store/local-store.js';
import { RegistryClient } from './client.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const ACCEPT = [OCI_MANIFEST, 'application/vnd.oci.image.index.v1+json'];

async function drain(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('RegistryClient against the Slipway registry', () => {
  let dir: string;
  let store: LocalStore;
  let registry: RunningRegistry;
  let client: RegistryClient;
  let manifestDigest: Digest;
  const uploads: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-client-'));
    store = await LocalStore.open(join(dir, 'home'));
    const tree = join(dir, 'rootfs');
    await mkdir(join(tree, 'etc'), { recursive: true });
    await writeFile(join(tree, 'etc', 'hello.txt'), 'hello from the registry client test\n');
    manifestDigest = (await importRootfs(store, tree, 'team/app', 'v1')).digest as Digest;
    registry = await serveRegistry({
      store,
      auth: allowAll,
      addr: '127.0.0.1:0',
      onEvent: (e) => {
        if (e.type === 'upload') uploads.push(e.action);
      },
    });
    client = new RegistryClient(new URL(registry.url).host, { backoffMs: 10 });
  });
  after(async () => {
    await registry.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('pulls a manifest by tag and by digest, and its blobs verified', async () => {
    const byTag = await client.getManifest('team/app', 'v1', ACCEPT);
    assert.equal(byTag.digest, manifestDigest);
    assert.equal(byTag.mediaType, OCI_MANIFEST);
    const byDigest = await client.getManifest('team/app', manifestDigest, ACCEPT);
    assert.deepEqual(byDigest.bytes, byTag.bytes);
    const head = await client.headManifest('team/app', 'v1', ACCEPT);
    assert.equal(head?.digest, manifestDigest);
    assert.equal(await client.headManifest('team/app', 'nope', ACCEPT), undefined);
    const manifest = JSON.parse(byTag.bytes.toString('utf8')) as {
      config: { digest: Digest; size: number };
      layers: { digest: Digest; size: number }[];
    };
    const layer = manifest.layers[0]!;
    const bytes = await drain(await client.openBlob('team/app', layer.digest, layer.size));
    assert.equal(digestOf(bytes), layer.digest);
    assert.equal(bytes.length, layer.size);
    assert.equal(await client.hasBlob('team/app', layer.digest), true);
    assert.equal(await client.hasBlob('team/app', digestOf('absent')), false);
  });

  test('an unknown manifest is a SlipwayError carrying the registry code', async () => {
    await assert.rejects(client.getManifest('team/app', 'missing', ACCEPT), (err: unknown) => {
      assert.ok(isSlipwayError(err, 'MANIFEST_UNKNOWN'), String(err));
      assert.match((err as Error).message, /^MANIFEST_UNKNOWN: /);
      return true;
    });
  });

  test('pushes a small blob (monolithic), a large one (chunked) and a manifest, and reads them back', async () => {
    const small = randomBytes(1000);
    const large = randomBytes(9 * 1024 * 1024 + 123);
    const smallDigest = digestOf(small);
    const largeDigest = digestOf(large);
    const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const configDigest = digestOf(config);
    await client.putBlob('team/pushed', Readable.from([small]), { digest: smallDigest, size: small.length });
    await client.putBlob('team/pushed', Readable.from([config]), { digest: configDigest, size: config.length });
    // in pieces, as a file stream would deliver it
    const pieces = Array.from({ length: Math.ceil(large.length / 65536) }, (_, i) =>
      large.subarray(i * 65536, (i + 1) * 65536),
    );
    await client.putBlob('team/pushed', Readable.from(pieces), { digest: largeDigest, size: large.length });
    assert.deepEqual(await drain(await client.openBlob('team/pushed', smallDigest)), small);
    assert.equal(
      createHash('sha256')
        .update(await drain(await client.openBlob('team/pushed', largeDigest)))
        .digest('hex'),
      largeDigest.slice(7),
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
        layers: [
          { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: smallDigest, size: small.length },
          { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: largeDigest, size: large.length },
        ],
      }),
    );
    const pushed = await client.putManifest('team/pushed', 'v2', manifest, OCI_MANIFEST);
    assert.equal(pushed, digestOf(manifest));
    const back = await client.getManifest('team/pushed', 'v2', ACCEPT);
    assert.deepEqual(back.bytes, manifest);
    assert.deepEqual(await client.listTags('team/pushed'), ['v2']);
  });

  test('small blobs go up in one POST (?digest=), large ones in PATCH chunks of chunkSize', async () => {
    // the registry's requests, seen through a recording proxy
    const calls: string[] = [];
    const target = new URL(registry.url);
    const proxy = createServer((req, res) => {
      calls.push(`${req.method} ${req.url!.includes('/uploads/') ? 'upload' : 'other'}`);
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode!, up.headers);
          up.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    after(() => proxy.close());
    const counting = new RegistryClient(`127.0.0.1:${(proxy.address() as AddressInfo).port}`, {
      chunkThreshold: 64 * 1024,
      chunkSize: 40 * 1024,
    });
    const small = randomBytes(10 * 1024);
    await counting.putBlob('team/counted', Readable.from([small]), { digest: digestOf(small), size: small.length });
    assert.deepEqual(calls, ['POST upload']);
    assert.deepEqual(await drain(await counting.openBlob('team/counted', digestOf(small))), small);
    calls.length = 0;
    const large = randomBytes(100 * 1024);
    await counting.putBlob('team/counted', Readable.from([large.subarray(0, 30_000), large.subarray(30_000)]), {
      digest: digestOf(large),
      size: large.length,
    });
    assert.deepEqual(calls, ['POST upload', 'PATCH upload', 'PATCH upload', 'PATCH upload', 'PUT upload']);
    assert.deepEqual(await drain(await counting.openBlob('team/counted', digestOf(large))), large);
    // By default a large blob goes in one PATCH, whatever its size.
    const whole = new RegistryClient(`127.0.0.1:${(proxy.address() as AddressInfo).port}`, {
      chunkThreshold: 64 * 1024,
    });
    calls.length = 0;
    const other = randomBytes(300 * 1024);
    await whole.putBlob('team/counted', Readable.from([other.subarray(0, 70_000), other.subarray(70_000)]), {
      digest: digestOf(other),
      size: other.length,
    });
    assert.deepEqual(calls, ['POST upload', 'PATCH upload', 'PUT upload']);
    assert.deepEqual(await drain(await whole.openBlob('team/counted', digestOf(other))), other);
    // A source longer than its declared size: the declared bytes go up, the excess is a SIZE_MISMATCH.
    await assert.rejects(
      whole.putBlob('team/counted', Readable.from([other, Buffer.from('more')]), {
        digest: digestOf(other),
        size: other.length,
      }),
      (err: unknown) => isSlipwayError(err, 'SIZE_MISMATCH'),
    );
  });

  test('a blob whose bytes do not match the digest it claims is refused', async () => {
    const bytes = Buffer.from('some bytes');
    await assert.rejects(
      client.putBlob('team/pushed', Readable.from([bytes]), { digest: digestOf('other bytes'), size: bytes.length }),
      (err: unknown) => isSlipwayError(err) && /digest/i.test((err as Error).message),
    );
    assert.equal(await client.hasBlob('team/pushed', digestOf('other bytes')), false);
  });

  test('mounts a blob from another repository, lists tags page by page', async () => {
    const manifest = JSON.parse((await client.getManifest('team/app', 'v1', ACCEPT)).bytes.toString('utf8')) as {
      layers: { digest: Digest }[];
    };
    assert.equal(await client.mountBlob('team/mounted', manifest.layers[0]!.digest, 'team/app'), true);
    assert.equal(await client.hasBlob('team/mounted', manifest.layers[0]!.digest), true);
    const raw = (await client.getManifest('team/app', 'v1', ACCEPT)).bytes;
    for (const tag of ['a', 'b', 'c']) await client.putManifest('team/app', tag, raw, OCI_MANIFEST);
    assert.deepEqual((await client.listTags('team/app', 2)).sort(), ['a', 'b', 'c', 'v1']);
  });

  test('an automatic mount links a blob held elsewhere; a mount that fails leaves the session the upload then uses', async () => {
    const manifest = JSON.parse((await client.getManifest('team/app', 'v1', ACCEPT)).bytes.toString('utf8')) as {
      layers: { digest: Digest }[];
    };
    assert.equal(await client.mountBlob('team/auto', manifest.layers[0]!.digest), true);
    assert.equal(await client.hasBlob('team/auto', manifest.layers[0]!.digest), true);
    const fresh = Buffer.from('a blob no repository holds yet');
    uploads.length = 0;
    assert.equal(await client.mountBlob('team/auto', digestOf(fresh)), false);
    assert.deepEqual(uploads, ['started'], 'the failed mount opened an upload session');
    await client.putBlob('team/auto', Readable.from([fresh]), { digest: digestOf(fresh), size: fresh.length });
    assert.deepEqual(uploads, ['started', 'completed'], 'the upload went by that session: no second POST, no cancel');
    assert.equal(await client.hasBlob('team/auto', digestOf(fresh)), true);
  });
});

describe('RegistryClient against a lying server', () => {
  let server: Server;
  let client: RegistryClient;
  const real = Buffer.from('the real bytes');
  const digest = digestOf(real);
  let hits = 0;
  const big = randomBytes(300_000);
  const bigDigest = digestOf(big);

  before(async () => {
    server = createServer((req, res) => {
      hits++;
      if (req.url === `/v2/team/cut/blobs/${bigDigest}`) {
        const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
        if (range) {
          const start = Number(range[1]);
          res.writeHead(206, {
            'Content-Length': String(big.length - start),
            'Content-Range': `bytes ${start}-${big.length - 1}/${big.length}`,
          });
          res.end(big.subarray(start));
        } else {
          res.writeHead(200, { 'Content-Length': String(big.length) });
          res.write(big.subarray(0, 100_000), () => setTimeout(() => req.socket.destroy(), 20));
        }
      } else if (req.url?.startsWith('/v2/team/app/blobs/')) {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': '14' });
        res.end('the fake bytes');
      } else if (req.url === '/v2/team/app/manifests/v1' || req.url === `/v2/team/app/manifests/${digest}`) {
        res.writeHead(200, { 'Content-Type': OCI_MANIFEST, 'Docker-Content-Digest': digest });
        res.end('{"not":"it"}');
      } else if (req.url === '/v2/team/dropped/manifests/v1') {
        if (hits % 2 === 1) req.socket.destroy();
        else {
          res.writeHead(200, { 'Content-Type': OCI_MANIFEST });
          res.end('{"ok":1}');
        }
      } else if (req.url === '/v2/team/down/manifests/v1') {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end('{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}');
      } else if (req.url === '/v2/team/flaky/manifests/v1') {
        if (hits % 2 === 1) {
          res.writeHead(503);
          res.end();
        } else {
          res.writeHead(200, { 'Content-Type': OCI_MANIFEST });
          res.end('{}');
        }
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new RegistryClient(`127.0.0.1:${(server.address() as AddressInfo).port}`, { backoffMs: 5 });
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('wrong blob bytes fail the stream with DIGEST_MISMATCH', async () => {
    const stream = await client.openBlob('team/app', digest);
    await assert.rejects(drain(stream), (err: unknown) => isSlipwayError(err, 'DIGEST_MISMATCH'));
  });

  test('a manifest that does not match Docker-Content-Digest is refused', async () => {
    await assert.rejects(client.getManifest('team/app', 'v1', ACCEPT), (err: unknown) =>
      isSlipwayError(err, 'DIGEST_MISMATCH'),
    );
    await assert.rejects(client.getManifest('team/app', digest, ACCEPT), (err: unknown) =>
      isSlipwayError(err, 'DIGEST_MISMATCH'),
    );
  });

  test('a 503 is retried', async () => {
    hits = 0;
    const m = await client.getManifest('team/flaky', 'v1', ACCEPT);
    assert.equal(m.bytes.toString(), '{}');
    assert.equal(hits, 2);
  });

  test('a dropped connection is retried; a lasting 500 ends with the registry message', async () => {
    hits = 0;
    const m = await client.getManifest('team/dropped', 'v1', ACCEPT);
    assert.equal(m.bytes.toString(), '{"ok":1}');
    assert.equal(hits, 2);
    hits = 0;
    await assert.rejects(client.getManifest('team/down', 'v1', ACCEPT), (err: unknown) => {
      assert.ok(isSlipwayError(err, 'IO_ERROR'));
      assert.match((err as Error).message, /^UNKNOWN: disk on fire/);
      return true;
    });
    assert.equal(hits, 4, 'four attempts');
  });

  test('a connection dropped in the middle of a blob is resumed with a Range request', async () => {
    hits = 0;
    const bytes = await drain(await client.openBlob('team/cut', bigDigest, big.length));
    assert.deepEqual(bytes, big);
    assert.equal(hits, 2);
  });
});
