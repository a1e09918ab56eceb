import type { Readable } from 'node:stream';
import type { Digest, DigestAlgorithm } from '../oci/digest.js';
import type { Descriptor } from '../oci/types.js';

/**
 * The storage contracts. The embedded default implements them with a filesystem
 * (blobs) and SQLite (metadata); the scale-out will implement them with an
 * S3-compatible object store and PostgreSQL. Everything above `store/` (import,
 * export, the registry server, staging) talks to these interfaces only.
 */

export interface BlobInfo {
  digest: Digest;
  size: number;
}

/** What a writer must verify before its blob becomes visible. */
export interface Expected {
  digest?: Digest;
  size?: number;
}

/**
 * An ingest in progress (containerd's content.Writer, an OCI chunked upload):
 * bytes are hashed as they are written, and nothing is visible until `commit`
 * verifies them and moves them into place atomically.
 */
export interface BlobWriter {
  /** A stable id, so an upload can be found again (registry upload sessions). */
  readonly id: string;
  /** Bytes written so far. */
  readonly size: number;
  /**
   * What the creator recorded with the ingest (`writer({ labels })`), kept across
   * `close` and `resume`: a registry upload records its repository here.
   */
  readonly labels: Readonly<Record<string, string>>;
  write(chunk: Uint8Array): Promise<void>;
  /**
   * Verifies size and digest, runs `beforeVisible` (which records the digest in a lease
   * so GC cannot take it), then makes the blob visible: fsync, rename, fsync dir.
   */
  commit(expected?: Expected, beforeVisible?: (info: BlobInfo) => Promise<void>): Promise<BlobInfo>;
  /** Drops the ingest and its temporary data. */
  abort(): Promise<void>;
  /**
   * Releases the writer (its file handle) but keeps the ingest, so `resume(id)` can
   * continue it later: a registry upload spans several HTTP requests.
   */
  close(): Promise<void>;
  /**
   * Makes what was written durable where another process or node can resume it (an
   * object store's upload between registry requests); absent where `write` is durable.
   */
  checkpoint?(): Promise<void>;
  /** False when another process resumed and went on with this ingest since (a parked writer is stale). */
  isCurrent?(): Promise<boolean>;
}

export interface WriterOptions {
  /** The algorithm hashed while bytes arrive (commit re-hashes if another is expected). Default sha256. */
  algorithm?: DigestAlgorithm;
  /** Small strings stored with the ingest and returned by `resume` (e.g. a registry upload's repository). */
  labels?: Record<string, string>;
}

/** Where an object-store upload stands (MetadataStore.saveUpload). */
export interface UploadState {
  id: string;
  /** Bumped at every save: a writer parked on a node knows another one went on. */
  version: number;
  /** When it was last saved (ISO 8601). */
  updated: string;
  labels: Record<string, string>;
  /** The object store's multipart upload, once it has one. */
  multipartId?: string;
  /** The parts uploaded so far, in order. */
  parts: { number: number; etag: string; size: number }[];
  /** Bytes after the parts, kept in a tail object until they make a part. */
  tail: number;
  /** The process that saved it last ("pid:PID@HOST"). */
  owner: string;
}

/** An ingest in progress as `listIngests` sees it. */
export interface IngestInfo {
  id: string;
  /** Last time its bytes or metadata changed. */
  mtimeMs: number;
  /** The process that owns it, when known, and that process's host. */
  pid?: number;
  host?: string;
  /**
   * Its metadata is gone or unreadable: what is left of an ingest whose removal was
   * cut short (a crash during commit's clean-up). It can never be resumed.
   */
  broken?: boolean;
}

export interface BlobStore {
  /** Throws when the store cannot be used now (the /healthz probe); absent: a local directory's check. */
  probe?(): Promise<void>;
  /** A URL a client may GET the blob from directly, where the store has one (an object store). */
  presignedUrl?(digest: Digest): Promise<string>;
  stat(digest: Digest): Promise<BlobInfo | undefined>;
  /**
   * A stream of the blob (or of bytes start..end inclusive). Throws BLOB_UNKNOWN.
   * `chunkSize` is the size of each read (the registry serves blobs in 1 MiB reads).
   */
  open(digest: Digest, range?: { start: number; end?: number }, options?: { chunkSize?: number }): Promise<Readable>;
  /** A whole small blob (documents); refuses blobs above maxSize. */
  read(digest: Digest, maxSize?: number): Promise<Buffer>;
  writer(options?: WriterOptions): Promise<BlobWriter>;
  /**
   * Stores a small blob held in memory (a config, a manifest) whose digest and size the
   * caller has checked: `beforeVisible` runs (a lease entry, a link) before it appears,
   * as with a writer's commit. Absent: callers go through `writer`. Cheaper than an
   * ingest, whose metadata and resumability a document never needs.
   */
  putSmall?(data: Uint8Array, info: BlobInfo, beforeVisible?: (info: BlobInfo) => Promise<void>): Promise<void>;
  /** Resumes an ingest by id (uploads survive a process restart), or undefined. */
  resume(id: string): Promise<BlobWriter | undefined>;
  delete(digest: Digest): Promise<boolean>;
  /** Every stored blob digest. */
  list(): AsyncIterable<Digest>;
  /** Ingests not committed, with their age and owner; GC removes stale ones. */
  listIngests(): Promise<IngestInfo[]>;
  removeIngest(id: string): Promise<void>;
}

/** One manifest (image manifest or index) stored in a repository. */
export interface ManifestRecord {
  repository: string;
  digest: Digest;
  mediaType: string;
  size: number;
  artifactType?: string;
  subject?: Digest;
  /** Annotations of the manifest itself (the referrers API returns them). */
  annotations?: Record<string, string>;
  /** Every blob and child manifest this manifest references (config, layers, manifests). */
  references: Digest[];
  created: string;
}

export interface TagRecord {
  repository: string;
  tag: string;
  digest: Digest;
  updated: string;
}

export interface Page {
  n?: number;
  last?: string;
}

export interface MetadataStore {
  /**
   * Records a manifest in a repository, links its references to the repository and
   * points `tags` at it, in one transaction.
   */
  putManifest(record: ManifestRecord, tags?: string[]): Promise<void>;
  getManifest(repository: string, digest: Digest): Promise<ManifestRecord | undefined>;
  /**
   * Removes a manifest and every tag pointing at it; true when it existed. Refuses
   * (CONFLICT) while another manifest of the repository (an index) references it.
   */
  deleteManifest(repository: string, digest: Digest): Promise<boolean>;
  resolveTag(repository: string, tag: string): Promise<Digest | undefined>;
  /**
   * The manifest a tag or digest names in a repository, in one read: the registry's
   * hot path (every manifest GET and HEAD), so no references are loaded.
   */
  findManifest(repository: string, reference: { tag: string } | { digest: Digest }): Promise<Descriptor | undefined>;
  setTag(repository: string, tag: string, digest: Digest): Promise<void>;
  deleteTag(repository: string, tag: string): Promise<boolean>;
  listTags(repository: string, page?: Page): Promise<string[]>;
  listRepositories(page?: Page): Promise<string[]>;
  /**
   * Removes a repository with everything in it (manifests, tags, blob links), and the
   * repositories below it (`name/...`): an app deleted from the platform. Blobs no
   * repository links any more go at the next GC. The number of repositories removed.
   */
  deleteRepositories(name: string): Promise<number>;
  /** Every tag of every repository, for `slipway images`. */
  listTagged(): Promise<TagRecord[]>;
  listManifests(repository?: string): Promise<ManifestRecord[]>;
  /** Manifests in `repository` whose subject is `digest`. */
  referrers(repository: string, digest: Digest): Promise<ManifestRecord[]>;

  /** Blob membership of a repository (registry semantics: a blob is pullable where it was pushed or mounted). */
  linkBlob(repository: string, digest: Digest): Promise<void>;
  hasBlobLink(repository: string, digest: Digest): Promise<boolean>;
  unlinkBlob(repository: string, digest: Digest): Promise<boolean>;
  /** Up to `limit` repositories (in name order) a blob is linked to: where a registry could mount it from. */
  linkedRepositories(digest: Digest, limit: number): Promise<string[]>;

  /**
   * Leases protect blobs written by an operation still in progress from GC. `owner`
   * is "pid:PID@HOST"; GC drops the leases of dead processes on its own host.
   */
  createLease(owner: string): Promise<string>;
  /** Throws CONFLICT when the lease is gone (released, or dropped by GC): it would protect nothing. */
  addToLease(lease: string, digest: Digest): Promise<void>;
  /** addToLease for several blobs in one transaction (a manifest's layers and config); CONFLICT as it, then none is added. */
  addManyToLease(lease: string, digests: readonly Digest[]): Promise<void>;
  releaseLease(lease: string): Promise<void>;

  /**
   * Blob uploads in progress in an object store (S3BlobStore's ingests), so a node
   * continues what another began. `saveUpload` stores `state` at `state.version`: a new
   * upload when `previous` is undefined (false if the id exists), else only when the
   * stored one is still at `previous` (false when another writer went on meanwhile).
   */
  saveUpload(state: UploadState, previous?: number): Promise<boolean>;
  getUpload(id: string): Promise<UploadState | undefined>;
  deleteUpload(id: string): Promise<void>;
  listUploads(): Promise<UploadState[]>;

  /**
   * Runs `fn` while no lease, manifest or link can be added (GC's mark-and-sweep
   * window). `fn` receives every digest still needed: manifests, what they
   * reference, blobs of live leases, and blobs linked to a repository less than
   * `linkGraceMs` ago (a registry client pushes blobs before their manifest).
   * Leases of dead owners are dropped first; `fn` returns the digests it deleted,
   * whose repository links are then removed.
   */
  withGcLock(options: { linkGraceMs: number }, fn: (live: Set<Digest>) => Promise<Digest[]>): Promise<Digest[]>;

  close(): Promise<void>;
}

export type { Descriptor };
