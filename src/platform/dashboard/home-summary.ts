import { latestVersion } from '../../stack/stack-catalog.js';
import type { LocalStore } from '../../store/local-store.js';
import type { App, Organization, Space } from '../model.js';
import type { Permissions } from '../policy.js';
import type { PlatformStore } from '../store/platform-store.js';
import type { FleetApp, WorkloadStore } from '../store/workload-store.js';
import type { Instance } from '../workload.js';
import { allPages } from './visible-fleet.js';

/**
 * The dashboard's home: every org and space the caller sees, with how many of their
 * apps are running, crashed, staging or stopped, and the apps whose current image is
 * on an older version of its stack than the latest (behind on OS patches).
 */

export interface AppCounts {
  apps: number;
  running: number;
  crashed: number;
  staging: number;
  stopped: number;
  behind: number;
}

export interface BehindApp {
  app: FleetApp;
  space: Space;
  org: Organization;
  stack: string;
  /** The stack version its image is on, and the stack's latest. */
  version: string;
  latest: string;
}

export interface HomeSummary {
  totals: AppCounts;
  orgs: { org: Organization; counts: AppCounts; spaces: { space: Space; counts: AppCounts }[] }[];
  /** Apps behind on patches, oldest version first. */
  behind: BehindApp[];
}

export type AppHealth = 'running' | 'crashed' | 'staging' | 'stopped' | 'starting';

export interface HomeDeps {
  perms: Permissions;
  store: PlatformStore;
  workloads: WorkloadStore;
  images: LocalStore;
}

export async function homeSummary(d: HomeDeps): Promise<HomeSummary> {
  const visibility = d.perms.spaceVisibility();
  // The fleet's apps and processes in narrow reads: 10,000 apps' JSON columns would cost more than the page.
  const [orgs, spaces, fleet, staging] = await Promise.all([
    allPages((q) => d.store.listOrgs(q, {}, d.perms.orgVisibility())),
    allPages((q) => d.store.listSpaces(q, {}, visibility)),
    d.workloads.fleetSummary(visibility),
    allPages((q) => d.workloads.listBuilds(q, { states: ['STAGING'] }, visibility)),
  ]);
  const stagingApps = new Set(staging.map((b) => b.appGuid));
  // The started apps' instances in a few batched reads, not one query per process.
  const started = new Set(
    fleet.apps.filter((a) => a.state === 'STARTED' && !stagingApps.has(a.guid)).map((a) => a.guid),
  );
  const instances = await d.workloads.instancesOfProcesses(
    fleet.processes.filter((p) => started.has(p.appGuid)).map((p) => p.guid),
  );
  const byApp = new Map<string, Instance[]>();
  for (const i of instances) {
    const list = byApp.get(i.appGuid);
    if (list) list.push(i);
    else byApp.set(i.appGuid, [i]);
  }
  const latest = await latestVersions(d.images, fleet.apps);
  const spaceBy = new Map(spaces.map((s) => [s.guid, s]));
  const orgBy = new Map(orgs.map((o) => [o.guid, o]));
  const bySpace = new Map<string, AppCounts>();
  const totals = emptyCounts();
  const behind: BehindApp[] = [];
  for (const app of fleet.apps) {
    const counts = bySpace.get(app.spaceGuid) ?? emptyCounts();
    bySpace.set(app.spaceGuid, counts);
    const h = appHealth(app, byApp.get(app.guid) ?? [], stagingApps);
    const newest = app.stack !== undefined ? latest.get(app.stack) : undefined;
    const isBehind = app.stackVersion !== undefined && newest !== undefined && app.stackVersion !== newest;
    for (const c of [counts, totals]) {
      c.apps++;
      if (h === 'running' || h === 'crashed' || h === 'staging' || h === 'stopped') c[h]++;
      if (isBehind) c.behind++;
    }
    const space = spaceBy.get(app.spaceGuid);
    const org = space && orgBy.get(space.orgGuid);
    if (isBehind && space && org && app.stack && app.stackVersion && newest)
      behind.push({ app, space, org, stack: app.stack, version: app.stackVersion, latest: newest });
  }
  behind.sort(
    (a, b) => a.version.localeCompare(b.version, 'en', { numeric: true }) || a.app.name.localeCompare(b.app.name),
  );
  const spacesOf = new Map<string, Space[]>();
  for (const s of spaces) spacesOf.set(s.orgGuid, [...(spacesOf.get(s.orgGuid) ?? []), s]);
  return {
    totals,
    orgs: orgs.map((org) => {
      const own = spacesOf.get(org.guid) ?? [];
      const counts = emptyCounts();
      for (const s of own) addCounts(counts, bySpace.get(s.guid));
      return { org, counts, spaces: own.map((space) => ({ space, counts: bySpace.get(space.guid) ?? emptyCounts() })) };
    }),
    behind,
  };
}

/**
 * One app's health as the home page counts it: staging while a build runs; stopped
 * unless started; crashed when an instance crashed and none runs; running when one runs.
 */
export function appHealth(
  app: Pick<App, 'guid' | 'state'>,
  instances: Instance[],
  stagingApps: Set<string>,
): AppHealth {
  if (stagingApps.has(app.guid)) return 'staging';
  if (app.state !== 'STARTED') return 'stopped';
  if (instances.some((i) => i.state === 'RUNNING')) return 'running';
  if (instances.some((i) => i.state === 'CRASHED')) return 'crashed';
  return 'starting';
}

/** The latest version of each stack the apps' current droplets are on. */
export async function latestVersions(images: LocalStore, apps: { stack?: string }[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const stack of new Set(apps.flatMap((a) => (a.stack ? [a.stack] : [])))) {
    const v = (await latestVersion(images, stack))?.version;
    if (v !== undefined) out.set(stack, v);
  }
  return out;
}

function emptyCounts(): AppCounts {
  return { apps: 0, running: 0, crashed: 0, staging: 0, stopped: 0, behind: 0 };
}

function addCounts(into: AppCounts, from: AppCounts | undefined): void {
  if (!from) return;
  for (const k of Object.keys(into) as (keyof AppCounts)[]) into[k] += from[k];
}
