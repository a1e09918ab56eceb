/**
 * dpkg's package database as an SBOM reads it: every installed package with its
 * architecture and the source package it was built from (Debian's security data is
 * keyed by source package). stack/packages.ts keeps the name -> version summary a
 * stack's label carries; this reads the fields that summary leaves out.
 */

export interface DpkgPackage {
  name: string;
  version: string;
  architecture: string;
  /** The source package; the binary's own name when the stanza has no Source field. */
  source: string;
  /** The source version: from `Source: name (version)`, else the binary's version (no binNMU). */
  sourceVersion: string;
}

export const DPKG_STATUS_FILE = 'var/lib/dpkg/status';
/** Distroless-style images keep one status stanza file per package here. */
export const DPKG_STATUS_DIR = 'var/lib/dpkg/status.d';

/**
 * The installed packages of a dpkg status text (or a status.d file), sorted by name
 * then architecture. A stanza without Status (status.d files) counts as installed.
 *
 * @example parseDpkgPackages('Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.15-1~deb12u1\n')
 *   // [{ name: 'libssl3', version: '3.0.15-1~deb12u1', architecture: 'amd64', source: 'openssl', sourceVersion: '3.0.15-1~deb12u1' }]
 */
export function parseDpkgPackages(text: string): DpkgPackage[] {
  const out: DpkgPackage[] = [];
  for (const stanza of text.split(/\n[ \t]*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const m = /^([A-Za-z0-9-]+):[ \t]*(.*)$/.exec(line);
      if (m) fields.set(m[1]!.toLowerCase(), m[2]!.trim());
    }
    const name = fields.get('package');
    const version = fields.get('version');
    const status = fields.get('status');
    if (!name || !version || (status !== undefined && status !== 'install ok installed')) continue;
    const src = /^(\S+)(?:\s+\((\S+)\))?$/.exec(fields.get('source') ?? '');
    out.push({
      name,
      version,
      architecture: fields.get('architecture') ?? 'all',
      source: src?.[1] ?? name,
      sourceVersion: src?.[2] ?? stripBinNmu(version),
    });
  }
  return out.sort((a, b) => cmp(a.name, b.name) || cmp(a.architecture, b.architecture));
}

/** A binNMU (`+b1`) rebuilds the same source: the source version is without it. */
function stripBinNmu(version: string): string {
  return version.replace(/\+b\d+$/, '');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
