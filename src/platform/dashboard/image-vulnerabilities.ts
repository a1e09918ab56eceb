import type { Digest } from '../../oci/digest.js';
import { generateSbom } from '../../sbom/sbom.js';
import type { LocalStore } from '../../store/local-store.js';
import { SEVERITIES, type Severity } from '../../vuln/advisory.js';
import { type Finding, scanImages } from '../../vuln/scan.js';
import { isNoData, VulnDb } from '../../vuln/vuln-db.js';
import { appRepository } from '../app-images.js';
import type { Droplet } from '../workload.js';

/**
 * What the dashboard shows of an app image's SBOM and vulnerabilities: per layer the
 * number of packages its SBOM lists, and the image's findings against the store's
 * vulnerability database (CVE, package, installed and fixed version, severity, the
 * layer, the remedy), with a summary for the app page. Never throws: a database with
 * no advisories is `no-data`, anything else that fails is `error` with a short reason,
 * so the page around it still renders.
 */

export type { Finding };

export interface VulnerabilitySummary {
  total: number;
  /** Findings by severity, most severe first, only the severities there are. */
  bySeverity: { severity: Severity; count: number }[];
  /** Findings a rebase onto a newer stack version fixes, and the newest such version (the one to rebase to). */
  fixedByRebase: number;
  rebaseTo?: { stack: string; version: string };
}

export type VulnerabilityData =
  | { state: 'no-data' }
  | { state: 'error'; message: string }
  | {
      state: 'scanned';
      findings: Finding[];
      summary: VulnerabilitySummary;
      /** When the oldest source of the database was imported, and how many advisory rows it holds. */
      databaseImported: string;
      advisories: number;
    };

export interface ImageVulnerabilities {
  vulnerabilities: VulnerabilityData;
  /** Packages of the image's SBOM by layer diffID; undefined when the SBOM could not be read. */
  components?: Record<string, number>;
  /** Findings by layer diffID (empty without a scan). */
  findingsByLayer: Record<string, number>;
}

/** The findings of a droplet's image (the app page's count and the image page's table). */
export async function dropletVulnerabilities(images: LocalStore, droplet: Droplet): Promise<VulnerabilityData> {
  const digest = droplet.digest as Digest;
  const key = `${images.home}\u0000${digest}`;
  // Two pages opened at once scan (and on first sight make the SBOM of) an image once.
  let p = inFlight.get(key);
  if (!p) {
    p = scan(images, appRepository(droplet.appGuid), digest).finally(() => inFlight.delete(key));
    inFlight.set(key, p);
  }
  return p;
}

/** The findings and the per-layer package counts of a droplet's image, for the image page. */
export async function imageVulnerabilities(images: LocalStore, droplet: Droplet): Promise<ImageVulnerabilities> {
  const vulnerabilities = await dropletVulnerabilities(images, droplet);
  const components = await layerComponents(images, appRepository(droplet.appGuid), droplet.digest as Digest).catch(
    () => undefined,
  );
  const findingsByLayer: Record<string, number> = {};
  if (vulnerabilities.state === 'scanned')
    for (const f of vulnerabilities.findings) findingsByLayer[f.layer] = (findingsByLayer[f.layer] ?? 0) + 1;
  return { vulnerabilities, findingsByLayer, ...(components ? { components } : {}) };
}

const inFlight = new Map<string, Promise<VulnerabilityData>>();

async function scan(images: LocalStore, repository: string, digest: Digest): Promise<VulnerabilityData> {
  try {
    if (advisoryCount(images) === 0) return { state: 'no-data' };
    const report = await scanImages(images, [`${repository}@${digest}`], {});
    const findings = report.images.find((i) => i.image === digest)?.findings ?? [];
    return {
      state: 'scanned',
      findings,
      summary: summarize(findings),
      databaseImported: report.databaseImported,
      advisories: report.advisories,
    };
  } catch (err) {
    // The database emptied between the count and the scan.
    if (isNoData(err)) return { state: 'no-data' };
    return { state: 'error', message: shortReason(err) };
  }
}

function advisoryCount(images: LocalStore): number {
  // Without the database file nothing was imported: a page view does not create it.
  if (!VulnDb.exists(images.home)) return 0;
  const db = VulnDb.open(images.home);
  try {
    return db.counts().rows;
  } finally {
    db.close();
  }
}

/**
 * Packages per layer: from the inventory recorded for matching when there is one (a
 * scan or the build recorded it), else from the SBOM made here and not attached. Both
 * count the Debian and npm packages, what matching sees, so the numbers do not change
 * when advisories are imported and the image is scanned.
 */
async function layerComponents(
  images: LocalStore,
  repository: string,
  digest: Digest,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  if (VulnDb.exists(images.home)) {
    const db = VulnDb.open(images.home);
    try {
      if (db.inventory(digest)) {
        for (const p of db.packagesOf(digest)) counts[p.layer] = (counts[p.layer] ?? 0) + 1;
        return counts;
      }
    } finally {
      db.close();
    }
  }
  const report = await generateSbom({ transport: 'local', name: repository, digest }, async () => images, {
    attach: false,
  });
  for (const c of report.inventory.components)
    if (c.ecosystem === 'deb' || c.ecosystem === 'npm') counts[c.layer] = (counts[c.layer] ?? 0) + 1;
  return counts;
}

/** What the app page says of findings: how many, how severe, how many a rebase fixes. */
export function summarize(findings: Finding[]): VulnerabilitySummary {
  const bySeverity = [...SEVERITIES]
    .reverse()
    .map((severity) => ({ severity, count: findings.filter((f) => f.severity === severity).length }))
    .filter((s) => s.count > 0);
  const rebasable = findings.filter((f) => f.rebaseTo);
  // The newest version any finding needs fixes all of the rebasable ones (versions are numbers, newer larger).
  const rebaseTo = rebasable
    .map((f) => f.rebaseTo!)
    .reduce<{ stack: string; version: string } | undefined>(
      (best, v) => (!best || Number(v.version) > Number(best.version) ? v : best),
      undefined,
    );
  return {
    total: findings.length,
    bySeverity,
    fixedByRebase: rebasable.length,
    ...(rebaseTo ? { rebaseTo } : {}),
  };
}

function shortReason(err: unknown): string {
  const text = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}
