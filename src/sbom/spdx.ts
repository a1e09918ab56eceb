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
      versionInfo: c.version,
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
      created: inv.created.replace(/\.\d+Z$/, 'Z'),
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
