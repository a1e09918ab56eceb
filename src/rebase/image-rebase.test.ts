import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { digestOf, type Digest } from '../oci/digest.js';
import { MediaType } from '../oci/media-types.js';
import type { HistoryEntry } from '../oci/types.js';
import { ComputedImage } from '../image/computed-image.js';
import { baseLayerCountByPrefix, baseLayerCountByTopLayer, rebase } from '../image/rebase.js';
import type { Image, Layer } from '../image/types.js';
import { withAnnotations, withLabels } from '../image/mutate.js';
import { rebuilt } from './rebase-image.js';

/** A layer known by made-up digests: rebase never reads layer bytes. */
function fakeLayer(name: string): Layer {
  const diff = digestOf(`diff ${name}`);
  const blob = digestOf(`blob ${name}`);
  return {
    mediaType: MediaType.OciLayerGzip,
    digest: async () => blob,
    diffId: async () => diff,
    size: async () => 10,
    compressed: async () => Readable.from([]),
    uncompressed: async () => Readable.from([]),
  };
}

function image(layers: Layer[], history: HistoryEntry[], arch = 'amd64'): Image {
  return new ComputedImage({
    layers,
    manifestMediaType: MediaType.OciManifest,
    config: {
      architecture: arch,
      os: 'linux',
      config: { Env: ['A=1'], Entrypoint: ['/launcher'] },
      rootfs: { type: 'layers', diff_ids: [] },
      history,
    },
  });
}

describe('image-level rebase (mutate.rebase)', () => {
  const [b1, b2, n1, n2, n3, a1, a2] = ['b1', 'b2', 'n1', 'n2', 'n3', 'a1', 'a2'].map(fakeLayer) as [
    Layer,
    Layer,
    Layer,
    Layer,
    Layer,
    Layer,
    Layer,
  ];
  const oldBase = image([b1, b2], [{ created_by: 'b1' }, { created_by: 'b2' }]);
  const newBase = image(
    [n1, n2, n3],
    [{ created_by: 'n1' }, { created_by: 'env', empty_layer: true }, { created_by: 'n2' }, { created_by: 'n3' }],
    'arm64',
  );
  const app = image(
    [b1, b2, a1, a2],
    [
      { created_by: 'b1' },
      { created_by: 'b2' },
      { created_by: 'label', empty_layer: true },
      { created_by: 'a1' },
      { created_by: 'a2' },
    ],
  );

  test('new base layers and history, then the app layers with theirs; config kept, platform from the new base', async () => {
    const out = await rebase(app, 2, newBase);
    const ids = (await out.config()).rootfs.diff_ids;
    assert.deepEqual(ids, await Promise.all([n1, n2, n3, a1, a2].map((l) => l.diffId())));
    const cfg = await out.config();
    assert.deepEqual(
      cfg.history!.map((h) => h.created_by),
      ['n1', 'env', 'n2', 'n3', 'label', 'a1', 'a2'],
    );
    assert.equal(cfg.architecture, 'arm64');
    assert.deepEqual(cfg.config, { Env: ['A=1'], Entrypoint: ['/launcher'] });
    assert.equal((await app.config()).architecture, 'amd64', 'the input is untouched');
  });

  test('the boundary from the top layer diffID, or from an old base that must be a prefix', async () => {
    assert.equal(await baseLayerCountByTopLayer(app, (await b2.diffId()) as Digest), 2);
    await assert.rejects(baseLayerCountByTopLayer(app, (await n1.diffId()) as Digest), /has no layer with diffID/);
    assert.equal(await baseLayerCountByPrefix(app, oldBase), 2);
    await assert.rejects(
      baseLayerCountByPrefix(app, newBase),
      /layer 0 of the image \(diffID sha256:\w+\) is not layer 0 of the old base/,
    );
    await assert.rejects(baseLayerCountByPrefix(oldBase, app), /the old base has 4 layers but the image only 2/);
  });

  test('the same inputs give the same digest', async () => {
    assert.equal(await (await rebase(app, 2, newBase)).digest(), await (await rebase(app, 2, newBase)).digest());
  });
});

describe('rebuilt (a rebase with its labels and annotations, serialised once)', () => {
  const [b1, n1, a1] = ['b1', 'n1', 'a1'].map(fakeLayer) as [Layer, Layer, Layer];
  const labels = { 'io.buildpacks.stack.id': 'new', 'io.buildpacks.base.old': undefined, added: 'yes' };
  const annotations = { 'org.opencontainers.image.base.digest': digestOf('base') };

  for (const [name, withConfig] of [
    ['a config with a config object', true],
    ['a config without one (the longer way)', false],
  ] as const) {
    test(`${name}: the same bytes as rebase, then withLabels and withAnnotations`, async () => {
      const app = new ComputedImage({
        layers: [b1, a1],
        manifestMediaType: MediaType.OciManifest,
        annotations: { keep: 'me' },
        config: {
          architecture: 'amd64',
          os: 'linux',
          ...(withConfig ? { config: { Env: ['A=1'], Labels: { 'io.buildpacks.base.old': 'x', app: 'label' } } } : {}),
          rootfs: { type: 'layers', diff_ids: [] },
          history: [{ created_by: 'b1' }, { created_by: 'a1' }],
        },
      });
      const newBase = image([n1], [{ created_by: 'n1' }], 'arm64');
      for (const ann of [annotations, undefined]) {
        let expected = await withLabels(await rebase(app, 1, newBase), labels);
        if (ann) expected = await withAnnotations(expected, ann);
        const got = await rebuilt(app, await app.config(), await app.manifest(), 1, newBase, labels, ann);
        assert.deepEqual(await got.rawConfig(), await expected.rawConfig());
        assert.deepEqual(await got.rawManifest(), await expected.rawManifest());
        assert.equal((await got.config()).architecture, 'arm64');
        assert.equal((await got.config()).config?.Labels?.['added'], 'yes');
      }
    });
  }
});
