import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isSlipwayError } from '../errors.js';
import { digestOf } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import type { Descriptor } from '../oci/types.js';
import type { Image } from '../image/types.js';
import { LocalStore } from '../store/local-store.js';
import { configBytes, manifestBytes, randomStream } from '../store/testdata/images.js';
import { LocalBatch } from './local-batch.js';
import { emptyCounts } from './write-rebased.js';

/** What LocalBatch reads of a rebased image: its config and manifest bytes. */
function docImage(label: string, layers: Descriptor[]): Image & { manifestDigest: string } {
  const config = configBytes(label);
  const manifest = manifestBytes(
    { mediaType: MediaType.OciConfig, digest: digestOf(config), size: config.length },
    layers,
  );
  return {
    rawConfig: async () => config,
    configDigest: async () => digestOf(config),
    rawManifest: async () => manifest,
    mediaType: async () => MediaType.OciManifest,
    manifestDigest: digestOf(manifest),
  } as unknown as Image & { manifestDigest: string };
}

describe('LocalBatch', () => {
  let home: string;
  let store: LocalStore;
  let layer: Descriptor;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'slipway-batch-'));
    store = await LocalStore.open(home);
    const info = await store.withLease((lease) => lease.putBlob(randomStream(2000)));
    layer = { mediaType: MediaType.OciLayerGzip, ...info };
    // Tagged, so GC or verify would keep it anyway; the batch holds it in its own lease too.
    const cfg = await store.withLease((lease) => lease.putBytes(configBytes('old')));
    await store.putManifest(
      'team/old',
      manifestBytes({ mediaType: MediaType.OciConfig, ...cfg }, [layer]),
      MediaType.OciManifest,
      ['v1'],
    );
  });
  after(async () => {
    await store.close();
    await rm(home, { recursive: true, force: true });
  });

  test('images queued in batches are written with their configs and tagged; one whose layer is missing fails alone', async () => {
    const batch = new LocalBatch(store, { size: 2, parallel: 2 });
    const counts = emptyCounts();
    const images = ['a', 'b', 'c', 'd', 'e'].map((l) => docImage(l, [layer]));
    const missing = { mediaType: MediaType.OciLayerGzip, digest: digestOf('not in the store'), size: 16 };
    const broken = docImage('broken', [layer, missing]);
    const queued = [];
    for (const [i, image] of images.entries())
      queued.push((await batch.add(`team/app-${i % 2}`, `v${i}`, image, counts)).committed);
    const failed = (await batch.add('team/app-0', 'broken', broken, counts)).committed;
    await batch.flush();
    const written = await Promise.all(queued);
    for (const [i, image] of images.entries()) {
      assert.equal(written[i]!.digest, image.manifestDigest);
      assert.equal((await store.resolve(`team/app-${i % 2}`, `v${i}`)).digest, image.manifestDigest);
      const config = await store.blobs.read(await image.configDigest());
      assert.deepEqual(config, await image.rawConfig());
    }
    await assert.rejects(failed, (e) => isSlipwayError(e, 'BLOB_UNKNOWN'));
    assert.equal(await store.meta.resolveTag('team/app-0', 'broken'), undefined);
    assert.equal(counts.manifestsWritten, 6);
    const report = await store.verify();
    assert.deepEqual(report.problems, []);
  });

  test('an image that cannot be serialised is refused when queued; the rest of its batch goes on', async () => {
    const batch = new LocalBatch(store, { size: 2 });
    const good = docImage('good', [layer]);
    const bad = { ...docImage('bad', [layer]), rawConfig: async () => Promise.reject(new Error('no config')) } as Image;
    const { committed } = await batch.add('team/app-1', 'good', good, emptyCounts());
    await assert.rejects(batch.add('team/app-1', 'bad', bad, emptyCounts()), /no config/);
    await batch.flush();
    assert.equal((await committed).digest, good.manifestDigest);
    assert.equal(await store.meta.resolveTag('team/app-1', 'bad'), undefined);
  });

  test('a second batch of the same images changes nothing', async () => {
    const batch = new LocalBatch(store);
    const image = docImage('a', [layer]);
    const { committed } = await batch.add('team/app-0', 'v0', image, emptyCounts());
    await batch.flush();
    assert.equal((await committed).digest, image.manifestDigest);
    assert.equal((await store.resolve('team/app-0', 'v0')).digest, image.manifestDigest);
  });
});
