import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readLifecycleMetadata, recordedRunImage, updatedLifecycleMetadata } from './lifecycle-metadata.js';
import { preferredRunImages, sameRepository } from './run-image-name.js';

// Shaped as the lifecycle's exporter writes it (platform/files LayersMetadata).
const LABEL = JSON.stringify({
  app: [{ sha: 'sha256:aa' }],
  buildpacks: [
    {
      key: 'samples/hello',
      version: '0.0.1',
      layers: { l: { sha: 'sha256:bb', data: {}, build: false, launch: true, cache: false } },
    },
  ],
  launcher: { sha: 'sha256:cc' },
  'process-types': { sha: 'sha256:dd' },
  runImage: {
    topLayer: 'sha256:ee',
    reference: 'reg.example/run@sha256:' + '1'.repeat(64),
    image: 'reg.example/run:latest',
    mirrors: ['mirror.example/run'],
  },
  stack: { runImage: { image: 'reg.example/run:latest', mirrors: ['mirror.example/run'] } },
});

describe('io.buildpacks.lifecycle.metadata', () => {
  test('an update changes runImage only, keeping every other field and the key order', () => {
    const meta = readLifecycleMetadata({ 'io.buildpacks.lifecycle.metadata': LABEL })!;
    const out = updatedLifecycleMetadata(meta, {
      topLayer: 'sha256:ff',
      reference: 'reg.example/run@sha256:' + '2'.repeat(64),
    });
    const before = JSON.parse(LABEL) as Record<string, unknown>;
    assert.deepEqual(Object.keys(out), Object.keys(before));
    assert.deepEqual({ ...out, runImage: undefined }, { ...before, runImage: undefined });
    assert.deepEqual(out.runImage, {
      topLayer: 'sha256:ff',
      reference: 'reg.example/run@sha256:' + '2'.repeat(64),
      image: 'reg.example/run:latest',
      mirrors: ['mirror.example/run'],
    });
  });

  test('a forced rename records the new name and clears the mirrors', () => {
    const out = updatedLifecycleMetadata(readLifecycleMetadata({ 'io.buildpacks.lifecycle.metadata': LABEL })!, {
      topLayer: 't',
      reference: 'r',
      rename: 'other/run:1',
    });
    assert.equal(out.runImage!.image, 'other/run:1');
    assert.equal(out.runImage!.mirrors, undefined);
    assert.deepEqual(out.stack, { runImage: { image: 'other/run:1' } });
  });

  test('older labels carry the run image in stack.runImage only', () => {
    assert.deepEqual(recordedRunImage({ stack: { runImage: { image: 'a/run', mirrors: ['b/run'] } } }), {
      image: 'a/run',
      mirrors: ['b/run'],
    });
  });

  test('a label that is not JSON is an error that says so', () => {
    assert.throws(() => readLifecycleMetadata({ 'io.buildpacks.lifecycle.metadata': '{' }), /is not JSON/);
  });

  test("names on the app image's registry are tried first", () => {
    assert.deepEqual(
      preferredRunImages({ image: 'a.example/run', mirrors: ['b.example/run', 'c.example/run'] }, 'c.example'),
      ['c.example/run', 'a.example/run', 'b.example/run'],
    );
    assert.ok(sameRepository('default/run:latest', 'default/run@sha256:' + '3'.repeat(64)));
    assert.ok(!sameRepository('default/run:latest', 'reg.example/default/run:latest'));
  });
});
