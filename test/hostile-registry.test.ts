import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { once } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { hashPassword } from '../src/auth/password.js';
import { slipway, slipwayOk, startSlipwayRegistry, tempDir, type RegistryProcess } from './helpers.js';
import { startAttackers } from './login-attackers.js';

/**
 * The registry against an attacker (issue 15): a manifest built to stall the event
 * loop, password guessing, `slipway gc` beside a push in flight, a foreign layer used
 * as an existence oracle, and the OCI conformance points a strict client trips on
 * (a tag that cannot exist, a 416 that leaves the connection out of step). Every test
 * talks to a real `slipway registry serve` over real HTTP.
 */

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The request went out on a connection an earlier request used (keep-alive). */
  reused: boolean;
  ms: number;
}

/** One request with node:http (its agent decides keep-alive), the whole body read. */
function http(
  agent: Agent,
  method: string,
  url: string,
  options: { headers?: Record<string, string>; body?: Buffer } = {},
): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const headers = { ...options.headers, ...(options.body ? { 'Content-Length': String(options.body.length) } : {}) };
    let reply: Reply | undefined;
    const req = request(url, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        reply = {
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          reused: req.reusedSocket,
          ms: performance.now() - started,
        };
      });
      res.on('error', reject);
    });
    // Answered once the request closes: a kept-alive socket is back in the agent's pool then. On the
    // response's end alone, a large body's last write may not have been acknowledged yet, and the next
    // request would open a new connection (the race a loaded machine showed after the 4 MiB PATCH).
    req.on('close', () => (reply ? resolve(reply) : reject(new Error(`${method} ${url}: closed without a response`))));
    req.on('error', reject);
    req.end(options.body);
  });
}

const errorCode = (reply: Reply) =>
  (JSON.parse(reply.body.toString()) as { errors: { code: string; message: string }[] }).errors[0]!;

/** The value below which `fraction` of the samples lie. */
function percentile(samples: number[], fraction: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

/** Pushes a blob in one POST (`authorization` optional); asserts the 201. */
async function pushBlob(
  agent: Agent,
  base: string,
  repo: string,
  bytes: Buffer,
  authorization?: string,
): Promise<string> {
  const digest = sha256(bytes);
  const auth: Record<string, string> = authorization ? { Authorization: authorization } : {};
  const res = await http(agent, 'POST', `${base}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    body: bytes,
    headers: { ...auth, 'Content-Type': 'application/octet-stream' },
  });
  assert.equal(res.status, 201, `blob push to ${repo}: ${res.body}`);
  return digest;
}

function manifestOf(
  config: Buffer,
  layers: { digest: string; size: number; mediaType?: string; urls?: string[] }[],
): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: sha256(config), size: config.length },
      layers: layers.map((l) => ({
        mediaType: l.mediaType ?? OCI_LAYER,
        digest: l.digest,
        size: l.size,
        ...(l.urls ? { urls: l.urls } : {}),
      })),
    }),
  );
}

/** A small image (config + one layer) pushed to `repo:tag`; returns its manifest digest. */
async function pushImage(
  agent: Agent,
  base: string,
  repo: string,
  tag: string,
  authorization?: string,
): Promise<string> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, tag }),
  );
  const layer = randomBytes(2048);
  await pushBlob(agent, base, repo, config, authorization);
  await pushBlob(agent, base, repo, layer, authorization);
  const manifest = manifestOf(config, [{ digest: sha256(layer), size: layer.length }]);
  const res = await http(agent, 'PUT', `${base}/v2/${repo}/manifests/${tag}`, {
    body: manifest,
    headers: { 'Content-Type': OCI_MANIFEST, ...(authorization ? { Authorization: authorization } : {}) },
  });
  assert.equal(res.status, 201, `manifest push to ${repo}: ${res.body}`);
  return sha256(manifest);
}

describe('hostile registry: anonymous on loopback', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let server: RegistryProcess;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });

  before(async () => {
    work = await tempDir('slipway-hostile-registry');
    home = join(work.path, 'home');
    server = await startSlipwayRegistry(home, ['--gc-interval', '0']);
  });
  after(async () => {
    agent.destroy();
    await server?.stop();
    await work?.cleanup();
  });

  test('a 4 MB manifest nested 2,000,000 arrays deep is refused at once (MANIFEST_INVALID naming the limit); GET /v2/ stays fast meanwhile', async () => {
    const hostile = Buffer.from(`${'['.repeat(2_000_000)}${']'.repeat(2_000_000)}`);
    const probe = new Agent({ keepAlive: true, maxSockets: 1 });
    const attacker = new Agent({ keepAlive: true, maxSockets: 4 });
    try {
      assert.equal((await http(probe, 'GET', `${server.url}/v2/`)).status, 200);
      let pushing = true;
      const latencies: number[] = [];
      const probing = (async () => {
        while (pushing) latencies.push((await http(probe, 'GET', `${server.url}/v2/`)).ms);
      })();
      // Four at a time, three rounds: before, each one held the event loop for seconds.
      const refusals: Reply[] = [];
      for (let round = 0; round < 3; round++) {
        refusals.push(
          ...(await Promise.all(
            Array.from({ length: 4 }, (_, i) =>
              http(attacker, 'PUT', `${server.url}/v2/hostile/app/manifests/r${round}-${i}`, {
                body: hostile,
                headers: { 'Content-Type': OCI_MANIFEST },
              }),
            ),
          )),
        );
      }
      pushing = false;
      await probing;
      for (const res of refusals) {
        assert.equal(res.status, 400);
        const error = errorCode(res);
        assert.equal(error.code, 'MANIFEST_INVALID');
        assert.match(error.message, /deeper than 64 levels/);
      }
      assert.ok(latencies.length >= 3, `GET /v2/ was answered ${latencies.length} times during the pushes`);
      assert.ok(
        Math.max(...latencies) < 200,
        `GET /v2/ took up to ${Math.max(...latencies).toFixed(0)} ms while hostile manifests were pushed`,
      );
      assert.equal(
        (await http(probe, 'GET', `${server.url}/v2/hostile/app/tags/list`)).status,
        404,
        'nothing was stored',
      );
    } finally {
      probe.destroy();
      attacker.destroy();
    }
  });

  test('GET and HEAD of a manifest by a reference that is not a valid tag answer 404 MANIFEST_UNKNOWN (conformance: .INVALID_MANIFEST_NAME)', async () => {
    await pushImage(agent, server.url, 'conformance/app', 'v1');
    for (const ref of ['.INVALID_MANIFEST_NAME', '-dash', 't'.repeat(129)]) {
      const get = await http(agent, 'GET', `${server.url}/v2/conformance/app/manifests/${ref}`, {
        headers: { Accept: OCI_MANIFEST },
      });
      assert.equal(get.status, 404, ref);
      assert.equal(errorCode(get).code, 'MANIFEST_UNKNOWN', ref);
      const head = await http(agent, 'HEAD', `${server.url}/v2/conformance/app/manifests/${ref}`, {
        headers: { Accept: OCI_MANIFEST },
      });
      assert.equal(head.status, 404, ref);
    }
    const put = await http(agent, 'PUT', `${server.url}/v2/conformance/app/manifests/.INVALID_MANIFEST_NAME`, {
      body: Buffer.from('{}'),
      headers: { 'Content-Type': OCI_MANIFEST },
    });
    assert.equal(put.status, 400, 'a push by such a tag is still refused');
    assert.equal(errorCode(put).code, 'TAG_INVALID');
  });

  test('a 416 for an out-of-order chunk, and every other early refusal of an upload, leaves the keep-alive connection in step', async () => {
    const one = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const start = await http(one, 'POST', `${server.url}/v2/conformance/app/blobs/uploads/`, {
        headers: { 'Content-Length': '0' },
      });
      assert.equal(start.status, 202);
      const location = new URL(start.headers.location!, server.url).href;
      const chunk = randomBytes(100);
      const refusals: [string, () => Promise<Reply>, number, string][] = [
        [
          'out-of-order PATCH',
          () =>
            http(one, 'PATCH', location, {
              body: chunk,
              headers: { 'Content-Range': '100-199', 'Content-Type': 'application/octet-stream' },
            }),
          416,
          'RANGE_INVALID',
        ],
        [
          'PATCH whose Content-Length and Content-Range disagree',
          () => http(one, 'PATCH', location, { body: chunk, headers: { 'Content-Range': '0-49' } }),
          400,
          'SIZE_INVALID',
        ],
        [
          'PATCH of an unknown upload',
          () =>
            http(one, 'PATCH', `${server.url}/v2/conformance/app/blobs/uploads/00000000-0000-4000-8000-000000000000`, {
              body: chunk,
            }),
          404,
          'BLOB_UPLOAD_UNKNOWN',
        ],
        [
          'PUT closing an upload without a digest',
          () => http(one, 'PUT', location, { body: chunk }),
          400,
          'DIGEST_INVALID',
        ],
        [
          'monolithic POST with a malformed digest',
          () =>
            http(one, 'POST', `${server.url}/v2/conformance/app/blobs/uploads/?digest=sha256:nope`, { body: chunk }),
          400,
          'DIGEST_INVALID',
        ],
        [
          'manifest PUT to an invalid name',
          () =>
            http(one, 'PUT', `${server.url}/v2/Bad_Name/manifests/v1`, {
              body: chunk,
              headers: { 'Content-Type': OCI_MANIFEST },
            }),
          400,
          'NAME_INVALID',
        ],
      ];
      for (const [what, send, status, code] of refusals) {
        const refused = await send();
        assert.equal(refused.status, status, `${what}: ${refused.body}`);
        assert.equal(errorCode(refused).code, code, what);
        assert.equal(
          Number(refused.headers['content-length']),
          refused.body.length,
          `${what}: Content-Length is the body's`,
        );
        assert.notEqual(refused.headers.connection, 'close', `${what}: a small body is drained, the connection kept`);
        const next = await http(one, 'GET', `${server.url}/v2/`);
        assert.equal(next.reused, true, `${what}: the next request goes out on the same connection`);
        assert.equal(next.status, 200, `${what}: the next request gets its own answer`);
        assert.equal(next.body.toString(), '{}', what);
      }
      // The upload is untouched by the refused chunks: the right one still goes in.
      const ok = await http(one, 'PATCH', location, {
        body: chunk,
        headers: { 'Content-Range': '0-99', 'Content-Type': 'application/octet-stream' },
      });
      assert.equal(ok.status, 202, String(ok.body));
      assert.equal(ok.headers.range, '0-99');
      // A refused 4 MiB chunk is read to its end too: the connection stays in step.
      const big = await http(one, 'PATCH', location, {
        body: randomBytes(4 << 20),
        headers: { 'Content-Range': '0-4194303' },
      });
      assert.equal(big.status, 416);
      assert.equal(errorCode(big).code, 'RANGE_INVALID');
      const next = await http(one, 'GET', `${server.url}/v2/`);
      assert.equal(next.reused, true);
      assert.equal(next.body.toString(), '{}');
    } finally {
      one.destroy();
    }
  });

  test('a refused request declaring a body larger than a chunk is answered at once with Connection: close', async () => {
    const start = await http(agent, 'POST', `${server.url}/v2/conformance/app/blobs/uploads/`);
    const location = new URL(start.headers.location!, server.url);
    const socket = connect(Number(location.port), location.hostname);
    await once(socket, 'connect');
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    const closed = once(socket, 'close');
    socket.write(
      `PATCH ${location.pathname} HTTP/1.1\r\nHost: ${location.host}\r\nContent-Range: 5-200000004\r\nContent-Length: 200000000\r\n\r\n`,
    );
    socket.write(randomBytes(64 << 10));
    await closed;
    assert.match(received, /^HTTP\/1\.1 416 /);
    assert.match(received, /\r\nconnection: close\r\n/i);
    const body = received.slice(received.indexOf('\r\n\r\n') + 4);
    assert.equal(JSON.parse(body).errors[0].code, 'RANGE_INVALID', 'the whole answer arrived before the close');
  });

  test('slipway gc beside the running registry keeps the blobs of a push in flight: the chunked upload and the manifest PUT after it succeed', async () => {
    const repo = 'inflight/app';
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
    );
    await pushBlob(agent, server.url, repo, config);
    const layer = randomBytes(3 << 20);
    const start = await http(agent, 'POST', `${server.url}/v2/${repo}/blobs/uploads/`);
    assert.equal(start.status, 202);
    let location = new URL(start.headers.location!, server.url).href;
    const half = layer.length / 2;
    const first = await http(agent, 'PATCH', location, {
      body: layer.subarray(0, half),
      headers: { 'Content-Range': `0-${half - 1}` },
    });
    assert.equal(first.status, 202);
    location = new URL(first.headers.location!, server.url).href;

    const gc = JSON.parse(await slipwayOk(home, ['--json', 'gc'])) as { blobsRemoved: number; ingestsRemoved: number };
    assert.equal(gc.ingestsRemoved, 0, 'the open upload session is kept');

    const second = await http(agent, 'PATCH', location, {
      body: layer.subarray(half),
      headers: { 'Content-Range': `${half}-${layer.length - 1}` },
    });
    assert.equal(second.status, 202, String(second.body));
    location = new URL(second.headers.location!, server.url).href;
    const done = await http(agent, 'PUT', `${location}${location.includes('?') ? '&' : '?'}digest=${sha256(layer)}`);
    assert.equal(done.status, 201, String(done.body));
    const manifest = manifestOf(config, [{ digest: sha256(layer), size: layer.length }]);
    const put = await http(agent, 'PUT', `${server.url}/v2/${repo}/manifests/v1`, {
      body: manifest,
      headers: { 'Content-Type': OCI_MANIFEST },
    });
    assert.equal(put.status, 201, `the manifest PUT after gc: ${put.body}`);
    for (const digest of [sha256(config), sha256(layer)]) {
      assert.equal((await http(agent, 'HEAD', `${server.url}/v2/${repo}/blobs/${digest}`)).status, 200, digest);
    }
    const verify = await slipway(home, ['verify', '--json']);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    // --grace 0 is the explicit "nothing is being pushed": what no manifest needs goes then.
    await pushBlob(agent, server.url, repo, randomBytes(512));
    const now = JSON.parse(await slipwayOk(home, ['--json', 'gc', '--grace', '0'])) as { blobsRemoved: number };
    assert.ok(now.blobsRemoved >= 1, JSON.stringify(now));
    assert.equal(
      (await http(agent, 'GET', `${server.url}/v2/${repo}/manifests/v1`, { headers: { Accept: OCI_MANIFEST } })).status,
      200,
    );
  });
});

describe('hostile registry: passwords and repositories behind basic auth', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let usersPath: string;
  let server: RegistryProcess;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const alice = basic('alice', 'alice-secret');
  const bob = basic('bob', 'bob-secret');

  before(async () => {
    work = await tempDir('slipway-hostile-auth');
    home = join(work.path, 'home');
    usersPath = join(home, 'registry', 'users.json');
    await mkdir(join(home, 'registry'), { recursive: true });
    const users = {
      users: {
        alice: {
          passwordHash: await hashPassword('alice-secret'),
          grants: [{ prefix: 'team/', actions: ['pull', 'push'] }],
        },
        bob: {
          passwordHash: await hashPassword('bob-secret'),
          grants: [{ prefix: 'secret/', actions: ['pull', 'push'] }],
        },
        // Written by an older Slipway: bcrypt.
        carol: { passwordHash: bcrypt.hashSync('carol-secret', 4), grants: [{ prefix: 'team/', actions: ['pull'] }] },
      },
      anonymous: { grants: [] },
    };
    await writeFile(usersPath, JSON.stringify(users), { mode: 0o600 });
    server = await startSlipwayRegistry(home, ['--auth', 'basic', '--gc-interval', '0']);
  });
  after(async () => {
    agent.destroy();
    await server?.stop();
    await work?.cleanup();
  });

  test('a bcrypt hash in users.json still logs in, and is rehashed to argon2id at that login', async () => {
    const users = () =>
      readFile(usersPath, 'utf8').then((t) => JSON.parse(t) as { users: Record<string, { passwordHash: string }> });
    assert.match((await users()).users['carol']!.passwordHash, /^\$2[ab]\$/);
    assert.equal(
      (await http(agent, 'GET', `${server.url}/v2/`, { headers: { Authorization: basic('carol', 'wrong') } })).status,
      401,
    );
    assert.match((await users()).users['carol']!.passwordHash, /^\$2[ab]\$/, 'a wrong password rehashes nothing');
    assert.equal(
      (await http(agent, 'GET', `${server.url}/v2/`, { headers: { Authorization: basic('carol', 'carol-secret') } }))
        .status,
      200,
    );
    const after = await users();
    assert.match(after.users['carol']!.passwordHash, /^\$argon2id\$v=19\$/);
    assert.match(after.users['alice']!.passwordHash, /^\$argon2id\$/, 'the others are as they were');
    // A server started afresh (no remembered success) takes the new hash.
    const again = await startSlipwayRegistry(home, ['--auth', 'basic', '--gc-interval', '0']);
    try {
      assert.equal(
        (await http(agent, 'GET', `${again.url}/v2/`, { headers: { Authorization: basic('carol', 'carol-secret') } }))
          .status,
        200,
      );
      assert.equal(
        (await http(agent, 'GET', `${again.url}/v2/`, { headers: { Authorization: basic('carol', 'bad') } })).status,
        401,
      );
    } finally {
      await again.stop();
    }
  });

  test('a foreign layer gives the same answer whether its digest is in a repository the pusher cannot read or nowhere', async () => {
    const hidden = randomBytes(4096);
    const hiddenDigest = await pushBlob(agent, server.url, 'secret/vault', hidden, bob);
    assert.equal(
      (
        await http(agent, 'HEAD', `${server.url}/v2/team/app/blobs/${hiddenDigest}`, {
          headers: { Authorization: alice },
        })
      ).status,
      404,
      'alice cannot read it',
    );
    const config = Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
    );
    await pushBlob(agent, server.url, 'team/app', config, alice);
    const randomDigest = sha256(randomBytes(4096));
    const foreignKinds = [
      { what: 'urls set', mediaType: OCI_LAYER, urls: ['https://layers.example/layer.tgz'] },
      {
        what: 'non-distributable media type',
        mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
      },
      {
        what: 'Docker foreign layer',
        mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
        urls: ['https://layers.example/l'],
      },
    ];
    for (const kind of foreignKinds) {
      const answers: { status: number; body: string }[] = [];
      for (const [i, digest] of [hiddenDigest, randomDigest].entries()) {
        const manifest = manifestOf(config, [
          { digest, size: 4096, mediaType: kind.mediaType, ...(kind.urls ? { urls: kind.urls } : {}) },
        ]);
        const res = await http(agent, 'PUT', `${server.url}/v2/team/app/manifests/${kind.mediaType.length}-${i}`, {
          body: manifest,
          headers: { 'Content-Type': OCI_MANIFEST, Authorization: alice },
        });
        answers.push({ status: res.status, body: res.body.toString() });
      }
      assert.equal(answers[0]!.status, answers[1]!.status, `${kind.what}: ${JSON.stringify(answers)}`);
      assert.equal(answers[0]!.status, 201, `${kind.what}: a foreign layer is not the registry's to hold`);
      assert.equal(
        (
          await http(agent, 'HEAD', `${server.url}/v2/team/app/blobs/${hiddenDigest}`, {
            headers: { Authorization: alice },
          })
        ).status,
        404,
        `${kind.what}: naming the digest did not link bob's blob into alice's repository`,
      );
    }
  });

  test("8 attackers guessing passwords get 429 TOOMANYREQUESTS with Retry-After after a few tries; a signed-in client's manifest GETs stay fast", async () => {
    const digest = await pushImage(agent, server.url, 'team/app', 'v1', alice);
    const legit = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      http(legit, 'GET', `${server.url}/v2/team/app/manifests/v1`, {
        headers: { Authorization: alice, Accept: OCI_MANIFEST },
      });
    try {
      for (let i = 0; i < 20; i++) assert.equal((await get()).status, 200, 'warm-up');
      const attack = startAttackers({
        url: server.url,
        target: 'basic',
        user: 'alice',
        path: '/v2/team/app/manifests/v1',
        attackers: 8,
        durationMs: 10_000,
        maxRequests: 1_000_000,
      });
      await attack.started;
      await new Promise((r) => setTimeout(r, 300));
      const latencies: number[] = [];
      for (let i = 0; i < 300; i++) {
        const res = await get();
        assert.equal(res.status, 200, `legitimate GET ${i} under attack: ${res.body}`);
        assert.equal(res.headers['docker-content-digest'], digest);
        latencies.push(res.ms);
      }
      // Still under attack: a new login for alice waits, whatever the password.
      const fresh = await http(new Agent(), 'GET', `${server.url}/v2/`, {
        headers: { Authorization: basic('alice', 'one-more-guess') },
      });
      assert.equal(fresh.status, 429);
      assert.match(String(fresh.headers['retry-after']), /^[1-9]\d*$/);
      attack.stop();
      const attackers = await attack.done;
      assert.equal(attackers.length, 8);
      for (const [n, a] of attackers.entries()) {
        assert.ok(
          a.first429 > 0 && a.first429 <= 12,
          `attacker ${n} got its first 429 at request ${a.first429} of ${a.requests}: ${JSON.stringify(a.statuses)}`,
        );
        assert.ok(a.retryAfterOk, `attacker ${n}: every 429 has a Retry-After`);
        assert.deepEqual(a.codes, ['TOOMANYREQUESTS'], `attacker ${n}`);
      }
      const checked = attackers.reduce((sum, a) => sum + (a.statuses['401'] ?? 0), 0);
      const refused = attackers.reduce((sum, a) => sum + (a.statuses['429'] ?? 0), 0);
      assert.ok(checked <= 15, `only a few guesses had their password checked (${checked} 401s, ${refused} 429s)`);
      const p50 = percentile(latencies, 0.5);
      const p99 = percentile(latencies, 0.99);
      assert.ok(
        p50 < 20 && p99 < 100,
        `a signed-in client's manifest GET under attack: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`,
      );
    } finally {
      legit.destroy();
    }
  });
});

describe('hostile registry: password guessing at the token endpoint', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let server: RegistryProcess;

  before(async () => {
    work = await tempDir('slipway-hostile-token');
    home = join(work.path, 'home');
    await slipwayOk(
      home,
      ['registry', 'user', 'add', 'alice', '--password-stdin', '--grant', 'team/:pull,push'],
      {},
      'alice-secret',
    );
    server = await startSlipwayRegistry(home, ['--auth', 'token', '--gc-interval', '0']);
  });
  after(async () => {
    await server?.stop();
    await work?.cleanup();
  });

  test('8 attackers at /token get 429 with Retry-After; a client holding a token keeps pulling fast', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const tokenFor = async (scope: string) => {
        const res = await http(agent, 'GET', `${server.url}/token?service=slipway&scope=${scope}`, {
          headers: { Authorization: basic('alice', 'alice-secret') },
        });
        assert.equal(res.status, 200, String(res.body));
        return `Bearer ${(JSON.parse(res.body.toString()) as { token: string }).token}`;
      };
      const push = await tokenFor('repository:team/app:pull,push');
      const digest = await pushImage(agent, server.url, 'team/app', 'v1', push);
      const pull = await tokenFor('repository:team/app:pull');
      const get = () =>
        http(agent, 'GET', `${server.url}/v2/team/app/manifests/v1`, {
          headers: { Authorization: pull, Accept: OCI_MANIFEST },
        });
      const attack = startAttackers({
        url: server.url,
        target: 'token',
        user: 'alice',
        attackers: 8,
        durationMs: 10_000,
        maxRequests: 1_000_000,
      });
      await attack.started;
      await new Promise((r) => setTimeout(r, 300));
      const latencies: number[] = [];
      for (let i = 0; i < 300; i++) {
        const res = await get();
        assert.equal(res.status, 200, String(res.body));
        assert.equal(res.headers['docker-content-digest'], digest);
        latencies.push(res.ms);
      }
      // Still under attack: the OAuth2 POST is limited the same way.
      const form = new URLSearchParams({
        grant_type: 'password',
        username: 'alice',
        password: 'guess',
        service: 'slipway',
        scope: 'repository:team/app:pull',
      });
      const post = await http(agent, 'POST', `${server.url}/token`, {
        body: Buffer.from(form.toString()),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(post.status, 429);
      assert.match(String(post.headers['retry-after']), /^[1-9]\d*$/);
      assert.equal((JSON.parse(post.body.toString()) as { error: string }).error, 'temporarily_unavailable');
      attack.stop();
      for (const [n, a] of (await attack.done).entries()) {
        assert.ok(
          a.first429 > 0 && a.first429 <= 12,
          `attacker ${n}: first 429 at ${a.first429}: ${JSON.stringify(a.statuses)}`,
        );
        assert.ok(a.retryAfterOk, `attacker ${n}: Retry-After on every 429`);
        assert.deepEqual(a.codes, ['TOOMANYREQUESTS']);
      }
      const p99 = percentile(latencies, 0.99);
      assert.ok(percentile(latencies, 0.5) < 20 && p99 < 100, `token pulls under attack: p99 ${p99.toFixed(1)} ms`);
    } finally {
      agent.destroy();
    }
  });
});
