import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { digestOf } from '../../oci/digest.js';
import { LocalStore } from '../../store/local-store.js';
import { allowAll } from '../auth/types.js';
import { parseAddr, serveRegistry, type RunningRegistry } from './serve.js';

const run = promisify(execFile);

let dir: string;
let store: LocalStore;
let registry: RunningRegistry;

/** A small real OCI image made by umoci: one layer with a text file and 300 kB of random bytes. */
async function makeLayout(path: string): Promise<void> {
  await run('umoci', ['init', '--layout', path]);
  await run('umoci', ['new', '--image', `${path}:latest`]);
  const bundle = join(dir, 'bundle');
  await run('umoci', ['unpack', '--rootless', '--image', `${path}:latest`, bundle]);
  await mkdir(join(bundle, 'rootfs', 'etc'), { recursive: true });
  await writeFile(join(bundle, 'rootfs', 'etc', 'greeting'), 'hello\n');
  await writeFile(join(bundle, 'rootfs', 'random.bin'), randomBytes(300_000));
  await run('umoci', ['repack', '--image', `${path}:latest`, bundle]);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slipway-registry-serve-'));
  store = await LocalStore.open(join(dir, 'home'));
  registry = await serveRegistry({ store, auth: allowAll, addr: '127.0.0.1:0' });
});
after(async () => {
  await registry.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('serveRegistry', () => {
  it('serves real clients: skopeo copies an image in and back out, bit for bit', async () => {
    const layout = join(dir, 'layout');
    await makeLayout(layout);
    const host = registry.url.replace('http://', '');
    await run('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${host}/team/app:v1`]);
    const back = join(dir, 'back');
    await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${host}/team/app:v1`, `oci:${back}:v1`]);
    const original = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
      manifests: { digest: string }[];
    };
    const copied = JSON.parse(await readFile(join(back, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    assert.equal(
      copied.manifests[0]!.digest,
      original.manifests[0]!.digest,
      'the same manifest digest: nothing was rewritten',
    );
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${host}/team/app:v1`]);
    assert.equal((JSON.parse(stdout) as { Digest: string }).Digest, original.manifests[0]!.digest);
    assert.deepEqual((await store.verify()).problems, []);
  });

  it('streams blobs over the socket: whole, a range (206), an impossible range (416), chunked uploads in', async () => {
    const data = randomBytes(3 << 20);
    const digest = digestOf(data);
    const post = await fetch(`${registry.url}/v2/sock/app/blobs/uploads/`, { method: 'POST' });
    let location = post.headers.get('location')!;
    for (const [start, end] of [
      [0, (1 << 20) - 1],
      [1 << 20, data.length - 1],
    ] as const) {
      const res = await fetch(`${registry.url}${location}`, {
        method: 'PATCH',
        body: data.subarray(start, end + 1),
        headers: { 'Content-Range': `${start}-${end}` },
      });
      assert.equal(res.status, 202);
      location = res.headers.get('location')!;
    }
    assert.equal((await fetch(`${registry.url}${location}?digest=${digest}`, { method: 'PUT' })).status, 201);
    const whole = await fetch(`${registry.url}/v2/sock/app/blobs/${digest}`);
    assert.equal(whole.headers.get('content-length'), String(data.length));
    assert.deepEqual(Buffer.from(await whole.arrayBuffer()), data);
    const part = await fetch(`${registry.url}/v2/sock/app/blobs/${digest}`, {
      headers: { Range: 'bytes=1000-2999999' },
    });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 1000-2999999/${data.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), data.subarray(1000, 3_000_000));
    const outside = await fetch(`${registry.url}/v2/sock/app/blobs/${digest}`, {
      headers: { Range: `bytes=${data.length}-` },
    });
    assert.equal(outside.status, 416);
    const head = await fetch(`${registry.url}/v2/sock/app/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), String(data.length));
  });

  it('answers on its URL and parses host:port addresses', async () => {
    const res = await fetch(`${registry.url}/v2/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    assert.deepEqual(parseAddr('[::1]:5000'), { host: '::1', port: 5000 });
    assert.deepEqual(parseAddr('0.0.0.0:0'), { host: '0.0.0.0', port: 0 });
    assert.throws(() => parseAddr('localhost'), /invalid address/);
    assert.throws(() => parseAddr('a:99999'), /invalid address/);
  });
});
