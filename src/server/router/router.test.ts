import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { RoutingTable, type RoutingTableRow } from '../../platform/run/routing-table.js';
import type { Instance } from '../../platform/workload.js';
import { type RouterLogEntry, type RunningRouter, startRouter } from './router.js';

const NO_METADATA = { labels: {}, annotations: {} };

// Real node:http backends on 127.0.0.1 behind a real router; requests with node:http
// (fetch may not set Host).

interface TestBackend {
  name: string;
  port: number;
  hits: number;
  /** Stops it the hard way: listener closed, open connections cut. */
  kill(): Promise<void>;
}

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

async function backend(
  name: string,
  handler?: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  onUpgrade?: (req: http.IncomingMessage, socket: Socket, head: Buffer) => void,
): Promise<TestBackend> {
  const b = { name, port: 0, hits: 0 } as TestBackend;
  const server = http.createServer((req, res) => {
    b.hits++;
    if (handler) return handler(req, res);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name });
      res.end(JSON.stringify({ name, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() }));
    });
  });
  if (onUpgrade) server.on('upgrade', onUpgrade);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  b.port = (server.address() as AddressInfo).port;
  let dead = false;
  b.kill = async () => {
    if (dead) return;
    dead = true;
    const closed = new Promise((r) => server.close(r));
    server.closeAllConnections();
    await closed;
  };
  closers.push(b.kill);
  return b;
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const b = await backend('dead');
  await b.kill();
  return b.port;
}

let seq = 0;
function inst(appGuid: string, port: number, processType = 'web', state: Instance['state'] = 'RUNNING'): Instance {
  seq++;
  return {
    guid: `inst-${seq}`,
    appGuid,
    processGuid: `proc-${appGuid}`,
    processType,
    index: seq,
    dropletGuid: 'droplet',
    host: 'test',
    containerName: `c-${seq}`,
    port,
    state,
    since: '',
    crashCount: 0,
  };
}

function row(
  host: string,
  domain: string,
  path: string,
  dests: { app: string; type?: string; port?: number | null }[],
  internal = false,
): RoutingTableRow {
  seq++;
  return {
    route: {
      guid: `route-${seq}`,
      host,
      path,
      domainGuid: domain,
      spaceGuid: 'space',
      createdAt: '',
      updatedAt: '',
      metadata: NO_METADATA,
    },
    domain: { guid: domain, name: domain, internal, createdAt: '', updatedAt: '', metadata: NO_METADATA },
    destinations: dests.map((d, i) => ({
      guid: `dest-${seq}-${i}`,
      routeGuid: `route-${seq}`,
      appGuid: d.app,
      processType: d.type ?? 'web',
      port: d.port ?? null,
      protocol: 'http1',
    })),
  };
}

function byApp(instances: Instance[]): Map<string, Instance[]> {
  const m = new Map<string, Instance[]>();
  for (const i of instances) m.set(i.appGuid, [...(m.get(i.appGuid) ?? []), i]);
  return m;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
closers.push(async () => agent.destroy());

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(
  router: RunningRouter,
  host: string,
  path = '/',
  o: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string | Readable } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: router.port, path, method: o.method ?? 'GET', headers: { host, ...o.headers }, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (o.body instanceof Readable) o.body.pipe(req);
    else req.end(o.body);
  });
}

async function router(table: RoutingTable, extra: { requestTimeoutMs?: number; logs?: RouterLogEntry[] } = {}) {
  const r = await startRouter({
    addr: '127.0.0.1:0',
    table,
    requestTimeoutMs: extra.requestTimeoutMs,
    onLog: (e) => extra.logs?.push(e),
  });
  closers.push(() => r.close());
  return r;
}

describe('RoutingTable', () => {
  test('hosts case-insensitively without port, longest path on a segment boundary, wildcards, process types', async () => {
    const t = new RoutingTable();
    await t.refreshRoutes({
      routingTable: async () => [
        row('app', 'example.com', '', [{ app: 'a' }]),
        row('app', 'example.com', '/foo', [{ app: 'b' }]),
        row('app', 'example.com', '/foo/bar', [{ app: 'c' }]),
        row('', 'apex.test', '/api', [{ app: 'a' }]),
        row('*', 'wild.test', '', [{ app: 'b' }]),
        row('exact', 'wild.test', '', [{ app: 'c' }]),
        row('int', 'internal.test', '', [{ app: 'a' }], true),
        row('w', 'example.com', '', [{ app: 'a', type: 'worker' }]),
        row('p', 'example.com', '', [{ app: 'a', port: 9000 }]),
      ],
    });
    t.setInstances(
      byApp([inst('a', 1), inst('b', 2), inst('c', 3), inst('a', 4, 'worker'), inst('a', 5, 'web', 'CRASHED')]),
    );
    const portOf = (host: string, path: string) => {
      const r = t.lookup(host, path);
      return r.kind === 'ok' ? r.backends.map((b) => b.port) : r.kind;
    };
    assert.deepEqual(portOf('APP.Example.COM:8080', '/'), [1]);
    assert.deepEqual(portOf('app.example.com', '/foo'), [2]);
    assert.deepEqual(portOf('app.example.com', '/foo/'), [2]);
    assert.deepEqual(portOf('app.example.com', '/FOO/x?y=1'), [2]);
    assert.deepEqual(portOf('app.example.com', '/foobar'), [1]);
    assert.deepEqual(portOf('app.example.com', '/foo?q'), [2]);
    assert.deepEqual(portOf('app.example.com', '/foo/bar/baz'), [3]);
    assert.deepEqual(portOf('apex.test', '/api/v1'), [1]);
    assert.equal(portOf('apex.test', '/'), 'none');
    assert.deepEqual(portOf('any.wild.test', '/'), [2]);
    assert.deepEqual(portOf('a.b.wild.test', '/'), [2]);
    assert.deepEqual(portOf('exact.wild.test', '/'), [3]);
    assert.equal(portOf('int.internal.test', '/'), 'none');
    assert.deepEqual(portOf('w.example.com', '/'), [4]);
    assert.equal(portOf('p.example.com', '/'), 'unavailable');
    assert.equal(portOf('nope.example.com', '/'), 'none');
  });

  test('rotates, skips a failed backend for a while, and offers all when all failed', () => {
    let now = 1000;
    const t = new RoutingTable({ failedForMs: 5000, now: () => now });
    t.setRoutes([row('app', 'x.test', '', [{ app: 'a' }])]);
    const [i1, i2, i3] = [inst('a', 1), inst('a', 2), inst('a', 3)];
    t.setInstances(byApp([i1, i2, i3]));
    const first = () => {
      const r = t.lookup('app.x.test', '/');
      assert.equal(r.kind, 'ok');
      return r.kind === 'ok' ? r.backends.map((b) => b.port) : [];
    };
    assert.deepEqual(
      [first(), first(), first(), first()],
      [
        [1, 2, 3],
        [2, 3, 1],
        [3, 1, 2],
        [1, 2, 3],
      ],
    );
    t.markFailed(i2.guid);
    assert.deepEqual(first().sort(), [1, 3]);
    now += 5001;
    assert.deepEqual(first().sort(), [1, 2, 3]);
    for (const i of [i1, i2, i3]) t.markFailed(i.guid);
    assert.deepEqual(first().sort(), [1, 2, 3]);
  });
});

describe('router', () => {
  test('routes by host and by path, and says so in gorouter words when it cannot', async () => {
    const [a, b] = [await backend('a'), await backend('b')];
    const t = new RoutingTable();
    t.setRoutes([
      row('one', 'apps.test', '', [{ app: 'a' }]),
      row('one', 'apps.test', '/b', [{ app: 'b' }]),
      row('two', 'apps.test', '', [{ app: 'b' }]),
      row('idle', 'apps.test', '', [{ app: 'stopped' }]),
    ]);
    t.setInstances(byApp([inst('a', a.port), inst('b', b.port)]));
    const r = await router(t);
    const name = async (host: string, path: string) => JSON.parse((await get(r, host, path)).body).name;
    assert.equal(await name('ONE.apps.test:80', '/'), 'a');
    assert.equal(await name('one.apps.test', '/b/c'), 'b');
    assert.equal(await name('one.apps.test', '/bc'), 'a');
    assert.equal(await name('two.apps.test', '/b'), 'b');
    const missing = await get(r, 'nope.apps.test:8080', '/x');
    assert.equal(missing.status, 404);
    assert.equal(missing.body, "404 Not Found: Requested route ('nope.apps.test') does not exist.\n");
    assert.equal(missing.headers['x-cf-routererror'], 'unknown_route');
    const idle = await get(r, 'idle.apps.test');
    assert.equal(idle.status, 503);
    assert.equal(
      idle.body,
      "503 Service Unavailable: Requested route ('idle.apps.test') has no available endpoints.\n",
    );
    assert.equal(idle.headers['x-cf-routererror'], 'no_endpoints');
  });

  test('spreads requests round robin over three backends', async () => {
    const bs = [await backend('r1'), await backend('r2'), await backend('r3')];
    const t = new RoutingTable();
    t.setRoutes([row('rr', 'apps.test', '', [{ app: 'rr' }])]);
    t.setInstances(byApp(bs.map((b) => inst('rr', b.port))));
    const r = await router(t);
    for (let i = 0; i < 30; i++) assert.equal((await get(r, 'rr.apps.test')).status, 200);
    assert.deepEqual(
      bs.map((b) => b.hits),
      [10, 10, 10],
    );
  });

  test('502 when every backend fails; a refused backend is skipped and marked failed', async () => {
    const t = new RoutingTable();
    t.setRoutes([row('down', 'apps.test', '', [{ app: 'down' }])]);
    t.setInstances(byApp([inst('down', await deadPort()), inst('down', await deadPort())]));
    const logs: RouterLogEntry[] = [];
    const r = await router(t, { logs });
    const res = await get(r, 'down.apps.test');
    assert.equal(res.status, 502);
    assert.equal(res.body, '502 Bad Gateway: Registered endpoint failed to handle the request.\n');
    assert.equal(res.headers['x-cf-routererror'], 'endpoint_failure');
    assert.equal(logs.at(-1)?.attempts, 2);
    assert.match(logs.at(-1)?.error ?? '', /ECONNREFUSED/);
  });

  test('retries the next backend: no failed request while a backend is refused, then killed under load', async () => {
    const bs = [await backend('k1'), await backend('k2'), await backend('k3')];
    const t = new RoutingTable();
    t.setRoutes([row('kill', 'apps.test', '', [{ app: 'kill' }])]);
    const instances = [...bs.map((b) => inst('kill', b.port)), inst('kill', await deadPort())];
    t.setInstances(byApp(instances));
    const r = await router(t);
    let done = 0;
    const statuses: number[] = [];
    const worker = async () => {
      while (done < 600) {
        done++;
        if (done === 150) await bs[1]!.kill();
        statuses.push((await get(r, 'kill.apps.test', `/n${done}`)).status);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    assert.equal(statuses.length, 600);
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
    );
    assert.ok(bs[0]!.hits > 100 && bs[2]!.hits > 100, `hits ${bs.map((b) => b.hits)}`);
  });

  test('a request body goes again to the next backend when the first refuses the connection', async () => {
    const alive = await backend('alive');
    // failedForMs 0: the dead one stays in the rotation, first for requests 1 and 3.
    const t = new RoutingTable({ failedForMs: 0 });
    t.setRoutes([row('body', 'apps.test', '', [{ app: 'body' }])]);
    t.setInstances(byApp([inst('body', await deadPort()), inst('body', alive.port)]));
    const logs: RouterLogEntry[] = [];
    const r = await router(t, { logs });
    // A large body too: a refused connection took none of it.
    for (const size of [1000, 1000, 1024 * 1024, 1024 * 1024]) {
      const posted = await get(r, 'body.apps.test', '/', { method: 'POST', body: 'x'.repeat(size) });
      assert.equal(posted.status, 200);
      assert.equal(JSON.parse(posted.body).body.length, size);
    }
    assert.equal(alive.hits, 4);
    assert.deepEqual(
      logs.map((l) => l.attempts),
      [2, 1, 2, 1],
    );
  });

  test('a connection broken before the answer: retried while the body is replayable (64 KiB), then 502', async () => {
    const breaker = await backend('breaker', (req) => {
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
        if (n >= 200_000) req.socket.destroy();
      });
      req.on('end', () => req.socket.destroy());
    });
    const alive = await backend('alive');
    const t = new RoutingTable({ failedForMs: 0 });
    t.setRoutes([row('brk', 'apps.test', '', [{ app: 'brk' }])]);
    t.setInstances(byApp([inst('brk', breaker.port), inst('brk', alive.port)]));
    const r = await router(t);
    const put = (size: number) => get(r, 'brk.apps.test', '/', { method: 'PUT', body: 'y'.repeat(size) });
    const small = await put(10_000); // breaker first, then alive
    assert.equal(small.status, 200);
    assert.equal(JSON.parse(small.body).body.length, 10_000);
    assert.equal((await put(10)).status, 200); // alive first
    const large = await put(1024 * 1024); // breaker first: 200 kB sent, too late to send again
    assert.equal(large.status, 502);
    assert.equal(large.headers['x-cf-routererror'], 'endpoint_failure');
    assert.equal(alive.hits, 2);
  });

  test('X-Forwarded-For, X-Forwarded-Proto, X-Vcap-Request-Id, X-Request-Start; hop-by-hop fields dropped', async () => {
    const b = await backend('h', (req, res) => {
      res.writeHead(200, { connection: 'keep-alive, x-hop', 'x-hop': 'secret', 'x-end': 'kept' });
      res.end(JSON.stringify(req.headers));
    });
    const t = new RoutingTable();
    t.setRoutes([row('h', 'apps.test', '', [{ app: 'h' }])]);
    t.setInstances(byApp([inst('h', b.port)]));
    const r = await router(t);
    const plain = await get(r, 'h.apps.test', '/', {
      headers: { connection: 'keep-alive, x-private', 'x-private': '1' },
    });
    const seen = JSON.parse(plain.body) as Record<string, string>;
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(seen['x-forwarded-proto'], 'http');
    assert.equal(seen['host'], 'h.apps.test');
    assert.match(seen['x-vcap-request-id']!, /^[0-9a-f-]{36}$/);
    assert.equal(plain.headers['x-vcap-request-id'], seen['x-vcap-request-id']);
    assert.ok(Math.abs(Number(seen['x-request-start']) - Date.now()) < 10_000);
    assert.equal(seen['x-private'], undefined);
    assert.equal(plain.headers['x-hop'], undefined);
    assert.equal(plain.headers['x-end'], 'kept');

    const proxied = await get(r, 'h.apps.test', '/', {
      headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-vcap-request-id': 'abc-123' },
    });
    const seen2 = JSON.parse(proxied.body) as Record<string, string>;
    assert.equal(seen2['x-forwarded-for'], '203.0.113.7, 127.0.0.1');
    assert.equal(seen2['x-forwarded-proto'], 'https');
    assert.equal(seen2['x-vcap-request-id'], 'abc-123');
    assert.equal(proxied.headers['x-vcap-request-id'], 'abc-123');
    const unknown = await get(r, 'nope.apps.test', '/', { headers: { 'x-vcap-request-id': 'abc-456' } });
    assert.equal(unknown.headers['x-vcap-request-id'], 'abc-456');
  });

  test('proxies a WebSocket upgrade both ways; an unknown host gets the 404 on the raw socket', async () => {
    const b = await backend('ws', undefined, (req, socket, head) => {
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nx-saw-xff: ${req.headers['x-forwarded-for']}\r\n\r\n`,
      );
      if (head.length) socket.write(head);
      socket.pipe(socket); // echo
    });
    const t = new RoutingTable();
    t.setRoutes([row('ws', 'apps.test', '', [{ app: 'ws' }])]);
    t.setInstances(byApp([inst('ws', await deadPort()), inst('ws', b.port)]));
    const r = await router(t);
    const upgrade = async (host: string) => {
      const s = connect(r.port, '127.0.0.1');
      s.write(
        `GET /chat HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      );
      let buf = '';
      const head = await new Promise<string>((resolve, reject) => {
        s.on('data', (c: Buffer) => {
          buf += c.toString('latin1');
          if (buf.includes('\r\n\r\n')) resolve(buf);
        });
        s.on('error', reject);
        s.on('end', () => resolve(buf));
      });
      return { s, head };
    };
    const { s, head } = await upgrade('ws.apps.test');
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.match(head, /x-saw-xff: 127\.0\.0\.1/);
    const echoed = new Promise<string>((resolve) => {
      let got = '';
      s.removeAllListeners('data');
      s.on('data', (c: Buffer) => {
        got += c.toString();
        if (got.length >= 11) resolve(got);
      });
    });
    s.write('hello world');
    assert.equal(await echoed, 'hello world');
    s.destroy();

    const missing = await upgrade('nope.apps.test');
    assert.match(missing.head, /^HTTP\/1\.1 404 /);
    assert.match(missing.head, /x-cf-routererror: unknown_route/);
    missing.s.destroy();
  });

  test('504 when the backend does not answer within the request timeout (and no retry)', async () => {
    const b = await backend('slow', () => {
      // never answers
    });
    const other = await backend('other');
    const t = new RoutingTable();
    t.setRoutes([row('slow', 'apps.test', '', [{ app: 'slow' }])]);
    t.setInstances(byApp([inst('slow', b.port), inst('slow', other.port)]));
    const r = await router(t, { requestTimeoutMs: 300 });
    const t0 = Date.now();
    const res = await get(r, 'slow.apps.test');
    assert.equal(res.status, 504);
    assert.equal(res.body, '504 Gateway Timeout: Registered endpoint failed to handle the request.\n');
    assert.equal(res.headers['x-cf-routererror'], 'endpoint_failure');
    assert.ok(Date.now() - t0 >= 290);
    assert.equal(b.hits + other.hits, 1);
  });

  test('streams a 32 MiB upload and download without holding them', async () => {
    // Bigger than the kernel's loopback buffers take on this machine (~4 MiB a connection,
    // two connections), so a router that held the body would show it as made bytes.
    const SIZE = 32 * 1024 * 1024;
    const CHUNK = 64 * 1024;
    /** A stream of SIZE bytes made as it is read, counting what was made. */
    const source = () => {
      let made = 0;
      const s = new Readable({
        read() {
          if (made >= SIZE) return void this.push(null);
          const c = Buffer.alloc(CHUNK, made / CHUNK);
          made += CHUNK;
          this.push(c);
        },
      });
      return { s, made: () => made };
    };
    const expected = createHash('sha256');
    for (let i = 0; i < SIZE / CHUNK; i++) expected.update(Buffer.alloc(CHUNK, i));
    const digest = expected.digest('hex');
    let uploadMadeWhenBackendStarted = -1;
    let upload: ReturnType<typeof source> | undefined;
    let download: ReturnType<typeof source> | undefined;
    const b = await backend('stream', (req, res) => {
      if (req.method === 'PUT') {
        // Reads nothing for a while: a router that buffers would take the whole body meanwhile.
        setTimeout(() => {
          uploadMadeWhenBackendStarted = upload!.made();
          const h = createHash('sha256');
          let n = 0;
          req.on('data', (c: Buffer) => {
            h.update(c);
            n += c.length;
          });
          req.on('end', () => res.end(JSON.stringify({ n, sha: h.digest('hex') })));
        }, 500);
        return;
      }
      download = source();
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      download.s.pipe(res);
    });
    const t = new RoutingTable();
    t.setRoutes([row('big', 'apps.test', '', [{ app: 'big' }])]);
    t.setInstances(byApp([inst('big', b.port)]));
    const r = await router(t);

    upload = source();
    const put = await get(r, 'big.apps.test', '/up', { method: 'PUT', body: upload.s });
    assert.deepEqual(JSON.parse(put.body), { n: SIZE, sha: digest });
    assert.ok(
      uploadMadeWhenBackendStarted < SIZE / 2 && uploadMadeWhenBackendStarted > 0,
      `made ${uploadMadeWhenBackendStarted} before the app read`,
    );

    const got = await new Promise<{ n: number; sha: string; madeWhenRead: number }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: r.port, path: '/down', headers: { host: 'big.apps.test' } }, (res) => {
          res.pause();
          // Reads nothing for a while: a router that buffers would take the whole answer meanwhile.
          setTimeout(() => {
            const madeWhenRead = download!.made();
            const h = createHash('sha256');
            let n = 0;
            res.on('data', (c: Buffer) => {
              h.update(c);
              n += c.length;
            });
            res.on('end', () => resolve({ n, sha: h.digest('hex'), madeWhenRead }));
            res.resume();
          }, 500);
        })
        .on('error', reject);
    });
    assert.equal(got.n, SIZE);
    assert.equal(got.sha, digest);
    assert.ok(got.madeWhenRead < SIZE / 2, `made ${got.madeWhenRead} before the client read`);
  });
});
