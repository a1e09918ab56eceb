/**
 * npm packages as an image carries them: the entries of a package-lock.json (lockfile
 * v1, v2 and v3) and the package.json of each installed `node_modules` package.
 */

export interface NpmPackage {
  name: string;
  version: string;
  /** The install path in the lock file or image, e.g. `node_modules/express/node_modules/debug`. */
  path: string;
  /** Only needed for development (lock file `dev: true`). */
  dev?: boolean;
}

/** A path ending in an installed package's manifest: `.../node_modules/NAME/package.json` or `.../node_modules/@SCOPE/NAME/package.json`. */
const INSTALLED = /(^|\/)node_modules\/((?:@[^/]+\/)?[^/@][^/]*)\/package\.json$/;

/** True for an installed package's package.json (what `installedPackage` reads). */
export function isInstalledManifest(path: string): boolean {
  return INSTALLED.test(path);
}

/** True for a lock file an SBOM reads. */
export function isLockFile(path: string): boolean {
  return /(^|\/)package-lock\.json$/.test(path) && !path.includes('/node_modules/');
}

/**
 * The package an installed package.json describes, or undefined for one that is not a
 * package (a nested package.json without name or version, a bad JSON document).
 */
export function installedPackage(path: string, text: string): NpmPackage | undefined {
  const m = INSTALLED.exec(path);
  if (!m) return undefined;
  const doc = parseJson(text);
  const name = typeof doc?.['name'] === 'string' ? doc['name'] : m[2]!;
  const version = doc?.['version'];
  if (typeof version !== 'string' || version === '') return undefined;
  return { name, version, path: path.slice(0, -'/package.json'.length) };
}

/**
 * The packages a package-lock.json pins, sorted by path. v2/v3 lock files list them in
 * `packages` by install path (the root "" and workspace links are skipped); v1 in
 * nested `dependencies`.
 */
export function lockFilePackages(text: string): NpmPackage[] {
  const doc = parseJson(text);
  if (!doc) return [];
  const out: NpmPackage[] = [];
  const packages = doc['packages'];
  if (isRecord(packages)) {
    for (const [path, entry] of Object.entries(packages)) {
      if (path === '' || !isRecord(entry) || entry['link'] === true) continue;
      const version = entry['version'];
      if (typeof version !== 'string') continue;
      const name =
        typeof entry['name'] === 'string' ? entry['name'] : path.slice(path.lastIndexOf('node_modules/') + 13);
      out.push({ name, version, path, ...(entry['dev'] === true ? { dev: true } : {}) });
    }
  } else if (isRecord(doc['dependencies'])) {
    const walk = (deps: Record<string, unknown>, prefix: string) => {
      for (const [name, entry] of Object.entries(deps)) {
        if (!isRecord(entry) || typeof entry['version'] !== 'string') continue;
        const path = `${prefix}node_modules/${name}`;
        out.push({ name, version: entry['version'], path, ...(entry['dev'] === true ? { dev: true } : {}) });
        if (isRecord(entry['dependencies'])) walk(entry['dependencies'], `${path}/`);
      }
    };
    walk(doc['dependencies'], '');
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return isRecord(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
