import { bomRefs, SLIPWAY_TOOL, uuidFrom } from './cyclonedx.js';
import { describeLayer } from './layer-roles.js';
import type { ImageInventory } from './types.js';

export const SPDX_MEDIA_TYPE = 'application/spdx+json';

/**
 * The inventory as an SPDX 2.3 JSON document: the image as the described package,
 * each component a package CONTAINED_BY it, with its purl as an external reference
 * and its layer in the package comment. Deterministic like the CycloneDX one.
 */
export function toSpdx(inv: ImageInventory): string {
  const imageId = 'SPDXRef-Image';
  const packages = bomRefs(inv.components).map(([, c], i) => {
    const role = inv.layers.find((l) => l.diffId === c.layer);
    return {
      name: c.name,
      SPDXID: `SPDXRef-Package-${i + 1}`,
      // SPDX 7.3 has no empty version: a component found without one has none.
      ...(c.version ? { versionInfo: c.version } : {}),
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      ...(c.source !== undefined
        ? { sourceInfo: `built from source package ${c.source} ${c.sourceVersion ?? ''}`.trim() }
        : {}),
      comment: `layer ${c.layer} (${describeLayer(role)}), found in ${c.foundIn}`,
      ...(c.purl
        ? { externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: c.purl }] }
        : {}),
    };
  });
  const doc = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: inv.name,
    documentNamespace: `https://slipway.invalid/spdx/${inv.image.replace(':', '-')}-${uuidFrom(`slipway-sbom:spdx:${inv.image}`)}`,
    creationInfo: {
      created: spdxTime(inv.created),
      creators: [`Tool: ${SLIPWAY_TOOL.name}-${SLIPWAY_TOOL.version}`],
    },
    documentDescribes: [imageId],
    packages: [
      {
        name: inv.name,
        SPDXID: imageId,
        versionInfo: inv.image,
        downloadLocation: 'NOASSERTION',
        filesAnalyzed: false,
        primaryPackagePurpose: 'CONTAINER',
      },
      ...packages,
    ],
    relationships: [
      { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: imageId },
      ...packages.map((p) => ({
        spdxElementId: p.SPDXID,
        relationshipType: 'CONTAINED_BY',
        relatedSpdxElement: imageId,
      })),
    ],
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * SPDX 6.9's YYYY-MM-DDThh:mm:ssZ from an image config's RFC 3339 time, which may carry an
 * offset and nanoseconds. A time without a zone counts as UTC, not the machine's zone, and one
 * that does not parse as the time an image without one gets, so the bytes stay the same anywhere.
 */
function spdxTime(created: string): string {
  const t = new Date(/(Z|[+-]\d\d:?\d\d)$/i.test(created) ? created : `${created}Z`);
  return Number.isNaN(t.getTime()) ? '1980-01-01T00:00:01Z' : t.toISOString().replace(/\.\d+Z$/, 'Z');
}
