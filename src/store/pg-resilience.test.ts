import assert from 'node:assert/strict';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { after, before, test } from 'node:test';
import { isSlipwayError } from '../errors.js';
import { digestOf } from '../oci/digest.js';
import { PostgresMetadataStore } from './postgres-metadata.js';
import { startPostgres, type PostgresCluster } from './postgres-test-cluster.js';

/**
 * Lost database connections, injected by a TCP proxy between the store and a real
 * PostgreSQL (the fault PostgreSQL itself will not produce on cue): every open
 * connection cut, then the proxy refusing for a while. The store's statements and
 * transactions are retried on new connections; when the database stays away, the
 * error says so and names it; what was stored is intact once it is back.
 */

interface Proxy {
  port: number;
  /** Cuts every connection open now. */
  cutAll(): void;
  /** Refuses (closes at once) new connections while true. */
  refusing: boolean;
  close(): Promise<void>;
}

async function startProxy(target: number): Promise<Proxy> {
  const open = new Set<Socket>();
  const proxy: Proxy = {
    port: 0,
    refusing: false,
    cutAll: () => {
      for (const s of open) s.destroy();
      open.clear();
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
  const server: Server = createServer((client) => {
    if (proxy.refusing) return client.destroy();
    const upstream = connect(target, '127.0.0.1');
    open.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy.port = (server.address() as { port: number }).port;
  return proxy;
}

let pg: PostgresCluster;
let proxy: Proxy;
let url: string;
before(async () => {
  pg = await startPostgres();
  const direct = new URL(await pg.createDatabase());
  proxy = await startProxy(Number(direct.port));
  direct.port = String(proxy.port);
  url = direct.toString();
});
after(async () => {
  proxy?.cutAll();
  await proxy?.close();
  await pg?.stop();
});

const record = (n: number) => {
  const bytes = Buffer.from(`{"n":${n}}`);
  return {
    repository: 'team/app',
    digest: digestOf(bytes),
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    size: bytes.length,
    references: [],
    created: new Date().toISOString(),
  };
};

test('every connection cut: the next reads and writes go through on new connections', async () => {
  const meta = await PostgresMetadataStore.open(url);
  try {
    await meta.putManifest(record(1), ['v1']);
    proxy.cutAll();
    // Statements outside a transaction, and writes (transactions), both retried.
    assert.equal(await meta.resolveTag('team/app', 'v1'), record(1).digest);
    proxy.cutAll();
    await meta.putManifest(record(2), ['v2']);
    proxy.cutAll();
    const lease = await meta.createLease(`pid:${process.pid}@test`);
    await meta.releaseLease(lease);
    assert.deepEqual((await meta.listTags('team/app')).sort(), ['v1', 'v2']);
  } finally {
    await meta.close();
  }
});

test('the database away for good: a clear UNAVAILABLE error naming it; back, nothing lost', async () => {
  const meta = await PostgresMetadataStore.open(url);
  try {
    await meta.putManifest(record(3), ['v3']);
    proxy.refusing = true;
    proxy.cutAll();
    const started = Date.now();
    await assert.rejects(meta.putManifest(record(4), ['v4']), (err: unknown) => {
      assert.ok(isSlipwayError(err, 'UNAVAILABLE'), String(err));
      assert.match(
        (err as Error).message,
        /PostgreSQL database postgres:\/\/postgres@127\.0\.0\.1:\d+\/\w+ did not answer/,
      );
      assert.doesNotMatch((err as Error).message, /password/);
      return true;
    });
    assert.ok(Date.now() - started >= 2000, 'retried with backoff before giving up');
    proxy.refusing = false;
    assert.equal(await meta.resolveTag('team/app', 'v3'), record(3).digest);
    assert.equal(await meta.resolveTag('team/app', 'v4'), undefined, 'the failed write left nothing');
  } finally {
    proxy.refusing = false;
    await meta.close();
  }
});
