/** Media types of OCI image-spec 1.1 and Docker image manifest v2 schema 2. */
export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayout: 'application/vnd.oci.layout.header.v1+json',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  DockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
} as const;
export type MediaTypeValue = (typeof MediaType)[keyof typeof MediaType];

export const MANIFEST_MEDIA_TYPES: readonly string[] = [MediaType.OciManifest, MediaType.DockerManifest];
export const INDEX_MEDIA_TYPES: readonly string[] = [MediaType.OciIndex, MediaType.DockerManifestList];

export function isManifestMediaType(mt: string | undefined): boolean {
  return mt !== undefined && MANIFEST_MEDIA_TYPES.includes(mt);
}
export function isIndexMediaType(mt: string | undefined): boolean {
  return mt !== undefined && INDEX_MEDIA_TYPES.includes(mt);
}

export type Compression = 'none' | 'gzip' | 'zstd';

/** The compression a layer media type implies, or undefined when it is not a layer type we know. */
export function layerCompression(mt: string): Compression | undefined {
  switch (mt) {
    case MediaType.OciLayer:
    case MediaType.OciLayerNondistributable:
      return 'none';
    case MediaType.OciLayerGzip:
    case MediaType.OciLayerNondistributableGzip:
    case MediaType.DockerLayerGzip:
    case MediaType.DockerLayerForeignGzip:
      return 'gzip';
    case MediaType.OciLayerZstd:
    case MediaType.OciLayerNondistributableZstd:
    case MediaType.DockerLayerZstd:
      return 'zstd';
    default:
      return undefined;
  }
}

/** The OCI layer media type for a compression. */
export function ociLayerMediaType(c: Compression): string {
  return c === 'gzip' ? MediaType.OciLayerGzip : c === 'zstd' ? MediaType.OciLayerZstd : MediaType.OciLayer;
}

/** Layer media types an image may name without its blob being distributed (OCI's deprecated non-distributable, Docker's foreign). */
export const NONDISTRIBUTABLE_MEDIA_TYPES: readonly string[] = [
  MediaType.OciLayerNondistributable,
  MediaType.OciLayerNondistributableGzip,
  MediaType.OciLayerNondistributableZstd,
  MediaType.DockerLayerForeignGzip,
];

/**
 * A foreign layer: fetched from its `urls` or otherwise from outside the registry, so
 * a registry neither needs nor checks its blob (`urls` set, or a non-distributable
 * media type).
 */
export function isForeignLayer(desc: { mediaType: string; urls?: readonly string[] | undefined }): boolean {
  return (desc.urls?.length ?? 0) > 0 || NONDISTRIBUTABLE_MEDIA_TYPES.includes(desc.mediaType);
}
