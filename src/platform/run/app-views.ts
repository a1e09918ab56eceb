import type { App, Organization, Space } from '../model.js';
import type { PlatformStore } from '../store/platform-store.js';
import type { WorkloadStore } from '../store/workload-store.js';
import type { Process } from '../workload.js';

/** An app that has processes, with its space and org: what an instance backend may run. */
export interface AppView {
  app: App;
  space: Space;
  org: Organization;
  processes: Process[];
}

const PAGE = 500;

/** Every app with processes, by app GUID (each reconciler pass starts here). */
export async function appViews(platform: PlatformStore, workloads: WorkloadStore): Promise<Map<string, AppView>> {
  const out = new Map<string, AppView>();
  for (let page = 1; ; page++) {
    const batch = await workloads.listProcesses({ page, perPage: PAGE, orderBy: 'created_at' }, {}, { kind: 'all' });
    for (const p of batch.items) {
      let view = out.get(p.appGuid);
      if (!view) {
        const app = await platform.getApp(p.appGuid);
        const space = app ? await platform.getSpace(app.spaceGuid) : undefined;
        const org = space ? await platform.getOrg(space.orgGuid) : undefined;
        if (!app || !space || !org) continue;
        out.set(p.appGuid, (view = { app, space, org, processes: [] }));
      }
      view.processes.push(p);
    }
    if (page * PAGE >= batch.total) break;
  }
  return out;
}
