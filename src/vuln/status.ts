import { VulnDb, type SourceInfo } from './vuln-db.js';

export interface VulnDbStatus {
  sources: (SourceInfo & { ageHours: number })[];
  advisories: number;
  cves: number;
  packages: number;
  /** Images whose package inventory is recorded (scanned or given an SBOM). */
  images: number;
}

/** What the store's vulnerability database holds: its sources, their age, and counts. */
export function vulnDbStatus(home: string, now = Date.now()): VulnDbStatus {
  const db = VulnDb.open(home);
  try {
    const counts = db.counts();
    return {
      sources: db
        .sources()
        .map((s) => ({ ...s, ageHours: Math.round(((now - Date.parse(s.imported)) / 3_600_000) * 10) / 10 })),
      advisories: counts.rows,
      cves: counts.cves,
      packages: counts.packages,
      images: db.inventories().length,
    };
  } finally {
    db.close();
  }
}
