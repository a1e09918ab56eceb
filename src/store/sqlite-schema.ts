import type Database from 'better-sqlite3';
import { SlipwayError } from '../errors.js';

/**
 * The metadata schema as a list of migrations; `PRAGMA user_version` holds how many
 * have been applied. Append new migrations, never edit old ones: a store written by
 * an older Slipway is upgraded in place when opened.
 *
 * Times are ISO-8601 UTC text (`Date#toISOString`), which sorts as it compares.
 */
const MIGRATIONS: readonly string[] = [
  /* 1: repositories, manifests and what they reference, tags, blob links, leases */ `
  CREATE TABLE repositories (
    name    TEXT PRIMARY KEY,
    created TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE manifests (
    repository    TEXT NOT NULL REFERENCES repositories (name) ON DELETE CASCADE,
    digest        TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    size          INTEGER NOT NULL,
    artifact_type TEXT,
    subject       TEXT,
    annotations   TEXT,
    created       TEXT NOT NULL,
    PRIMARY KEY (repository, digest)
  ) WITHOUT ROWID;
  CREATE INDEX manifests_by_subject ON manifests (repository, subject) WHERE subject IS NOT NULL;
  CREATE INDEX manifests_by_digest ON manifests (digest);

  -- position keeps the manifest's order (config, then layers); a layer may repeat.
  CREATE TABLE manifest_refs (
    repository TEXT NOT NULL,
    manifest   TEXT NOT NULL,
    position   INTEGER NOT NULL,
    digest     TEXT NOT NULL,
    PRIMARY KEY (repository, manifest, position),
    FOREIGN KEY (repository, manifest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
  ) WITHOUT ROWID;
  CREATE INDEX manifest_refs_by_digest ON manifest_refs (digest);

  CREATE TABLE tags (
    repository TEXT NOT NULL,
    tag        TEXT NOT NULL,
    digest     TEXT NOT NULL,
    updated    TEXT NOT NULL,
    PRIMARY KEY (repository, tag),
    FOREIGN KEY (repository, digest) REFERENCES manifests (repository, digest) ON DELETE CASCADE
  ) WITHOUT ROWID;
  CREATE INDEX tags_by_manifest ON tags (repository, digest);

  CREATE TABLE blob_links (
    repository TEXT NOT NULL REFERENCES repositories (name) ON DELETE CASCADE,
    digest     TEXT NOT NULL,
    created    TEXT NOT NULL,
    PRIMARY KEY (repository, digest)
  ) WITHOUT ROWID;
  CREATE INDEX blob_links_by_digest ON blob_links (digest);

  CREATE TABLE leases (
    id      TEXT PRIMARY KEY,
    owner   TEXT NOT NULL,
    created TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE lease_blobs (
    lease  TEXT NOT NULL REFERENCES leases (id) ON DELETE CASCADE,
    digest TEXT NOT NULL,
    PRIMARY KEY (lease, digest)
  ) WITHOUT ROWID;
  `,
  // 2: blob uploads of an object store (S3) in progress, so any node continues them.
  `
  CREATE TABLE blob_uploads (
    id      TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    updated TEXT NOT NULL,
    state   TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database to SCHEMA_VERSION. Runs under BEGIN IMMEDIATE so two processes
 * opening a new store at once do not both migrate; refuses a store from a newer Slipway.
 */
export function migrate(db: Database.Database): void {
  const apply = db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new SlipwayError(
        'UNSUPPORTED',
        `the metadata database has schema version ${current}; this Slipway knows up to ${SCHEMA_VERSION}: upgrade Slipway`,
        {
          detail: { current, supported: SCHEMA_VERSION },
        },
      );
    }
    for (let v = current; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    // PRAGMA takes no bound parameters; the value is our own integer.
    if (current < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  });
  apply.immediate();
}
