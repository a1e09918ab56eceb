/**
 * The package record of a stack image: package name -> version, as dpkg says it is
 * installed (/var/lib/dpkg/status), and what changed between two records.
 */
export type PackageSet = Record<string, string>;

/**
 * Reads dpkg's status file: every package whose Status is "install ok installed".
 * A package of a foreign architecture (Multi-Arch: same, e.g. libc6:i386) is keyed
 * `name:arch`.
 *
 * @example parseDpkgStatus('Package: jq\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.6-2.1\n')
 *   // { jq: '1.6-2.1' }
 */
export function parseDpkgStatus(text: string, nativeArch?: string): PackageSet {
  const found: [string, string][] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (m) fields.set(m[1]!, m[2]!.trim());
    }
    const name = fields.get('Package');
    const version = fields.get('Version');
    if (!name || !version || fields.get('Status') !== 'install ok installed') continue;
    const arch = fields.get('Architecture');
    const foreign = arch && arch !== 'all' && nativeArch && arch !== nativeArch;
    found.push([foreign ? `${name}:${arch}` : name, version]);
  }
  found.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(found);
}

export interface PackageChange {
  name: string;
  /** Undefined when the package was added. */
  from?: string;
  /** Undefined when the package was removed. */
  to?: string;
}

export interface PackageDiff {
  added: PackageChange[];
  removed: PackageChange[];
  changed: PackageChange[];
}

/** What changed from `before` to `after`, each list sorted by package name. */
export function diffPackages(before: PackageSet, after: PackageSet): PackageDiff {
  const diff: PackageDiff = { added: [], removed: [], changed: [] };
  for (const name of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
    const from = before[name];
    const to = after[name];
    if (from === undefined && to !== undefined) diff.added.push({ name, to });
    else if (to === undefined && from !== undefined) diff.removed.push({ name, from });
    else if (from !== to) diff.changed.push({ name, from: from!, to: to! });
  }
  return diff;
}

export function isEmptyDiff(d: PackageDiff): boolean {
  return d.added.length + d.removed.length + d.changed.length === 0;
}

/** One line per change: "+ file 1:5.44-3", "- less 590-2", "~ libc6 2.36-9 -> 2.36-9+deb12u1". */
export function formatDiff(d: PackageDiff): string[] {
  return [
    ...d.added.map((c) => `+ ${c.name} ${c.to}`),
    ...d.removed.map((c) => `- ${c.name} ${c.from}`),
    ...d.changed.map((c) => `~ ${c.name} ${c.from} -> ${c.to}`),
  ];
}
