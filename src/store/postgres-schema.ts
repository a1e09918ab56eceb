import type pg from 'pg';
import { SlipwayError } from '../errors.js';

/**
 * The metadata schema on PostgreSQL, as the same list of migrations as
 * sqlite-schema.ts (append, never edit). `slipway_schema` holds how many have been
 * applied, one row per component, so the platform's tables can share the database.
 *
 * Text columns that are compared or sorted are COLLATE "C": the registry pages tags
 * and repositories in byte order, as SQLite does, whatever the cluster's locale.
 * Times are ISO-8601 UTC text, as in SQLite, so records read back unchanged.
 */
const MIGRATIONS: readonly string[] = [
  /* 1: repositories, manifests and what they reference, tags, blob links, leases */ `
  CREATE TABLE repositories (
    name    TEXT COLLATE "C" PRIMARY KEY,
    created TEXT NOT NULL
  );

  CREATE TABLE manifests (
    repository    TEXT COLLATE "C" NOT NULL REFERENCES repositories (name) ON DELETE CASCADE,
    digest        TEXT COLLATE "C" NOT NULL,
    media_type    TEXT NOT NULL,
    size          BIGINT NOT NULL,
    artifact_type TEXT,
    subject       TEXT COLLATE "C",
    annotations   TEXT,
    created       TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (repository, digest)
  );
  CREATE INDEX manifests_by_subject ON manifests (repository, subject) WHERE subject IS NOT NULL;
  CREATE INDEX manifests_by_digest ON manifests (digest);

  -- position keeps the manifest's order (config, then layers); a layer may repeat.
  CREATE TABLE manifest_refs (
    repository TEXT COLLATE "C" NOT NULL,
    manifest   TEXT COLLATE "C" NOT NULL,
    position   INTEGER NOT NULL,
    digest     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (repository, manifest, position),
    FOREIGN KEY (repository, manifest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
  );
  CREATE INDEX manifest_refs_by_digest ON manifest_refs (digest);
  CREATE INDEX manifest_refs_by_child ON manifest_refs (repository, digest);

  CREATE TABLE tags (
    repository TEXT COLLATE "C" NOT NULL,
    tag        TEXT COLLATE "C" NOT NULL,
    digest     TEXT COLLATE "C" NOT NULL,
    updated    TEXT NOT NULL,
    PRIMARY KEY (repository, tag),
    FOREIGN KEY (repository, digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
  );
  CREATE INDEX tags_by_manifest ON tags (repository, digest);

  CREATE TABLE blob_links (
    repository TEXT COLLATE "C" NOT NULL REFERENCES repositories (name) ON DELETE CASCADE,
    digest     TEXT COLLATE "C" NOT NULL,
    created    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (repository, digest)
  );
  CREATE INDEX blob_links_by_digest ON blob_links (digest);

  CREATE TABLE leases (
    id      TEXT PRIMARY KEY,
    owner   TEXT NOT NULL,
    created TEXT NOT NULL
  );

  CREATE TABLE lease_blobs (
    lease  TEXT NOT NULL REFERENCES leases (id) ON DELETE CASCADE,
    digest TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (lease, digest)
  );
  `,
  // 2: blob uploads of an object store (S3) in progress, so any node continues them.
  `
  CREATE TABLE blob_uploads (
    id      TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    updated TEXT NOT NULL,
    state   TEXT NOT NULL
  );
  `,
];

export const PG_SCHEMA_VERSION = MIGRATIONS.length;

/** The component whose version `slipway_schema` records for these migrations. */
export const METADATA_COMPONENT = 'metadata';

/**
 * Advisory lock keys (the two-int form, class LOCK_CLASS): one namespace for Slipway
 * in a database other software may share.
 */
export const LOCK_CLASS = 0x534c4950; // "SLIP"
export const LockKey = {
  /** Held exclusively by GC's mark-and-sweep, shared by every metadata write. */
  gc: 1,
  /** Held while migrations run: two nodes starting at once do not both migrate. */
  migrate: 2,
} as const;

/**
 * Brings `component`'s tables to the last of `migrations`, in one transaction under
 * the migration lock (PostgreSQL's DDL is transactional: a failed migration leaves
 * nothing behind); refuses a database from a newer Slipway.
 */
export async function migratePostgres(
  client: pg.ClientBase,
  component: string = METADATA_COMPONENT,
  migrations: readonly string[] = MIGRATIONS,
): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, LockKey.migrate]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS slipway_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL, updated TEXT NOT NULL)',
    );
    const found = await client.query<{ version: number }>('SELECT version FROM slipway_schema WHERE component = $1', [
      component,
    ]);
    const current = found.rows[0]?.version ?? 0;
    if (current > migrations.length) {
      throw new SlipwayError(
        'UNSUPPORTED',
        `the PostgreSQL database has ${component} schema version ${current}; this Slipway knows up to ${migrations.length}: upgrade Slipway`,
        { detail: { component, current, supported: migrations.length } },
      );
    }
    for (let v = current; v < migrations.length; v++) await client.query(migrations[v]!);
    if (current < migrations.length) {
      await client.query(
        `INSERT INTO slipway_schema (component, version, updated) VALUES ($1, $2, $3)
           ON CONFLICT (component) DO UPDATE SET version = excluded.version, updated = excluded.updated`,
        [component, migrations.length, new Date().toISOString()],
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
