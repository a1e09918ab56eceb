/** Pre-defined annotation keys of the OCI image spec (annotations.md). */
export const Annotation = {
  RefName: 'org.opencontainers.image.ref.name',
  Created: 'org.opencontainers.image.created',
  Title: 'org.opencontainers.image.title',
  Description: 'org.opencontainers.image.description',
  Version: 'org.opencontainers.image.version',
  Revision: 'org.opencontainers.image.revision',
  Source: 'org.opencontainers.image.source',
  Vendor: 'org.opencontainers.image.vendor',
  Licenses: 'org.opencontainers.image.licenses',
  BaseDigest: 'org.opencontainers.image.base.digest',
  BaseName: 'org.opencontainers.image.base.name',
  // containerd's image name annotation, written by skopeo/podman into OCI layouts.
  ContainerdImageName: 'io.containerd.image.name',
} as const;
