import type { Digest } from '../oci/digest.js';

/** Where in an image a layer came from, as a finding reports it. */
export type LayerOrigin = 'base' | 'buildpack' | 'sbom' | 'app' | 'launcher';

export interface LayerRole {
  /** diffID of the layer. */
  diffId: Digest;
  /** Position, base first. */
  index: number;
  origin: LayerOrigin;
  /** The buildpack and its layer name, for buildpack layers. */
  buildpack?: string;
  layerName?: string;
}

/** The ecosystem a component belongs to, as vulnerability data names it. */
export type Ecosystem = 'deb' | 'npm' | 'node' | 'other';

/** One package found in an image. */
export interface SbomComponent {
  ecosystem: Ecosystem;
  name: string;
  version: string;
  purl: string;
  /** Debian: the architecture, the source package and its version. */
  arch?: string;
  source?: string;
  sourceVersion?: string;
  /** diffID of the layer it was found in. */
  layer: Digest;
  /** The file that says it is there (dpkg status, a package.json, a lock file, a binary, a declared SBOM). */
  foundIn: string;
}

/** Everything `slipway sbom` knows about one image: the input of both SBOM formats and of scans. */
export interface ImageInventory {
  /** The image manifest's digest. */
  image: Digest;
  /** The image's name as asked for, for the document's title. */
  name: string;
  /** The image's creation time (config `created`), the documents' time: the same image gives the same bytes. */
  created: string;
  distro?: { id: string; versionId: string; codename?: string };
  layers: LayerRole[];
  /** Sorted: ecosystem, name, version, arch, layer, foundIn. */
  components: SbomComponent[];
}
