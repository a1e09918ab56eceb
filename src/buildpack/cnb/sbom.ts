import { SlipwayError } from '../../errors.js';

/** SBOM media types a buildpack may declare in `sbom-formats` and the file extension of each (buildpack.md "Bills of Materials"). */
export const SBOM_FORMATS: Record<string, string> = {
  'application/vnd.cyclonedx+json': 'cdx.json',
  'application/spdx+json': 'spdx.json',
  'application/vnd.syft+json': 'syft.json',
};

/** Where an SBOM file goes: launch (the image's SBOM layer), build (dropped), cache (kept with its layer). */
export type SbomKind = 'launch' | 'build' | 'cache';

export interface SbomFile {
  /** The file name in the buildpack's layers dir: `<layer>.sbom.<ext>`, `launch.sbom.<ext>`, `build.sbom.<ext>`. */
  file: string;
  /** The layer it describes; undefined for launch.sbom / build.sbom. */
  layer?: string;
  kind: SbomKind;
  /** The name it is copied as: `sbom.<ext>`. */
  name: string;
}

/**
 * The SBOM files of one buildpack's layers dir, as the lifecycle's builder sorts them
 * (buildpack/bomfile.go processSBOMFiles): every `*.sbom.*.json`; the layer is the name up
 * to the first "."; `launch.*` and `build.*` stand alone; a layer SBOM follows its layer's
 * types (launch, else build; cache too when cache = true); an SBOM of no layer is skipped.
 * A format that is not CycloneDX, SPDX or Syft JSON, or one the buildpack did not declare
 * in `sbom-formats`, is an error.
 */
export function classifySbomFiles(
  fileNames: string[],
  layerTypes: (layer: string) => { launch: boolean; cache: boolean } | undefined,
  declared: string[],
  buildpack: string,
): SbomFile[] {
  const declaredTypes = new Set(declared.map((t) => t.split(';')[0]!.trim().toLowerCase()));
  const out: SbomFile[] = [];
  for (const file of [...fileNames].filter((f) => /^[^/]*\.sbom\.[^/]*\.json$/.test(f)).sort()) {
    const layer = file.split('.')[0]!;
    const mediaType = Object.entries(SBOM_FORMATS).find(([, ext]) => file.endsWith(`.sbom.${ext}`))?.[0];
    const entries: SbomFile[] = [];
    const name = mediaType ? `sbom.${SBOM_FORMATS[mediaType]}` : '';
    if (layer === 'launch' || layer === 'build') entries.push({ file, kind: layer, name });
    else {
      const types = layerTypes(layer);
      if (!types) continue;
      entries.push({ file, layer, kind: types.launch ? 'launch' : 'build', name });
      if (types.cache) entries.push({ file, layer, kind: 'cache', name });
    }
    if (!mediaType) {
      throw new SlipwayError(
        'INVALID_DOCUMENT',
        `buildpack ${buildpack}: unsupported SBOM file format: "${file}" (use <name>.sbom.cdx.json, .sbom.spdx.json or .sbom.syft.json)`,
        { detail: { buildpack, file } },
      );
    }
    if (!declaredTypes.has(mediaType)) {
      throw new SlipwayError(
        'INVALID_DOCUMENT',
        `buildpack ${buildpack}: SBOM file "${file}" is ${mediaType}, which its buildpack.toml does not declare in sbom-formats (declared: ${declared.length ? declared.join(', ') : 'none'})`,
        {
          detail: { buildpack, file, mediaType, declared },
        },
      );
    }
    out.push(...entries);
  }
  return out;
}
