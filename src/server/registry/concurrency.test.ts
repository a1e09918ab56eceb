import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { digestOf, type Digest } from '../../oci/digest.js';
import { MediaType } from '../../oci/media-types.js';
import type { Descriptor } from '../../oci/types.js';
import { harness, type Harness, type TestClient } from './testdata/client.js';

let h: Harness;

before(async () => {
  h = await harness();
});
after(() => h.dispose());

/** Pushes a blob in three PATCH chunks (another path through the server than a monolithic POST). */
async function pushChunked(client: TestClient, repo: string, data: Buffer): Promise<Digest> {
  let location = await client.startUpload(repo);
  const third = Math.ceil(data.length / 3);
  for (let start = 0; start < data.length; start += third) {
    const chunk = data.subarray(start, start + third);
    const res = await client.req('PATCH', location, {
      body: chunk,
      headers: { 'Content-Range': `${start}-${start + chunk.length - 1}` },
    });
    assert.equal(res.status, 202);
    location = res.headers.get('location')!;
  }
  const res = await client.req('PUT', `${location}?digest=${digestOf(data)}`);
  assert.equal(res.status, 201, await res.text());
  return digestOf(data);
}

interface Pushed {
  repo: string;
  tag: string;
  manifest: Buffer;
  blobs: Map<Digest, Buffer>;
}

/** One client's push: shared base layers (pushed by everyone at once), one own layer, config, manifest. */
async function pushOne(client: TestClient, i: number, base: Buffer[]): Promise<Pushed> {
  const repo = `conc/app-${i % 10}`;
  const own = randomBytes(50_000 + i);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [] },
      config: { Labels: { i: String(i) } },
    }),
  );
  const blobs = new Map<Digest, Buffer>();
  const layers: Descriptor[] = [];
  for (const [n, layer] of [...base, own].entries()) {
    // Even pushes go monolithic, odd ones chunked; shared layers race between both.
    const digest = (i + n) % 2 === 0 ? await client.pushBlob(repo, layer) : await pushChunked(client, repo, layer);
    layers.push({ mediaType: MediaType.OciLayerGzip, digest, size: layer.length });
    blobs.set(digest, layer);
  }
  const configDigest = await client.pushBlob(repo, config);
  blobs.set(configDigest, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: configDigest, size: config.length },
      layers,
    }),
  );
  const tag = `v${i}`;
  const res = await client.putManifest(repo, tag, manifest);
  assert.equal(res.status, 201, await res.text());
  return { repo, tag, manifest, blobs };
}

describe('concurrent pushes', () => {
  it('takes 50 pushes sharing layers at once; every image pulls back byte-identical and the store verifies', async () => {
    const base = [randomBytes(300_000), randomBytes(120_000)];
    const pushed = await Promise.all(Array.from({ length: 50 }, (_, i) => pushOne(h.client, i, base)));
    for (const image of pushed) {
      const res = await h.client.req('GET', `/v2/${image.repo}/manifests/${image.tag}`);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), image.manifest);
      for (const [digest, bytes] of image.blobs) {
        const blob = await h.client.req('GET', `/v2/${image.repo}/blobs/${digest}`);
        assert.equal(blob.status, 200);
        assert.deepEqual(Buffer.from(await blob.arrayBuffer()), bytes, `${image.repo} ${digest}`);
      }
    }
    const report = await h.store.verify();
    assert.deepEqual(report.problems, []);
    assert.equal(report.manifestsChecked, 50);
    // Shared layers once; then each push's own layer, config and manifest.
    assert.equal(report.blobsChecked, 2 + 50 * 3, 'the shared layers are stored once');
    await h.app.close();
    assert.deepEqual(await h.store.blobs.listIngests(), [], 'no upload left behind');
  });
});
