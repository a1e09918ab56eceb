import type { LocalStore } from '../store/local-store.js';
import type { Severity } from './advisory.js';
import { scanImages } from './scan.js';
import { VulnDb } from './vuln-db.js';

export interface StackFix {
  cve: string;
  package: string;
  fixed: string;
  severity: Severity;
  /** Images a rebase onto the version fixes it in. */
  images: string[];
}

/**
 * What a stack version fixes across the fleet: every base finding of the store's
 * images on `stack` that a rebase onto `version` (or an earlier one) removes, with the
 * images it is in. Undefined when the vulnerability database is empty.
 */
export async function fixesOfStackVersion(
  store: LocalStore,
  stack: string,
  version: string,
): Promise<StackFix[] | undefined> {
  const db = VulnDb.open(store.home);
  const empty = db.counts().rows === 0;
  db.close();
  if (empty) return undefined;
  const report = await scanImages(store, 'all');
  const fixes = new Map<string, StackFix>();
  for (const image of report.images) {
    for (const f of image.findings) {
      if (f.rebaseTo?.stack !== stack || Number(f.rebaseTo.version) > Number(version) || f.fixed === undefined)
        continue;
      const key = `${f.cve} ${f.package}`;
      const fix = fixes.get(key) ?? {
        cve: f.cve,
        package: f.package,
        fixed: f.fixed,
        severity: f.severity,
        images: [],
      };
      fix.images.push(image.names[0] ?? image.image);
      fixes.set(key, fix);
    }
  }
  return [...fixes.values()].sort((a, b) => (a.cve < b.cve ? -1 : a.cve > b.cve ? 1 : a.package < b.package ? -1 : 1));
}
