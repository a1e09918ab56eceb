import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { SlipwayError } from '../errors.js';
import { digestAlgorithm, digestOf, isDigest, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/types.js';
import { FsBlobStore } from './fs-blob-store.js';
import { collectGarbage, type GcOptions, type GcReport } from './gc.js';
import { manifestContent, type ManifestContent } from './manifest-content.js';
import { checkRepository } from './names.js';
import { ownerString } from './owner.js';
import { SqliteMetadataStore, type SqliteOptions } from './sqlite-metadata.js';
import { StoreLease, checkExpected } from './store-lease.js';
import type { BlobStore, ManifestRecord, MetadataStore } from './types.js';
import { verifyStore, type VerifyReport } from './verify.js';

export { StoreLease } from './store-lease.js';
export { DEFAULT_GC_GRACE_MS, type GcOptions, type GcReport } from './gc.js';
export type { VerifyProblem, VerifyReport } from './verify.js';

export interface DeleteReport {
  /** Tags removed. */
  untagged: string[];
  /** Manifests removed from the repository (their blobs go at the next GC). */
  deleted: Digest[];
}

/**
 * The store the CLI and the registry server share: blobs (files under `blobs/`) and
 * metadata (`metadata.sqlite`) under one home directory, `$SLIPWAY_HOME` or
 * `~/.slipway`. Every use case writes through a lease and records manifests last, so
 * a crash at any moment leaves no tag that needs a missing blob.
 *
 * @example
 * const store = await LocalStore.open();
 * const desc = await store.withLease(async (lease) => {
 *   const config = await lease.putBytes(configBytes);
 *   const layer = await lease.putBlob(layerStream, { digest: layerDigest });
 *   return store.putManifest('team/app', manifestBytes, MediaType.OciManifest, ['v1'], lease);
 * });
 */
export class LocalStore {
  readonly home: string;
  readonly blobs: BlobStore;
  readonly meta: MetadataStore;
  /** The PostgreSQL URL the metadata is in (shared by every node on it), or undefined: SQLite in the home. */
  readonly database: string | undefined;

  constructor(home: string, blobs: BlobStore, meta: MetadataStore, database?: string) {
    this.home = home;
    this.blobs = blobs;
    this.meta = meta;
    this.database = database;
  }

  /**
   * Opens (creating it if needed) the store in `home`, else $SLIPWAY_HOME, else ~/.slipway.
   * `database` (else $SLIPWAY_DATABASE), a postgres:// URL, puts the metadata in
   * PostgreSQL instead of `metadata.sqlite`; `blobs` (else $SLIPWAY_BLOBS), an s3:// URL,
   * puts the blobs in an object store instead of `blobs/` (see s3-blob-store.ts).
   */
  static async open(
    home?: string,
    options: SqliteOptions & { database?: string; blobs?: string } = {},
  ): Promise<LocalStore> {
    const dir = resolvePath(home || process.env['SLIPWAY_HOME'] || join(homedir(), '.slipway'));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const database = options.database || process.env['SLIPWAY_DATABASE'];
    const meta = database
      ? await openDatabase(database)
      : await SqliteMetadataStore.open(join(dir, 'metadata.sqlite'), options);
    const where = options.blobs || process.env['SLIPWAY_BLOBS'];
    let blobs: BlobStore;
    try {
      blobs = where ? await openObjectStore(where, meta) : await FsBlobStore.open(dir);
    } catch (err) {
      await meta.close();
      throw err;
    }
    return new LocalStore(dir, blobs, meta, database || undefined);
  }

  /** A lease owned by this process; release it when done (or use withLease). */
  async openLease(): Promise<StoreLease> {
    return new StoreLease(await this.meta.createLease(ownerString()), this.blobs, this.meta);
  }

  /** Runs `fn` holding a lease, released afterwards whatever happens. */
  async withLease<T>(fn: (lease: StoreLease) => Promise<T>): Promise<T> {
    const lease = await this.openLease();
    try {
      return await fn(lease);
    } finally {
      await lease.release();
    }
  }

  /**
   * Stores a manifest or index in `repository` and points `tags` at it. Every blob and
   * child manifest it references must already be in the store (BLOB_UNKNOWN /
   * MANIFEST_UNKNOWN otherwise); they are held by the lease while the manifest bytes
   * are written, then manifest, references, blob links and tags are recorded in one
   * transaction. `expectedDigest` (a registry PUT by digest) is verified.
   */
  async putManifest(
    repository: string,
    bytes: Uint8Array,
    mediaType: string,
    tags: string[] = [],
    lease?: StoreLease,
    expectedDigest?: Digest,
  ): Promise<Descriptor> {
    checkRepository(repository);
    const content = manifestContent(bytes, mediaType);
    return this.putManifestContent(repository, bytes, content, {
      tags,
      ...(lease ? { lease } : {}),
      ...(expectedDigest ? { expectedDigest } : {}),
    });
  }

  /**
   * putManifest for bytes the caller has already parsed with `manifestContent` (a
   * registry push validates the document first): the bytes are not parsed again.
   * `content` must be what manifestContent returned for these bytes, possibly with
   * blobs left out that the store must not look up (a registry's foreign layers).
   */
  async putManifestContent(
    repository: string,
    bytes: Uint8Array,
    content: ManifestContent,
    options: { tags?: string[]; lease?: StoreLease; expectedDigest?: Digest } = {},
  ): Promise<Descriptor> {
    checkRepository(repository);
    const { tags = [], lease, expectedDigest } = options;
    if (lease === undefined)
      return this.withLease((l) => this.putManifestContent(repository, bytes, content, { ...options, lease: l }));
    const digest = digestOf(bytes, expectedDigest ? digestAlgorithm(expectedDigest) : 'sha256');
    checkExpected(digest, bytes.length, expectedDigest === undefined ? {} : { digest: expectedDigest });
    const info = { digest, size: bytes.length };
    // The manifest's own blob joins its references' lease transaction (one a PUT, not two).
    const { references, present } = await this.#holdReferences(repository, content, lease, digest);
    if (!present) await lease.putHeldBytes(bytes, info);
    const record: ManifestRecord = {
      repository,
      digest: info.digest,
      mediaType: content.mediaType,
      size: info.size,
      references,
      created: new Date().toISOString(),
    };
    if (content.artifactType !== undefined) record.artifactType = content.artifactType;
    if (content.subject !== undefined) record.subject = content.subject;
    if (content.annotations !== undefined) record.annotations = content.annotations;
    await this.meta.putManifest(record, tags);
    return { mediaType: record.mediaType, digest: record.digest, size: record.size };
  }

  /**
   * putManifest for many image manifests under one lease (a fleet rebase's, up to a
   * few hundred): their blobs held and checked in one lease transaction, the manifest
   * bytes written at most `parallel` at a time, then every record issued in the same
   * turn, so the metadata store commits them as one group (SQLite: one transaction and
   * one WAL fsync for up to 500). Each manifest and its tags still commit or fail
   * alone, never half: after a crash every tag is on its old digest or its new one.
   * Each one's outcome, in order. Indexes go through putManifestContent one by one.
   */
  async putManifestBatch(
    entries: readonly { repository: string; bytes: Uint8Array; mediaType: string; tags?: string[] }[],
    lease: StoreLease,
    parallel = 16,
  ): Promise<PromiseSettledResult<Descriptor>[]> {
    const parsed = entries.map((e) => {
      try {
        checkRepository(e.repository);
        return { content: manifestContent(e.bytes, e.mediaType) };
      } catch (error) {
        return { error };
      }
    });
    const blobs = [...new Set(parsed.flatMap((p) => p.content?.blobs.map((b) => b.digest) ?? []))];
    const flags = await lease.ensureBlobs(blobs);
    const present = new Set(blobs.filter((_, i) => flags[i]));
    const results: PromiseSettledResult<Descriptor>[] = [];
    const ready: number[] = [];
    const indexes: number[] = [];
    parsed.forEach(({ content, error }, i) => {
      const e = entries[i]!;
      if (!content) results[i] = { status: 'rejected', reason: error };
      else if (content.children.length > 0) indexes.push(i);
      else {
        const absent = content.blobs.find((b) => !present.has(b.digest) && !b.urls?.length);
        if (absent) {
          const reason = missing(
            'BLOB_UNKNOWN',
            `blob ${absent.digest} (${absent.mediaType})`,
            e.repository,
            absent.digest,
          );
          results[i] = { status: 'rejected', reason };
        } else ready.push(i);
      }
    });
    const written = await lease.putManyBytes(
      ready.map((i) => ({ data: entries[i]!.bytes })),
      parallel,
    );
    const created = new Date().toISOString();
    const settle = (i: number, p: Promise<Descriptor>) =>
      p.then(
        (value) => void (results[i] = { status: 'fulfilled', value }),
        (reason: unknown) => void (results[i] = { status: 'rejected', reason }),
      );
    // All in one synchronous loop: the records join one group commit.
    const commits = ready.map((i, k) => {
      const w = written[k]!;
      if (w.status === 'rejected') return void (results[i] = w);
      const e = entries[i]!;
      const content = parsed[i]!.content!;
      const record: ManifestRecord = {
        repository: e.repository,
        digest: w.value.digest,
        mediaType: content.mediaType,
        size: w.value.size,
        references: content.blobs.filter((b) => present.has(b.digest)).map((b) => b.digest),
        created,
      };
      if (content.artifactType !== undefined) record.artifactType = content.artifactType;
      if (content.subject !== undefined) record.subject = content.subject;
      if (content.annotations !== undefined) record.annotations = content.annotations;
      const descriptor = { mediaType: record.mediaType, digest: record.digest, size: record.size };
      return settle(
        i,
        this.meta.putManifest(record, e.tags ?? []).then(() => descriptor),
      );
    });
    await Promise.all(commits);
    for (const i of indexes) {
      const e = entries[i]!;
      const content = parsed[i]!.content!;
      await settle(i, this.putManifestContent(e.repository, e.bytes, content, { tags: e.tags ?? [], lease }));
    }
    return results;
  }

  /** The manifest `repository:tag` or `repository@digest` names. Throws MANIFEST_UNKNOWN. */
  async resolve(repository: string, tagOrDigest: string): Promise<Descriptor> {
    const found = await this.meta.findManifest(
      repository,
      isDigest(tagOrDigest) ? { digest: tagOrDigest } : { tag: tagOrDigest },
    );
    if (!found) throw unknownManifest(repository, tagOrDigest);
    return found;
  }

  /**
   * Removes an image from a repository. By tag: the tag, and the manifest once no tag
   * or index holds it any more. By digest: the manifest and every tag on it. Child
   * manifests of a removed index that nothing else holds go with it. Blobs are freed
   * by the next `gc`.
   */
  async deleteImage(repository: string, tagOrDigest: string): Promise<DeleteReport> {
    const report: DeleteReport = { untagged: [], deleted: [] };
    const target = await this.resolve(repository, tagOrDigest);
    const manifests = await this.meta.listManifests(repository);
    const tags = (await this.meta.listTagged()).filter((t) => t.repository === repository);
    if (!isDigest(tagOrDigest)) {
      await this.meta.deleteTag(repository, tagOrDigest);
      report.untagged.push(tagOrDigest);
      if (
        !isHeld(
          target.digest,
          tags.filter((t) => t.tag !== tagOrDigest),
          manifests,
        )
      )
        await this.#deleteTree(repository, target.digest, manifests, report);
      return report;
    }
    report.untagged.push(...tags.filter((t) => t.digest === target.digest).map((t) => t.tag));
    await this.#deleteTree(repository, target.digest, manifests, report);
    return report;
  }

  /**
   * Removes manifests no tag holds (images whose tag moved on, like podman's dangling
   * images): not children of a kept index, nor referrers of a kept manifest. Their
   * blobs go at the next `gc`. Returns what was removed. `createdBefore` (ISO time)
   * spares younger manifests: a registry client pushes an index's children, untagged,
   * before the index itself.
   */
  async pruneUntagged(options: { createdBefore?: string } = {}): Promise<DeleteReport> {
    const report: DeleteReport = { untagged: [], deleted: [] };
    // To a fixed point: removing an index or a manifest frees its children and referrers, which the next pass takes.
    for (let before = -1; report.deleted.length !== before; ) {
      before = report.deleted.length;
      await this.#pruneOnce(options, report);
    }
    return report;
  }

  async #pruneOnce(options: { createdBefore?: string }, report: DeleteReport): Promise<void> {
    const tagged = await this.meta.listTagged();
    for (const repository of new Set((await this.meta.listManifests()).map((m) => m.repository))) {
      const tags = tagged.filter((t) => t.repository === repository);
      let manifests = await this.meta.listManifests(repository);
      const present = (d: Digest) => manifests.some((m) => m.digest === d);
      for (const m of manifests) {
        if (report.deleted.includes(m.digest) || isHeld(m.digest, tags, manifests)) continue;
        if (options.createdBefore !== undefined && m.created >= options.createdBefore) continue;
        if (m.subject !== undefined && present(m.subject)) continue;
        await this.#deleteTree(repository, m.digest, manifests, report);
        manifests = await this.meta.listManifests(repository);
      }
    }
  }

  /** Removes stale ingests and every blob nothing needs. See GcOptions. */
  gc(options: GcOptions = {}): Promise<GcReport> {
    return collectGarbage(this.blobs, this.meta, options);
  }

  /** Re-hashes every blob and checks every manifest and tag; `problems` is empty when healthy. */
  verify(): Promise<VerifyReport> {
    return verifyStore(this.blobs, this.meta);
  }

  async close(): Promise<void> {
    await this.meta.close();
  }

  /**
   * Puts every blob and child the manifest references in the lease and checks it is
   * there (lease first, so a concurrent GC cannot take it after the check). A layer
   * with `urls` (foreign, non-distributable) may be absent; it is then not recorded.
   * The manifest's own digest is held in the same transaction; `present`: its blob is there.
   */
  async #holdReferences(
    repository: string,
    content: ManifestContent,
    lease: StoreLease,
    manifest: Digest,
  ): Promise<{ references: Digest[]; present: boolean }> {
    const references: Digest[] = [];
    const present = await lease.ensureBlobs([...content.blobs.map((desc) => desc.digest), manifest]);
    for (const [i, desc] of content.blobs.entries()) {
      if (present[i]) references.push(desc.digest);
      else if (!desc.urls?.length)
        throw missing('BLOB_UNKNOWN', `blob ${desc.digest} (${desc.mediaType})`, repository, desc.digest);
    }
    for (const desc of content.children) {
      const known =
        (await this.meta.getManifest(repository, desc.digest)) !== undefined && (await lease.ensureBlob(desc.digest));
      if (!known) throw missing('MANIFEST_UNKNOWN', `manifest ${desc.digest}`, repository, desc.digest);
      references.push(desc.digest);
    }
    return { references, present: present.at(-1) ?? false };
  }

  /** Deletes a manifest, then its child manifests that no tag or other manifest holds. */
  async #deleteTree(
    repository: string,
    digest: Digest,
    manifests: ManifestRecord[],
    report: DeleteReport,
  ): Promise<void> {
    await this.meta.deleteManifest(repository, digest);
    report.deleted.push(digest);
    const remaining = manifests.filter((m) => !report.deleted.includes(m.digest));
    const tags = (await this.meta.listTagged()).filter((t) => t.repository === repository);
    const children = manifests.find((m) => m.digest === digest)?.references ?? [];
    for (const child of new Set(children)) {
      if (remaining.some((m) => m.digest === child) && !isHeld(child, tags, remaining)) {
        await this.#deleteTree(repository, child, remaining, report);
      }
    }
  }
}

/** True when a tag or another manifest of the repository still holds `digest`. */
function isHeld(digest: Digest, tags: { digest: Digest }[], manifests: ManifestRecord[]): boolean {
  return (
    tags.some((t) => t.digest === digest) || manifests.some((m) => m.digest !== digest && m.references.includes(digest))
  );
}

function unknownManifest(repository: string, reference: string): SlipwayError {
  const name = isDigest(reference) ? `${repository}@${reference}` : `${repository}:${reference}`;
  return new SlipwayError('MANIFEST_UNKNOWN', `${name} is not in the store`, { detail: { repository, reference } });
}

function missing(
  code: 'BLOB_UNKNOWN' | 'MANIFEST_UNKNOWN',
  what: string,
  repository: string,
  digest: Digest,
): SlipwayError {
  return new SlipwayError(
    code,
    `cannot store the manifest in ${repository}: ${what} is not in the store; put it first`,
    {
      detail: { repository, digest },
    },
  );
}

/** A metadata store named by URL; pg is loaded only when one is asked for. */
async function openDatabase(url: string): Promise<MetadataStore> {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `--database takes a PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DB), got ${JSON.stringify(url.split('@').pop())}`,
      { detail: { scheme: url.split(':')[0] } },
    );
  }
  const { PostgresMetadataStore } = await import('./postgres-metadata.js');
  return PostgresMetadataStore.open(url);
}

/** A blob store named by URL; the AWS SDK is loaded only when one is asked for. */
async function openObjectStore(url: string, meta: MetadataStore): Promise<BlobStore> {
  const { parseS3Url, S3BlobStore } = await import('./s3-blob-store.js');
  return new S3BlobStore(parseS3Url(url), meta);
}
