import { SlipwayError } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import { silentProgress, type Progress } from '../../progress.js';
import { rebaseImage } from '../../rebase/rebase.js';
import { latestVersion, repositoryOf } from '../../stack/stack-catalog.js';
import type { LocalStore } from '../../store/local-store.js';
import { type App, newGuid, now } from '../model.js';
import type { PlatformStore } from '../store/platform-store.js';
import type { WorkloadStore } from '../store/workload-store.js';
import type { Droplet } from '../workload.js';

/**
 * The patching story: when a stack has a new version, every app whose droplet was
 * built on an older one gets a new droplet by rebase (the new run image's layers under
 * the app's unchanged layers: a new config and manifest, no rebuild, no build record),
 * and each started app rolls out to it with a rolling deployment, at most
 * `maxInFlight` apps at a time. An app pinned with `autoRebase: false` is reported
 * as behind and left alone.
 */

/** Rolls an app out to a droplet (a rolling deployment) and resolves when it is DEPLOYED; throws when it fails. */
export interface AppDeployer {
  rollOut(app: App, droplet: Droplet): Promise<{ deploymentGuid: string }>;
}

export type RolloutStatus = 'rolled' | 'rebased' | 'current' | 'pinned' | 'failed';

export interface RolloutEntry {
  app: { guid: string; name: string; spaceGuid: string };
  status: RolloutStatus;
  /** The stack version its current droplet was on, and is on now. */
  from: string;
  to: string;
  droplet?: { guid: string; digest: string; previousDigest: string };
  deploymentGuid?: string;
  reason?: string;
  seconds: number;
}

export interface RolloutReport {
  stack: string;
  version: string;
  apps: RolloutEntry[];
  seconds: number;
}

export interface RolloutDeps {
  platform: PlatformStore;
  workloads: WorkloadStore;
  store: LocalStore;
  deployer: AppDeployer;
}

export interface RolloutOptions {
  stack: string;
  /** Apps rolled at once (default 4). */
  maxInFlight?: number;
  progress?: Progress;
}

/** Every app with its current droplet, in creation order. */
export async function appsWithDroplets(
  deps: Pick<RolloutDeps, 'platform' | 'workloads'>,
): Promise<{ app: App; droplet: Droplet }[]> {
  const out: { app: App; droplet: Droplet }[] = [];
  for (let page = 1; ; page++) {
    const batch = await deps.platform.listApps({ page, perPage: 500, orderBy: 'created_at' }, {}, { kind: 'all' });
    for (const app of batch.items) {
      const droplet = await deps.workloads.currentDroplet(app.guid);
      if (droplet) out.push({ app, droplet });
    }
    if (page * 500 >= batch.total) return out;
  }
}

/** Apps whose current droplet is on an older version of its stack than the stack's latest. */
export async function appsBehind(
  deps: Pick<RolloutDeps, 'platform' | 'workloads' | 'store'>,
): Promise<{ app: App; droplet: Droplet; latest: string }[]> {
  const latest = new Map<string, string | undefined>();
  const out: { app: App; droplet: Droplet; latest: string }[] = [];
  for (const { app, droplet } of await appsWithDroplets(deps)) {
    if (!latest.has(droplet.stack))
      latest.set(droplet.stack, (await latestVersion(deps.store, droplet.stack))?.version);
    const version = latest.get(droplet.stack);
    if (version !== undefined && droplet.stackVersion !== version) out.push({ app, droplet, latest: version });
  }
  return out;
}

export async function rolloutStack(deps: RolloutDeps, options: RolloutOptions): Promise<RolloutReport> {
  const t0 = performance.now();
  const progress = options.progress ?? silentProgress;
  const latest = await latestVersion(deps.store, options.stack);
  if (!latest)
    throw new SlipwayError('NOT_FOUND', `no stack "${options.stack}": make it first with slipway stack create`, {
      detail: { stack: options.stack },
    });
  const runImage = `${repositoryOf(options.stack, 'run')}:${latest.version}`;
  const onStack = (await appsWithDroplets(deps)).filter((a) => a.droplet.stack === options.stack);
  const entries: RolloutEntry[] = [];
  let next = 0;
  const worker = async () => {
    for (;;) {
      const item = onStack[next++];
      if (!item) return;
      const entry = await rollOne(deps, item.app, item.droplet, latest.version, runImage);
      progress.log(
        `${item.app.name}: ${entry.status} (${entry.from} -> ${entry.to})${entry.reason ? `: ${entry.reason}` : ''}`,
      );
      entries.push(entry);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.maxInFlight ?? 4) }, worker));
  const order = new Map(onStack.map((a, i) => [a.app.guid, i]));
  entries.sort((a, b) => order.get(a.app.guid)! - order.get(b.app.guid)!);
  return {
    stack: options.stack,
    version: latest.version,
    apps: entries,
    seconds: (performance.now() - t0) / 1000,
  };
}

async function rollOne(
  deps: RolloutDeps,
  app: App,
  droplet: Droplet,
  version: string,
  runImage: string,
): Promise<RolloutEntry> {
  const t0 = performance.now();
  const base = { app: { guid: app.guid, name: app.name, spaceGuid: app.spaceGuid }, from: droplet.stackVersion };
  const seconds = () => (performance.now() - t0) / 1000;
  if (droplet.stackVersion === version) return { ...base, status: 'current', to: version, seconds: seconds() };
  if (app.autoRebase === false)
    return {
      ...base,
      status: 'pinned',
      to: droplet.stackVersion,
      reason: 'pinned: --no-auto-rebase',
      seconds: seconds(),
    };
  try {
    // The new droplet is its own image (tagged by its guid), rebased from the current one's.
    const guid = newGuid();
    const repository = `apps/${app.guid}`;
    await deps.store.meta.setTag(repository, guid, droplet.digest as Digest);
    const r = await rebaseImage(`${repository}:${guid}`, async () => deps.store, { runImage, sameRunImage: true });
    const at = now();
    const rebased = await deps.workloads.createDroplet({
      ...droplet,
      guid,
      createdAt: at,
      updatedAt: at,
      digest: r.digest,
      stackVersion: version,
      rebasedFrom: droplet.guid,
    });
    const dropletInfo = { guid, digest: r.digest, previousDigest: droplet.digest };
    if (app.state !== 'STARTED') {
      await deps.workloads.setCurrentDroplet(app.guid, guid);
      return { ...base, status: 'rebased', to: version, droplet: dropletInfo, seconds: seconds() };
    }
    const { deploymentGuid } = await deps.deployer.rollOut(app, rebased);
    return { ...base, status: 'rolled', to: version, droplet: dropletInfo, deploymentGuid, seconds: seconds() };
  } catch (err) {
    return {
      ...base,
      status: 'failed',
      to: droplet.stackVersion,
      reason: err instanceof Error ? err.message : String(err),
      seconds: seconds(),
    };
  }
}
