import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { after, before, describe, it } from 'node:test';
import { isSlipwayError } from '../errors.js';
import { digestAlgorithm, digestHex, digestOf } from '../oci/digest.js';
import { describeBlobStore } from './blob-store-contract.js';
import { LocalStore } from './local-store.js';
import { PostgresMetadataStore } from './postgres-metadata.js';
import { startPostgres, type PostgresCluster } from './postgres-test-cluster.js';
import { parseS3Url, S3BlobStore } from './s3-blob-store.js';
import { startS3, type S3TestServer } from './s3-test-server.js';

/**
 * The S3 blob store against a real S3-compatible server (s3rver, see s3-test-server.ts
 * for what it does not check) with its uploads' state in a real PostgreSQL: the blob
 * store contract, uploads that keep S3's part rules, a 503 storm injected by a proxy
 * (the fault the server will not produce on cue), and LocalStore on PostgreSQL + S3.
 */

let s3: S3TestServer;
let pg: PostgresCluster;
let prefixes = 0;

before(async () => {
  [s3, pg] = await Promise.all([startS3(), startPostgres()]);
});
after(async () => {
  await s3?.stop();
  await pg?.stop();
});

describeBlobStore('S3BlobStore', async () => {
  const database = await pg.createDatabase();
  const prefix = `contract-${++prefixes}`;
  const metas: PostgresMetadataStore[] = [];
  const open = async () => {
    const meta = await PostgresMetadataStore.open(database);
    metas.push(meta);
    return new S3BlobStore(parseS3Url(s3.url(prefix)), meta);
  };
  const store = await open();
  return {
    store,
    reopen: open,
    corrupt: async (digest, bytes) => {
      const client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' });
      await client.send(
        new PutObjectCommand({
          Bucket: s3.bucket,
          Key: `${prefix}/blobs/${digestAlgorithm(digest)}/${digestHex(digest)}`,
          Body: bytes,
        }),
      );
      client.destroy();
    },
    close: async () => {
      for (const m of metas) await m.close();
    },
  };
});

describe('S3BlobStore on a real S3 server', () => {
  it('sends parts of 8 MiB and a smaller last one; a resumed upload keeps its tail apart, not as a short part', async () => {
    const meta = await PostgresMetadataStore.open(await pg.createDatabase());
    try {
      const store = new S3BlobStore(parseS3Url(s3.url('parts')), meta);
      const data = randomBytes(19 * 1024 * 1024 + 7);
      const w = await store.writer();
      await w.write(data.subarray(0, 3 * 1024 * 1024));
      await w.close(); // a registry request ends with 3 MiB: they go to the tail, not into a part
      let state = await meta.getUpload(w.id);
      assert.deepEqual(state?.parts, []);
      assert.equal(state?.tail, 3 * 1024 * 1024);
      const resumed = (await store.resume(w.id))!;
      await resumed.write(data.subarray(3 * 1024 * 1024));
      await resumed.checkpoint!();
      state = await meta.getUpload(w.id);
      assert.deepEqual(
        state?.parts.map((p) => p.size),
        [8 << 20, 8 << 20],
        'every part but the last is 8 MiB (S3 refuses a non-last part under 5 MiB)',
      );
      assert.equal(state?.tail, data.length - (16 << 20));
      const info = await resumed.commit({ digest: digestOf(data) });
      assert.deepEqual(await buffer(await store.open(info.digest)), data);
      assert.equal(await meta.getUpload(w.id), undefined);
    } finally {
      await meta.close();
    }
  });

  it('a 503 storm is ridden out with backoff; one that does not end is a clear UNAVAILABLE error, nothing stored', async () => {
    const failing = { left: 0 };
    const proxy = await faultProxy(s3.endpoint, failing);
    const meta = await PostgresMetadataStore.open(await pg.createDatabase());
    try {
      const store = new S3BlobStore(parseS3Url(s3.url('storm', proxy.url)), meta);
      const data = randomBytes(300_000);
      failing.left = 4; // the next four requests answer 503 SlowDown
      const w = await store.writer();
      await w.write(data);
      const info = await w.commit({ digest: digestOf(data) });
      assert.equal(failing.left, 0, 'the 503s were met and retried');
      assert.deepEqual(await store.read(info.digest), data);

      failing.left = 1_000_000;
      const other = randomBytes(1000);
      const w2 = await store.writer();
      await w2.write(other);
      await assert.rejects(w2.commit({ digest: digestOf(other) }), (err: unknown) => {
        assert.ok(isSlipwayError(err, 'UNAVAILABLE'), String(err));
        assert.match(
          (err as Error).message,
          /object store s3:\/\/slipway-test[\w-]*\/storm\/ at http:\/\/127\.0\.0\.1:\d+ failed/,
        );
        return true;
      });
      failing.left = 0;
      assert.equal(await store.stat(digestOf(other)), undefined);
      assert.deepEqual(await store.read(info.digest), data, 'what was stored before is intact');
    } finally {
      await meta.close();
      await proxy.close();
    }
  });

  it('LocalStore on PostgreSQL and S3: an image written, kept by GC while tagged, verified', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-s3-local-'));
    const store = await LocalStore.open(dir, { database: await pg.createDatabase(), blobs: s3.url('local') });
    try {
      const layer = randomBytes(50_000);
      const config = Buffer.from('{"rootfs":{"type":"layers","diff_ids":[]}}');
      const manifest = await store.withLease(async (lease) => {
        const l = await lease.putBytes(layer);
        const c = await lease.putBytes(config);
        return Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: c.digest, size: c.size },
            layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size: l.size }],
          }),
        );
      });
      await store.withLease((lease) =>
        store.putManifest('team/app', manifest, 'application/vnd.oci.image.manifest.v1+json', ['v1'], lease),
      );
      const stray = await store.withLease((lease) => lease.putBytes(randomBytes(10)));
      const gc = await store.gc({ linkGraceMs: 0 });
      assert.equal(gc.blobsRemoved, 1, 'only the blob nothing needs');
      assert.equal(await store.blobs.stat(stray.digest), undefined);
      assert.deepEqual(await store.blobs.read(digestOf(layer), 1 << 20), layer);
      const report = await store.verify();
      assert.deepEqual(report.problems, []);
      assert.ok(report.blobsChecked >= 3);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** An HTTP proxy to the S3 server that answers 503 SlowDown while `failing.left` > 0 (counting down). */
async function faultProxy(
  endpoint: string,
  failing: { left: number },
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (failing.left > 0) {
      failing.left--;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end(
        '<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>',
      );
      return;
    }
    const up = request(new URL(req.url ?? '/', endpoint), { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
