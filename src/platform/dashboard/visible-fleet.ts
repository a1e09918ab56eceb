import type { App, Organization, Space } from '../model.js';
import type { Permissions } from '../policy.js';
import type { ListQuery, Page, PlatformStore } from '../store/platform-store.js';
import type { WorkloadStore } from '../store/workload-store.js';
import type { Droplet } from '../workload.js';

/**
 * What a dashboard page reads of the whole fleet the caller may see: orgs, spaces,
 * apps, their processes and current droplets. Each list is the store's, filtered in
 * SQL by the policy's Visibility (never loaded whole and filtered here), read in
 * large pages: the store's own callers are not held to the API's 5000 cap, and one
 * read is cheaper than OFFSET re-scans.
 */

const PAGE = 100_000;

/** Every item of a paged store list, in creation order. */
export async function allPages<T>(list: (q: ListQuery) => Promise<Page<T>>): Promise<T[]> {
  const out: T[] = [];
  for (let page = 1; ; page++) {
    const batch = await list({ page, perPage: PAGE, orderBy: 'created_at' });
    out.push(...batch.items);
    if (page * PAGE >= batch.total || batch.items.length === 0) return out;
  }
}

export interface VisibleFleet {
  orgs: Organization[];
  spaces: Space[];
  apps: App[];
}

/** The orgs, spaces and apps the caller reads (optionally of one space). */
export async function visibleFleet(
  perms: Permissions,
  store: PlatformStore,
  filter: { spaceGuid?: string } = {},
): Promise<VisibleFleet> {
  const spaceFilter = filter.spaceGuid ? { guids: [filter.spaceGuid] } : {};
  const appFilter = filter.spaceGuid ? { spaceGuids: [filter.spaceGuid] } : {};
  const [orgs, spaces, apps] = await Promise.all([
    allPages((q) => store.listOrgs(q, {}, perms.orgVisibility())),
    allPages((q) => store.listSpaces(q, spaceFilter, perms.spaceVisibility())),
    allPages((q) => store.listApps(q, appFilter, perms.spaceVisibility())),
  ]);
  return { orgs, spaces, apps };
}

/** The STAGED droplets of the apps the caller reads, by guid (an app's current one is among them). */
export async function visibleDroplets(perms: Permissions, workloads: WorkloadStore): Promise<Map<string, Droplet>> {
  const droplets = await allPages((q) => workloads.listDroplets(q, { states: ['STAGED'] }, perms.spaceVisibility()));
  return new Map(droplets.map((d) => [d.guid, d]));
}
