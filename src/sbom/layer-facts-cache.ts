import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex, type Digest } from '../oci/digest.js';
import type { LayerFactsCache } from './collect.js';
import { LAYER_FACTS_VERSION, type LayerFacts } from './layer-facts.js';

/**
 * Layer facts kept as small JSON files under the store (`cache/sbom-layers/`), by
 * diffID: a layer's bytes never change, so its facts never go stale. A file that
 * cannot be read is read again from the layer.
 */
export function fileLayerFactsCache(home: string): LayerFactsCache {
  const dir = join(home, 'cache', 'sbom-layers');
  const file = (d: Digest) => join(dir, `${digestHex(d)}.v${LAYER_FACTS_VERSION}.json`);
  return {
    async get(diffId) {
      try {
        return JSON.parse(await readFile(file(diffId), 'utf8')) as LayerFacts;
      } catch {
        return undefined;
      }
    },
    async put(diffId, facts) {
      await mkdir(dir, { recursive: true });
      const tmp = `${file(diffId)}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(facts));
      await rename(tmp, file(diffId));
    },
  };
}
