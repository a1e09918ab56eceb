import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex, type Digest } from '../oci/digest.js';
import type { LayerFactsCache } from './collect.js';
import { LAYER_FACTS_VERSION, type LayerFacts } from './layer-facts.js';

/**
 * Layer facts kept as small JSON files under the store (`cache/sbom-layers/`), by
 * diffID: a layer's bytes never change, so its facts never go stale. A file that
 * cannot be read is read again from the layer; one that cannot be written is not kept.
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
      // A name of its own: two builds of one process may cache the same layer at once.
      const tmp = `${file(diffId)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        await writeFile(tmp, JSON.stringify(facts));
        await rename(tmp, file(diffId));
      } catch {
        // A cache: the facts stand without it, and are read from the layer next time.
        await rm(tmp, { force: true });
      }
    },
  };
}
