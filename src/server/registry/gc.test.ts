import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { RegistryEvent } from './events.js';
import { startGc } from './gc.js';
import { harness, randomLayer, type Harness } from './testdata/client.js';

let h: Harness;

before(async () => {
  h = await harness();
});
after(() => h.dispose());

describe('online GC', () => {
  it('keeps freshly pushed blobs through the grace period, then collects them when nothing needs them', async () => {
    const digest = await h.client.pushBlob('gc/grace', randomBytes(1000));
    const gc = startGc(h.store, { intervalMs: 3_600_000, graceMs: 200 });
    try {
      await gc.runNow();
      assert.ok(await h.store.blobs.stat(digest), 'kept: its manifest may still come');
      await sleep(250);
      const report = await gc.runNow();
      assert.ok(report.blobsRemoved >= 1);
      assert.equal(await h.store.blobs.stat(digest), undefined);
      assert.equal((await h.client.req('HEAD', `/v2/gc/grace/blobs/${digest}`)).status, 404, 'and its link with it');
    } finally {
      await gc.stop();
    }
  });

  it("never collects what a manifest references, and collects a deleted image's blobs", async () => {
    const kept = await h.client.pushImage('gc/keep', 'v1', [randomLayer()]);
    const gone = await h.client.pushImage('gc/gone', 'v2', [randomLayer()]);
    assert.equal((await h.client.req('DELETE', `/v2/gc/gone/manifests/${gone.digest}`)).status, 202);
    const gc = startGc(h.store, { intervalMs: 3_600_000, graceMs: 0 });
    try {
      await gc.runNow();
    } finally {
      await gc.stop();
    }
    for (const d of [kept.digest, kept.config.digest, ...kept.layers.map((l) => l.digest)])
      assert.ok(await h.store.blobs.stat(d), d);
    for (const d of [gone.digest, gone.config.digest, ...gone.layers.map((l) => l.digest)])
      assert.equal(await h.store.blobs.stat(d), undefined, d);
  });

  it('prunes untagged manifests older than the grace period only when asked', async () => {
    const old = await h.client.pushImage('gc/prune', 'old', [randomLayer()]);
    assert.equal((await h.client.req('DELETE', '/v2/gc/prune/manifests/old')).status, 202);
    const events: RegistryEvent[] = [];
    const plain = startGc(h.store, { intervalMs: 3_600_000, graceMs: 0 });
    await plain.runNow();
    await plain.stop();
    assert.equal(
      (await h.client.req('HEAD', `/v2/gc/prune/manifests/${old.digest}`)).status,
      200,
      'kept without pruneUntagged',
    );

    await sleep(300);
    const young = await h.client.pushImage('gc/prune', 'young', [randomLayer()]);
    assert.equal((await h.client.req('DELETE', '/v2/gc/prune/manifests/young')).status, 202);
    const pruning = startGc(h.store, {
      intervalMs: 3_600_000,
      graceMs: 250,
      pruneUntagged: true,
      onEvent: (e) => events.push(e),
    });
    try {
      await pruning.runNow();
      assert.equal(
        (await h.client.req('HEAD', `/v2/gc/prune/manifests/${old.digest}`)).status,
        404,
        'old enough: pruned',
      );
      assert.equal(
        (await h.client.req('HEAD', `/v2/gc/prune/manifests/${young.digest}`)).status,
        200,
        'too young: kept',
      );
    } finally {
      await pruning.stop();
    }
    const gcEvents = events.filter((e) => e.type === 'gc');
    assert.equal(gcEvents.length, 1);
    assert.equal(gcEvents[0]!.type === 'gc' && gcEvents[0]!.prunedManifests, 1);
  });

  it('runs on its interval while pushes go on, and every pushed image stays whole', async () => {
    const events: RegistryEvent[] = [];
    const gc = startGc(h.store, { intervalMs: 5, graceMs: 60_000, onEvent: (e) => events.push(e) });
    try {
      const images = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          h.client.pushImage(`gc/online-${i % 3}`, `v${i}`, [randomLayer(30_000), randomLayer(30_000)]),
        ),
      );
      await sleep(30);
      for (const [i, image] of images.entries()) {
        const res = await h.client.req('GET', `/v2/gc/online-${i % 3}/manifests/v${i}`);
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), image.manifest);
        for (const layer of image.layers)
          assert.equal((await h.client.req('HEAD', `/v2/gc/online-${i % 3}/blobs/${layer.digest}`)).status, 200);
      }
    } finally {
      await gc.stop();
    }
    assert.ok(events.filter((e) => e.type === 'gc' && e.error === undefined).length >= 2, 'GC ran meanwhile');
    assert.deepEqual((await h.store.verify()).problems, []);
  });
});
