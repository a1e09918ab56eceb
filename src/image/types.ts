import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import type { OpenOptions } from './blob-source.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest } from '../oci/types.js';

/**
 * The read-only domain model, after go-containerregistry's v1.Image/v1.Layer: small
 * interfaces whose values are computed lazily and cached. Every method says which
 * hash it means: `digest` is of the bytes as stored (compressed), `diffId` of the
 * uncompressed tar.
 */
export interface Layer {
  /** Media type of the stored (usually compressed) bytes. */
  readonly mediaType: string;
  /** Digest of the stored bytes (what a manifest's layer descriptor carries). */
  digest(): Promise<Digest>;
  /** Digest of the uncompressed tar (what the config's rootfs.diff_ids carries). */
  diffId(): Promise<Digest>;
  /** Size of the stored bytes. */
  size(): Promise<number>;
  /** A fresh stream of the stored bytes, each call. */
  compressed(options?: OpenOptions): Promise<Readable>;
  /** A fresh stream of the uncompressed tar, each call. */
  uncompressed(): Promise<Readable>;
  /** Descriptor fields beyond mediaType/digest/size (annotations, urls) to keep in manifests. */
  readonly annotations?: Record<string, string>;
}

export interface Image {
  /** Media type of the manifest (OCI or Docker schema 2). */
  mediaType(): Promise<string>;
  manifest(): Promise<ImageManifest>;
  /** The exact manifest bytes: the digest is of these. */
  rawManifest(): Promise<Buffer>;
  digest(): Promise<Digest>;
  /** Total size: manifest + config + layers as stored. */
  size(): Promise<number>;
  config(): Promise<ImageConfig>;
  rawConfig(): Promise<Buffer>;
  configDigest(): Promise<Digest>;
  /** Layers, base first. */
  layers(): Promise<Layer[]>;
  /** The layer whose stored digest or diffID is `digest`. */
  layerByDigest(digest: Digest): Promise<Layer>;
}

export interface ImageIndexValue {
  mediaType(): Promise<string>;
  index(): Promise<ImageIndex>;
  rawIndex(): Promise<Buffer>;
  digest(): Promise<Digest>;
  /** The image a descriptor of this index points at. */
  image(desc: Descriptor): Promise<Image>;
  /** The nested index a descriptor points at. */
  childIndex(desc: Descriptor): Promise<ImageIndexValue>;
}

/** What a transport resolves a reference to: a single image or an index. */
export type Artifact = { kind: 'image'; image: Image } | { kind: 'index'; index: ImageIndexValue };
