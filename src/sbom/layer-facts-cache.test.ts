import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { digestOf } from '../oci/digest.js';
import { fileLayerFactsCache } from './layer-facts-cache.js';
import { LAYER_FACTS_VERSION, type LayerFacts } from './layer-facts.js';

test('the layer facts cache: the same layer cached by many builds at once, one file, no error', async () => {
  const home = await mkdtemp(join(tmpdir(), 'slipway-facts-'));
  try {
    const cache = fileLayerFactsCache(home);
    const diffId = digestOf('a layer');
    const facts: LayerFacts = {
      dpkgStatusD: [],
      npmInstalled: [],
      lockFiles: [],
      nodeBinaries: ['usr/bin/node'],
      deletes: [],
      declared: [],
    };
    await Promise.all(Array.from({ length: 20 }, () => cache.put(diffId, facts)));
    assert.deepEqual(await cache.get(diffId), facts);
    assert.deepEqual(await readdir(join(home, 'cache', 'sbom-layers')), [
      `${diffId.slice(7)}.v${LAYER_FACTS_VERSION}.json`,
    ]);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});
