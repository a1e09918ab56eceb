import type { Digest } from '../oci/digest.js';
import type { Ecosystem, LayerRole, SbomComponent } from './types.js';

/**
 * The packages a buildpack's own SBOM declares (CycloneDX `components`, SPDX
 * `packages`, Syft `artifacts`), attributed to the buildpack layer the SBOM describes
 * (`layers/sbom/launch/<buildpack>/<layer>/sbom.*.json`), else to the SBOM layer.
 * A document that is not JSON declares nothing.
 */
export function declaredComponents(
  declared: { path: string; owner: string; format: 'cdx' | 'spdx' | 'syft'; text: string },
  sbomLayer: LayerRole,
  roles: LayerRole[],
): SbomComponent[] {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(declared.text) as Record<string, unknown>;
  } catch {
    return [];
  }
  const [bp, layerName] = declared.owner.split('/');
  const layer: Digest =
    roles.find((r) => r.origin === 'buildpack' && escapeId(r.buildpack) === bp && r.layerName === layerName)?.diffId ??
    sbomLayer.diffId;
  const entries: { name?: unknown; version?: unknown; purl?: unknown }[] = [];
  if (declared.format === 'cdx') entries.push(...list(doc['components']));
  else if (declared.format === 'syft') entries.push(...list(doc['artifacts']));
  else {
    for (const p of list(doc['packages']) as { name?: unknown; versionInfo?: unknown; externalRefs?: unknown }[]) {
      const ref = (list(p.externalRefs) as { referenceType?: unknown; referenceLocator?: unknown }[]).find(
        (r) => r.referenceType === 'purl',
      );
      entries.push({ name: p.name, version: p.versionInfo, purl: ref?.referenceLocator });
    }
  }
  const foundIn = declared.path;
  return entries
    .filter((e) => typeof e.name === 'string' && typeof e.version === 'string')
    .map((e) => {
      const purl = typeof e.purl === 'string' ? e.purl : '';
      return {
        ecosystem: ecosystemOf(purl),
        name: e.name as string,
        version: e.version as string,
        purl,
        layer,
        foundIn,
      };
    });
}

function ecosystemOf(purl: string): Ecosystem {
  if (purl.startsWith('pkg:npm/')) return 'npm';
  if (purl.startsWith('pkg:deb/')) return 'deb';
  return 'other';
}

function list(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null) : [];
}

/** A buildpack id as the exporter names its directories (slashes become underscores). */
function escapeId(id: string | undefined): string {
  return (id ?? '').replaceAll('/', '_');
}
