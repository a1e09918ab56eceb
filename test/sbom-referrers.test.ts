import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalStore } from '../src/store/local-store.js';
import { Registries } from '../src/registry/client/registries.js';
import { copy } from '../src/copy/copy.js';
import { fallbackTag } from '../src/copy/referrers.js';
import { promote } from '../src/promote/promote.js';
import { parseTransport } from '../src/oci/transport.js';
import { generateSbom } from '../src/sbom/sbom.js';
import { commandExists, startDistribution, startSlipwayRegistry, tempDir, type RegistryProcess } from './helpers.js';
import { makeStackVersion } from './rebase-fixtures.js';

/**
 * The SBOM referrer round trip: attached in the store, pushed to Slipway's registry
 * (the referrers API) and to CNCF Distribution 2.8 (no referrers API: the fallback tag
 * sha256-<hex>), copied from there to a third place and promoted between the two
 * registries; it arrives everywhere with the same digest, and --no-referrers leaves it.
 */
const haveDistribution = commandExists('docker-registry');
let home: { path: string; cleanup: () => Promise<void> };
let store: LocalStore;
let third: LocalStore;
let slip: RegistryProcess;
let dist: RegistryProcess;

before(async () => {
  if (!haveDistribution) return;
  home = await tempDir('sbom-referrers');
  store = await LocalStore.open(`${home.path}/a`);
  third = await LocalStore.open(`${home.path}/c`);
  slip = await startSlipwayRegistry(`${home.path}/b`);
  dist = await startDistribution(`${home.path}/distribution`);
});

after(async () => {
  await slip?.stop();
  await dist?.stop();
  await store?.close();
  await third?.close();
  await home?.cleanup();
});

describe('SBOM referrers', { skip: !haveDistribution }, () => {
  test('push to both registries, copy to a third place, promote: the referrer arrives with the same digest', async () => {
    const v1 = await makeStackVersion(store, 'teststack', '1');
    const sbom = await generateSbom(parseTransport('teststack/run:1'), async () => store);
    const referrer = sbom.referrer!.digest;
    assert.equal(sbom.image, v1.digest);
    const registries = new Registries();
    const open = async () => store;

    const toSlip = await copy(parseTransport('teststack/run:1'), parseTransport(`${slip.host}/team/base:1`), open);
    assert.deepEqual(toSlip.referrers, [referrer]);
    const slipClient = await registries.client(slip.host, 'team/base');
    const listed = await slipClient.referrers('team/base', v1.digest);
    assert.deepEqual(
      listed?.map((d) => [d.digest, d.artifactType]),
      [[referrer, 'application/vnd.cyclonedx+json']],
    );

    const toDist = await copy(parseTransport('teststack/run:1'), parseTransport(`${dist.host}/team/base:1`), open);
    assert.deepEqual(toDist.referrers, [referrer]);
    const distClient = await registries.client(dist.host, 'team/base');
    assert.equal(
      await distClient.referrers('team/base', v1.digest),
      undefined,
      'Distribution 2.8 has no referrers API',
    );
    const fallback = JSON.parse(
      (
        await distClient.getManifest('team/base', fallbackTag(v1.digest), ['application/vnd.oci.image.index.v1+json'])
      ).bytes.toString(),
    );
    assert.deepEqual(
      fallback.manifests.map((d: { digest: string }) => d.digest),
      [referrer],
    );
    // Pushing again does not list it twice.
    await copy(parseTransport('teststack/run:1'), parseTransport(`${dist.host}/team/base:1`), open);
    const again = JSON.parse(
      (
        await distClient.getManifest('team/base', fallbackTag(v1.digest), ['application/vnd.oci.image.index.v1+json'])
      ).bytes.toString(),
    );
    assert.equal(again.manifests.length, 1);

    // From Distribution (fallback tag) to a third store: the same referrer digest, with the SBOM's bytes.
    const copied = await copy(
      parseTransport(`${dist.host}/team/base:1`),
      parseTransport('copied/base:1'),
      async () => third,
    );
    assert.deepEqual(copied.referrers, [referrer]);
    const there = await third.meta.referrers('copied/base', v1.digest);
    assert.deepEqual(
      there.map((r) => r.digest),
      [referrer],
    );
    assert.ok(await third.blobs.stat(sbom.digest), 'the SBOM document itself arrived');

    // Promote from Slipway's registry (referrers API) to Distribution: carried along, same digest.
    const promoted = await promote(
      parseTransport(`${slip.host}/team/base:1`),
      parseTransport(`${dist.host}/prod/base:1`),
      open,
    );
    assert.deepEqual(promoted.referrers, [referrer]);

    // --no-referrers leaves them behind.
    const bare = await copy(parseTransport('teststack/run:1'), parseTransport(`${slip.host}/team/bare:1`), open, {
      referrers: false,
    });
    assert.equal(bare.referrers, undefined);
    assert.deepEqual(await slipClient.referrers('team/bare', v1.digest), []);
  });
});
