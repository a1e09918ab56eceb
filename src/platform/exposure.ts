import type { Digest } from '../oci/digest.js';
import type { LocalStore } from '../store/local-store.js';
import { ensureInventories } from '../vuln/inventory.js';
import { imagesWithCve, type CveImpact, type Finding } from '../vuln/scan.js';
import { appRepository } from './app-images.js';
import { allPages } from './dashboard/visible-fleet.js';
import type { PlatformStore, Visibility } from './store/platform-store.js';
import type { WorkloadStore } from './store/workload-store.js';
import type { Droplet, InstanceState } from './workload.js';

/**
 * "Which running apps have CVE-X?": the images the vulnerability database finds it in,
 * joined to the apps whose instances run them now (the current droplet, or an older one
 * still running during a rollout), each with its org and space, as far as the caller
 * sees. An image running but never inventoried (built before SBOMs were recorded, or
 * staged on another host) gets its SBOM first, so no running app is missed.
 */

export interface ExposedApp {
  org: { guid: string; name: string };
  space: { guid: string; name: string };
  app: { guid: string; name: string };
  /** The image these instances run, and the droplet it is. */
  image: Digest;
  droplet: string;
  /** Running (or starting) instances by process type. */
  instances: Record<string, number>;
  findings: Finding[];
}

export interface CveExposure extends CveImpact {
  /** Apps running an affected image, by org, space and app name. */
  apps: ExposedApp[];
}

export interface ExposureDeps {
  store: PlatformStore;
  workloads: WorkloadStore;
  images: LocalStore;
  /** Whose view: `{ kind: 'all' }` for an operator, a caller's space visibility for a user. */
  visibility: Visibility;
}

const LIVE: readonly InstanceState[] = ['RUNNING', 'STARTING'];

/**
 * The images and the running apps that have `cve`.
 *
 * @example const { apps } = await cveExposure({ store, workloads, images, visibility: { kind: 'all' } }, 'CVE-2024-45490');
 */
export async function cveExposure(deps: ExposureDeps, cve: string): Promise<CveExposure> {
  // The fleet read narrowly, once: the apps (names, spaces) and their processes.
  const fleet = await deps.workloads.fleetSummary(deps.visibility);
  const running = await runningImages(deps, fleet.processes);
  await ensureInventories(
    deps.images,
    [...running.values()].map((r) => ({ repository: appRepository(r.appGuid), digest: r.image })),
  );
  const impact = await imagesWithCve(deps.images, cve);
  const affected = new Map(impact.images.map((i) => [i.image as string, i.findings]));
  const [orgs, spaces] = await Promise.all([
    allPages((q) => deps.store.listOrgs(q, {}, deps.visibility)),
    allPages((q) => deps.store.listSpaces(q, {}, deps.visibility)),
  ]);
  const orgBy = new Map(orgs.map((o) => [o.guid, o]));
  const spaceBy = new Map(spaces.map((s) => [s.guid, s]));
  const appBy = new Map(fleet.apps.map((a) => [a.guid, a]));
  const exposed: ExposedApp[] = [];
  for (const r of running.values()) {
    const findings = affected.get(r.image);
    const app = appBy.get(r.appGuid);
    const space = app && spaceBy.get(app.spaceGuid);
    const org = space && orgBy.get(space.orgGuid);
    if (!findings || !app || !space || !org) continue;
    exposed.push({
      org: { guid: org.guid, name: org.name },
      space: { guid: space.guid, name: space.name },
      app: { guid: app.guid, name: app.name },
      image: r.image as Digest,
      droplet: r.droplet,
      instances: r.instances,
      findings,
    });
  }
  exposed.sort(
    (a, b) =>
      a.org.name.localeCompare(b.org.name) ||
      a.space.name.localeCompare(b.space.name) ||
      a.app.name.localeCompare(b.app.name) ||
      a.image.localeCompare(b.image),
  );
  return { ...impact, apps: exposed };
}

interface RunningImage {
  appGuid: string;
  droplet: string;
  image: string;
  instances: Record<string, number>;
}

/** What runs now: per (app, droplet), its live instances by process type. */
async function runningImages(deps: ExposureDeps, processes: { guid: string }[]): Promise<Map<string, RunningImage>> {
  const droplets = await allPages((q) => deps.workloads.listDroplets(q, {}, deps.visibility));
  const byGuid = new Map<string, Droplet>(droplets.map((d) => [d.guid, d]));
  const out = new Map<string, RunningImage>();
  for (const i of await deps.workloads.instancesOfProcesses(processes.map((p) => p.guid))) {
    const droplet = byGuid.get(i.dropletGuid);
    if (!LIVE.includes(i.state) || !droplet?.digest) continue;
    const key = `${i.appGuid}\u0000${droplet.guid}`;
    let entry = out.get(key);
    if (!entry)
      out.set(key, (entry = { appGuid: i.appGuid, droplet: droplet.guid, image: droplet.digest, instances: {} }));
    entry.instances[i.processType] = (entry.instances[i.processType] ?? 0) + 1;
  }
  return out;
}
