import { PackageURL } from 'packageurl-js';
import type { Digest } from '../oci/digest.js';
import type { Image } from '../image/types.js';
import { parseOsRelease } from '../stack/os-release.js';
import { declaredComponents } from './declared.js';
import { DPKG_STATUS_FILE, type DpkgPackage } from './dpkg.js';
import { readLayerFacts, type LayerFacts } from './layer-facts.js';
import { layerRoles } from './layer-roles.js';
import type { NpmPackage } from './npm.js';
import type { ImageInventory, LayerRole, SbomComponent } from './types.js';

/** Where facts of layers already read are kept (by diffID): a warm build reads only its new layers. */
export interface LayerFactsCache {
  get(diffId: Digest): Promise<LayerFacts | undefined>;
  put(diffId: Digest, facts: LayerFacts): Promise<void>;
}

/**
 * Everything an SBOM lists for an image, read from its layers base first as the
 * unpacked filesystem would show them: a later layer's copy of a file replaces the
 * earlier one and its whiteouts delete. A Debian package keeps the layer that first
 * installed it at its version; npm packages found both installed and in a lock file
 * are listed once, where they are installed.
 */
export async function collectInventory(image: Image, name: string, cache?: LayerFactsCache): Promise<ImageInventory> {
  const config = await image.config();
  const labels = config.config?.Labels ?? {};
  const layers = await image.layers();
  const roles = layerRoles(config.rootfs.diff_ids as Digest[], labels);
  let found: SbomComponent[] = [];
  let osRelease: string | undefined;
  for (const [i, layer] of layers.entries()) {
    const diffId = roles[i]!.diffId;
    let facts = await cache?.get(diffId);
    if (!facts) {
      facts = await readLayerFacts(await layer.uncompressed());
      await cache?.put(diffId, facts);
    }
    found = applyLayer(found, facts, roles[i]!, roles, labels);
    if (facts.osRelease !== undefined) osRelease = facts.osRelease;
  }
  const os = osRelease ? parseOsRelease(osRelease) : {};
  const distroId = labels['io.buildpacks.base.distro.name'] ?? os.id;
  const distroVersion = labels['io.buildpacks.base.distro.version'] ?? os.versionId;
  const distro =
    distroId && distroVersion
      ? { id: distroId, versionId: distroVersion, ...(os.versionCodename ? { codename: os.versionCodename } : {}) }
      : undefined;
  const components = finish(found, distro ? `${distro.id}-${distro.versionId}` : undefined);
  return {
    image: await image.digest(),
    name,
    created: config.created ?? '1980-01-01T00:00:01Z',
    ...(distro ? { distro } : {}),
    layers: roles,
    components,
  };
}

function applyLayer(
  before: SbomComponent[],
  facts: LayerFacts,
  role: LayerRole,
  roles: LayerRole[],
  labels: Record<string, string>,
): SbomComponent[] {
  const replaced = new Set<string>();
  if (facts.dpkgStatus) replaced.add(DPKG_STATUS_FILE);
  for (const f of facts.dpkgStatusD) replaced.add(f.path);
  for (const p of facts.npmInstalled) replaced.add(`${p.path}/package.json`);
  for (const f of facts.lockFiles) replaced.add(f.path);
  const kept = before.filter((c) => !replaced.has(c.foundIn) && !isDeleted(c.foundIn, facts.deletes));
  const earlier = new Map(
    before.filter((c) => c.foundIn === DPKG_STATUS_FILE).map((c) => [`${c.name}:${c.arch}=${c.version}`, c.layer]),
  );
  const add: SbomComponent[] = [];
  for (const p of facts.dpkgStatus ?? []) {
    add.push(deb(p, earlier.get(`${p.name}:${p.architecture}=${p.version}`) ?? role.diffId, DPKG_STATUS_FILE));
  }
  for (const f of facts.dpkgStatusD) for (const p of f.packages) add.push(deb(p, role.diffId, f.path));
  for (const p of facts.npmInstalled) add.push(npm(p, role.diffId, `${p.path}/package.json`));
  for (const f of facts.lockFiles) {
    for (const p of f.packages.filter((x) => !x.dev)) add.push(npm(p, role.diffId, f.path));
  }
  for (const path of facts.nodeBinaries) {
    const version = nodeVersion(role, labels);
    if (version)
      add.push(
        component(
          'node',
          'node',
          version,
          new PackageURL('generic', undefined, 'node', version, undefined, undefined),
          role.diffId,
          path,
        ),
      );
  }
  for (const d of facts.declared) add.push(...declaredComponents(d, role, roles));
  return [...kept, ...add];
}

/** True when a path is gone after a layer's deletions (a whiteout of it or of a directory above it). */
function isDeleted(path: string, deletes: string[]): boolean {
  return deletes.some((d) => (d.endsWith('/') ? path.startsWith(d) : path === d || path.startsWith(`${d}/`)));
}

/** The Node.js version a buildpack recorded for the layer holding the binary (its layer metadata `version`). */
function nodeVersion(role: LayerRole, labels: Record<string, string>): string | undefined {
  if (role.buildpack === undefined || role.layerName === undefined) return undefined;
  try {
    const meta = JSON.parse(labels['io.buildpacks.lifecycle.metadata'] ?? '{}') as {
      buildpacks?: { key: string; layers?: Record<string, { data?: Record<string, unknown> }> }[];
    };
    const data = meta.buildpacks?.find((b) => b.key === role.buildpack)?.layers?.[role.layerName]?.data;
    const v = data?.['version'];
    return typeof v === 'string' && /^\d+\.\d+\.\d+/.test(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function deb(p: DpkgPackage, layer: Digest, foundIn: string): SbomComponent {
  return {
    ...component('deb', p.name, p.version, undefined, layer, foundIn),
    arch: p.architecture,
    source: p.source,
    sourceVersion: p.sourceVersion,
  };
}

function npm(p: NpmPackage, layer: Digest, foundIn: string): SbomComponent {
  const at = p.name.startsWith('@') ? p.name.indexOf('/') : -1;
  const purl = new PackageURL(
    'npm',
    at > 0 ? p.name.slice(0, at) : undefined,
    at > 0 ? p.name.slice(at + 1) : p.name,
    p.version,
    undefined,
    undefined,
  );
  return component('npm', p.name, p.version, purl, layer, foundIn);
}

function component(
  ecosystem: SbomComponent['ecosystem'],
  name: string,
  version: string,
  purl: PackageURL | undefined,
  layer: Digest,
  foundIn: string,
): SbomComponent {
  return { ecosystem, name, version, purl: purl?.toString() ?? '', layer, foundIn };
}

/**
 * Deb purls get the distro qualifier; npm packages are listed once per version and
 * layer (installed wins over a lock file's pin); everything is sorted.
 */
function finish(found: SbomComponent[], distro: string | undefined): SbomComponent[] {
  for (const c of found) {
    if (c.ecosystem === 'deb') {
      const q: Record<string, string> = { arch: c.arch ?? 'all', ...(distro ? { distro } : {}) };
      c.purl = new PackageURL('deb', 'debian', c.name, c.version, q, undefined).toString();
    }
  }
  const installed = new Set(
    found.filter((c) => c.ecosystem === 'npm' && !c.foundIn.endsWith('package-lock.json')).map((c) => c.purl),
  );
  const seen = new Set<string>();
  const out: SbomComponent[] = [];
  for (const c of [...found].sort(order)) {
    if (c.ecosystem === 'npm' && c.foundIn.endsWith('package-lock.json') && installed.has(c.purl)) continue;
    const key = `${c.purl}|${c.layer}|${c.ecosystem === 'deb' || c.ecosystem === 'node' ? c.foundIn : ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(c);
  }
  return out;
}

function order(a: SbomComponent, b: SbomComponent): number {
  const ka = [a.ecosystem, a.name, a.version, a.arch ?? '', a.layer, a.foundIn];
  const kb = [b.ecosystem, b.name, b.version, b.arch ?? '', b.layer, b.foundIn];
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
  return 0;
}
