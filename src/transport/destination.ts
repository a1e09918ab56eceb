import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/types.js';
import type { BlobInfo, Expected } from '../store/types.js';

/**
 * A content-addressed place images can be written to: the local store, an OCI
 * layout directory, an OCI archive, later a registry. Writers put blobs first,
 * then manifests children first, and the root last, so a reader never finds a
 * manifest whose blobs are missing.
 */
export interface ContentDestination {
  /** Describes the destination in messages ("local store", "oci:DIR:REF"). */
  readonly label: string;
  /** True when the blob is already there (and, for the store, protected from GC). */
  hasBlob(digest: Digest): Promise<boolean>;
  /** Links a blob the destination's server already holds elsewhere (a registry's cross-repository mount); false when it cannot. */
  mountBlob?(digest: Digest): Promise<boolean>;
  /** Says a blob of this digest and size is about to be sent (after hasBlob and mountBlob said no), so the destination can get ready for it while its source is opened. */
  prepareBlob?(digest: Digest, size: number): void;
  /** Streams a blob in; verified against `expected` before it becomes visible. */
  putBlob(stream: Readable, expected?: Expected): Promise<BlobInfo>;
  /** Stores a manifest or index; `root` marks the one the reference names (it gets the tag). */
  putManifest(raw: Buffer, mediaType: string, root: boolean): Promise<Descriptor>;
  /** Finishes (writes index.json, packs the archive, releases leases); `ok` false on failure. */
  close(ok: boolean): Promise<void>;
}
