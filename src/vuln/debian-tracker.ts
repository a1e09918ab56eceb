import { SlipwayError } from '../errors.js';
import { normalizeSeverity, type AdvisoryRow } from './advisory.js';

/**
 * The Debian Security Tracker's JSON (https://security-tracker.debian.org/tracker/data/json):
 * source package, then CVE (or TEMP-...), then `releases` by codename, each with
 * `status` (resolved, open, undetermined), `fixed_version` and `urgency`. A resolved
 * issue whose fixed_version is "0" never affected the release's package.
 */
export function trackerRows(doc: unknown): AdvisoryRow[] {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      'the Debian tracker JSON must be an object of source packages (download it from https://security-tracker.debian.org/tracker/data/json)',
    );
  }
  const rows: AdvisoryRow[] = [];
  for (const [pkg, issues] of Object.entries(doc as Record<string, unknown>)) {
    if (typeof issues !== 'object' || issues === null) continue;
    for (const [id, issue] of Object.entries(issues as Record<string, unknown>)) {
      const releases = (issue as { releases?: Record<string, Record<string, unknown>> } | null)?.releases;
      if (!releases || typeof releases !== 'object') continue;
      const summary = (issue as { description?: unknown }).description;
      for (const [release, r] of Object.entries(releases)) {
        if (typeof r !== 'object' || r === null) continue;
        const fixed = typeof r['fixed_version'] === 'string' ? r['fixed_version'] : undefined;
        const status: AdvisoryRow['status'] =
          r['status'] === 'not-affected' || fixed === '0'
            ? 'not-affected'
            : r['status'] === 'resolved' && fixed !== undefined
              ? 'affected'
              : 'open';
        rows.push({
          id,
          cve: id,
          ecosystem: 'deb',
          package: pkg,
          release,
          status,
          severity: normalizeSeverity(r['urgency']),
          ...(status === 'affected' ? { fixed: fixed! } : {}),
          ...(typeof summary === 'string' ? { summary } : {}),
        });
      }
    }
  }
  return rows;
}
