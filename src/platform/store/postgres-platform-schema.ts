import type pg from 'pg';
import { migratePostgres } from '../../store/postgres-schema.js';

/**
 * The platform's tables on PostgreSQL, as a list of migrations (append, never edit),
 * applied by migratePostgres under the migration lock and counted in `slipway_schema`
 * as the component `platform`, so they can share a database with the registry's
 * metadata tables (no table name is used by both).
 *
 * The same tables, columns and indexes as platform-schema.ts (SQLite), with these
 * differences:
 * - `id` is an identity column (the insertion order, every sort's tie-break).
 * - Text is COLLATE "C": names, slugs and times sort and compare byte by byte, as
 *   SQLite's BINARY does, whatever the cluster's locale.
 * - Flags and JSON stay INTEGER and TEXT, so rows map to the model with the same code
 *   and read back exactly as written.
 * - The labels of a deleted resource go through one trigger function.
 * - Foreign keys between tables made later (an app's current droplet, a build's
 *   droplet) are added once both tables exist.
 * - `settings` holds the values several nodes share (sharedSetting).
 */
const T = 'TEXT COLLATE "C"';
const ID = 'id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY';
const LABELLED = `labels ${T} NOT NULL, annotations ${T} NOT NULL, created_at ${T} NOT NULL, updated_at ${T} NOT NULL`;
const LABELLED_TABLES = ['users', 'orgs', 'spaces', 'roles', 'apps', 'buildpacks'];

const MIGRATIONS: readonly string[] = [
  /* 1: everything of platform-schema.ts's migrations 1 and 2, and the shared settings */ `
  CREATE TABLE users (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    username ${T} NOT NULL,
    username_key ${T} NOT NULL,
    origin ${T} NOT NULL,
    global_roles ${T} NOT NULL,
    ${LABELLED}
  );
  CREATE UNIQUE INDEX users_by_origin_username ON users (origin, username_key);
  CREATE INDEX users_by_username ON users (username_key, id);
  CREATE INDEX users_by_created ON users (created_at, id);

  CREATE TABLE user_credentials (
    user_guid ${T} PRIMARY KEY REFERENCES users (guid) ON DELETE CASCADE,
    password_hash ${T}
  );

  CREATE TABLE orgs (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    name ${T} NOT NULL,
    name_key ${T} NOT NULL UNIQUE,
    slug ${T} NOT NULL UNIQUE,
    suspended INTEGER NOT NULL,
    ${LABELLED}
  );
  CREATE INDEX orgs_by_name ON orgs (name);
  CREATE INDEX orgs_by_created ON orgs (created_at, id);

  CREATE TABLE spaces (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    org_guid ${T} NOT NULL REFERENCES orgs (guid) ON DELETE CASCADE,
    name ${T} NOT NULL,
    name_key ${T} NOT NULL,
    slug ${T} NOT NULL,
    ${LABELLED}
  );
  CREATE UNIQUE INDEX spaces_by_org_name ON spaces (org_guid, name_key);
  CREATE UNIQUE INDEX spaces_by_org_slug ON spaces (org_guid, slug);
  CREATE INDEX spaces_by_name ON spaces (name);
  CREATE INDEX spaces_by_created ON spaces (created_at, id);

  CREATE TABLE roles (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    type ${T} NOT NULL,
    user_guid ${T} NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    org_guid ${T} NOT NULL REFERENCES orgs (guid) ON DELETE CASCADE,
    space_guid ${T} REFERENCES spaces (guid) ON DELETE CASCADE,
    ${LABELLED}
  );
  CREATE UNIQUE INDEX roles_unique_org ON roles (user_guid, org_guid, type) WHERE space_guid IS NULL;
  CREATE UNIQUE INDEX roles_unique_space ON roles (user_guid, space_guid, type) WHERE space_guid IS NOT NULL;
  CREATE INDEX roles_by_user ON roles (user_guid, type, space_guid, org_guid);
  CREATE INDEX roles_by_org ON roles (org_guid, user_guid);
  CREATE INDEX roles_by_space ON roles (space_guid, user_guid);
  CREATE INDEX roles_by_created ON roles (created_at, id);

  CREATE TABLE apps (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    space_guid ${T} NOT NULL REFERENCES spaces (guid) ON DELETE CASCADE,
    org_guid ${T} NOT NULL REFERENCES orgs (guid) ON DELETE CASCADE,
    name ${T} NOT NULL,
    name_key ${T} NOT NULL,
    slug ${T} NOT NULL,
    state ${T} NOT NULL,
    lifecycle_type ${T} NOT NULL,
    stack ${T},
    lifecycle ${T} NOT NULL,
    environment_variables ${T} NOT NULL,
    current_droplet_guid ${T},
    auto_rebase INTEGER NOT NULL DEFAULT 1,
    ${LABELLED}
  );
  CREATE UNIQUE INDEX apps_by_space_name ON apps (space_guid, name_key);
  CREATE UNIQUE INDEX apps_by_space_slug ON apps (space_guid, slug);
  CREATE INDEX apps_by_org ON apps (org_guid);
  CREATE INDEX apps_by_name ON apps (name);
  CREATE INDEX apps_by_created ON apps (created_at, id);
  CREATE INDEX apps_by_current_droplet ON apps (current_droplet_guid);

  CREATE TABLE buildpacks (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    name ${T} NOT NULL,
    stack ${T},
    position INTEGER NOT NULL UNIQUE,
    enabled INTEGER NOT NULL,
    locked INTEGER NOT NULL,
    state ${T} NOT NULL,
    filename ${T},
    lifecycle ${T} NOT NULL,
    ${LABELLED}
  );
  CREATE UNIQUE INDEX buildpacks_by_name_stack ON buildpacks (name, COALESCE(stack, ''));
  CREATE INDEX buildpacks_by_created ON buildpacks (created_at, id);

  CREATE TABLE audit_events (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    type ${T} NOT NULL,
    actor_guid ${T} NOT NULL,
    actor_type ${T} NOT NULL,
    actor_name ${T} NOT NULL,
    target_guid ${T} NOT NULL,
    target_type ${T} NOT NULL,
    target_name ${T} NOT NULL,
    data ${T} NOT NULL,
    space_guid ${T},
    org_guid ${T},
    request_id ${T},
    created_at ${T} NOT NULL,
    updated_at ${T} NOT NULL
  );
  CREATE INDEX audit_events_by_space ON audit_events (space_guid, created_at);
  CREATE INDEX audit_events_by_org ON audit_events (org_guid, created_at);
  CREATE INDEX audit_events_by_target ON audit_events (target_guid, created_at);
  CREATE INDEX audit_events_by_type ON audit_events (type, created_at);
  CREATE INDEX audit_events_by_created ON audit_events (created_at, id);

  CREATE TABLE api_tokens (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    name ${T} NOT NULL,
    user_guid ${T} NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    space_guid ${T} NOT NULL REFERENCES spaces (guid) ON DELETE CASCADE,
    secret_hash ${T} NOT NULL,
    created_at ${T} NOT NULL,
    last_used_at ${T},
    revoked_at ${T}
  );
  CREATE INDEX api_tokens_by_user ON api_tokens (user_guid, created_at);
  CREATE INDEX api_tokens_by_space ON api_tokens (space_guid);

  CREATE TABLE refresh_tokens (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    user_guid ${T} NOT NULL REFERENCES users (guid) ON DELETE CASCADE,
    secret_hash ${T} NOT NULL,
    created_at ${T} NOT NULL,
    expires_at ${T} NOT NULL,
    revoked_at ${T}
  );
  CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_guid) WHERE revoked_at IS NULL;

  CREATE TABLE jobs (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    operation ${T} NOT NULL,
    state ${T} NOT NULL,
    errors ${T} NOT NULL,
    warnings ${T} NOT NULL,
    resource_guid ${T},
    created_at ${T} NOT NULL,
    updated_at ${T} NOT NULL
  );
  CREATE INDEX jobs_processing ON jobs (created_at, id) WHERE state = 'PROCESSING';

  CREATE TABLE labels (
    resource_guid ${T} NOT NULL,
    key ${T} NOT NULL,
    value ${T} NOT NULL,
    PRIMARY KEY (resource_guid, key)
  );
  CREATE INDEX labels_by_key_value ON labels (key, value, resource_guid);

  CREATE FUNCTION platform_drop_labels() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    DELETE FROM labels WHERE resource_guid = OLD.guid;
    RETURN NULL;
  END $$;
  ${LABELLED_TABLES.map(
    (t) => `CREATE TRIGGER ${t}_drop_labels AFTER DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION platform_drop_labels();`,
  ).join('\n  ')}

  CREATE TABLE packages (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    app_guid ${T} NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    type ${T} NOT NULL,
    state ${T} NOT NULL,
    checksum ${T},
    image ${T},
    error ${T},
    ${LABELLED}
  );
  CREATE INDEX packages_by_app ON packages (app_guid, created_at, id);
  CREATE INDEX packages_by_state ON packages (state, created_at, id);
  CREATE INDEX packages_by_created ON packages (created_at, id);

  CREATE TABLE builds (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    app_guid ${T} NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    package_guid ${T} NOT NULL REFERENCES packages (guid) ON DELETE CASCADE,
    state ${T} NOT NULL,
    error ${T},
    lifecycle ${T} NOT NULL,
    droplet_guid ${T},
    created_by_guid ${T},
    created_by_name ${T},
    staging_memory_mb INTEGER NOT NULL,
    staging_disk_mb INTEGER NOT NULL,
    worker_id ${T},
    claimed_at ${T},
    ${LABELLED}
  );
  CREATE INDEX builds_by_app ON builds (app_guid, created_at, id);
  CREATE INDEX builds_by_package ON builds (package_guid, created_at, id);
  CREATE INDEX builds_by_state ON builds (state, created_at, id);
  CREATE INDEX builds_by_droplet ON builds (droplet_guid);
  CREATE INDEX builds_by_created ON builds (created_at, id);
  -- The staging queue (claimBuild): the STAGING builds oldest first.
  CREATE INDEX builds_queue ON builds (created_at, id) WHERE state = 'STAGING';

  CREATE TABLE droplets (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    app_guid ${T} NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    build_guid ${T} REFERENCES builds (guid) ON DELETE SET NULL,
    package_guid ${T} REFERENCES packages (guid) ON DELETE SET NULL,
    state ${T} NOT NULL,
    digest ${T} NOT NULL,
    process_types ${T} NOT NULL,
    buildpacks ${T} NOT NULL,
    stack ${T} NOT NULL,
    stack_version ${T} NOT NULL,
    execution_metadata ${T} NOT NULL,
    rebased_from ${T} REFERENCES droplets (guid) ON DELETE SET NULL,
    ${LABELLED}
  );
  CREATE INDEX droplets_by_app ON droplets (app_guid, created_at, id);
  CREATE INDEX droplets_by_package ON droplets (package_guid);
  CREATE INDEX droplets_by_build ON droplets (build_guid);
  CREATE INDEX droplets_by_rebased_from ON droplets (rebased_from);
  CREATE INDEX droplets_by_state ON droplets (state, created_at, id);
  CREATE INDEX droplets_by_stack ON droplets (stack, stack_version);
  CREATE INDEX droplets_by_created ON droplets (created_at, id);

  ALTER TABLE apps ADD FOREIGN KEY (current_droplet_guid) REFERENCES droplets (guid) ON DELETE SET NULL;
  ALTER TABLE builds ADD FOREIGN KEY (droplet_guid) REFERENCES droplets (guid) ON DELETE SET NULL;

  CREATE TABLE processes (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    app_guid ${T} NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    type ${T} NOT NULL,
    command ${T},
    instances INTEGER NOT NULL,
    memory_mb INTEGER NOT NULL,
    disk_mb INTEGER NOT NULL,
    health_check ${T} NOT NULL,
    version ${T} NOT NULL DEFAULT '',
    ${LABELLED}
  );
  CREATE UNIQUE INDEX processes_by_app_type ON processes (app_guid, type);
  CREATE INDEX processes_by_type ON processes (type);
  CREATE INDEX processes_by_created ON processes (created_at, id);

  CREATE TABLE instances (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    app_guid ${T} NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    process_guid ${T} NOT NULL REFERENCES processes (guid) ON DELETE CASCADE,
    process_type ${T} NOT NULL,
    instance_index INTEGER NOT NULL,
    droplet_guid ${T} NOT NULL,
    process_version ${T},
    deployment_guid ${T},
    host ${T} NOT NULL,
    container_name ${T} NOT NULL,
    port INTEGER NOT NULL,
    network_pid INTEGER,
    state ${T} NOT NULL,
    since ${T} NOT NULL,
    crash_count INTEGER NOT NULL,
    details ${T},
    restart_at ${T}
  );
  CREATE INDEX instances_by_process ON instances (process_guid, instance_index);
  CREATE INDEX instances_by_host ON instances (host, app_guid, process_type, instance_index);
  CREATE INDEX instances_by_app ON instances (app_guid);
  CREATE INDEX instances_by_droplet ON instances (droplet_guid);
  CREATE INDEX instances_by_deployment ON instances (deployment_guid) WHERE deployment_guid IS NOT NULL;

  CREATE TABLE domains (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    name ${T} NOT NULL,
    name_key ${T} NOT NULL UNIQUE,
    internal INTEGER NOT NULL,
    org_guid ${T} REFERENCES orgs (guid) ON DELETE CASCADE,
    ${LABELLED}
  );
  CREATE INDEX domains_by_org ON domains (org_guid);
  CREATE INDEX domains_by_created ON domains (created_at, id);

  CREATE TABLE routes (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    host ${T} NOT NULL,
    path ${T} NOT NULL,
    domain_guid ${T} NOT NULL REFERENCES domains (guid) ON DELETE CASCADE,
    space_guid ${T} NOT NULL REFERENCES spaces (guid) ON DELETE CASCADE,
    org_guid ${T} NOT NULL REFERENCES orgs (guid) ON DELETE CASCADE,
    ${LABELLED}
  );
  CREATE UNIQUE INDEX routes_by_domain_host_path ON routes (domain_guid, host, path);
  CREATE INDEX routes_by_host ON routes (host, path);
  CREATE INDEX routes_by_space ON routes (space_guid, created_at, id);
  CREATE INDEX routes_by_org ON routes (org_guid);
  CREATE INDEX routes_by_created ON routes (created_at, id);

  CREATE TABLE route_destinations (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    route_guid ${T} NOT NULL REFERENCES routes (guid) ON DELETE CASCADE,
    app_guid ${T} NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    process_type ${T} NOT NULL,
    port INTEGER,
    protocol ${T} NOT NULL
  );
  CREATE UNIQUE INDEX route_destinations_unique ON route_destinations (route_guid, app_guid, process_type, COALESCE(port, 8080));
  CREATE INDEX route_destinations_by_route ON route_destinations (route_guid, id);
  CREATE INDEX route_destinations_by_app ON route_destinations (app_guid, route_guid);

  CREATE TABLE revisions (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    app_guid ${T} NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    droplet_guid ${T} NOT NULL,
    description ${T} NOT NULL,
    processes ${T} NOT NULL,
    environment_variables ${T} NOT NULL,
    deployable INTEGER NOT NULL,
    ${LABELLED}
  );
  CREATE UNIQUE INDEX revisions_by_app_version ON revisions (app_guid, version);
  CREATE INDEX revisions_by_version ON revisions (version);
  CREATE INDEX revisions_by_created ON revisions (created_at, id);

  CREATE TABLE deployments (
    ${ID},
    guid ${T} NOT NULL UNIQUE,
    app_guid ${T} NOT NULL REFERENCES apps (guid) ON DELETE CASCADE,
    strategy ${T} NOT NULL,
    status_value ${T} NOT NULL,
    status_reason ${T} NOT NULL,
    droplet_guid ${T} NOT NULL,
    previous_droplet_guid ${T},
    revision_guid ${T} REFERENCES revisions (guid) ON DELETE SET NULL,
    max_in_flight INTEGER NOT NULL,
    last_status_change ${T} NOT NULL,
    ${LABELLED}
  );
  CREATE UNIQUE INDEX deployments_active ON deployments (app_guid) WHERE status_value = 'ACTIVE';
  CREATE INDEX deployments_by_app ON deployments (app_guid, created_at, id);
  CREATE INDEX deployments_by_status ON deployments (status_value, created_at, id);
  CREATE INDEX deployments_by_revision ON deployments (revision_guid);
  CREATE INDEX deployments_by_created ON deployments (created_at, id);

  CREATE TABLE resources (
    sha1 ${T} PRIMARY KEY,
    size BIGINT NOT NULL
  );

  CREATE TABLE settings (
    name ${T} PRIMARY KEY,
    value ${T} NOT NULL,
    created_at ${T} NOT NULL
  );
  `,
];

export const PG_PLATFORM_SCHEMA_VERSION = MIGRATIONS.length;

/** The component whose version `slipway_schema` records for these migrations. */
export const PLATFORM_COMPONENT = 'platform';

/** Brings the platform's tables to PG_PLATFORM_SCHEMA_VERSION (under the migration lock; refuses a newer schema). */
export async function migratePostgresPlatform(client: pg.ClientBase): Promise<void> {
  await migratePostgres(client, PLATFORM_COMPONENT, MIGRATIONS);
}

/**
 * The platform's advisory lock keys (the two-int form, under the metadata store's
 * LOCK_CLASS; keys from 100 up, below which the metadata store's are).
 */
export const PlatformLockKey = {
  /** Held by every buildpack write: positions shift as a block, one writer at a time. */
  buildpacks: 100,
} as const;
