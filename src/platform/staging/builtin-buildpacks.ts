import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_BUILDPACKS } from '../../stage/cnb/paths.js';
import { emptyMetadata, newGuid, now } from '../model.js';
import type { PlatformStore } from '../store/platform-store.js';

/** The order CF would try them in: language first, the generic ones last. */
const ORDER = ['nodejs', 'apt', 'make', 'procfile'];

/**
 * Slipway's own buildpacks as the platform's admin buildpacks (`cf buildpacks` lists
 * them, `cf push -b nodejs_buildpack` names one), under CF's names `<id>_buildpack`
 * for `slipway/<id>`. Made on start when missing; an admin may disable or reorder them.
 */
export async function ensureBuiltinBuildpacks(store: PlatformStore): Promise<void> {
  const ids = readdirSync(BUILTIN_BUILDPACKS, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(BUILTIN_BUILDPACKS, e.name, 'buildpack.toml')))
    .map((e) => e.name)
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const existing = await store.listBuildpacks({ page: 1, perPage: 5000, orderBy: 'position' }, {});
  const names = new Set(existing.items.map((b) => b.name));
  let position = existing.total;
  for (const id of ids) {
    const name = `${id}_buildpack`;
    if (names.has(name)) continue;
    const at = now();
    await store.createBuildpack({
      guid: newGuid(),
      createdAt: at,
      updatedAt: at,
      name,
      stack: null,
      position: ++position,
      enabled: true,
      locked: false,
      state: 'READY',
      filename: `slipway/${id}`,
      lifecycle: 'cnb',
      metadata: emptyMetadata(),
    });
  }
}

function rank(id: string): number {
  const i = ORDER.indexOf(id);
  return i === -1 ? ORDER.length : i;
}
