import type Database from 'better-sqlite3';
import { SlipwayError } from '../../errors.js';

/**
 * The platform database (its own file, e.g. $SLIPWAY_HOME/platform.sqlite: `PRAGMA
 * user_version` counts this list, so it must not share a file with the registry's
 * metadata) as a list of migrations. Append new migrations, never edit old ones: a
 * database written by an older Slipway is upgraded in place when opened.
 *
 * Conventions:
 * - `id INTEGER PRIMARY KEY` is the insertion order (the tie-break of every sort, as
 *   Cloud Controller's `id`); `guid` is the public key and what foreign keys name.
 * - `name_key` is the name lower-cased (JavaScript's Unicode `toLowerCase`, not
 *   SQLite's ASCII-only NOCASE): CF's names are unique regardless of case.
 * - Times are ISO-8601 UTC text, which sorts as it compares.
 * - Labels live twice: as JSON in the row (what is read back) and in `labels`
 *   (resource_guid, key, value), what label selectors query through an index. A
 *   trigger per table drops a deleted resource's labels, cascades included.
 * - Apps carry their space's org (`org_guid`) and space roles their space's org, so
 *   visibility and `organization_guids` need no join.
 */
const MIGRATIONS: readonly string[] = [
  /* 1: users, orgs, spaces, roles, apps, buildpacks, events, tokens, jobs, labels */ `
  CREATE TABLE users (
    id           INTEGER PRIMARY KEY,
    guid         TEXT NOT NULL UNIQUE,
    username     TEXT NOT NULL,
    username_key TEXT NOT NULL,
    origin       TEXT NOT NULL,
    global_roles TEXT NOT NULL,
    labels       TEXT NOT NULL,
    annotations  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
  );
  CREATE UNIQUE INDEX users_by_origin_username ON users (origin, username_key);
  CREATE INDEX users_by_username ON users (username_key, id);
  CREATE INDEX users_by_created ON users (created_at, id);

  CREATE TABLE user_credentials (
    user_guid     TEXT PRIMARY KEY REFERENCES users (guid) ON DELETE CASCADE,
    password_hash TEXT
  ) WITHOUT ROWID;

  CREATE TABLE orgs (
    id          INTEGER PRIMARY KEY,
    guid        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,
    slug        TEXT NOT NULL UNIQUE,
    suspended   INTEGER NOT NULL,
    labels      TEXT NOT NULL,
    annotations TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  );
  CREATE INDEX orgs_by_name ON orgs (name);
  CREATE INDEX orgs_by_created ON orgs (created_at, id);

  CREATE TABLE spaces (
    id          INTEGER PRIMARY KEY,
    guid        TEXT NOT NULL UNIQUE,
    org_guid    TEXT NOT NULL REFERENCES orgs (guid) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL,
    slug        TEXT NOT NULL,
    labels      TEXT NOT NULL,
    annotations TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  );
  CREATE UNIQUE INDEX spaces_by_org_name ON spaces (org_guid, name_key);
  CREATE UNIQUE INDEX spaces_by_org_slug ON spaces (org_guid, slug);
  CREATE INDEX spaces_by_name ON spaces (name);
  CREATE INDEX spaces_by_created ON spaces (created_at, id);

  -- org_guid is set for every role: an org role's org, a space role's space's org.
  CREATE TABLE roles (
    id          INTEGER PRIMARY KEY,
    guid        TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    user_guid   TEXT NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    org_guid    TEXT NOT NULL REFERENCES orgs (guid) ON DELETE CASCADE,
    space_guid  TEXT REFERENCES spaces (guid) ON DELETE CASCADE,
    labels      TEXT NOT NULL,
    annotations TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  );
  CREATE UNIQUE INDEX roles_unique_org ON roles (user_guid, org_guid, type) WHERE space_guid IS NULL;
  CREATE UNIQUE INDEX roles_unique_space ON roles (user_guid, space_guid, type) WHERE space_guid IS NOT NULL;
  -- Visibility: "the spaces (orgs) where this user holds one of these types", covered.
  CREATE INDEX roles_by_user ON roles (user_guid, type, space_guid, org_guid);
  CREATE INDEX roles_by_org ON roles (org_guid, user_guid);
  CREATE INDEX roles_by_space ON roles (space_guid, user_guid);
  CREATE INDEX roles_by_created ON roles (created_at, id);

  CREATE TABLE apps (
    id                    INTEGER PRIMARY KEY,
    guid                  TEXT NOT NULL UNIQUE,
    space_guid            TEXT NOT NULL REFERENCES spaces (guid) ON DELETE CASCADE,
    org_guid              TEXT NOT NULL REFERENCES orgs (guid) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    name_key              TEXT NOT NULL,
    slug                  TEXT NOT NULL,
    state                 TEXT NOT NULL,
    lifecycle_type        TEXT NOT NULL,
    stack                 TEXT,
    lifecycle             TEXT NOT NULL,
    environment_variables TEXT NOT NULL,
    labels                TEXT NOT NULL,
    annotations           TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
  );
  CREATE UNIQUE INDEX apps_by_space_name ON apps (space_guid, name_key);
  CREATE UNIQUE INDEX apps_by_space_slug ON apps (space_guid, slug);
  CREATE INDEX apps_by_org ON apps (org_guid);
  CREATE INDEX apps_by_name ON apps (name);
  CREATE INDEX apps_by_created ON apps (created_at, id);

  CREATE TABLE buildpacks (
    id          INTEGER PRIMARY KEY,
    guid        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    stack       TEXT,
    position    INTEGER NOT NULL UNIQUE,
    enabled     INTEGER NOT NULL,
    locked      INTEGER NOT NULL,
    state       TEXT NOT NULL,
    filename    TEXT,
    lifecycle   TEXT NOT NULL,
    labels      TEXT NOT NULL,
    annotations TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  );
  CREATE UNIQUE INDEX buildpacks_by_name_stack ON buildpacks (name, IFNULL(stack, ''));
  CREATE INDEX buildpacks_by_created ON buildpacks (created_at, id);

  -- Events outlive what they name: no foreign keys. A space event carries its org.
  CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY,
    guid        TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    actor_guid  TEXT NOT NULL,
    actor_type  TEXT NOT NULL,
    actor_name  TEXT NOT NULL,
    target_guid TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_name TEXT NOT NULL,
    data        TEXT NOT NULL,
    space_guid  TEXT,
    org_guid    TEXT,
    request_id  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  );
  CREATE INDEX audit_events_by_space ON audit_events (space_guid, created_at);
  CREATE INDEX audit_events_by_org ON audit_events (org_guid, created_at);
  CREATE INDEX audit_events_by_target ON audit_events (target_guid, created_at);
  CREATE INDEX audit_events_by_type ON audit_events (type, created_at);
  CREATE INDEX audit_events_by_created ON audit_events (created_at, id);

  CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    guid         TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    user_guid    TEXT NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    space_guid   TEXT NOT NULL REFERENCES spaces (guid) ON DELETE CASCADE,
    secret_hash  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
  );
  CREATE INDEX api_tokens_by_user ON api_tokens (user_guid, created_at);
  CREATE INDEX api_tokens_by_space ON api_tokens (space_guid);

  CREATE TABLE refresh_tokens (
    id          INTEGER PRIMARY KEY,
    guid        TEXT NOT NULL UNIQUE,
    user_guid   TEXT NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT
  );
  CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_guid) WHERE revoked_at IS NULL;

  CREATE TABLE jobs (
    id            INTEGER PRIMARY KEY,
    guid          TEXT NOT NULL UNIQUE,
    operation     TEXT NOT NULL,
    state         TEXT NOT NULL,
    errors        TEXT NOT NULL,
    warnings      TEXT NOT NULL,
    resource_guid TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
  );
  CREATE INDEX jobs_processing ON jobs (created_at, id) WHERE state = 'PROCESSING';

  CREATE TABLE labels (
    resource_guid TEXT NOT NULL,
    key           TEXT NOT NULL,
    value         TEXT NOT NULL,
    PRIMARY KEY (resource_guid, key)
  ) WITHOUT ROWID;
  CREATE INDEX labels_by_key_value ON labels (key, value, resource_guid);

  CREATE TRIGGER users_drop_labels AFTER DELETE ON users BEGIN DELETE FROM labels WHERE resource_guid = old.guid; END;
  CREATE TRIGGER orgs_drop_labels AFTER DELETE ON orgs BEGIN DELETE FROM labels WHERE resource_guid = old.guid; END;
  CREATE TRIGGER spaces_drop_labels AFTER DELETE ON spaces BEGIN DELETE FROM labels WHERE resource_guid = old.guid; END;
  CREATE TRIGGER roles_drop_labels AFTER DELETE ON roles BEGIN DELETE FROM labels WHERE resource_guid = old.guid; END;
  CREATE TRIGGER apps_drop_labels AFTER DELETE ON apps BEGIN DELETE FROM labels WHERE resource_guid = old.guid; END;
  CREATE TRIGGER buildpacks_drop_labels AFTER DELETE ON buildpacks BEGIN DELETE FROM labels WHERE resource_guid = old.guid; END;
  `,
];

export const PLATFORM_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the database to PLATFORM_SCHEMA_VERSION. Runs under BEGIN IMMEDIATE so two
 * processes opening a new database at once do not both migrate; refuses a database
 * from a newer Slipway.
 */
export function migratePlatform(db: Database.Database): void {
  const apply = db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > PLATFORM_SCHEMA_VERSION) {
      throw new SlipwayError(
        'UNSUPPORTED',
        `the platform database has schema version ${current}; this Slipway knows up to ${PLATFORM_SCHEMA_VERSION}: upgrade Slipway`,
        { detail: { current, supported: PLATFORM_SCHEMA_VERSION } },
      );
    }
    for (let v = current; v < PLATFORM_SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    // PRAGMA takes no bound parameters; the value is our own integer.
    if (current < PLATFORM_SCHEMA_VERSION) db.pragma(`user_version = ${PLATFORM_SCHEMA_VERSION}`);
  });
  apply.immediate();
}
