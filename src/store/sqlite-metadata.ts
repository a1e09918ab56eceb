import { randomUUID } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { open } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { isErrno, SlipwayError } from '../errors.js';
import { parseDigest, type Digest } from '../oci/digest.js';
import { GcGate } from './gc-gate.js';
import { checkRepository, checkTag } from './names.js';
import { isOwnerAlive } from './owner.js';
import { migrate } from './sqlite-schema.js';
import type { Descriptor, ManifestRecord, MetadataStore, Page, TagRecord, UploadState } from './types.js';

export interface SqliteOptions {
  /**
   * How long a statement waits for another process's write transaction (GC holds one
   * for its whole sweep) before failing with SQLITE_BUSY. Default 10 minutes.
   */
  busyTimeoutMs?: number;
}

interface ManifestRow {
  repository: string;
  digest: string;
  media_type: string;
  size: number;
  artifact_type: string | null;
  subject: string | null;
  annotations: string | null;
  created: string;
}

/** The most writes committed in one transaction (a fleet's tags, in groups of at most this many). */
const GROUP_COMMIT_MAX = 500;

interface GroupJob {
  fn: () => unknown;
  /** false: a lease write, which needs no fsync of its own. */
  durable: boolean;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

const MANIFEST_COLUMNS = 'repository, digest, media_type, size, artifact_type, subject, annotations, created';

/**
 * MetadataStore on SQLite (better-sqlite3): WAL so readers never wait for writers,
 * synchronous=FULL so a committed tag survives a power cut, foreign keys so a tag
 * cannot point at a manifest that is not there. Several processes (CLI, registry
 * server) may open the same file.
 *
 * @example
 * const meta = await SqliteMetadataStore.open(join(home, 'metadata.sqlite'));
 * await meta.putManifest(record, ['latest']);
 */
export class SqliteMetadataStore implements MetadataStore {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #gate: GcGate;
  readonly #statements = new Map<string, Database.Statement>();
  /** Writes waiting for the next group commit (see #write). */
  readonly #group: GroupJob[] = [];
  /** Committed groups whose writers wait for the WAL fsync (see #syncWal). */
  readonly #unsynced: { settle: () => void; fail: (err: unknown) => void }[] = [];
  #syncing: Promise<void> | undefined;
  /** The WAL file, fsynced after group commits; undefined when the database has none (in memory). */
  readonly #walPath: string | undefined;

  constructor(path: string, options: SqliteOptions = {}) {
    this.path = path;
    this.#db = new Database(path);
    this.#gate = gateFor(this.#db.name);
    try {
      // busy_timeout first: switching to WAL and migrating may wait for another process.
      this.#db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 600_000)}`);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      this.#db.pragma('foreign_keys = ON');
      // Statement journals and sorts in memory: on disk, each batch's savepoints spilled to a temp file of its own.
      this.#db.pragma('temp_store = MEMORY');
      migrate(this.#db);
      this.#walPath =
        this.#db.memory || this.#db.pragma('journal_mode', { simple: true }) !== 'wal'
          ? undefined
          : `${this.#db.name}-wal`;
    } catch (err) {
      this.#db.close();
      throw err;
    }
  }

  static async open(path: string, options?: SqliteOptions): Promise<SqliteMetadataStore> {
    return new SqliteMetadataStore(path, options);
  }

  async putManifest(record: ManifestRecord, tags: string[] = []): Promise<void> {
    checkRepository(record.repository);
    parseDigest(record.digest, 'manifest digest');
    for (const ref of record.references) parseDigest(ref, 'reference');
    for (const tag of tags) checkTag(tag);
    const now = new Date().toISOString();
    await this.#write(() => {
      const { repository, digest } = record;
      this.#ensureRepository(repository, now);
      const inserted = this.#sql(
        `INSERT INTO manifests (${MANIFEST_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ).run(
        repository,
        digest,
        record.mediaType,
        record.size,
        record.artifactType ?? null,
        record.subject ?? null,
        record.annotations ? JSON.stringify(record.annotations) : null,
        record.created,
      );
      // Same digest, same bytes, same references: a re-put only refreshes links and tags.
      if (inserted.changes > 0) {
        const ref = this.#sql('INSERT INTO manifest_refs (repository, manifest, position, digest) VALUES (?, ?, ?, ?)');
        record.references.forEach((d, i) => {
          ref.run(repository, digest, i, d);
        });
      }
      for (const d of record.references) this.#link(repository, d, now);
      for (const tag of tags) this.#upsertTag(repository, tag, digest, now);
    });
  }

  async getManifest(repository: string, digest: Digest): Promise<ManifestRecord | undefined> {
    return this.#db.transaction(() => {
      const row = this.#sql(`SELECT ${MANIFEST_COLUMNS} FROM manifests WHERE repository = ? AND digest = ?`).get(
        repository,
        digest,
      ) as ManifestRow | undefined;
      return row && this.#toRecord(row);
    })();
  }

  async deleteManifest(repository: string, digest: Digest): Promise<boolean> {
    return this.#write(() => {
      // Deleting a child of an index would let GC take the child's layers while the index still names it.
      const parent = this.#sql(
        'SELECT manifest FROM manifest_refs WHERE repository = ? AND digest = ? AND manifest <> ? LIMIT 1',
      )
        .pluck()
        .get(repository, digest, digest) as string | undefined;
      if (parent !== undefined && this.#hasManifest(repository, parent)) {
        throw new SlipwayError(
          'CONFLICT',
          `manifest ${digest} is referenced by ${parent} in ${repository}: delete that one first`,
          {
            detail: { repository, digest, parent },
          },
        );
      }
      return this.#sql('DELETE FROM manifests WHERE repository = ? AND digest = ?').run(repository, digest).changes > 0;
    });
  }

  async resolveTag(repository: string, tag: string): Promise<Digest | undefined> {
    return this.#sql('SELECT digest FROM tags WHERE repository = ? AND tag = ?').pluck().get(repository, tag) as
      | Digest
      | undefined;
  }

  async findManifest(
    repository: string,
    reference: { tag: string } | { digest: Digest },
  ): Promise<Descriptor | undefined> {
    const row = (
      'tag' in reference
        ? this.#sql(`SELECT m.digest, m.media_type, m.size FROM tags t JOIN manifests m ON m.repository = t.repository AND m.digest = t.digest
          WHERE t.repository = ? AND t.tag = ?`).get(repository, reference.tag)
        : this.#sql('SELECT digest, media_type, size FROM manifests WHERE repository = ? AND digest = ?').get(
            repository,
            reference.digest,
          )
    ) as { digest: Digest; media_type: string; size: number } | undefined;
    return row && { mediaType: row.media_type, digest: row.digest, size: row.size };
  }

  async setTag(repository: string, tag: string, digest: Digest): Promise<void> {
    checkTag(tag);
    await this.#write(() => {
      if (!this.#hasManifest(repository, digest)) {
        throw new SlipwayError(
          'MANIFEST_UNKNOWN',
          `cannot tag ${repository}:${tag}: manifest ${digest} is not in ${repository}`,
          {
            detail: { repository, tag, digest },
          },
        );
      }
      this.#upsertTag(repository, tag, digest, new Date().toISOString());
    });
  }

  async deleteTag(repository: string, tag: string): Promise<boolean> {
    return this.#write(
      () => this.#sql('DELETE FROM tags WHERE repository = ? AND tag = ?').run(repository, tag).changes > 0,
    );
  }

  /** Tags in lexical order; `last` starts after that entry, `n` caps the count (distribution spec paging). */
  async listTags(repository: string, page: Page = {}): Promise<string[]> {
    const { n, last } = checkPage(page);
    return this.#db.transaction(() => {
      if (!this.#hasRepository(repository)) {
        throw new SlipwayError('NAME_UNKNOWN', `repository ${repository} is not in the store`, {
          detail: { repository },
        });
      }
      return this.#sql('SELECT tag FROM tags WHERE repository = ? AND tag > ? ORDER BY tag LIMIT ?')
        .pluck()
        .all(repository, last, n) as string[];
    })();
  }

  async listRepositories(page: Page = {}): Promise<string[]> {
    const { n, last } = checkPage(page);
    return this.#sql('SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?')
      .pluck()
      .all(last, n) as string[];
  }

  async deleteRepositories(name: string): Promise<number> {
    // Manifests, tags, references and blob links go with their repository (ON DELETE CASCADE).
    return this.#write(
      () =>
        this.#sql('DELETE FROM repositories WHERE name = ? OR (name > ? AND name < ?)').run(
          name,
          `${name}/`,
          `${name}0`,
        ).changes,
    );
  }

  async listTagged(): Promise<TagRecord[]> {
    return this.#sql('SELECT repository, tag, digest, updated FROM tags ORDER BY repository, tag').all() as TagRecord[];
  }

  async listManifests(repository?: string): Promise<ManifestRecord[]> {
    return this.#db.transaction(() => {
      const rows = (
        repository === undefined
          ? this.#sql(`SELECT ${MANIFEST_COLUMNS} FROM manifests ORDER BY repository, created, digest`).all()
          : this.#sql(`SELECT ${MANIFEST_COLUMNS} FROM manifests WHERE repository = ? ORDER BY created, digest`).all(
              repository,
            )
      ) as ManifestRow[];
      return rows.map((row) => this.#toRecord(row));
    })();
  }

  async referrers(repository: string, digest: Digest): Promise<ManifestRecord[]> {
    return this.#db.transaction(() => {
      const rows = this.#sql(
        `SELECT ${MANIFEST_COLUMNS} FROM manifests WHERE repository = ? AND subject = ? ORDER BY created, digest`,
      ).all(repository, digest) as ManifestRow[];
      return rows.map((row) => this.#toRecord(row));
    })();
  }

  async linkBlob(repository: string, digest: Digest): Promise<void> {
    checkRepository(repository);
    parseDigest(digest);
    const now = new Date().toISOString();
    await this.#write(() => {
      this.#ensureRepository(repository, now);
      this.#link(repository, digest, now);
    });
  }

  async hasBlobLink(repository: string, digest: Digest): Promise<boolean> {
    return (
      this.#sql('SELECT 1 FROM blob_links WHERE repository = ? AND digest = ?').get(repository, digest) !== undefined
    );
  }

  async unlinkBlob(repository: string, digest: Digest): Promise<boolean> {
    return this.#write(
      () => this.#sql('DELETE FROM blob_links WHERE repository = ? AND digest = ?').run(repository, digest).changes > 0,
    );
  }

  async linkedRepositories(digest: Digest, limit: number): Promise<string[]> {
    return this.#sql('SELECT repository FROM blob_links WHERE digest = ? ORDER BY repository LIMIT ?')
      .pluck()
      .all(digest, limit) as string[];
  }

  async createLease(owner: string): Promise<string> {
    const id = randomUUID();
    await this.#writeLease(() =>
      this.#sql('INSERT INTO leases (id, owner, created) VALUES (?, ?, ?)').run(id, owner, new Date().toISOString()),
    );
    return id;
  }

  async addToLease(lease: string, digest: Digest): Promise<void> {
    parseDigest(digest);
    await this.#writeLease(() => {
      if (this.#sql('SELECT 1 FROM leases WHERE id = ?').get(lease) === undefined) {
        // GC drops the leases of owners it believes dead; protecting nothing silently would be worse.
        throw new SlipwayError('CONFLICT', `lease ${lease} no longer exists (released, or reclaimed by GC)`, {
          detail: { lease },
        });
      }
      this.#sql('INSERT INTO lease_blobs (lease, digest) VALUES (?, ?) ON CONFLICT DO NOTHING').run(lease, digest);
    });
  }

  async addManyToLease(lease: string, digests: readonly Digest[]): Promise<void> {
    for (const digest of digests) parseDigest(digest);
    await this.#writeLease(() => {
      if (this.#sql('SELECT 1 FROM leases WHERE id = ?').get(lease) === undefined) {
        throw new SlipwayError('CONFLICT', `lease ${lease} no longer exists (released, or reclaimed by GC)`, {
          detail: { lease },
        });
      }
      const add = this.#sql('INSERT INTO lease_blobs (lease, digest) VALUES (?, ?) ON CONFLICT DO NOTHING');
      for (const digest of digests) add.run(lease, digest);
    });
  }

  async releaseLease(lease: string): Promise<void> {
    await this.#writeLease(() => this.#sql('DELETE FROM leases WHERE id = ?').run(lease));
  }

  async saveUpload(state: UploadState, previous?: number): Promise<boolean> {
    const json = JSON.stringify(state);
    const r =
      previous === undefined
        ? this.#sql(
            'INSERT INTO blob_uploads (id, version, updated, state) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
          ).run(state.id, state.version, state.updated, json)
        : this.#sql('UPDATE blob_uploads SET version = ?, updated = ?, state = ? WHERE id = ? AND version = ?').run(
            state.version,
            state.updated,
            json,
            state.id,
            previous,
          );
    return r.changes === 1;
  }

  async getUpload(id: string): Promise<UploadState | undefined> {
    const row = this.#sql('SELECT state FROM blob_uploads WHERE id = ?').get(id) as { state: string } | undefined;
    return row ? (JSON.parse(row.state) as UploadState) : undefined;
  }

  async deleteUpload(id: string): Promise<void> {
    this.#sql('DELETE FROM blob_uploads WHERE id = ?').run(id);
  }

  async listUploads(): Promise<UploadState[]> {
    const rows = this.#sql('SELECT state FROM blob_uploads ORDER BY id').all() as { state: string }[];
    return rows.map((r) => JSON.parse(r.state) as UploadState);
  }

  async withGcLock(options: { linkGraceMs: number }, fn: (live: Set<Digest>) => Promise<Digest[]>): Promise<Digest[]> {
    return this.#gate.exclusive(async () => {
      // IMMEDIATE takes the write lock now: other processes' lease and manifest writes
      // wait until COMMIT, so nothing becomes needed behind GC's back.
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        this.#dropDeadLeases();
        const deleted = await fn(this.#liveSet(new Date(Date.now() - options.linkGraceMs).toISOString()));
        this.#sql('DELETE FROM blob_links WHERE digest IN (SELECT value FROM json_each(?))').run(
          JSON.stringify(deleted),
        );
        this.#db.exec('COMMIT');
        return deleted;
      } catch (err) {
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    while (this.#group.length > 0) await this.#commitGroup();
    await this.#syncing;
    await this.#gate.whenOpen(() => this.#db.close());
  }

  /** A prepared statement, compiled once per connection. */
  #sql(source: string): Database.Statement {
    let stmt = this.#statements.get(source);
    if (stmt === undefined) {
      stmt = this.#db.prepare(source);
      this.#statements.set(source, stmt);
    }
    return stmt;
  }

  /**
   * Runs a write in an IMMEDIATE transaction (no upgrade deadlock), outside GC's window.
   * Writes issued in the same turn of the event loop (a registry's concurrent manifest
   * PUTs, a fleet rebase's images) commit together, at most GROUP_COMMIT_MAX in one
   * transaction, each in its own savepoint so one that throws undoes only itself: a
   * crash keeps a group whole or loses it, never part of one write. The caller's
   * promise settles once the commit is on disk: the WAL is fsynced after COMMIT, off
   * the event loop (see #syncWal), one fsync for every group committed meanwhile. The
   * fsync synchronous=FULL makes inside COMMIT blocked the registry's only thread about
   * a millisecond per manifest PUT, most of a fleet rebase's store time. Other
   * connections may see a group in the instant between its COMMIT and that fsync; no
   * writer is told it is done before it is durable.
   */
  #write<T>(fn: () => T): Promise<T> {
    return this.#enqueue(fn, true);
  }

  /**
   * A lease write, which needs no fsync of its own: a lease only matters while its
   * process lives, so losing the last ones to a power cut loses nothing (the process is
   * gone too, and GC would drop them). The WAL keeps commit order, so the next durable
   * commit (a manifest, a tag) makes them durable as well; other processes see the
   * lease at commit either way. Several lease writes per image, each waiting for the
   * disk, once took most of a fleet rebase's time. It joins #write's group commits.
   */
  #writeLease<T>(fn: () => T): Promise<T> {
    return this.#enqueue(fn, false);
  }

  #enqueue<T>(fn: () => T, durable: boolean): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#group.push({ fn, durable, resolve: resolve as (value: unknown) => void, reject });
      if (this.#group.length === 1) setImmediate(() => void this.#commitGroup());
    });
  }

  async #commitGroup(): Promise<void> {
    // The group is taken in the same tick as the gate check: GC cannot begin in between.
    const durable = await this.#gate.whenOpen(() => {
      const jobs = this.#group.splice(0, GROUP_COMMIT_MAX);
      if (this.#group.length > 0) setImmediate(() => void this.#commitGroup());
      if (jobs.length === 0) return [];
      const results: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
      // NORMAL: COMMIT writes the WAL without fsyncing it; #syncWal does, before anyone is answered.
      this.#db.pragma(`synchronous = ${this.#walPath ? 'NORMAL' : 'FULL'}`);
      try {
        this.#db
          .transaction(() => {
            for (const job of jobs) {
              try {
                // Nested: a SAVEPOINT, rolled back alone when the job throws.
                results.push({ ok: true, value: this.#db.transaction(job.fn)() });
              } catch (error) {
                results.push({ ok: false, error });
              }
            }
          })
          .immediate();
      } catch (err) {
        // BEGIN or COMMIT failed (another process held the lock too long, the disk): nothing of the group is in.
        for (const job of jobs) job.reject(err);
        return [];
      } finally {
        this.#db.pragma('synchronous = FULL');
      }
      const settle = () =>
        jobs.forEach((job, i) => {
          const r = results[i]!;
          if (r.ok) job.resolve(r.value);
          else job.reject(r.error);
        });
      if (!this.#walPath || !jobs.some((j) => j.durable)) {
        settle();
        return [];
      }
      return [
        {
          settle,
          fail: (err: unknown) => {
            for (const job of jobs) job.reject(err);
          },
        },
      ];
    });
    if (durable.length > 0) {
      this.#unsynced.push(...durable);
      if (this.#syncing === undefined) this.#syncing = this.#syncWal();
    }
  }

  /**
   * fsyncs the WAL for every group committed since the last fsync began, then answers
   * their writers; repeats while more came. Opened by name each time: the WAL of a
   * database is one file while any connection (this one) is open, and by name it is
   * always the current one. A WAL gone means a checkpoint moved everything into the
   * database file, which it fsynced first.
   */
  async #syncWal(): Promise<void> {
    while (this.#unsynced.length > 0) {
      const batch = this.#unsynced.splice(0);
      try {
        const fh = await open(this.#walPath!, 'r').catch((err: unknown) => {
          if (isErrno(err, 'ENOENT')) return undefined;
          throw err;
        });
        if (fh) {
          try {
            await fh.sync();
          } finally {
            await fh.close();
          }
        }
      } catch (err) {
        const failure = new SlipwayError('IO_ERROR', `cannot flush ${this.#walPath}: ${(err as Error).message}`, {
          cause: err,
        });
        for (const b of batch) b.fail(failure);
        continue;
      }
      for (const b of batch) b.settle();
    }
    this.#syncing = undefined;
  }

  #ensureRepository(name: string, now: string): void {
    this.#sql('INSERT INTO repositories (name, created) VALUES (?, ?) ON CONFLICT DO NOTHING').run(name, now);
  }

  /** Links a blob to a repository; re-linking refreshes the time, restarting GC's grace. */
  #link(repository: string, digest: string, now: string): void {
    this.#sql(
      'INSERT INTO blob_links (repository, digest, created) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET created = excluded.created',
    ).run(repository, digest, now);
  }

  #upsertTag(repository: string, tag: string, digest: string, now: string): void {
    this.#sql(
      'INSERT INTO tags (repository, tag, digest, updated) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET digest = excluded.digest, updated = excluded.updated',
    ).run(repository, tag, digest, now);
  }

  #hasManifest(repository: string, digest: string): boolean {
    return (
      this.#sql('SELECT 1 FROM manifests WHERE repository = ? AND digest = ?').get(repository, digest) !== undefined
    );
  }

  #hasRepository(name: string): boolean {
    return this.#sql('SELECT 1 FROM repositories WHERE name = ?').get(name) !== undefined;
  }

  #toRecord(row: ManifestRow): ManifestRecord {
    const references = this.#sql(
      'SELECT digest FROM manifest_refs WHERE repository = ? AND manifest = ? ORDER BY position',
    )
      .pluck()
      .all(row.repository, row.digest) as Digest[];
    const record: ManifestRecord = {
      repository: row.repository,
      digest: row.digest as Digest,
      mediaType: row.media_type,
      size: row.size,
      references,
      created: row.created,
    };
    if (row.artifact_type !== null) record.artifactType = row.artifact_type;
    if (row.subject !== null) record.subject = row.subject as Digest;
    if (row.annotations !== null) record.annotations = JSON.parse(row.annotations) as Record<string, string>;
    return record;
  }

  #dropDeadLeases(): void {
    const leases = this.#sql('SELECT id, owner FROM leases').all() as { id: string; owner: string }[];
    const drop = this.#sql('DELETE FROM leases WHERE id = ?');
    for (const { id, owner } of leases) if (!isOwnerAlive(owner)) drop.run(id);
  }

  /** Every digest something still needs: manifests, their references, leased blobs, fresh links. */
  #liveSet(linkCutoff: string): Set<Digest> {
    const rows = this.#sql(
      `SELECT digest FROM manifests UNION SELECT digest FROM manifest_refs
         UNION SELECT digest FROM lease_blobs UNION SELECT digest FROM blob_links WHERE created > ?`,
    )
      .pluck()
      .all(linkCutoff) as Digest[];
    return new Set(rows);
  }
}

// One gate per database file in this process: a second connection to the same file
// writing while this process's GC holds the lock would block the event loop in SQLite's
// busy handler, and with it the GC it waits for.
const gates = new Map<string, GcGate>();

function gateFor(file: string): GcGate {
  const key = file === ':memory:' || file === '' ? `${file}#${gates.size}` : realpathSync(file);
  let gate = gates.get(key);
  if (gate === undefined) {
    gate = new GcGate();
    gates.set(key, gate);
  }
  return gate;
}

/** A page's bounds as SQL parameters: LIMIT -1 is SQLite's "no limit", '' sorts before every name. */
function checkPage(page: Page): { n: number; last: string } {
  if (page.n !== undefined && (!Number.isSafeInteger(page.n) || page.n < 0)) {
    throw new SlipwayError('INVALID_ARGUMENT', `page size n must be a non-negative integer, got ${page.n}`, {
      detail: { n: page.n },
    });
  }
  return { n: page.n ?? -1, last: page.last ?? '' };
}
