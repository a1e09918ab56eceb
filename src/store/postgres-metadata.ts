import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { SlipwayError } from '../errors.js';
import { parseDigest, type Digest } from '../oci/digest.js';
import { checkRepository, checkTag } from './names.js';
import { isOwnerAlive } from './owner.js';
import { isConnectionError, openPostgres, redactUrl, retryConnection } from './pg-resilience.js';
import { LOCK_CLASS, LockKey, migratePostgres } from './postgres-schema.js';
import type { Descriptor, ManifestRecord, MetadataStore, Page, TagRecord, UploadState } from './types.js';

export interface PostgresOptions {
  /** Connections kept open (pg.Pool `max`). Default 10. */
  maxConnections?: number;
}

interface ManifestRow {
  repository: string;
  digest: string;
  media_type: string;
  size: string;
  artifact_type: string | null;
  subject: string | null;
  annotations: string | null;
  created: string;
  refs: string[];
}

// The references come with the manifest in one statement: one snapshot, no second read.
const MANIFEST_SELECT = `SELECT m.repository, m.digest, m.media_type, m.size, m.artifact_type, m.subject, m.annotations, m.created,
  ARRAY(SELECT r.digest FROM manifest_refs r WHERE r.repository = m.repository AND r.manifest = m.digest ORDER BY r.position) AS refs
  FROM manifests m`;

/** PostgreSQL's foreign_key_violation. */
const FK_VIOLATION = '23503';

/**
 * MetadataStore on PostgreSQL (node-postgres pool), for several `slipway serve` nodes
 * sharing one database. The same semantics as SqliteMetadataStore, with these means:
 * SQLite's one-writer-at-a-time becomes row locks plus foreign keys; GC's
 * BEGIN IMMEDIATE becomes an advisory lock that every write holds shared and GC holds
 * exclusively, so writes on any node wait (in the server, not in the event loop)
 * while a collector on any node marks and sweeps, and reads never wait.
 *
 * @example
 * const meta = await PostgresMetadataStore.open('postgres://slipway@db/slipway');
 * await meta.putManifest(record, ['latest']);
 */
export class PostgresMetadataStore implements MetadataStore {
  readonly #pool: pg.Pool;
  /** The database, without its password, for errors. */
  readonly #target: string;

  private constructor(pool: pg.Pool, target: string) {
    this.#pool = pool;
    this.#target = target;
  }

  /** Connects and applies migrations (under the migration lock). */
  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresMetadataStore> {
    const pool = await openPostgres(url, {
      what: 'metadata store',
      max: options.maxConnections ?? 10,
      migrate: (c) => migratePostgres(c),
    });
    return new PostgresMetadataStore(pool, redactUrl(url));
  }

  async putManifest(record: ManifestRecord, tags: string[] = []): Promise<void> {
    checkRepository(record.repository);
    parseDigest(record.digest, 'manifest digest');
    for (const ref of record.references) parseDigest(ref, 'reference');
    for (const tag of tags) checkTag(tag);
    const now = new Date().toISOString();
    await this.#write(async (c) => {
      const { repository, digest } = record;
      await ensureRepository(c, repository, now);
      const inserted = await c.query(
        `INSERT INTO manifests (repository, digest, media_type, size, artifact_type, subject, annotations, created)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
        [
          repository,
          digest,
          record.mediaType,
          record.size,
          record.artifactType ?? null,
          record.subject ?? null,
          record.annotations ? JSON.stringify(record.annotations) : null,
          record.created,
        ],
      );
      // Same digest, same bytes, same references: a re-put only refreshes links and tags.
      if ((inserted.rowCount ?? 0) > 0 && record.references.length > 0) {
        await c.query(
          `INSERT INTO manifest_refs (repository, manifest, position, digest)
             SELECT $1, $2, p.ord - 1, p.d FROM unnest($3::text[]) WITH ORDINALITY AS p (d, ord)`,
          [repository, digest, record.references],
        );
      }
      if (record.references.length > 0) {
        await c.query(
          `INSERT INTO blob_links (repository, digest, created) SELECT DISTINCT $1, d, $3 FROM unnest($2::text[]) AS d
             ON CONFLICT (repository, digest) DO UPDATE SET created = excluded.created`,
          [repository, record.references, now],
        );
      }
      for (const tag of tags) await upsertTag(c, repository, tag, digest, now);
    });
  }

  async getManifest(repository: string, digest: Digest): Promise<ManifestRecord | undefined> {
    const { rows } = await this.#pool.query<ManifestRow>(
      `${MANIFEST_SELECT} WHERE m.repository = $1 AND m.digest = $2`,
      [repository, digest],
    );
    return rows[0] && toRecord(rows[0]);
  }

  async deleteManifest(repository: string, digest: Digest): Promise<boolean> {
    return this.#write(async (c) => {
      // Lock the manifest first: an index put meanwhile that names it waits, then sees it gone.
      const target = await c.query('SELECT 1 FROM manifests WHERE repository = $1 AND digest = $2 FOR UPDATE', [
        repository,
        digest,
      ]);
      if (target.rowCount === 0) return false;
      // Deleting a child of an index would let GC take the child's layers while the index still names it.
      const parent = await c.query<{ manifest: string }>(
        `SELECT r.manifest FROM manifest_refs r JOIN manifests m ON m.repository = r.repository AND m.digest = r.manifest
           WHERE r.repository = $1 AND r.digest = $2 AND r.manifest <> $2 LIMIT 1`,
        [repository, digest],
      );
      const by = parent.rows[0]?.manifest;
      if (by !== undefined) {
        throw new SlipwayError(
          'CONFLICT',
          `manifest ${digest} is referenced by ${by} in ${repository}: delete that one first`,
          {
            detail: { repository, digest, parent: by },
          },
        );
      }
      const deleted = await c.query('DELETE FROM manifests WHERE repository = $1 AND digest = $2', [
        repository,
        digest,
      ]);
      return (deleted.rowCount ?? 0) > 0;
    });
  }

  async resolveTag(repository: string, tag: string): Promise<Digest | undefined> {
    const { rows } = await this.#pool.query<{ digest: Digest }>(
      'SELECT digest FROM tags WHERE repository = $1 AND tag = $2',
      [repository, tag],
    );
    return rows[0]?.digest;
  }

  async findManifest(
    repository: string,
    reference: { tag: string } | { digest: Digest },
  ): Promise<Descriptor | undefined> {
    const { rows } = await this.#pool.query<{ digest: Digest; media_type: string; size: string }>(
      'tag' in reference
        ? `SELECT m.digest, m.media_type, m.size FROM tags t JOIN manifests m ON m.repository = t.repository AND m.digest = t.digest
             WHERE t.repository = $1 AND t.tag = $2`
        : 'SELECT digest, media_type, size FROM manifests WHERE repository = $1 AND digest = $2',
      [repository, 'tag' in reference ? reference.tag : reference.digest],
    );
    const row = rows[0];
    return row && { mediaType: row.media_type, digest: row.digest, size: Number(row.size) };
  }

  async setTag(repository: string, tag: string, digest: Digest): Promise<void> {
    checkTag(tag);
    try {
      await this.#write((c) => upsertTag(c, repository, tag, digest, new Date().toISOString()));
    } catch (err) {
      // The foreign key is the check: no read-then-write window for a delete to slip into.
      if (isPgError(err, FK_VIOLATION)) {
        throw new SlipwayError(
          'MANIFEST_UNKNOWN',
          `cannot tag ${repository}:${tag}: manifest ${digest} is not in ${repository}`,
          {
            detail: { repository, tag, digest },
          },
        );
      }
      throw err;
    }
  }

  async deleteTag(repository: string, tag: string): Promise<boolean> {
    return this.#write(async (c) => {
      const r = await c.query('DELETE FROM tags WHERE repository = $1 AND tag = $2', [repository, tag]);
      return (r.rowCount ?? 0) > 0;
    });
  }

  /** Tags in byte order; `last` starts after that entry, `n` caps the count (distribution spec paging). */
  async listTags(repository: string, page: Page = {}): Promise<string[]> {
    const { n, last } = checkPage(page);
    // One statement: the repository's existence and its tags from the same snapshot.
    const { rows } = await this.#pool.query<{ tag: string | null }>(
      `SELECT t.tag FROM repositories r LEFT JOIN LATERAL
         (SELECT tag FROM tags WHERE repository = r.name AND tag > $2 ORDER BY tag LIMIT $3) t ON true
         WHERE r.name = $1`,
      [repository, last, n],
    );
    if (rows.length === 0) {
      throw new SlipwayError('NAME_UNKNOWN', `repository ${repository} is not in the store`, {
        detail: { repository },
      });
    }
    return rows.flatMap((r) => (r.tag === null ? [] : [r.tag]));
  }

  async listRepositories(page: Page = {}): Promise<string[]> {
    const { n, last } = checkPage(page);
    const { rows } = await this.#pool.query<{ name: string }>(
      'SELECT name FROM repositories WHERE name > $1 ORDER BY name LIMIT $2',
      [last, n],
    );
    return rows.map((r) => r.name);
  }

  async deleteRepositories(name: string): Promise<number> {
    // Manifests, tags, references and blob links go with their repository (ON DELETE CASCADE).
    return this.#write(async (c) => {
      const r = await c.query('DELETE FROM repositories WHERE name = $1 OR (name > $2 AND name < $3)', [
        name,
        `${name}/`,
        `${name}0`,
      ]);
      return r.rowCount ?? 0;
    });
  }

  async listTagged(): Promise<TagRecord[]> {
    const { rows } = await this.#pool.query<TagRecord>(
      'SELECT repository, tag, digest, updated FROM tags ORDER BY repository, tag',
    );
    return rows;
  }

  async listManifests(repository?: string): Promise<ManifestRecord[]> {
    const { rows } =
      repository === undefined
        ? await this.#pool.query<ManifestRow>(`${MANIFEST_SELECT} ORDER BY m.repository, m.created, m.digest`)
        : await this.#pool.query<ManifestRow>(
            `${MANIFEST_SELECT} WHERE m.repository = $1 ORDER BY m.created, m.digest`,
            [repository],
          );
    return rows.map(toRecord);
  }

  async referrers(repository: string, digest: Digest): Promise<ManifestRecord[]> {
    const { rows } = await this.#pool.query<ManifestRow>(
      `${MANIFEST_SELECT} WHERE m.repository = $1 AND m.subject = $2 ORDER BY m.created, m.digest`,
      [repository, digest],
    );
    return rows.map(toRecord);
  }

  async linkBlob(repository: string, digest: Digest): Promise<void> {
    checkRepository(repository);
    parseDigest(digest);
    const now = new Date().toISOString();
    await this.#write(async (c) => {
      await ensureRepository(c, repository, now);
      // Re-linking refreshes the time, restarting GC's grace.
      await c.query(
        `INSERT INTO blob_links (repository, digest, created) VALUES ($1, $2, $3)
           ON CONFLICT (repository, digest) DO UPDATE SET created = excluded.created`,
        [repository, digest, now],
      );
    });
  }

  async hasBlobLink(repository: string, digest: Digest): Promise<boolean> {
    const r = await this.#pool.query('SELECT 1 FROM blob_links WHERE repository = $1 AND digest = $2', [
      repository,
      digest,
    ]);
    return (r.rowCount ?? 0) > 0;
  }

  async unlinkBlob(repository: string, digest: Digest): Promise<boolean> {
    return this.#write(async (c) => {
      const r = await c.query('DELETE FROM blob_links WHERE repository = $1 AND digest = $2', [repository, digest]);
      return (r.rowCount ?? 0) > 0;
    });
  }

  async linkedRepositories(digest: Digest, limit: number): Promise<string[]> {
    const { rows } = await this.#pool.query<{ repository: string }>(
      'SELECT repository FROM blob_links WHERE digest = $1 ORDER BY repository LIMIT $2',
      [digest, limit],
    );
    return rows.map((r) => r.repository);
  }

  async createLease(owner: string): Promise<string> {
    const id = randomUUID();
    await this.#writeLease((c) =>
      c.query('INSERT INTO leases (id, owner, created) VALUES ($1, $2, $3)', [id, owner, new Date().toISOString()]),
    );
    return id;
  }

  async addToLease(lease: string, digest: Digest): Promise<void> {
    parseDigest(digest);
    try {
      await this.#writeLease((c) =>
        c.query('INSERT INTO lease_blobs (lease, digest) VALUES ($1, $2) ON CONFLICT DO NOTHING', [lease, digest]),
      );
    } catch (err) {
      // GC drops the leases of owners it believes dead; protecting nothing silently would be worse.
      if (isPgError(err, FK_VIOLATION)) {
        throw new SlipwayError('CONFLICT', `lease ${lease} no longer exists (released, or reclaimed by GC)`, {
          detail: { lease },
        });
      }
      throw err;
    }
  }

  async addManyToLease(lease: string, digests: readonly Digest[]): Promise<void> {
    for (const digest of digests) parseDigest(digest);
    if (digests.length === 0) {
      // Nothing to add, but a gone lease is still an error, as it is for one blob.
      const { rowCount } = await this.#pool.query('SELECT 1 FROM leases WHERE id = $1', [lease]);
      if (rowCount === 0) throw goneLease(lease);
      return;
    }
    try {
      await this.#writeLease((c) =>
        c.query(
          'INSERT INTO lease_blobs (lease, digest) SELECT $1, d FROM unnest($2::text[]) AS d ON CONFLICT DO NOTHING',
          [lease, [...digests]],
        ),
      );
    } catch (err) {
      if (isPgError(err, FK_VIOLATION)) throw goneLease(lease);
      throw err;
    }
  }

  async releaseLease(lease: string): Promise<void> {
    await this.#writeLease((c) => c.query('DELETE FROM leases WHERE id = $1', [lease]));
  }

  async saveUpload(state: UploadState, previous?: number): Promise<boolean> {
    const json = JSON.stringify(state);
    const r =
      previous === undefined
        ? await this.#pool.query(
            'INSERT INTO blob_uploads (id, version, updated, state) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
            [state.id, state.version, state.updated, json],
          )
        : await this.#pool.query(
            'UPDATE blob_uploads SET version = $1, updated = $2, state = $3 WHERE id = $4 AND version = $5',
            [state.version, state.updated, json, state.id, previous],
          );
    return r.rowCount === 1;
  }

  async getUpload(id: string): Promise<UploadState | undefined> {
    const { rows } = await this.#pool.query<{ state: string }>('SELECT state FROM blob_uploads WHERE id = $1', [id]);
    return rows[0] ? (JSON.parse(rows[0].state) as UploadState) : undefined;
  }

  async deleteUpload(id: string): Promise<void> {
    await this.#pool.query('DELETE FROM blob_uploads WHERE id = $1', [id]);
  }

  async listUploads(): Promise<UploadState[]> {
    const { rows } = await this.#pool.query<{ state: string }>('SELECT state FROM blob_uploads ORDER BY id');
    return rows.map((r) => JSON.parse(r.state) as UploadState);
  }

  withGcLock(options: { linkGraceMs: number }, fn: (live: Set<Digest>) => Promise<Digest[]>): Promise<Digest[]> {
    // A lost connection rolled the sweep back (deletions already made are of blobs nothing needed): mark again.
    return retryConnection(this.#target, () => this.#gcOnce(options, fn));
  }

  async #gcOnce(options: { linkGraceMs: number }, fn: (live: Set<Digest>) => Promise<Digest[]>): Promise<Digest[]> {
    const c = await this.#pool.connect();
    let broken = false;
    try {
      await c.query('BEGIN');
      try {
        // Exclusive: waits for writes in flight on every node, then holds new ones back until COMMIT.
        await c.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, LockKey.gc]);
        await dropDeadLeases(c);
        const cutoff = new Date(Date.now() - options.linkGraceMs).toISOString();
        const { rows } = await c.query<{ digest: Digest }>(
          `SELECT digest FROM manifests UNION SELECT digest FROM manifest_refs
             UNION SELECT digest FROM lease_blobs UNION SELECT digest FROM blob_links WHERE created > $1`,
          [cutoff],
        );
        const deleted = await fn(new Set(rows.map((r) => r.digest)));
        await c.query('DELETE FROM blob_links WHERE digest = ANY($1::text[])', [deleted]);
        await c.query('COMMIT');
        return deleted;
      } catch (err) {
        broken = isConnectionError(err);
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    } finally {
      // A connection that broke is not handed to anyone else.
      c.release(broken || undefined);
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  /** Runs `fn` in one transaction holding GC's lock shared: writes on all nodes run side by side, never inside a sweep. */
  /**
   * A lease write, committed without waiting for the WAL flush: a lease matters only
   * while its process lives, and PostgreSQL keeps commit order, so the next durable
   * commit (a manifest, a tag) flushes it too. Other sessions see it at commit.
   */
  #writeLease<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.#write(async (c) => {
      await c.query('SET LOCAL synchronous_commit = off');
      return fn(c);
    });
  }

  #write<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    // The server rolled back a transaction whose connection went: it runs again on a new one.
    return retryConnection(this.#target, () => this.#writeOnce(fn));
  }

  async #writeOnce<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.#pool.connect();
    let broken = false;
    try {
      await c.query('BEGIN');
      try {
        await c.query('SELECT pg_advisory_xact_lock_shared($1, $2)', [LOCK_CLASS, LockKey.gc]);
        const result = await fn(c);
        await c.query('COMMIT');
        return result;
      } catch (err) {
        broken = isConnectionError(err);
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    } finally {
      // A connection that broke is not handed to anyone else.
      c.release(broken || undefined);
    }
  }
}

async function ensureRepository(c: pg.ClientBase, name: string, now: string): Promise<void> {
  await c.query('INSERT INTO repositories (name, created) VALUES ($1, $2) ON CONFLICT DO NOTHING', [name, now]);
}

async function upsertTag(
  c: pg.ClientBase,
  repository: string,
  tag: string,
  digest: string,
  now: string,
): Promise<void> {
  await c.query(
    `INSERT INTO tags (repository, tag, digest, updated) VALUES ($1, $2, $3, $4)
       ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, updated = excluded.updated`,
    [repository, tag, digest, now],
  );
}

/** GC drops the leases of owners it believes dead; protecting nothing silently would be worse. */
function goneLease(lease: string): SlipwayError {
  return new SlipwayError('CONFLICT', `lease ${lease} no longer exists (released, or reclaimed by GC)`, {
    detail: { lease },
  });
}

/** Leases of dead processes on this host; a lease of another host is that host's to judge. */
async function dropDeadLeases(c: pg.ClientBase): Promise<void> {
  const { rows } = await c.query<{ id: string; owner: string }>('SELECT id, owner FROM leases');
  const dead = rows.filter((r) => !isOwnerAlive(r.owner)).map((r) => r.id);
  if (dead.length > 0) await c.query('DELETE FROM leases WHERE id = ANY($1::text[])', [dead]);
}

function toRecord(row: ManifestRow): ManifestRecord {
  const record: ManifestRecord = {
    repository: row.repository,
    digest: row.digest as Digest,
    mediaType: row.media_type,
    // BIGINT comes back as text; blob sizes stay far below 2^53.
    size: Number(row.size),
    references: row.refs as Digest[],
    created: row.created,
  };
  if (row.artifact_type !== null) record.artifactType = row.artifact_type;
  if (row.subject !== null) record.subject = row.subject as Digest;
  if (row.annotations !== null) record.annotations = JSON.parse(row.annotations) as Record<string, string>;
  return record;
}

/** A page's bounds as SQL parameters: LIMIT NULL is no limit, '' sorts before every name. */
function checkPage(page: Page): { n: number | null; last: string } {
  if (page.n !== undefined && (!Number.isSafeInteger(page.n) || page.n < 0)) {
    throw new SlipwayError('INVALID_ARGUMENT', `page size n must be a non-negative integer, got ${page.n}`, {
      detail: { n: page.n },
    });
  }
  return { n: page.n ?? null, last: page.last ?? '' };
}

function isPgError(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
