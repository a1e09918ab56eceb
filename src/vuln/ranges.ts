import semver from 'semver';
import type { AdvisoryRow, OsvRange } from './advisory.js';
import { compareDebianVersions } from './debian-version.js';

export type Compare = (a: string, b: string) => number;

/** The version order of an ecosystem: Debian policy for deb, SemVer for npm (a non-SemVer version sorts as text). */
export function comparerFor(ecosystem: AdvisoryRow['ecosystem']): Compare {
  if (ecosystem === 'deb') return compareDebianVersions;
  return (a, b) => {
    const x = semver.valid(a, { loose: true });
    const y = semver.valid(b, { loose: true });
    if (x && y) return semver.compare(x, y, { loose: true });
    return a < b ? -1 : a > b ? 1 : 0;
  };
}

/**
 * Whether `version` is in an OSV range (OSV schema "Evaluation"): the events sorted
 * by version, `introduced` opens, `fixed` closes before itself, `last_affected`
 * after itself; "0" is before every version. Returns the fix that closes the
 * interval the version is in, when there is one.
 */
export function inRange(version: string, range: OsvRange, compare: Compare): { affected: boolean; fixed?: string } {
  const key = (e: OsvRange['events'][number]) => e.introduced ?? e.fixed ?? e.last_affected ?? e.limit ?? '0';
  const events = [...range.events].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka === '0' || kb === '0') return ka === kb ? 0 : ka === '0' ? -1 : 1;
    return compare(ka, kb);
  });
  let affected = false;
  let fixed: string | undefined;
  for (const e of events) {
    if (e.introduced !== undefined && (e.introduced === '0' || compare(version, e.introduced) >= 0)) {
      affected = true;
      fixed = undefined;
    } else if (e.fixed !== undefined) {
      if (compare(version, e.fixed) >= 0) affected = false;
      else if (affected && fixed === undefined) fixed = e.fixed;
    } else if (e.last_affected !== undefined && compare(version, e.last_affected) > 0) {
      affected = false;
    } else if (e.limit !== undefined && compare(version, e.limit) >= 0) {
      affected = false;
    }
  }
  return affected ? { affected, ...(fixed !== undefined ? { fixed } : {}) } : { affected };
}

/**
 * Whether a package at `version` has the advisory, and the version that fixes it.
 * Debian tracker rows: below `fixed`, or any version while open. OSV rows: in a
 * range of type ECOSYSTEM or SEMVER (GIT ranges name commits, not versions), or
 * listed in `versions`.
 */
export function affects(row: AdvisoryRow, version: string): { affected: boolean; fixed?: string } {
  if (row.status === 'not-affected') return { affected: false };
  if (row.status === 'open') return { affected: true };
  const compare = comparerFor(row.ecosystem);
  if (row.ranges === undefined && row.versions === undefined) {
    if (row.fixed === undefined) return { affected: true };
    return compare(version, row.fixed) < 0 ? { affected: true, fixed: row.fixed } : { affected: false };
  }
  for (const range of row.ranges ?? []) {
    if (range.type !== 'ECOSYSTEM' && range.type !== 'SEMVER') continue;
    const r = inRange(version, range, compare);
    if (r.affected) return r;
  }
  if (row.versions?.includes(version)) return { affected: true };
  return { affected: false };
}
