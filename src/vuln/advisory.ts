/**
 * One advisory about one package, as the vulnerability database keeps it: every
 * source (the Debian Security Tracker, OSV records) is read into these rows.
 */
export interface AdvisoryRow {
  /** The record's id (CVE-..., GHSA-..., DSA-...). */
  id: string;
  /** The CVE it is about (an alias of a GHSA record), else the id. */
  cve: string;
  ecosystem: 'deb' | 'npm';
  /** Debian: the source package; npm: the package name. */
  package: string;
  /** Debian: the release codename it applies to ("bookworm"); "" for every release. */
  release: string;
  /**
   * affected: ranges/fixed say which versions; open: every version, no fix yet;
   * not-affected: the package never had it (Debian's fixed_version "0", status not-affected).
   */
  status: 'affected' | 'open' | 'not-affected';
  severity: Severity;
  /** The first version without it (Debian tracker's fixed_version), if known. */
  fixed?: string;
  /** OSV ranges: ECOSYSTEM or SEMVER with introduced/fixed/last_affected events. */
  ranges?: OsvRange[];
  /** OSV's explicit list of affected versions. */
  versions?: string[];
  summary?: string;
  /** When the source last changed the record (OSV `modified`). */
  modified?: string;
}

export interface OsvRange {
  type: string;
  events: { introduced?: string; fixed?: string; last_affected?: string; limit?: string }[];
}

export const SEVERITIES = ['unknown', 'negligible', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Reads a source's severity word (Debian urgency, GitHub severity, CVSS rating) as ours. */
export function normalizeSeverity(word: unknown): Severity {
  const w = typeof word === 'string' ? word.toLowerCase().replace(/\*+$/, '').trim() : '';
  if (w === 'unimportant' || w === 'negligible' || w === 'none') return 'negligible';
  if (w === 'low' || w === 'medium' || w === 'high' || w === 'critical') return w;
  if (w === 'moderate') return 'medium';
  return 'unknown';
}

/** Debian release codenames by version, for OSV's "Debian:12" and images' VERSION_ID. */
export const DEBIAN_CODENAMES: Record<string, string> = {
  '9': 'stretch',
  '10': 'buster',
  '11': 'bullseye',
  '12': 'bookworm',
  '13': 'trixie',
  '14': 'forky',
};
