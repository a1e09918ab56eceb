/**
 * Several `slipway serve` nodes on one PostgreSQL database and one blob store, behind
 * HAProxy: what a node answers, any node answers (an image pushed through one pulls
 * through the other, a chunked upload begun on one is finished on the other), and a
 * node SIGKILLed in the middle of 20 concurrent pushes loses none of them once the
 * client retries: every blob stored hashes to its name, no half blob is visible, and
 * GC takes what the dead node left.
 *
 * Real parts only: PostgreSQL 15 (a throwaway cluster), the S3-compatible server of
 * src/store/s3-test-server.ts, haproxy and skopeo from Debian.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { LocalStore } from '../src/store/local-store.js';
import { slipway, tempDir } from './helpers.js';
import {
  makeImage,
  OCI_MANIFEST,
  PlatformClient,
  seededBytes,
  sha256,
  skopeo,
  startServe,
  writeLayout,
} from './platform-world.js';
import { startScaleOutBackends, type ScaleOutBackends } from './scale-out-backends.js';
import { startNodes, type ScaleOutNodes } from './scale-out-world.js';

const PASSWORD = 'scale-out-admin-pw';
const admin = { username: 'admin', password: PASSWORD };

describe('two nodes behind HAProxy on one database and one blob store', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let backends: ScaleOutBackends;
  let cluster: ScaleOutNodes;
  let lb: PlatformClient;

  before(async () => {
    dir = await tempDir('slipway-scale-out');
    backends = await startScaleOutBackends();
    const passwordFile = join(dir.path, 'admin-password');
    await writeFile(passwordFile, PASSWORD, { mode: 0o600 });
    cluster = await startNodes(dir.path, 2, passwordFile, backends.env);
    lb = new PlatformClient(cluster.lb.url);
    const auth = await lb.login('admin', PASSWORD);
    const org = await lb.createOrg(auth, 'acme');
    const space = await lb.createSpace(auth, org, 'dev');
    await lb.createApp(auth, space, 'web');
  });
  after(async () => {
    await cluster?.stop();
    await backends?.stop();
    await dir?.cleanup();
  });

  const nodeClient = (i: number) => new PlatformClient(cluster.nodes[i]!.url);
  const token = (c: PlatformClient, actions = 'pull,push') =>
    c.registryToken(admin, [`repository:acme/dev/web:${actions}`]);

  test('an image pushed through node A pulls through node B and through the balancer, same bytes', async () => {
    const image = makeImage(['a-to-b-1', 'a-to-b-2']);
    const a = nodeClient(0);
    assert.equal((await a.pushImage(await token(a), 'acme/dev/web', 'a-to-b', image)).status, 201);
    for (const c of [nodeClient(1), lb]) {
      const auth = await token(c, 'pull');
      const got = await c.call('GET', '/v2/acme/dev/web/manifests/a-to-b', auth, undefined, { accept: OCI_MANIFEST });
      assert.equal(got.status, 200, got.text);
      assert.equal(got.text, image.manifest.toString());
      for (const [digest, bytes] of image.blobs) {
        const blob = await fetch(`${c.base}/v2/acme/dev/web/blobs/${digest}`, { headers: { authorization: auth } });
        assert.equal(blob.status, 200);
        assert.equal(Buffer.compare(Buffer.from(await blob.arrayBuffer()), bytes), 0);
      }
    }
    // skopeo through the balancer, as a user would: the token realm is the balancer's (--public-url).
    const out = await skopeo([
      'inspect',
      '--raw',
      '--tls-verify=false',
      `--creds=admin:${PASSWORD}`,
      `docker://${cluster.lb.host}/acme/dev/web:a-to-b`,
    ]);
    assert.ok(out.ok, out.stderr);
    assert.equal(sha256(Buffer.from(out.stdout)), image.digest);
  });

  test('a chunked upload begun on node A is continued and committed on node B', async () => {
    const bytes = seededBytes('chunked-a-b', 3 * 1024 * 1024 + 17);
    const digest = sha256(bytes);
    const a = nodeClient(0);
    const b = nodeClient(1);
    const authA = await token(a);
    const authB = await token(b);
    const start = await a.call('POST', '/v2/acme/dev/web/blobs/uploads/', authA);
    assert.equal(start.status, 202, start.text);
    const location =
      new URL(start.headers.get('location')!, a.base).pathname + new URL(start.headers.get('location')!, a.base).search;
    const half = 2 * 1024 * 1024;
    const first = await a.call('PATCH', location, authA, bytes.subarray(0, half), {
      'content-type': 'application/octet-stream',
      'content-range': `0-${half - 1}`,
    });
    assert.equal(first.status, 202, first.text);
    const next = new URL(first.headers.get('location')!, a.base);
    // Node B knows where the upload stands.
    const status = await b.call('GET', next.pathname + next.search, authB);
    assert.equal(status.status, 204, status.text);
    assert.equal(status.headers.get('range'), `0-${half - 1}`);
    const second = await b.call('PATCH', next.pathname + next.search, authB, bytes.subarray(half), {
      'content-type': 'application/octet-stream',
      'content-range': `${half}-${bytes.length - 1}`,
    });
    assert.equal(second.status, 202, second.text);
    const last = new URL(second.headers.get('location')!, b.base);
    last.searchParams.set('digest', digest);
    const put = await b.call('PUT', last.pathname + last.search, authB);
    assert.equal(put.status, 201, put.text);
    assert.equal(put.headers.get('docker-content-digest'), digest);
    const got = await fetch(`${a.base}/v2/acme/dev/web/blobs/${digest}`, { headers: { authorization: authA } });
    assert.equal(sha256(Buffer.from(await got.arrayBuffer())), digest);
  });

  test('one node runs the apps of a database: a second node with --run is refused, saying what to do', async () => {
    const passwordFile = join(dir.path, 'admin-password');
    const runner = await startServe(join(dir.path, 'runner-1'), passwordFile, ['--build-workers', '0'], backends.env);
    try {
      await assert.rejects(
        startServe(join(dir.path, 'runner-2'), passwordFile, ['--build-workers', '0'], backends.env),
        /another slipway serve already runs the apps of this database: start this node with --no-run/,
      );
    } finally {
      await runner.stop();
    }
    // Its lock went with it: another may run them now.
    const next = await startServe(join(dir.path, 'runner-3'), passwordFile, ['--build-workers', '0'], backends.env);
    await next.stop();
  });

  test('node A SIGKILLed during 20 concurrent pushes: every retried push completes, every blob hashes to its name, GC takes the leftovers', async (t) => {
    const layouts: { dir: string; tag: string; digest: string }[] = [];
    for (let i = 0; i < 20; i++) {
      const image = makeImage([`kill-${i}-a`, `kill-${i}-b`], {}, 4 * 1024 * 1024);
      const layout = join(dir.path, `layout-${i}`);
      await writeLayout(layout, `v${i}`, image);
      layouts.push({ dir: layout, tag: `v${i}`, digest: image.digest });
    }
    const push = (l: (typeof layouts)[number]) =>
      skopeo([
        'copy',
        '--dest-tls-verify=false',
        `--dest-creds=admin:${PASSWORD}`,
        `oci:${l.dir}:${l.tag}`,
        `docker://${cluster.lb.host}/acme/dev/web:${l.tag}`,
      ]);
    const first = layouts.map(push);
    await new Promise((r) => setTimeout(r, 700));
    const deadPid = cluster.nodes[0]!.pid;
    await cluster.nodes[0]!.kill();
    const results = await Promise.all(first);
    // The client retries what failed (skopeo's own retries do not cover a reset mid-upload).
    let retried = 0;
    for (const [i, r] of results.entries()) {
      if (r.ok) continue;
      retried++;
      const again = await push(layouts[i]!);
      assert.ok(again.ok, `push ${i} failed again: ${again.stderr}`);
    }
    t.diagnostic(`${retried} of 20 pushes failed when node A died and were pushed again`);
    const c = nodeClient(1);
    const auth = await token(c, 'pull');
    for (const l of layouts) {
      const got = await c.call('GET', `/v2/acme/dev/web/manifests/${l.tag}`, auth, undefined, { accept: OCI_MANIFEST });
      assert.equal(got.status, 200, `${l.tag}: ${got.text}`);
      assert.equal(sha256(Buffer.from(got.text)), l.digest);
    }
    // Every blob in the shared store hashes to its name: no half object under a digest.
    const store = await LocalStore.open(join(dir.path, 'inspect'), backends.storage);
    try {
      let blobs = 0;
      for await (const digest of store.blobs.list()) {
        const hash = createHash('sha256');
        for await (const chunk of await store.blobs.open(digest)) hash.update(chunk as Buffer);
        assert.equal(`sha256:${hash.digest('hex')}`, digest);
        blobs++;
      }
      assert.ok(blobs >= 60, `${blobs} blobs`);
      // The uploads the dead node left are GC's to take at once (grace 0: nothing is being pushed now);
      // those a live node holds (a client gave up on them) wait for their owner or their age.
      const gc = async () => {
        const r = await slipway(join(dir.path, 'inspect'), ['--json', 'gc', '--grace', '0'], backends.env);
        assert.equal(r.code, 0, r.stderr);
      };
      await gc();
      assert.deepEqual(
        (await store.blobs.listIngests()).filter((i) => i.pid === deadPid),
        [],
      );
      await cluster.nodes[1]!.stop();
      await gc();
      assert.deepEqual(await store.blobs.listIngests(), []);
      const leftovers = await new S3Client({
        endpoint: backends.s3.endpoint,
        forcePathStyle: true,
        region: 'us-east-1',
      }).send(new ListObjectsV2Command({ Bucket: backends.s3.bucket, Prefix: 'scale-out/uploads/' }));
      assert.deepEqual(leftovers.Contents ?? [], [], 'no upload object left in the bucket');
    } finally {
      await store.close();
    }
  });
});
