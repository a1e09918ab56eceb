import type { Digest } from '../../oci/digest.js';
import type { KnownLayer } from '../layer-output.js';

export const LIFECYCLE_METADATA_LABEL = 'io.buildpacks.lifecycle.metadata';
export const BUILD_METADATA_LABEL = 'io.buildpacks.build.metadata';
export const PROJECT_METADATA_LABEL = 'io.buildpacks.project.metadata';

/** One layer in io.buildpacks.lifecycle.metadata: diffID, `[metadata]` of its toml, its types. */
export interface LayerRecord {
  sha: Digest;
  data: Record<string, unknown>;
  build: boolean;
  launch: boolean;
  cache: boolean;
}

export interface BuildpackLayersRecord {
  key: string;
  version: string;
  layers: Record<string, LayerRecord>;
  store?: { metadata: Record<string, unknown> };
}

/** The JSON of io.buildpacks.lifecycle.metadata, in the field order lifecycle marshals it. */
export interface LayersMetadataJson {
  app: { sha: Digest }[];
  /** The launch SBOM layer (lifecycle's LayersMetadata.BOM, `json:"sbom,omitempty"`). */
  sbom?: { sha: Digest };
  buildpacks: BuildpackLayersRecord[];
  config: { sha: Digest };
  launcher: { sha: Digest };
  'process-types'?: { sha: Digest };
  runImage: { topLayer: Digest | ''; reference: string; image?: string; mirrors?: string[] };
  stack?: { runImage: { image: string; mirrors?: string[] } };
}

/** io.buildpacks.build.metadata as lifecycle writes it for Platform API >= 0.9 (no bom). */
export interface BuildMetadata {
  buildpacks: { id: string; version: string; api: string; homepage?: string }[];
  launcher: { version: string; source: { git: { repository: string; commit: string } } };
  processes: {
    type: string;
    command: string[];
    args: string[] | null;
    direct: boolean;
    buildpackID: string;
    'working-dir'?: string;
  }[];
  'buildpack-default-process-type'?: string;
}

/** The lifecycle metadata of an image, with the blobs of its layers by diffID (for reuse). */
export class LayersMetadata {
  constructor(
    readonly value: LayersMetadataJson,
    private readonly layers: Map<Digest, KnownLayer> = new Map(),
  ) {}

  get buildpacks(): BuildpackLayersRecord[] {
    return this.value.buildpacks ?? [];
  }

  knownLayer(diffId: Digest): KnownLayer | undefined {
    return this.layers.get(diffId);
  }

  json(): string {
    const v = this.value;
    // Key order as lifecycle's Go structs marshal them.
    return JSON.stringify({
      app: v.app,
      ...(v.sbom ? { sbom: v.sbom } : {}),
      buildpacks: v.buildpacks,
      config: v.config,
      launcher: v.launcher,
      ...(v['process-types'] ? { 'process-types': v['process-types'] } : {}),
      runImage: v.runImage,
      ...(v.stack ? { stack: v.stack } : {}),
    });
  }

  /** Parses the label of an image; undefined when it has none or it is not JSON. */
  static fromLabel(label: string | undefined, layers: Map<Digest, KnownLayer>): LayersMetadata | undefined {
    if (!label) return undefined;
    try {
      const value = JSON.parse(label) as LayersMetadataJson;
      return new LayersMetadata({ ...value, buildpacks: value.buildpacks ?? [] }, layers);
    } catch {
      return undefined;
    }
  }
}
