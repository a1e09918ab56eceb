import { SlipwayError } from '../errors.js';
import { DEBIAN_CODENAMES, normalizeSeverity, type AdvisoryRow, type OsvRange } from './advisory.js';

/**
 * An OSV record (https://ossf.github.io/osv-schema/) as advisory rows: one per
 * affected npm or Debian package. `Debian:12` becomes release "bookworm"; other
 * ecosystems are left out. The CVE is the record's id or its first CVE alias.
 */
export function osvRows(doc: unknown, where = 'the OSV record'): AdvisoryRow[] {
  if (typeof doc !== 'object' || doc === null || typeof (doc as { id?: unknown }).id !== 'string') {
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      `${where} has no "id": it is not an OSV record (see https://ossf.github.io/osv-schema/)`,
    );
  }
  const rec = doc as {
    id: string;
    aliases?: unknown;
    summary?: unknown;
    modified?: unknown;
    withdrawn?: unknown;
    affected?: unknown;
    database_specific?: { severity?: unknown };
  };
  if (rec.withdrawn !== undefined) return [];
  const aliases = Array.isArray(rec.aliases) ? rec.aliases.filter((a): a is string => typeof a === 'string') : [];
  const cve = rec.id.startsWith('CVE-') ? rec.id : (aliases.find((a) => a.startsWith('CVE-')) ?? rec.id);
  const rows: AdvisoryRow[] = [];
  for (const a of Array.isArray(rec.affected) ? rec.affected : []) {
    const pkg = (a as { package?: { ecosystem?: unknown; name?: unknown } }).package;
    if (typeof pkg?.ecosystem !== 'string' || typeof pkg.name !== 'string') continue;
    const [eco, ver] = pkg.ecosystem.split(':');
    let ecosystem: AdvisoryRow['ecosystem'];
    let release = '';
    if (eco === 'npm') ecosystem = 'npm';
    else if (eco === 'Debian') {
      ecosystem = 'deb';
      release = ver ? (DEBIAN_CODENAMES[ver] ?? ver) : '';
    } else continue;
    const ranges = (Array.isArray((a as { ranges?: unknown }).ranges) ? (a as { ranges: unknown[] }).ranges : [])
      .filter((r): r is OsvRange => typeof r === 'object' && r !== null && Array.isArray((r as OsvRange).events))
      .map((r) => ({ type: String(r.type), events: r.events }));
    const versions = (a as { versions?: unknown }).versions;
    const severity =
      (a as { ecosystem_specific?: { severity?: unknown }; database_specific?: { severity?: unknown } })
        .ecosystem_specific?.severity ??
      (a as { database_specific?: { severity?: unknown } }).database_specific?.severity ??
      rec.database_specific?.severity;
    rows.push({
      id: rec.id,
      cve,
      ecosystem,
      package: pkg.name,
      release,
      status: 'affected',
      severity: normalizeSeverity(severity),
      ranges,
      ...(Array.isArray(versions) ? { versions: versions.filter((v): v is string => typeof v === 'string') } : {}),
      ...(typeof rec.summary === 'string' ? { summary: rec.summary } : {}),
      ...(typeof rec.modified === 'string' ? { modified: rec.modified } : {}),
    });
  }
  return rows;
}
