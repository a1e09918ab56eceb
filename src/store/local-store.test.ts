import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { after, beforeEach, describe, it } from 'node:test';
import { isSlipwayError } from '../errors.js';
import { digestOf, type Digest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import { FsBlobStore } from './fs-blob-store.js';
import { LocalStore } from './local-store.js';
import { configBytes, indexBytes, manifestBytes, randomStream, writeImageBlobs } from './testdata/images.js';
import { openTestStore, scaleOutTests } from './testdata/test-backends.js';

/** Tests that reach into the filesystem layout (ingest directories, blob files) run on the embedded default only. */
const FS_ONLY = scaleOutTests() ? 'reaches into the filesystem layout' : false;

const homes: string[] = [];
let store: LocalStore;

async function newHome(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'slipway-store-'));
  homes.push(home);
  return home;
}

beforeEach(async () => {
  store = await openTestStore(await newHome());
});
after(async () => {
  await store.close().catch(() => undefined);
  for (const home of homes) await rm(home, { recursive: true, force: true });
});

async function allBlobs(s: LocalStore = store): Promise<Digest[]> {
  const result: Digest[] = [];
  for await (const d of s.blobs.list()) result.push(d);
  return result.sort();
}

/** Stores a one-layer image tagged `tag` in `repo`, returns its manifest digest and blobs. */
async function storeImage(repo: string, tag: string, layerSize = 1000) {
  return store.withLease(async (lease) => {
    const image = await writeImageBlobs(lease, `${repo}:${tag}`, [layerSize]);
    const desc = await store.putManifest(repo, image.manifest, MediaType.OciManifest, [tag], lease);
    return { ...image, desc };
  });
}

describe('LocalStore', () => {
  it('opens under SLIPWAY_HOME when no home is given', async () => {
    const home = await newHome();
    const saved = process.env['SLIPWAY_HOME'];
    process.env['SLIPWAY_HOME'] = home;
    try {
      const s = await LocalStore.open();
      assert.equal(s.home, home);
      await s.close();
    } finally {
      if (saved === undefined) delete process.env['SLIPWAY_HOME'];
      else process.env['SLIPWAY_HOME'] = saved;
    }
  });

  it('stores an image and resolves it by tag and by digest, linking its blobs to the repository', async () => {
    const image = await storeImage('team/app', 'v1');
    assert.deepEqual(image.desc, {
      mediaType: MediaType.OciManifest,
      digest: image.digest,
      size: image.manifest.length,
    });
    assert.deepEqual(await store.resolve('team/app', 'v1'), image.desc);
    assert.deepEqual(await store.resolve('team/app', image.digest), image.desc);
    assert.deepEqual(await store.blobs.read(image.digest), image.manifest);
    assert.equal(await store.meta.hasBlobLink('team/app', image.layers[0]!.digest), true);
    assert.equal(await store.meta.hasBlobLink('team/app', image.config.digest), true);
    const record = await store.meta.getManifest('team/app', image.digest);
    assert.deepEqual(record?.references, [image.config.digest, image.layers[0]!.digest]);
    assert.equal(record?.artifactType, MediaType.OciConfig, 'the referrers API falls back to the config media type');
    await assert.rejects(
      store.resolve('team/app', 'v2'),
      (e) => isSlipwayError(e, 'MANIFEST_UNKNOWN') && e.message.includes('team/app:v2'),
    );
    await assert.rejects(store.resolve('other', image.digest), (e) => isSlipwayError(e, 'MANIFEST_UNKNOWN'));
  });

  it('refuses a manifest whose blobs are not in the store, naming the digest, and records nothing', async () => {
    const config = await store.withLease((l) => l.putBytes(configBytes('x')));
    const layer = { mediaType: MediaType.OciLayerGzip, digest: digestOf('never stored'), size: 12 };
    const raw = manifestBytes({ mediaType: MediaType.OciConfig, ...config }, [layer]);
    await assert.rejects(store.putManifest('app', raw, MediaType.OciManifest, ['latest']), (e: unknown) => {
      assert.ok(isSlipwayError(e, 'BLOB_UNKNOWN'));
      assert.ok(e.message.includes(layer.digest));
      return true;
    });
    await assert.rejects(store.resolve('app', 'latest'), (e) => isSlipwayError(e, 'MANIFEST_UNKNOWN'));
    assert.equal(await store.blobs.stat(digestOf(raw)), undefined);
  });

  it('accepts an absent foreign layer (one with urls), without recording it', async () => {
    const config = await store.withLease((l) => l.putBytes(configBytes('win')));
    const foreign = {
      mediaType: MediaType.DockerLayerForeignGzip,
      digest: digestOf('foreign'),
      size: 7,
      urls: ['https://example.com/layer'],
    };
    const raw = manifestBytes({ mediaType: MediaType.OciConfig, ...config }, [foreign]);
    const desc = await store.putManifest('win/app', raw, MediaType.OciManifest, ['1']);
    assert.deepEqual((await store.meta.getManifest('win/app', desc.digest))?.references, [config.digest]);
    assert.deepEqual((await store.verify()).problems, []);
  });

  it('stores an index only once its children are in the repository', async () => {
    const a = await storeImage('multi', 'amd64');
    const b = await storeImage('multi', 'arm64');
    const children = [a.desc, b.desc].map((d, i) => ({
      ...d,
      platform: { os: 'linux', architecture: i ? 'arm64' : 'amd64' },
    }));
    const raw = indexBytes(children);
    await assert.rejects(
      store.putManifest('elsewhere', raw, MediaType.OciIndex, ['latest']),
      (e) => isSlipwayError(e, 'MANIFEST_UNKNOWN') && e.message.includes(a.digest),
    );
    const desc = await store.putManifest('multi', raw, MediaType.OciIndex, ['latest']);
    assert.deepEqual(await store.resolve('multi', 'latest'), {
      mediaType: MediaType.OciIndex,
      digest: digestOf(raw),
      size: raw.length,
    });
    assert.deepEqual((await store.meta.getManifest('multi', desc.digest))?.references, [a.digest, b.digest]);
  });

  it('refuses a manifest that is not valid, and one whose digest is not the expected one', async () => {
    await assert.rejects(store.putManifest('app', Buffer.from('{"schemaVersion":2}'), MediaType.OciManifest), (e) =>
      isSlipwayError(e, 'INVALID_DOCUMENT'),
    );
    const image = await storeImage('app', 'v1');
    await assert.rejects(
      store.putManifest('app', image.manifest, MediaType.OciManifest, [], undefined, digestOf('other')),
      (e) => isSlipwayError(e, 'DIGEST_MISMATCH'),
    );
  });

  it('records referrers by subject', async () => {
    const image = await storeImage('app', 'v1');
    const sbom = await store.withLease(async (lease) => {
      const cfg = await lease.putBytes(Buffer.from('{}'));
      const doc = await lease.putBytes(Buffer.from('{"spdxVersion":"SPDX-2.3"}'));
      const raw = manifestBytes(
        { mediaType: MediaType.OciEmpty, ...cfg },
        [{ mediaType: 'application/spdx+json', ...doc }],
        {
          artifactType: 'application/spdx+json',
          subject: image.desc,
          annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
        },
      );
      return store.putManifest('app', raw, MediaType.OciManifest, [], lease);
    });
    const referrers = await store.meta.referrers('app', image.digest);
    assert.deepEqual(
      referrers.map((r) => [r.digest, r.artifactType]),
      [[sbom.digest, 'application/spdx+json']],
    );
  });

  it('gc removes unreferenced blobs and stale ingests, keeps what tags and manifests need', {
    skip: FS_ONLY,
  }, async () => {
    const kept = await storeImage('app', 'v1', 50_000);
    const orphan = await store.withLease((l) => l.putBlob(randomStream(30_000)));
    const abandoned = await (await FsBlobStore.open(store.home)).writer();
    await abandoned.write(randomBytes(100));
    await abandoned.close();
    const report = await store.gc({ linkGraceMs: 0, ingestMaxAgeMs: -1 });
    assert.deepEqual(report, { blobsRemoved: 1, bytesFreed: 30_000, ingestsRemoved: 1 });
    assert.equal(await store.blobs.stat(orphan.digest), undefined);
    assert.deepEqual(await allBlobs(), [kept.digest, kept.config.digest, kept.layers[0]!.digest].sort());
    assert.deepEqual(await store.blobs.listIngests(), []);
    assert.deepEqual((await store.verify()).problems, []);
  });

  it("gc removes at once what a crash during an ingest's removal left: a directory without meta.json", {
    skip: FS_ONLY,
  }, async () => {
    const parked = await store.blobs.writer();
    await parked.write(randomBytes(10));
    await parked.close();
    const half = join(store.home, 'ingest', '0b9a3c2e-5d1f-4e6a-9b7c-8d2e1f0a3b4c');
    await mkdir(half);
    await writeFile(join(half, 'data'), 'left over');
    assert.deepEqual(
      (await store.blobs.listIngests()).filter((i) => i.broken).map((i) => i.id),
      ['0b9a3c2e-5d1f-4e6a-9b7c-8d2e1f0a3b4c'],
    );
    const report = await store.gc();
    assert.equal(report.ingestsRemoved, 1, 'only the broken one: the parked upload is young');
    assert.deepEqual(
      (await store.blobs.listIngests()).map((i) => i.id),
      [parked.id],
    );
  });

  it('gc keeps recently linked blobs (pushed before their manifest) during the grace period', async () => {
    const info = await store.withLease((l) => l.putBytes(randomBytes(100)));
    await store.meta.linkBlob('app', info.digest);
    assert.equal((await store.gc({ linkGraceMs: 60_000 })).blobsRemoved, 0);
    assert.equal((await store.gc({ linkGraceMs: 0 })).blobsRemoved, 1);
    assert.equal(await store.meta.hasBlobLink('app', info.digest), false, 'the link of a collected blob goes with it');
  });

  it('gc never takes a blob a live lease holds, even while the writer is still streaming', async () => {
    await store.withLease(async (lease) => {
      const writer = await lease.writer();
      const data = randomBytes(3_000_000);
      const gcs: Promise<unknown>[] = [];
      for (let i = 0; i < data.length; i += 100_000) {
        await writer.write(data.subarray(i, i + 100_000));
        gcs.push(store.gc({ linkGraceMs: 0 }));
      }
      const commit = writer.commit({ digest: digestOf(data) });
      gcs.push(store.gc({ linkGraceMs: 0 }));
      const info = await commit;
      await Promise.all(gcs);
      await store.gc({ linkGraceMs: 0 });
      assert.deepEqual(await buffer(await store.blobs.open(info.digest)), data, 'the leased blob survives');
      assert.equal(await lease.ensureBlob(info.digest), true);
    });
    assert.equal((await store.gc({ linkGraceMs: 0 })).blobsRemoved, 1, 'once released, nothing holds it');
  });

  it('ensureBlob protects an existing blob from a GC running at the same time', async () => {
    for (let round = 0; round < 20; round++) {
      const info = await store.withLease((l) => l.putBytes(randomBytes(1000)));
      await store.withLease(async (lease) => {
        const [present] = await Promise.all([lease.ensureBlob(info.digest), store.gc({ linkGraceMs: 0 })]);
        // Either GC ran first (and the blob is gone) or the lease holds it (and it stays).
        assert.equal(present, (await store.blobs.stat(info.digest)) !== undefined);
        await store.gc({ linkGraceMs: 0 });
        assert.equal((await store.blobs.stat(info.digest)) !== undefined, present);
      });
    }
  });

  it('putBytes skips writing a blob that exists, and checks size and digest', async () => {
    const data = randomBytes(500);
    await store.withLease(async (lease) => {
      const first = await lease.putBytes(data);
      assert.deepEqual(await lease.putBytes(data, { digest: first.digest, size: 500 }), first);
      await assert.rejects(lease.putBytes(data, { size: 499 }), (e) => isSlipwayError(e, 'SIZE_MISMATCH'));
      await assert.rejects(lease.putBytes(data, { digest: digestOf('x') }), (e) =>
        isSlipwayError(e, 'DIGEST_MISMATCH'),
      );
      const sha512 = await lease.putBytes(data, { digest: digestOf(data, 'sha512') });
      assert.deepEqual(await store.blobs.read(sha512.digest), data);
    });
  });

  it('putBlob stores sha512 blobs when the expected digest is sha512, and leaves nothing on mismatch', async () => {
    const data = randomBytes(200_000);
    await store.withLease(async (lease) => {
      const info = await lease.putBlob([data.subarray(0, 1000), data.subarray(1000)], {
        digest: digestOf(data, 'sha512'),
        size: data.length,
      });
      assert.equal(info.digest, digestOf(data, 'sha512'));
      await assert.rejects(lease.putBlob([randomBytes(10)], { digest: digestOf('y') }), (e) =>
        isSlipwayError(e, 'DIGEST_MISMATCH'),
      );
    });
    assert.deepEqual(await store.blobs.listIngests(), []);
  });

  it('deleteImage by tag keeps a manifest another tag holds, then removes it with the last tag', async () => {
    const image = await storeImage('app', 'v1');
    await store.meta.setTag('app', 'stable', image.digest);
    assert.deepEqual(await store.deleteImage('app', 'v1'), { untagged: ['v1'], deleted: [] });
    assert.deepEqual(await store.resolve('app', 'stable'), image.desc);
    assert.deepEqual(await store.deleteImage('app', 'stable'), { untagged: ['stable'], deleted: [image.digest] });
    const report = await store.gc({ linkGraceMs: 0 });
    assert.equal(report.blobsRemoved, 3);
    assert.deepEqual(await allBlobs(), []);
  });

  it('deleteImage of an index by digest removes its untagged children too', async () => {
    const a = await storeImage('multi', 'amd64');
    const b = await storeImage('multi', 'arm64');
    await store.meta.deleteTag('multi', 'amd64');
    const index = await store.putManifest('multi', indexBytes([a.desc, b.desc]), MediaType.OciIndex, ['latest']);
    assert.deepEqual(await store.deleteImage('multi', index.digest), {
      untagged: ['latest'],
      deleted: [index.digest, a.digest],
    });
    assert.deepEqual(await store.resolve('multi', 'arm64'), b.desc, 'a tagged child stays');
    await assert.rejects(store.deleteImage('multi', index.digest), (e) => isSlipwayError(e, 'MANIFEST_UNKNOWN'));
  });

  it('pruneUntagged with createdBefore spares manifests younger than the cut-off', async () => {
    const old = await storeImage('app', 'old');
    await store.meta.deleteTag('app', 'old');
    const cutoff = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5));
    const young = await storeImage('app', 'young');
    await store.meta.deleteTag('app', 'young');
    assert.deepEqual(await store.pruneUntagged({ createdBefore: cutoff }), { untagged: [], deleted: [old.digest] });
    assert.deepEqual(await store.resolve('app', young.digest), young.desc);
    assert.deepEqual(await store.pruneUntagged(), { untagged: [], deleted: [young.digest] });
  });

  it('pruneUntagged takes everything unreachable in one call (a referrer recorded before its subject)', async () => {
    const { image, referrer } = await store.withLease(async (lease) => {
      const image = await writeImageBlobs(lease, 'app:v1', [1000]);
      const subject = {
        mediaType: MediaType.OciManifest,
        digest: digestOf(image.manifest),
        size: image.manifest.length,
      };
      const cfg = await lease.putBytes(Buffer.from('{}'));
      const doc = await lease.putBytes(Buffer.from('{"spdxVersion":"SPDX-2.3"}'));
      const raw = manifestBytes(
        { mediaType: MediaType.OciEmpty, ...cfg },
        [{ mediaType: 'application/spdx+json', ...doc }],
        { artifactType: 'application/spdx+json', subject },
      );
      // A registry client may push the referrer first (OCI 1.1 allows it).
      const referrer = await store.putManifest('app', raw, MediaType.OciManifest, [], lease);
      await new Promise((r) => setTimeout(r, 5));
      await store.putManifest('app', image.manifest, MediaType.OciManifest, ['v1'], lease);
      return { image, referrer };
    });
    await store.meta.deleteTag('app', 'v1');
    const report = await store.pruneUntagged();
    assert.deepEqual(report.deleted.sort(), [digestOf(image.manifest), referrer.digest].sort());
    assert.deepEqual(await store.meta.listManifests('app'), []);
  });

  it('verify finds a corrupt blob, a missing layer and is clean otherwise', { skip: FS_ONLY }, async () => {
    const image = await storeImage('app', 'v1', 10_000);
    assert.deepEqual(await store.verify(), { blobsChecked: 3, manifestsChecked: 1, tagsChecked: 1, problems: [] });
    const layer = image.layers[0]!.digest;
    const path = join(store.home, 'blobs', 'sha256', layer.slice('sha256:'.length));
    await chmod(path, 0o644);
    await writeFile(path, 'tampered');
    await rm(join(store.home, 'blobs', 'sha256', image.config.digest.slice('sha256:'.length)));
    const { problems } = await store.verify();
    assert.deepEqual(
      problems.map((p) => [p.kind, p.digest]).sort(),
      [
        ['corrupt-blob', layer],
        ['missing-blob', image.config.digest],
      ].sort(),
    );
  });
});
