/**
 * /etc/os-release as the CNB lifecycle reads it for target data: `ID` is the distro
 * name and `VERSION_ID` its version (io.buildpacks.base.distro.name/.version).
 */
export interface OsRelease {
  id?: string;
  versionId?: string;
  prettyName?: string;
  versionCodename?: string;
}

/** Parses os-release(5): KEY=value lines, values optionally quoted. */
export function parseOsRelease(text: string): OsRelease {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2]!;
    if (/^(["']).*\1$/.test(v)) v = v.slice(1, -1).replace(/\\(["$`\\])/g, '$1');
    values.set(m[1]!, v);
  }
  const out: OsRelease = {};
  if (values.has('ID')) out.id = values.get('ID')!;
  if (values.has('VERSION_ID')) out.versionId = values.get('VERSION_ID')!;
  if (values.has('PRETTY_NAME')) out.prettyName = values.get('PRETTY_NAME')!;
  if (values.has('VERSION_CODENAME')) out.versionCodename = values.get('VERSION_CODENAME')!;
  return out;
}
