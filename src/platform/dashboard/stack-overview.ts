import { diffStackVersions, inspectStack, type StackInspection } from '../../stack/inspect.js';
import type { VersionChanges } from '../../stack/stack-catalog.js';
import { listStackNames } from '../../stack/stack-catalog.js';
import type { LocalStore } from '../../store/local-store.js';
import type { App } from '../model.js';
import type { Permissions } from '../policy.js';
import type { PlatformStore } from '../store/platform-store.js';
import type { WorkloadStore } from '../store/workload-store.js';
import { visibleDroplets, visibleFleet } from './visible-fleet.js';

/**
 * A stack for the dashboard: its versions (as `stack inspect`), the apps the caller
 * sees on each version, the package changes between two versions (as `stack inspect
 * --diff`), and an update's blast radius: which apps it would rebase and roll, which
 * it would only rebase (stopped) and which it leaves (pinned with auto-rebase off).
 */

export interface StackOverview {
  inspection: StackInspection;
  /** Apps per stack version, newest version first. */
  byVersion: { version: string; apps: App[] }[];
  blastRadius: { roll: App[]; rebaseOnly: App[]; pinned: App[] };
  /** Of the apps on the stack, how many are on its latest version (a rollout's progress). */
  onLatest: number;
  onStack: number;
}

export interface StackDeps {
  perms: Permissions;
  store: PlatformStore;
  workloads: WorkloadStore;
  images: LocalStore;
}

export function stackNames(images: LocalStore): Promise<string[]> {
  return listStackNames(images);
}

export async function stackOverview(d: StackDeps, name: string): Promise<StackOverview> {
  const inspection = await inspectStack(d.images, name);
  const [fleet, droplets] = await Promise.all([visibleFleet(d.perms, d.store), visibleDroplets(d.perms, d.workloads)]);
  const byVersion = new Map<string, App[]>();
  const blastRadius = { roll: [] as App[], rebaseOnly: [] as App[], pinned: [] as App[] };
  let onLatest = 0;
  let onStack = 0;
  for (const app of fleet.apps) {
    const droplet = app.currentDropletGuid ? droplets.get(app.currentDropletGuid) : undefined;
    if (!droplet || droplet.stack !== name) continue;
    onStack++;
    if (droplet.stackVersion === inspection.latest) onLatest++;
    const list = byVersion.get(droplet.stackVersion) ?? [];
    list.push(app);
    byVersion.set(droplet.stackVersion, list);
    if (app.autoRebase === false) blastRadius.pinned.push(app);
    else if (app.state === 'STARTED') blastRadius.roll.push(app);
    else blastRadius.rebaseOnly.push(app);
  }
  const versions = [...new Set([...inspection.versions.map((v) => v.version), ...byVersion.keys()])].sort((a, b) =>
    b.localeCompare(a, 'en', { numeric: true }),
  );
  return {
    inspection,
    byVersion: versions.map((version) => ({ version, apps: byVersion.get(version) ?? [] })),
    blastRadius,
    onLatest,
    onStack,
  };
}

/** Package changes between two versions of a stack (added, removed, upgraded), as `stack inspect --diff`. */
export function stackDiff(images: LocalStore, name: string, from: string, to: string): Promise<VersionChanges> {
  return diffStackVersions(images, name, from, to);
}
