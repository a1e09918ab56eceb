import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isSlipwayError, SlipwayError } from '../errors.js';
import type { SbomComponent } from '../sbom/types.js';
import type { AdvisoryRow, Severity } from './advisory.js';

/**
 * The vulnerability database of a store: advisories by source, indexed by package, and
 * the package inventory of every image an SBOM was made for, indexed by package too,
 * so "which images have CVE-X" is two index lookups. It lives beside the metadata
 * (`vulndb.sqlite` in the store's home), in its own file: a large import never holds
 * the registry's metadata writes.
 */
const VULNDB_FILE = 'vulndb.sqlite';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS sources (
    name       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    location   TEXT NOT NULL,
    imported   TEXT NOT NULL,
    advisories INTEGER NOT NULL,
    fingerprint TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS advisories (
    source    TEXT NOT NULL,
    id        TEXT NOT NULL,
    cve       TEXT NOT NULL,
    ecosystem TEXT NOT NULL,
    package   TEXT NOT NULL,
    release   TEXT NOT NULL,
    status    TEXT NOT NULL,
    severity  TEXT NOT NULL,
    fixed     TEXT,
    ranges    TEXT,
    versions  TEXT,
    summary   TEXT,
    modified  TEXT,
    PRIMARY KEY (source, id, ecosystem, package, release)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS advisories_by_package ON advisories (ecosystem, package);
  CREATE INDEX IF NOT EXISTS advisories_by_cve ON advisories (cve);
  CREATE TABLE IF NOT EXISTS inventories (
    image      TEXT PRIMARY KEY,
    release    TEXT NOT NULL,
    stack      TEXT NOT NULL,
    layers     TEXT NOT NULL,
    recorded   TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS image_packages (
    image     TEXT NOT NULL REFERENCES inventories (image) ON DELETE CASCADE,
    ecosystem TEXT NOT NULL,
    match     TEXT NOT NULL,
    version   TEXT NOT NULL,
    name      TEXT NOT NULL,
    installed TEXT NOT NULL,
    layer     TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS image_packages_by_image ON image_packages (image);
  -- Covering: "which images have CVE-X" reads the index alone, never the table's rows.
  DROP INDEX IF EXISTS image_packages_by_match;
  CREATE INDEX IF NOT EXISTS image_packages_matching ON image_packages (ecosystem, match, version, image, name, installed, layer);
  CREATE INDEX IF NOT EXISTS inventories_for_matching ON inventories (image, release, stack);
`;

export interface SourceInfo {
  name: string;
  kind: 'debian-tracker' | 'osv';
  location: string;
  imported: string;
  advisories: number;
}

/** One package of an image as matching sees it (Debian: by source package and version). */
export interface ImagePackage {
  image: string;
  ecosystem: 'deb' | 'npm';
  /** The name advisories use: Debian's source package, npm's package name. */
  match: string;
  version: string;
  /** The installed package's own name and version (a Debian binary package). */
  name: string;
  installed: string;
  layer: string;
}

export interface InventoryRecord {
  image: string;
  /** Debian codename of the image's base ("bookworm"), "" when not Debian. */
  release: string;
  /** The stack the image runs on ("default"), "" when unknown. */
  stack: string;
  /** LayerRole[] as JSON. */
  layers: string;
}

export class VulnDb {
  readonly #db: Database.Database;

  readonly #statements = new Map<string, Database.Statement>();

  private constructor(db: Database.Database) {
    this.#db = db;
  }

  /** A statement prepared once per connection (a fleet query runs the same few thousands of times). */
  #sql(source: string): Database.Statement {
    let stmt = this.#statements.get(source);
    if (!stmt) this.#statements.set(source, (stmt = this.#db.prepare(source)));
    return stmt;
  }

  /** Whether the store in `home` has a database at all (nothing was ever imported or scanned without one). */
  static exists(home: string): boolean {
    return existsSync(join(home, VULNDB_FILE));
  }

  /** Opens (creating it) the database of the store in `home`. */
  static open(home: string): VulnDb {
    const db = new Database(join(home, VULNDB_FILE));
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 10000');
    db.exec(SCHEMA);
    return new VulnDb(db);
  }

  close(): void {
    this.#db.close();
  }

  source(name: string): (SourceInfo & { fingerprint: string }) | undefined {
    return this.#sql('SELECT * FROM sources WHERE name = ?').get(name) as
      | (SourceInfo & { fingerprint: string })
      | undefined;
  }

  sources(): SourceInfo[] {
    return this.#db
      .prepare('SELECT name, kind, location, imported, advisories FROM sources ORDER BY name')
      .all() as SourceInfo[];
  }

  /**
   * Replaces what `source` said with `rows`, in one transaction: rows whose content is
   * unchanged are left as they are, changed ones rewritten, gone ones deleted. Returns
   * how many were added, changed and removed.
   */
  importSource(
    info: Omit<SourceInfo, 'advisories'> & { fingerprint: string },
    rows: AdvisoryRow[],
    replace = true,
  ): { added: number; changed: number; removed: number; total: number } {
    const key = (r: { id: string; ecosystem: string; package: string; release: string }) =>
      `${r.id}\u0000${r.ecosystem}\u0000${r.package}\u0000${r.release}`;
    const counts = { added: 0, changed: 0, removed: 0, total: 0 };
    const tx = this.#db.transaction(() => {
      const existing = new Map<string, string>();
      for (const r of this.#db
        .prepare(
          'SELECT id, ecosystem, package, release, cve, status, severity, fixed, ranges, versions, summary, modified FROM advisories WHERE source = ?',
        )
        .iterate(info.name) as Iterable<Record<string, string | null>>) {
        existing.set(key(r as never), rowFingerprint(r));
      }
      const put = this.#sql(
        `INSERT OR REPLACE INTO advisories (source, id, cve, ecosystem, package, release, status, severity, fixed, ranges, versions, summary, modified)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const seen = new Set<string>();
      for (const r of rows) {
        const k = key(r);
        if (seen.has(k)) continue;
        seen.add(k);
        const values = toColumns(r);
        const before = existing.get(k);
        if (before === rowFingerprint(values)) continue;
        put.run(
          info.name,
          r.id,
          values.cve,
          r.ecosystem,
          r.package,
          r.release,
          values.status,
          values.severity,
          values.fixed,
          values.ranges,
          values.versions,
          values.summary,
          values.modified,
        );
        if (before === undefined) counts.added++;
        else counts.changed++;
      }
      if (replace) {
        const del = this.#sql(
          'DELETE FROM advisories WHERE source = ? AND id = ? AND ecosystem = ? AND package = ? AND release = ?',
        );
        for (const k of existing.keys()) {
          if (seen.has(k)) continue;
          const [id, eco, pkg, rel] = k.split('\u0000');
          del.run(info.name, id, eco, pkg, rel);
          counts.removed++;
        }
      }
      counts.total = (
        this.#sql('SELECT count(*) AS n FROM advisories WHERE source = ?').get(info.name) as { n: number }
      ).n;
      this.#db
        .prepare(
          'INSERT OR REPLACE INTO sources (name, kind, location, imported, advisories, fingerprint) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(info.name, info.kind, info.location, info.imported, counts.total, info.fingerprint);
    });
    tx.immediate();
    return counts;
  }

  /** Advisories about a package (every release and source; the caller picks). */
  advisoriesFor(ecosystem: string, pkg: string): AdvisoryRow[] {
    return (
      this.#sql('SELECT * FROM advisories WHERE ecosystem = ? AND package = ?').all(ecosystem, pkg) as Record<
        string,
        string | null
      >[]
    ).map(fromColumns);
  }

  /** Advisories whose CVE or id is `id`. */
  advisoriesById(id: string): AdvisoryRow[] {
    return (
      this.#db
        .prepare('SELECT * FROM advisories WHERE cve = ? UNION ALL SELECT * FROM advisories WHERE id = ? AND cve <> id')
        .all(id, id) as Record<string, string | null>[]
    ).map(fromColumns);
  }

  /** How many advisory rows and distinct CVEs the database holds, and the oldest import. */
  counts(): { rows: number; cves: number; packages: number } {
    return this.#db
      .prepare(
        'SELECT count(*) AS rows, count(DISTINCT cve) AS cves, count(DISTINCT ecosystem || package) AS packages FROM advisories',
      )
      .get() as { rows: number; cves: number; packages: number };
  }

  /** Records (replacing) the package inventory of an image. */
  putInventory(record: InventoryRecord, components: SbomComponent[]): void {
    const tx = this.#db.transaction(() => {
      this.#sql('DELETE FROM inventories WHERE image = ?').run(record.image);
      this.#db
        .prepare('INSERT INTO inventories (image, release, stack, layers, recorded) VALUES (?, ?, ?, ?, ?)')
        .run(record.image, record.release, record.stack, record.layers, new Date().toISOString());
      const put = this.#sql(
        'INSERT INTO image_packages (image, ecosystem, match, version, name, installed, layer) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      for (const c of components) {
        if (c.ecosystem === 'deb')
          put.run(record.image, 'deb', c.source ?? c.name, c.sourceVersion ?? c.version, c.name, c.version, c.layer);
        else if (c.ecosystem === 'npm') put.run(record.image, 'npm', c.name, c.version, c.name, c.version, c.layer);
      }
    });
    tx.immediate();
  }

  inventory(image: string): InventoryRecord | undefined {
    return this.#sql('SELECT image, release, stack, layers FROM inventories WHERE image = ?').get(image) as
      | InventoryRecord
      | undefined;
  }

  inventories(): InventoryRecord[] {
    return this.#db
      .prepare('SELECT image, release, stack, layers FROM inventories ORDER BY image')
      .all() as InventoryRecord[];
  }

  packagesOf(image: string): ImagePackage[] {
    return this.#sql('SELECT * FROM image_packages WHERE image = ?').all(image) as ImagePackage[];
  }

  /** Every package of every image, for a fleet scan (one pass over the table). */
  allPackages(): ImagePackage[] {
    return this.#sql('SELECT * FROM image_packages').all() as ImagePackage[];
  }

  /**
   * The images holding a package, by the name advisories use, each with its release and
   * stack (one indexed join; the layers' JSON is left to layersOf, asked per new layer).
   */
  imagesWith(ecosystem: string, match: string): (ImagePackage & { release: string; stack: string })[] {
    return this.#sql(
      `SELECT p.image, p.ecosystem, p.match, p.version, p.name, p.installed, p.layer, i.release, i.stack
       FROM image_packages p JOIN inventories i ON i.image = p.image
       WHERE p.ecosystem = ? AND p.match = ?`,
    ).all(ecosystem, match) as (ImagePackage & { release: string; stack: string })[];
  }

  /** An image's LayerRole[] as JSON. */
  layersOf(image: string): string | undefined {
    return (this.#sql('SELECT layers FROM inventories WHERE image = ?').get(image) as { layers: string } | undefined)
      ?.layers;
  }

  /** Every advisory, grouped by package, for a fleet scan. */
  allAdvisories(): AdvisoryRow[] {
    return (this.#sql('SELECT * FROM advisories').all() as Record<string, string | null>[]).map(fromColumns);
  }

  /** Runs `fn` in one write transaction (bulk inventory records). */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn).immediate();
  }
}

interface Columns {
  cve: string;
  status: string;
  severity: string;
  fixed: string | null;
  ranges: string | null;
  versions: string | null;
  summary: string | null;
  modified: string | null;
}

function toColumns(r: AdvisoryRow): Columns {
  return {
    cve: r.cve,
    status: r.status,
    severity: r.severity,
    fixed: r.fixed ?? null,
    ranges: r.ranges ? JSON.stringify(r.ranges) : null,
    versions: r.versions ? JSON.stringify(r.versions) : null,
    summary: r.summary ?? null,
    modified: r.modified ?? null,
  };
}

function rowFingerprint(c: Columns | Record<string, unknown>): string {
  const v = c as Record<string, unknown>;
  return JSON.stringify(
    [v['cve'], v['status'], v['severity'], v['fixed'], v['ranges'], v['versions'], v['summary'], v['modified']].map(
      (v) => v ?? null,
    ),
  );
}

function fromColumns(c: Record<string, string | null>): AdvisoryRow {
  const row: AdvisoryRow = {
    id: c['id']!,
    cve: c['cve']!,
    ecosystem: c['ecosystem'] as AdvisoryRow['ecosystem'],
    package: c['package']!,
    release: c['release']!,
    status: c['status'] as AdvisoryRow['status'],
    severity: c['severity'] as Severity,
  };
  if (c['fixed'] !== null && c['fixed'] !== undefined) row.fixed = c['fixed'];
  if (c['ranges']) row.ranges = JSON.parse(c['ranges']) as AdvisoryRow['ranges'];
  if (c['versions']) row.versions = JSON.parse(c['versions']) as string[];
  if (c['summary']) row.summary = c['summary'];
  if (c['modified']) row.modified = c['modified'];
  return row;
}

export function noData(): SlipwayError {
  return new SlipwayError(
    'NOT_FOUND',
    'the vulnerability database is empty: import advisories first, e.g. slipway vulndb import https://security-tracker.debian.org/tracker/data/json',
    { detail: { vulndb: 'empty' } },
  );
}

/** The error `noData` makes: a scan found no advisories to match against. */
export function isNoData(err: unknown): boolean {
  return isSlipwayError(err, 'NOT_FOUND') && (err.detail as { vulndb?: string } | undefined)?.vulndb === 'empty';
}
