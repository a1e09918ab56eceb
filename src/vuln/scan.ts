import type { Digest } from '../oci/digest.js';
import type { LocalStore } from '../store/local-store.js';
import { describeLayer } from '../sbom/layer-roles.js';
import { attachReferrer } from '../sbom/referrer.js';
import type { LayerRole } from '../sbom/types.js';
import { stackVersions } from '../stack/stack-catalog.js';
import { SEVERITIES, type AdvisoryRow, type Severity } from './advisory.js';
import { compareDebianVersions } from './debian-version.js';
import { affects } from './ranges.js';
import { ensureInventory } from './inventory.js';
import { noData, VulnDb, type ImagePackage, type InventoryRecord } from './vuln-db.js';

export interface Finding {
  cve: string;
  /** The advisory's own id when it is not the CVE (GHSA-..., DSA-...). */
  advisory: string;
  ecosystem: 'deb' | 'npm';
  /** The installed package (a Debian binary package) and its version. */
  package: string;
  installed: string;
  /** The package advisories name (Debian's source package). */
  source: string;
  fixed?: string;
  severity: Severity;
  /** diffID of the layer it is in, and what that layer is: base, buildpack X layer Y, app. */
  layer: string;
  where: string;
  /** For base findings: "fixed by rebasing to default version 3", "no fixed stack version yet". */
  remedy: string;
  /** The stack version a rebase onto fixes it, when there is one. */
  rebaseTo?: { stack: string; version: string };
}

export interface ImageScan {
  image: Digest;
  names: string[];
  findings: Finding[];
  /** The scan result's referrer manifest, when attached. */
  referrer?: Digest;
}

export interface ScanOptions {
  /** The least severity reported. */
  severity?: Severity;
  /** Store each image's findings as an OCI referrer of it (SCAN_REPORT_MEDIA_TYPE), with the database's age. */
  attach?: boolean;
}

/** The artifactType of a scan result attached to an image. */
export const SCAN_REPORT_MEDIA_TYPE = 'application/vnd.slipway.vulnerability-report.v1+json';

export interface ScanReport {
  images: ImageScan[];
  /** When the oldest source in the database was imported. */
  databaseImported: string;
  advisories: number;
}

/**
 * Scans local images against the store's vulnerability database. Each image's package
 * inventory comes from its SBOM (made, attached and recorded on first scan); each
 * finding says which layer holds the package and, for the base, whether a rebase
 * onto a newer version of the image's stack fixes it.
 *
 * @example const report = await scanImages(store, ['apps/web:latest']);
 */
export async function scanImages(
  store: LocalStore,
  refs: string[] | 'all',
  options: ScanOptions = {},
): Promise<ScanReport> {
  const db = VulnDb.open(store.home);
  try {
    const counts = db.counts();
    if (counts.rows === 0) throw noData();
    const names = await imageNames(store);
    const targets: { image: Digest; names: string[] }[] = [];
    if (refs === 'all') {
      for (const [digest, n] of names) {
        if (db.inventory(digest)) {
          targets.push({ image: digest, names: n });
          continue;
        }
        const [repository, tag] = splitName(n[0]!);
        if (await ensureInventory(store, db, repository, tag)) targets.push({ image: digest, names: n });
      }
    } else {
      for (const ref of refs) {
        const [repository, tag] = splitName(ref);
        const digest = await ensureInventory(store, db, repository, tag);
        if (digest) targets.push({ image: digest, names: names.get(digest) ?? [ref] });
      }
    }
    const matcher = new Matcher(db, store);
    const images: ImageScan[] = [];
    const wanted = new Set(targets.map((t) => t.image as string));
    const byImage = new Map<string, ImagePackage[]>();
    for (const p of refs === 'all' || targets.length > 20
      ? db.allPackages()
      : targets.flatMap((t) => db.packagesOf(t.image))) {
      if (!wanted.has(p.image)) continue;
      let list = byImage.get(p.image);
      if (!list) byImage.set(p.image, (list = []));
      list.push(p);
    }
    if (refs === 'all' || targets.length > 20) matcher.preload();
    for (const t of targets) {
      const inv = db.inventory(t.image)!;
      const findings = await matcher.findings(inv, byImage.get(t.image) ?? []);
      images.push({ image: t.image, names: t.names, findings: filterSeverity(findings, options.severity) });
    }
    const imported = oldest(db);
    if (options.attach) for (const i of images) await attachScan(store, i, imported, counts.rows);
    return { images, databaseImported: imported, advisories: counts.rows };
  } finally {
    db.close();
  }
}

export interface CveImpact {
  cve: string;
  advisories: number;
  images: { image: Digest; names: string[]; findings: Finding[] }[];
}

/**
 * Every tagged image of the store that has `cve`, from the recorded inventories (images
 * not yet scanned are not known here: `slipway scan --all` records them).
 */
export async function imagesWithCve(store: LocalStore, cve: string): Promise<CveImpact> {
  const db = VulnDb.open(store.home);
  try {
    const rows = db.advisoriesById(cve);
    const names = await imageNames(store);
    const matcher = new Matcher(db, store);
    const byImage = new Map<string, ImagePackage[]>();
    const inventories = new Map<string, MatchedImage>();
    for (const key of new Set(rows.map((r) => `${r.ecosystem}\u0000${r.package}`))) {
      const [eco, pkg] = key.split('\u0000') as [string, string];
      for (const p of db.imagesWith(eco, pkg)) {
        let list = byImage.get(p.image);
        if (!list) {
          byImage.set(p.image, (list = []));
          inventories.set(p.image, p);
        }
        list.push(p);
      }
    }
    const only = new Map<string, AdvisoryRow[]>();
    for (const r of rows) {
      const k = `${r.ecosystem}\u0000${r.package}`;
      only.set(k, [...(only.get(k) ?? []), r]);
    }
    const images: CveImpact['images'] = [];
    const pending: { f: Finding; inv: MatchedImage }[] = [];
    for (const [image, packages] of [...byImage].sort(([a], [b]) => (a < b ? -1 : 1))) {
      // An image no tag names any more (the old digest of a rebased app) is not listed.
      if (!names.has(image as Digest)) continue;
      const inv = inventories.get(image)!;
      const findings = matcher.match(inv, packages, only);
      if (findings.length === 0) continue;
      images.push({ image: image as Digest, names: names.get(image as Digest)!, findings });
      for (const f of findings) pending.push({ f, inv });
    }
    await matcher.adviseAll(pending);
    return { cve, advisories: rows.length, images };
  } finally {
    db.close();
  }
}

/** What matching needs of an image's inventory: its layers' JSON is read when a layer is new. */
type MatchedImage = Pick<InventoryRecord, 'image' | 'release' | 'stack'> & { layers?: string };

/** Matches packages against advisories, each distinct package version once, and finds the stack version that fixes a base finding. */
class Matcher {
  readonly #db: VulnDb;
  readonly #store: LocalStore;
  #advisories = new Map<string, AdvisoryRow[]>();
  #preloaded = false;
  /** Each layer's role, by diffID: the same layer is the same thing in every image that has it. */
  readonly #roles = new Map<string, LayerRole | undefined>();
  readonly #verdicts = new Map<string, { row: AdvisoryRow; fixed?: string }[]>();
  readonly #stacks = new Map<string, { version: string; packages: Record<string, string> }[] | undefined>();

  constructor(db: VulnDb, store: LocalStore) {
    this.#db = db;
    this.#store = store;
  }

  /** Loads every advisory once (a fleet scan touches most packages). */
  preload(): void {
    for (const r of this.#db.allAdvisories()) {
      const k = `${r.ecosystem}\u0000${r.package}`;
      let list = this.#advisories.get(k);
      if (!list) this.#advisories.set(k, (list = []));
      list.push(r);
    }
    this.#preloaded = true;
  }

  #rowsFor(eco: string, pkg: string): AdvisoryRow[] {
    const k = `${eco}\u0000${pkg}`;
    let rows = this.#advisories.get(k);
    if (!rows) {
      rows = this.#preloaded ? [] : this.#db.advisoriesFor(eco, pkg);
      this.#advisories.set(k, rows);
    }
    return rows;
  }

  async findings(inv: MatchedImage, packages: ImagePackage[]): Promise<Finding[]> {
    const found = this.match(inv, packages);
    await this.adviseAll(found.map((f) => ({ f, inv })));
    return found;
  }

  /** Findings without remedies yet (adviseAll adds them). */
  match(inv: MatchedImage, packages: ImagePackage[], only?: Map<string, AdvisoryRow[]>): Finding[] {
    const out: Finding[] = [];
    const seen = new Set<string>();
    for (const p of packages) {
      const rows = only ? (only.get(`${p.ecosystem}\u0000${p.match}`) ?? []) : this.#rowsFor(p.ecosystem, p.match);
      for (const { row, fixed } of this.#verdict(p, inv.release, rows, only !== undefined)) {
        const key = `${row.cve}\u0000${p.name}\u0000${p.layer}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const role = this.#roleOf(inv, p.layer);
        out.push({
          cve: row.cve,
          advisory: row.id,
          ecosystem: p.ecosystem,
          package: p.name,
          installed: p.installed,
          source: p.match,
          ...(fixed !== undefined ? { fixed } : {}),
          severity: row.severity,
          layer: p.layer,
          where: describeLayer(role),
          remedy: '',
        });
      }
    }
    return out.sort(
      (a, b) =>
        SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity) ||
        cmp(a.cve, b.cve) ||
        cmp(a.package, b.package),
    );
  }

  /** A layer's role, its image's layers read (and remembered) only for a layer not met before. */
  #roleOf(inv: MatchedImage, diffId: string): LayerRole | undefined {
    if (!this.#roles.has(diffId)) {
      const json = inv.layers ?? this.#db.layersOf(inv.image) ?? '[]';
      for (const l of JSON.parse(json) as LayerRole[]) if (!this.#roles.has(l.diffId)) this.#roles.set(l.diffId, l);
      if (!this.#roles.has(diffId)) this.#roles.set(diffId, undefined);
    }
    return this.#roles.get(diffId);
  }

  #verdict(
    p: ImagePackage,
    release: string,
    rows: AdvisoryRow[],
    subset: boolean,
  ): { row: AdvisoryRow; fixed?: string }[] {
    // A subset of the advisories (one CVE's) is cached apart from the package's whole list.
    const key = `${subset ? 'subset' : 'all'}\u0000${p.ecosystem}\u0000${p.match}\u0000${p.version}\u0000${release}`;
    const cached = this.#verdicts.get(key);
    if (cached) return cached;
    const hits: { row: AdvisoryRow; fixed?: string }[] = [];
    // A release's own rows win over release-less ones of the same CVE (the tracker knows the release's fix).
    const own = new Set(rows.filter((r) => r.release !== '' && r.release === release).map((r) => r.cve));
    for (const row of rows) {
      if (p.ecosystem === 'deb' && row.release !== '' && row.release !== release) continue;
      if (row.release === '' && own.has(row.cve)) continue;
      const v = affects(row, p.version);
      if (v.affected) hits.push({ row, ...(v.fixed !== undefined ? { fixed: v.fixed } : {}) });
    }
    this.#verdicts.set(key, hits);
    return hits;
  }

  async adviseAll(items: { f: Finding; inv: MatchedImage }[]): Promise<void> {
    for (const { f, inv } of items) {
      if (f.where !== 'base' || f.ecosystem !== 'deb') {
        f.remedy = f.fixed ? `fixed in ${f.fixed}: rebuild with it` : 'no fix yet';
        continue;
      }
      const versions = await this.#stackVersions(inv.stack);
      const fix = f.fixed;
      const hit =
        fix === undefined
          ? undefined
          : versions?.find(
              (v) => v.packages[f.package] !== undefined && compareDebianVersions(v.packages[f.package]!, fix) >= 0,
            );
      if (hit) {
        f.rebaseTo = { stack: inv.stack, version: hit.version };
        f.remedy = `fixed by rebasing to ${inv.stack} version ${hit.version}`;
      } else f.remedy = fix ? `no fixed stack version yet (fixed in ${fix})` : 'no fixed stack version yet';
    }
  }

  async #stackVersions(stack: string): Promise<{ version: string; packages: Record<string, string> }[] | undefined> {
    if (!stack) return undefined;
    if (!this.#stacks.has(stack)) {
      try {
        this.#stacks.set(
          stack,
          (await stackVersions(this.#store, stack)).map((v) => ({ version: v.version, packages: v.run.packages })),
        );
      } catch {
        this.#stacks.set(stack, undefined);
      }
    }
    return this.#stacks.get(stack);
  }
}

function filterSeverity(findings: Finding[], least: Severity | undefined): Finding[] {
  if (!least) return findings;
  const min = SEVERITIES.indexOf(least);
  return findings.filter((f) => SEVERITIES.indexOf(f.severity) >= min);
}

/** Names of every tagged image of the store, by manifest digest. */
async function imageNames(store: LocalStore): Promise<Map<Digest, string[]>> {
  const out = new Map<Digest, string[]>();
  for (const t of await store.meta.listTagged()) {
    const list = out.get(t.digest) ?? [];
    list.push(`${t.repository}:${t.tag}`);
    out.set(t.digest, list);
  }
  for (const list of out.values()) list.sort();
  return out;
}

function splitName(ref: string): [string, string] {
  const at = ref.indexOf('@');
  if (at >= 0) return [ref.slice(0, at), ref.slice(at + 1)];
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest'];
}

function oldest(db: VulnDb): string {
  return db.sources().reduce((o, s) => (o === '' || s.imported < o ? s.imported : o), '');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Stores one image's findings as a referrer of it, in the repository of its first name. */
async function attachScan(store: LocalStore, scan: ImageScan, imported: string, advisories: number): Promise<void> {
  const name = scan.names[0];
  if (name === undefined) return;
  const [repository] = splitName(name);
  const subject = await store.resolve(repository, scan.image);
  const scanned = new Date().toISOString();
  const bytes = Buffer.from(
    JSON.stringify({ image: scan.image, scanned, database: { imported, advisories }, findings: scan.findings }),
  );
  const referrer = await attachReferrer(store, repository, subject, {
    bytes,
    mediaType: SCAN_REPORT_MEDIA_TYPE,
    annotations: { 'org.opencontainers.image.created': scanned, 'io.slipway.vulndb.imported': imported },
  });
  scan.referrer = referrer.digest;
}
