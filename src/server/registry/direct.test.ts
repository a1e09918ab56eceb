import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../oci/digest.js';
import { LocalStore } from '../../store/local-store.js';
import type { Access, Authenticator } from '../auth/types.js';
import { createRegistryApp } from './app.js';
import type { RegistryEvent } from './events.js';
import { serveRegistry, type RunningRegistry } from './serve.js';

// The direct path (app.ts: manifest and blob GET/HEAD answered from Node's request,
// without Hono) must answer byte for byte what the Hono path answers, errors included,
// and report the same request events. Two servers on one store, one without it.

/** Lets requests with `Authorization: Bearer ok` in, except pulls from team/secret (403); others get a 401 challenge. */
const auth: Authenticator = {
  async check(request: Request, required: Access[]) {
    const refuse = (status: 401 | 403, message: string) =>
      Object.assign(new Error(message), {
        name: 'RegistryAuthError',
        status,
        ...(status === 401
          ? { challenge: `Bearer realm="${new URL(request.url).origin}/token",service="slipway"` }
          : {}),
      });
    if (request.headers.get('authorization') !== 'Bearer ok') throw refuse(401, 'authentication required');
    // team/secret can be pushed to (the set-up does) but not pulled from.
    if (required.some((a) => a.name === 'team/secret' && !a.actions.includes('push'))) throw refuse(403, 'not allowed');
    return { user: 'tester', granted: required };
  },
};

let dir: string;
let store: LocalStore;
let direct: RunningRegistry;
let viaHono: RunningRegistry;
const events: Record<'direct' | 'hono', RegistryEvent[]> = { direct: [], hono: [] };
const layer = randomBytes(300_000);
const layerDigest = digestOf(layer);
let manifestDigest: string;

/** The raw bytes a server sends for `requests` on one connection (the last with `Connection: close`), Date headers removed. */
function exchange(registry: RunningRegistry, requests: string): Promise<string> {
  const { port } = new URL(registry.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () =>
      resolve(
        Buffer.concat(chunks)
          .toString('latin1')
          .replace(/\r\nDate: [^\r]*/g, ''),
      ),
    );
    socket.on('error', reject);
    // Not half-closed: the last request asks the server to close.
    socket.write(requests);
  });
}

async function put(method: string, path: string, body: Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(`${direct.url}${path}`, {
    method,
    body,
    headers: { Authorization: 'Bearer ok', ...headers },
  });
  assert.equal(res.status, 201, `${method} ${path}: ${await res.text()}`);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slipway-registry-direct-'));
  store = await LocalStore.open(join(dir, 'home'));
  direct = await serveRegistry({ store, auth, addr: '127.0.0.1:0', onEvent: (e) => events.direct.push(e) });
  const app = createRegistryApp({ store, auth, onEvent: (e) => events.hono.push(e) });
  app.direct = undefined;
  viaHono = await serveRegistry({ store, auth, addr: '127.0.0.1:0', app });
  const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
    }),
  );
  manifestDigest = digestOf(manifest);
  for (const repo of ['team/app', 'team/secret']) {
    await put('POST', `/v2/${repo}/blobs/uploads/?digest=${digestOf(config)}`, config);
    await put('POST', `/v2/${repo}/blobs/uploads/?digest=${layerDigest}`, layer);
    await put('PUT', `/v2/${repo}/manifests/v1`, manifest, {
      'Content-Type': 'application/vnd.oci.image.manifest.v1+json',
    });
  }
});
after(async () => {
  await direct.close();
  await viaHono.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const OCI = 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
const AUTH = 'Authorization: Bearer ok';

/** One request: method, path, header lines. */
function req(method: string, path: string, ...headers: string[]): string {
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
}

describe('the direct path for manifest and blob GET/HEAD', () => {
  const m = '/v2/team/app/manifests';
  const b = '/v2/team/app/blobs';
  const cases: [string, string][] = [
    ['GET by tag', req('GET', `${m}/v1`, AUTH, OCI)],
    ['HEAD by tag', req('HEAD', `${m}/v1`, AUTH, OCI)],
    ['GET by tag, no Accept', req('GET', `${m}/v1`, AUTH)],
    [
      'GET by tag, an Accept without OCI',
      req('GET', `${m}/v1`, AUTH, 'Accept: application/vnd.docker.distribution.manifest.v2+json'),
    ],
    ['GET, If-None-Match', req('GET', `${m}/v1`, AUTH, OCI, 'If-None-Match: "@DIGEST@"')],
    ['HEAD, If-None-Match', req('HEAD', `${m}/v1`, AUTH, OCI, 'If-None-Match: "@DIGEST@"')],
    ['GET an unknown tag', req('GET', `${m}/nope`, AUTH, OCI)],
    ['HEAD an unknown tag', req('HEAD', `${m}/nope`, AUTH, OCI)],
    ['GET a tag outside the grammar', req('GET', `${m}/-bad`, AUTH, OCI)],
    ['GET an invalid digest', req('GET', `${m}/sha256:abc`, AUTH, OCI)],
    ['GET without credentials', req('GET', `${m}/v1`, OCI)],
    ['HEAD without credentials', req('HEAD', `${m}/v1`, OCI)],
    ['GET a refused repository', req('GET', '/v2/team/secret/manifests/v1', AUTH, OCI)],
    ['GET an unknown manifest with a body', `${req('GET', `${m}/nope`, AUTH, 'Content-Length: 5')}hello`],
    ['GET a blob', req('GET', `${b}/${layerDigest}`, AUTH)],
    ['HEAD a blob', req('HEAD', `${b}/${layerDigest}`, AUTH)],
    ['GET a range of a blob', req('GET', `${b}/${layerDigest}`, AUTH, 'Range: bytes=100-199')],
    ['GET an unsatisfiable range', req('GET', `${b}/${layerDigest}`, AUTH, 'Range: bytes=999999-')],
    ['HEAD an unsatisfiable range', req('HEAD', `${b}/${layerDigest}`, AUTH, 'Range: bytes=999999-')],
    ['GET a blob, If-None-Match', req('GET', `${b}/${layerDigest}`, AUTH, `If-None-Match: "${layerDigest}"`)],
    ['GET an unknown blob', req('GET', `${b}/${digestOf(Buffer.from('x'))}`, AUTH)],
    ['GET a blob without credentials', req('GET', `${b}/${layerDigest}`)],
    ['GET a Host the URL normalizes', req('GET', `${m}/v1`, AUTH, OCI).replace('127.0.0.1:5000', 'LOCALHOST:80')],
  ];
  for (const [what, request] of cases) {
    it(`${what}: the same bytes as through Hono, on a connection that goes on`, async () => {
      // Each request twice on one keep-alive connection, then one that closes it.
      const text = request.replace('@DIGEST@', manifestDigest);
      const all = `${text}${text}${req('GET', '/v2/', AUTH, 'Connection: close')}`;
      events.direct = [];
      events.hono = [];
      const [mine, theirs] = [await exchange(direct, all), await exchange(viaHono, all)];
      assert.equal(mine, theirs);
      assert.match(mine, /HTTP\/1\.1 [\s\S]*HTTP\/1\.1 [\s\S]*HTTP\/1\.1 200 OK/, 'three answers');
      // An event is reported once its handler is done, which may be after the connection closed (a blob's file is closed first).
      for (let i = 0; i < 100 && (events.direct.length < 3 || events.hono.length < 3); i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      // In any order: a drained body may let the next request's event come first.
      const strip = (list: RegistryEvent[]) => list.map((e) => JSON.stringify({ ...e, durationMs: 0 })).sort();
      assert.deepEqual(strip(events.direct), strip(events.hono), 'the same request events');
    });
  }

  it('answers manifests and blobs by itself: GET and HEAD of them never reach Hono', async () => {
    const app = createRegistryApp({ store, auth });
    let reachedHono = 0;
    const viaHono = app.fetch;
    app.fetch = (...args: Parameters<typeof viaHono>) => {
      reachedHono++;
      return viaHono(...args);
    };
    const server = await serveRegistry({ store, auth, addr: '127.0.0.1:0', app });
    try {
      const text = await exchange(
        server,
        req('GET', `${m}/v1`, AUTH, OCI) + req('HEAD', `${b}/${layerDigest}`, AUTH, 'Connection: close'),
      );
      assert.match(text, /^HTTP\/1\.1 200 OK[\s\S]*HTTP\/1\.1 200 OK/);
      assert.equal(reachedHono, 0);
      await exchange(server, req('GET', '/v2/team/app/tags/list', AUTH, 'Connection: close'));
      assert.equal(reachedHono, 1, 'other routes still go through Hono');
    } finally {
      await server.close();
    }
  });
});
