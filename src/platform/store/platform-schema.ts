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
  /* 2: the workload (WorkloadStore): packages, builds, droplets, processes, instances, domains, routes and their
     destinations, deployments, revisions, known resources; apps gain their current droplet and auto_rebase.
     An app's rows go with it (ON DELETE CASCADE), a space's routes with the space, an org's private domains with
     the org. Optional links between them (a build's droplet, a droplet's build) are ON DELETE SET NULL; what
     an instance, deployment or revision ran is history and names its droplet without a foreign key, as Cloud
     Controller's tables do. Every foreign key's child column is indexed (cascades look rows up by it). */ `
  CREATE TABLE packages (
    id          INTEGER PRIMARY KEY,
    guid        TEXT NOT NULL UNIQUE,
    app_guid    TEXT NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    type        TEXT NOT NULL,
    state       TEXT NOT NULL,
    checksum    TEXT,
    image       TEXT,
    error       TEXT,
    labels      TEXT NOT NULL,
    annotations TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  );
  CREATE INDEX packages_by_app ON packages (app_guid, created_at, id);
  CREATE INDEX packages_by_state ON packages (state, created_at, id);
  CREATE INDEX packages_by_created ON packages (created_at, id);

  CREATE TABLE builds (
    id                INTEGER PRIMARY KEY,
    guid              TEXT NOT NULL UNIQUE,
    app_guid          TEXT NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    package_guid      TEXT NOT NULL REFERENCES packages (guid) ON DELETE CASCADE,
    state             TEXT NOT NULL,
    error             TEXT,
    lifecycle         TEXT NOT NULL,
    droplet_guid      TEXT REFERENCES droplets (guid) ON DELETE SET NULL,
    created_by_guid   TEXT,
    created_by_name   TEXT,
    staging_memory_mb INTEGER NOT NULL,
    staging_disk_mb   INTEGER NOT NULL,
    worker_id         TEXT,
    claimed_at        TEXT,
    labels            TEXT NOT NULL,
    annotations       TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
  );
  CREATE INDEX builds_by_app ON builds (app_guid, created_at, id);
  CREATE INDEX builds_by_package ON builds (package_guid, created_at, id);
  CREATE INDEX builds_by_state ON builds (state, created_at, id);
  CREATE INDEX builds_by_droplet ON builds (droplet_guid);
  CREATE INDEX builds_by_created ON builds (created_at, id);
  -- The staging queue (claimBuild): the STAGING builds oldest first, with what a claim checks, covered.
  CREATE INDEX builds_queue ON builds (created_at, id, worker_id, claimed_at) WHERE state = 'STAGING';

  CREATE TABLE droplets (
    id                 INTEGER PRIMARY KEY,
    guid               TEXT NOT NULL UNIQUE,
    app_guid           TEXT NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    build_guid         TEXT REFERENCES builds (guid) ON DELETE SET NULL,
    package_guid       TEXT REFERENCES packages (guid) ON DELETE SET NULL,
    state              TEXT NOT NULL,
    digest             TEXT NOT NULL,
    process_types      TEXT NOT NULL,
    buildpacks         TEXT NOT NULL,
    stack              TEXT NOT NULL,
    stack_version      TEXT NOT NULL,
    execution_metadata TEXT NOT NULL,
    rebased_from       TEXT REFERENCES droplets (guid) ON DELETE SET NULL,
    labels             TEXT NOT NULL,
    annotations        TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
  );
  CREATE INDEX droplets_by_app ON droplets (app_guid, created_at, id);
  CREATE INDEX droplets_by_package ON droplets (package_guid);
  CREATE INDEX droplets_by_build ON droplets (build_guid);
  CREATE INDEX droplets_by_rebased_from ON droplets (rebased_from);
  CREATE INDEX droplets_by_state ON droplets (state, created_at, id);
  -- A stack update finds the droplets built on an older version of the stack.
  CREATE INDEX droplets_by_stack ON droplets (stack, stack_version);
  CREATE INDEX droplets_by_created ON droplets (created_at, id);

  -- A column added with REFERENCES must default to NULL; auto_rebase defaults to 1 for the apps already there.
  ALTER TABLE apps ADD COLUMN current_droplet_guid TEXT REFERENCES droplets (guid) ON DELETE SET NULL;
  ALTER TABLE apps ADD COLUMN auto_rebase INTEGER NOT NULL DEFAULT 1;
  CREATE INDEX apps_by_current_droplet ON apps (current_droplet_guid);

  CREATE TABLE processes (
    id           INTEGER PRIMARY KEY,
    guid         TEXT NOT NULL UNIQUE,
    app_guid     TEXT NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    type         TEXT NOT NULL,
    command      TEXT,
    instances    INTEGER NOT NULL,
    memory_mb    INTEGER NOT NULL,
    disk_mb      INTEGER NOT NULL,
    health_check TEXT NOT NULL,
    version      TEXT NOT NULL DEFAULT '',
    labels       TEXT NOT NULL,
    annotations  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
  );
  CREATE UNIQUE INDEX processes_by_app_type ON processes (app_guid, type);
  CREATE INDEX processes_by_type ON processes (type);
  CREATE INDEX processes_by_created ON processes (created_at, id);

  -- The actual state: one row per container. instance_index is CF's index (not unique: a rolling deployment
  -- runs a new index 0 beside the old one).
  CREATE TABLE instances (
    id              INTEGER PRIMARY KEY,
    guid            TEXT NOT NULL UNIQUE,
    app_guid        TEXT NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    process_guid    TEXT NOT NULL REFERENCES processes (guid) ON DELETE CASCADE,
    process_type    TEXT NOT NULL,
    instance_index  INTEGER NOT NULL,
    droplet_guid    TEXT NOT NULL,
    process_version TEXT,
    deployment_guid TEXT,
    host            TEXT NOT NULL,
    container_name  TEXT NOT NULL,
    port            INTEGER NOT NULL,
    network_pid     INTEGER,
    state           TEXT NOT NULL,
    since           TEXT NOT NULL,
    crash_count     INTEGER NOT NULL,
    details         TEXT,
    restart_at      TEXT
  );
  CREATE INDEX instances_by_process ON instances (process_guid, instance_index);
  CREATE INDEX instances_by_host ON instances (host, app_guid, process_type, instance_index);
  CREATE INDEX instances_by_app ON instances (app_guid);
  CREATE INDEX instances_by_droplet ON instances (droplet_guid);
  CREATE INDEX instances_by_deployment ON instances (deployment_guid) WHERE deployment_guid IS NOT NULL;

  -- Shared domains have no org; private ones go with their org.
  CREATE TABLE domains (
    id          INTEGER PRIMARY KEY,
    guid        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,
    internal    INTEGER NOT NULL,
    org_guid    TEXT REFERENCES orgs (guid) ON DELETE CASCADE,
    labels      TEXT NOT NULL,
    annotations TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  );
  CREATE INDEX domains_by_org ON domains (org_guid);
  CREATE INDEX domains_by_created ON domains (created_at, id);

  -- A route carries its space's org (visibility and organization_guids without a join).
  CREATE TABLE routes (
    id          INTEGER PRIMARY KEY,
    guid        TEXT NOT NULL UNIQUE,
    host        TEXT NOT NULL,
    path        TEXT NOT NULL,
    domain_guid TEXT NOT NULL REFERENCES domains (guid) ON DELETE CASCADE,
    space_guid  TEXT NOT NULL REFERENCES spaces (guid) ON DELETE CASCADE,
    org_guid    TEXT NOT NULL REFERENCES orgs (guid) ON DELETE CASCADE,
    labels      TEXT NOT NULL,
    annotations TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  );
  CREATE UNIQUE INDEX routes_by_domain_host_path ON routes (domain_guid, host, path);
  CREATE INDEX routes_by_host ON routes (host, path);
  CREATE INDEX routes_by_space ON routes (space_guid, created_at, id);
  CREATE INDEX routes_by_org ON routes (org_guid);
  CREATE INDEX routes_by_created ON routes (created_at, id);

  -- port NULL is CF's default (8080); the same destination twice is one row.
  CREATE TABLE route_destinations (
    id           INTEGER PRIMARY KEY,
    guid         TEXT NOT NULL UNIQUE,
    route_guid   TEXT NOT NULL REFERENCES routes (guid) ON DELETE CASCADE,
    app_guid     TEXT NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    process_type TEXT NOT NULL,
    port         INTEGER,
    protocol     TEXT NOT NULL
  );
  CREATE UNIQUE INDEX route_destinations_unique ON route_destinations (route_guid, app_guid, process_type, IFNULL(port, 8080));
  -- The routing table's join and destinationsOf: a route's destinations in order.
  CREATE INDEX route_destinations_by_route ON route_destinations (route_guid, id);
  CREATE INDEX route_destinations_by_app ON route_destinations (app_guid, route_guid);

  CREATE TABLE revisions (
    id                    INTEGER PRIMARY KEY,
    guid                  TEXT NOT NULL UNIQUE,
    app_guid              TEXT NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    version               INTEGER NOT NULL,
    droplet_guid          TEXT NOT NULL,
    description           TEXT NOT NULL,
    processes             TEXT NOT NULL,
    environment_variables TEXT NOT NULL,
    deployable            INTEGER NOT NULL,
    labels                TEXT NOT NULL,
    annotations           TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
  );
  CREATE UNIQUE INDEX revisions_by_app_version ON revisions (app_guid, version);
  CREATE INDEX revisions_by_version ON revisions (version);
  CREATE INDEX revisions_by_created ON revisions (created_at, id);

  CREATE TABLE deployments (
    id                    INTEGER PRIMARY KEY,
    guid                  TEXT NOT NULL UNIQUE,
    app_guid              TEXT NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    strategy              TEXT NOT NULL,
    status_value          TEXT NOT NULL,
    status_reason         TEXT NOT NULL,
    droplet_guid          TEXT NOT NULL,
    previous_droplet_guid TEXT,
    revision_guid         TEXT REFERENCES revisions (guid) ON DELETE SET NULL,
    max_in_flight         INTEGER NOT NULL,
    last_status_change    TEXT NOT NULL,
    labels                TEXT NOT NULL,
    annotations           TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
  );
  -- At most one ACTIVE deployment per app, kept by the database too.
  CREATE UNIQUE INDEX deployments_active ON deployments (app_guid) WHERE status_value = 'ACTIVE';
  CREATE INDEX deployments_by_app ON deployments (app_guid, created_at, id);
  CREATE INDEX deployments_by_status ON deployments (status_value, created_at, id);
  CREATE INDEX deployments_by_revision ON deployments (revision_guid);
  CREATE INDEX deployments_by_created ON deployments (created_at, id);

  -- CF's resource matching: the files the platform has, by sha1 (lower-case hex).
  CREATE TABLE resources (
    sha1 TEXT PRIMARY KEY,
    size INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  /* 3: settings the nodes of one platform share (sharedSetting): the first value stored under a name stays */ `
  CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL
  ) WITHOUT ROWID;
  `,
];

export const PLATFORM_SCHEMA_VERSION = MIGRATIONS.length;

/** The migrations in order (tests build a database of an older version from them). */
export const PLATFORM_MIGRATIONS: readonly string[] = MIGRATIONS;

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
