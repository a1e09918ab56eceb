import Database from 'better-sqlite3';
import { SlipwayError } from '../../errors.js';
import {
  type ApiToken,
  type App,
  type AuditEvent,
  type Buildpack,
  type Job,
  type Metadata,
  now,
  type Organization,
  type RefreshToken,
  type Role,
  type Space,
  type User,
  type UserCredentials,
} from '../model.js';
import { isRoleType, isSpaceRole } from '../roles.js';
import { migratePlatform } from './platform-schema.js';
import type {
  AppFilter,
  BuildpackFilter,
  EventFilter,
  ListQuery,
  OrgFilter,
  Page,
  PlatformStore,
  RoleFilter,
  SpaceFilter,
  UserFilter,
  Visibility,
} from './platform-store.js';
import {
  API_TOKEN_COLUMNS,
  APP_COLUMNS,
  type ApiTokenRow,
  type AppRow,
  BUILDPACK_COLUMNS,
  type BuildpackRow,
  EVENT_COLUMNS,
  type EventRow,
  JOB_COLUMNS,
  type JobRow,
  checkSettingName,
  metadataColumns,
  nameKey,
  ORG_COLUMNS,
  type OrgRow,
  REFRESH_TOKEN_COLUMNS,
  type RefreshTokenRow,
  ROLE_COLUMNS,
  type RoleRow,
  SPACE_COLUMNS,
  type SpaceRow,
  toApiToken,
  toApp,
  toBuildpack,
  toEvent,
  toJob,
  toOrg,
  toRefreshToken,
  toRole,
  toSpace,
  toUser,
  USER_COLUMNS,
  type UserRow,
} from './sqlite-platform-rows.js';
import {
  eventRule,
  inList,
  NAMED,
  orgRule,
  roleRule,
  spaceRule,
  TIMES,
  userRule,
  Where,
} from './sqlite-platform-sql.js';
import { SqliteBuildpackPositions } from './sqlite-buildpack-positions.js';
import { SqliteRunner } from './sqlite-runner.js';
import { checkAssignable, SqliteWorkloadStore } from './sqlite-workload-store.js';
import type { WorkloadStore } from './workload-store.js';

export interface SqlitePlatformOptions {
  /** How long a statement waits for another process's write before SQLITE_BUSY. Default 10 s. */
  busyTimeoutMs?: number;
}

const INVALID_USER = 'Invalid user. Ensure that the user exists and you have access to it.';
const INVALID_ORG = 'Invalid organization. Ensure that the organization exists and you have access to it.';
const INVALID_SPACE = 'Invalid space. Ensure that the space exists and you have access to it.';

/**
 * The embedded PlatformStore: one SQLite file (better-sqlite3) in WAL mode, so
 * readers never wait for the writer, with foreign keys doing the cascades. Every
 * method is one transaction (writes BEGIN IMMEDIATE, so checks and writes cannot be
 * interleaved by another connection); lists are single queries filtered by the
 * caller's Visibility in SQL (see sqlite-platform-sql.ts).
 *
 * @example
 * const store = await SqlitePlatformStore.open(join(home, 'platform.sqlite'));
 * const page = await store.listApps({ page: 1, perPage: 50, orderBy: 'name' }, {}, perms.spaceVisibility());
 */
export class SqlitePlatformStore implements PlatformStore {
  readonly path: string;
  readonly #db: Database.Database;
  /** How this store runs its SQL (statements, transactions, pages), as the workload's store does. */
  readonly #run: SqliteRunner;
  readonly #buildpacks: SqliteBuildpackPositions;
  /** The workload's store (packages, builds, droplets, processes, routes, ...): the same file and connection. */
  readonly workloads: WorkloadStore;

  private constructor(path: string, options: SqlitePlatformOptions) {
    this.path = path;
    this.#db = new Database(path);
    try {
      // busy_timeout first: switching to WAL and migrating may wait for another process.
      this.#db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 10_000)}`);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      this.#db.pragma('foreign_keys = ON');
      // Statement journals and sorts in memory: on disk, each batch's savepoints spilled to a temp file of its own.
      this.#db.pragma('temp_store = MEMORY');
      migratePlatform(this.#db);
    } catch (err) {
      this.#db.close();
      throw err;
    }
    this.#run = new SqliteRunner(this.#db);
    this.#buildpacks = new SqliteBuildpackPositions((source) => this.#sql(source));
    // A runner of its own: statements keep their mode (.pluck()), so two stores must not share one cache.
    this.workloads = new SqliteWorkloadStore(new SqliteRunner(this.#db));
  }

  static async open(file: string, options: SqlitePlatformOptions = {}): Promise<SqlitePlatformStore> {
    return new SqlitePlatformStore(file, options);
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  // users

  async createUser(user: User, credentials: Omit<UserCredentials, 'userGuid'>): Promise<User> {
    return this.#write(() => {
      const taken = this.#sql('SELECT 1 FROM users WHERE origin = ? AND username_key = ?').get(
        user.origin,
        nameKey(user.username),
      );
      if (taken !== undefined) throw conflict(`Username '${user.username}' is taken.`, 'username');
      const m = metadataColumns(user.metadata);
      this.#sql(
        `INSERT INTO users (guid, username, username_key, origin, global_roles, labels, annotations, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        user.guid,
        user.username,
        nameKey(user.username),
        user.origin,
        JSON.stringify(user.globalRoles ?? []),
        m.labels,
        m.annotations,
        user.createdAt,
        user.updatedAt,
      );
      this.#sql('INSERT INTO user_credentials (user_guid, password_hash) VALUES (?, ?)').run(
        user.guid,
        credentials.passwordHash ?? null,
      );
      this.#putLabels(user.guid, user.metadata?.labels, false);
      return this.#get<UserRow, User>('users', USER_COLUMNS, user.guid, toUser)!;
    });
  }

  async getUser(guid: string): Promise<User | undefined> {
    return this.#get<UserRow, User>('users', USER_COLUMNS, guid, toUser);
  }

  async findUser(username: string, origin?: string): Promise<User | undefined> {
    const row = (
      origin === undefined
        ? this.#sql(
            `SELECT ${USER_COLUMNS} FROM users t WHERE t.username_key = ? ORDER BY t.created_at, t.id LIMIT 1`,
          ).get(nameKey(username))
        : this.#sql(`SELECT ${USER_COLUMNS} FROM users t WHERE t.origin = ? AND t.username_key = ?`).get(
            origin,
            nameKey(username),
          )
    ) as UserRow | undefined;
    return row && toUser(row);
  }

  async credentials(userGuid: string): Promise<UserCredentials | undefined> {
    const row = this.#sql('SELECT password_hash FROM user_credentials WHERE user_guid = ?').get(userGuid) as
      | { password_hash: string | null }
      | undefined;
    if (row === undefined) return undefined;
    return row.password_hash === null ? { userGuid } : { userGuid, passwordHash: row.password_hash };
  }

  async setPasswordHash(userGuid: string, passwordHash: string): Promise<void> {
    this.#write(() => {
      if (!this.#exists('users', userGuid)) throw notFound(INVALID_USER, 'user');
      this.#sql(
        `INSERT INTO user_credentials (user_guid, password_hash) VALUES (?, ?)
         ON CONFLICT (user_guid) DO UPDATE SET password_hash = excluded.password_hash`,
      ).run(userGuid, passwordHash);
    });
  }

  async updateUser(
    guid: string,
    patch: { globalRoles?: User['globalRoles']; metadata?: Metadata },
  ): Promise<User | undefined> {
    return this.#write(() => {
      const row = this.#get<UserRow, User>('users', USER_COLUMNS, guid, toUser);
      if (row === undefined) return undefined;
      const m = metadataColumns(patch.metadata ?? row.metadata);
      this.#sql('UPDATE users SET global_roles = ?, labels = ?, annotations = ?, updated_at = ? WHERE guid = ?').run(
        JSON.stringify(patch.globalRoles ?? row.globalRoles),
        m.labels,
        m.annotations,
        now(),
        guid,
      );
      if (patch.metadata) this.#putLabels(guid, patch.metadata.labels, true);
      return this.#get<UserRow, User>('users', USER_COLUMNS, guid, toUser);
    });
  }

  async deleteUser(guid: string): Promise<boolean> {
    return this.#write(() => this.#sql('DELETE FROM users WHERE guid = ?').run(guid).changes > 0);
  }

  async listUsers(query: ListQuery, filter: UserFilter, visibility: Visibility): Promise<Page<User>> {
    const where = new Where()
      .common(filter, visibility)
      .in('t.origin', filter.origins)
      .add(userRule(visibility, 't.guid'));
    // The key narrows through the index; the exact column keeps CF's exact match.
    if (filter.usernames)
      where.add(inList('t.username_key', filter.usernames.map(nameKey))).in('t.username', filter.usernames);
    return this.#list<UserRow, User>('users', USER_COLUMNS, where, query, USER_ORDER, toUser);
  }

  async countUsers(): Promise<number> {
    return this.#sql('SELECT COUNT(*) FROM users').pluck().get() as number;
  }

  // organizations

  async createOrg(org: Organization): Promise<Organization> {
    return this.#write(() => {
      this.#checkOrgName(org.name);
      this.#checkOrgSlug(org.name, org.slug);
      const m = metadataColumns(org.metadata);
      this.#sql(
        `INSERT INTO orgs (guid, name, name_key, slug, suspended, labels, annotations, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        org.guid,
        org.name,
        nameKey(org.name),
        org.slug,
        org.suspended ? 1 : 0,
        m.labels,
        m.annotations,
        org.createdAt,
        org.updatedAt,
      );
      this.#putLabels(org.guid, org.metadata?.labels, false);
      return this.#get<OrgRow, Organization>('orgs', ORG_COLUMNS, org.guid, toOrg)!;
    });
  }

  async getOrg(guid: string): Promise<Organization | undefined> {
    return this.#get<OrgRow, Organization>('orgs', ORG_COLUMNS, guid, toOrg);
  }

  async findOrgBySlug(slug: string): Promise<Organization | undefined> {
    const row = this.#sql(`SELECT ${ORG_COLUMNS} FROM orgs t WHERE t.slug = ?`).get(slug) as OrgRow | undefined;
    return row && toOrg(row);
  }

  async updateOrg(
    guid: string,
    patch: { name?: string; slug?: string; suspended?: boolean; metadata?: Metadata },
  ): Promise<Organization | undefined> {
    return this.#write(() => {
      const org = this.#get<OrgRow, Organization>('orgs', ORG_COLUMNS, guid, toOrg);
      if (org === undefined) return undefined;
      const name = patch.name ?? org.name;
      const slug = patch.slug ?? org.slug;
      if (patch.name !== undefined) this.#checkOrgName(name, guid);
      if (patch.slug !== undefined) this.#checkOrgSlug(name, slug, guid);
      const m = metadataColumns(patch.metadata ?? org.metadata);
      this.#sql(
        `UPDATE orgs SET name = ?, name_key = ?, slug = ?, suspended = ?, labels = ?, annotations = ?, updated_at = ?
         WHERE guid = ?`,
      ).run(
        name,
        nameKey(name),
        slug,
        (patch.suspended ?? org.suspended) ? 1 : 0,
        m.labels,
        m.annotations,
        now(),
        guid,
      );
      if (patch.metadata) this.#putLabels(guid, patch.metadata.labels, true);
      return this.#get<OrgRow, Organization>('orgs', ORG_COLUMNS, guid, toOrg);
    });
  }

  async deleteOrg(guid: string): Promise<{ deleted: boolean; apps: App[] }> {
    return this.#write(() => {
      const apps = this.#sql(`SELECT ${APP_COLUMNS} FROM apps t WHERE t.org_guid = ? ORDER BY t.created_at, t.id`)
        .all(guid)
        .map((r) => toApp(r as AppRow));
      // Spaces, apps, roles and API tokens go by ON DELETE CASCADE, labels by trigger.
      const deleted = this.#sql('DELETE FROM orgs WHERE guid = ?').run(guid).changes > 0;
      return { deleted, apps: deleted ? apps : [] };
    });
  }

  async listOrgs(query: ListQuery, filter: OrgFilter, visibility: Visibility): Promise<Page<Organization>> {
    const where = new Where().common(filter, visibility).in('t.name', filter.names).add(orgRule(visibility, 't.guid'));
    return this.#list<OrgRow, Organization>('orgs', ORG_COLUMNS, where, query, NAMED, toOrg);
  }

  #checkOrgName(name: string, self?: string): void {
    const other = this.#sql('SELECT guid FROM orgs WHERE name_key = ?').pluck().get(nameKey(name));
    if (other !== undefined && other !== self) throw conflict(`Organization '${name}' already exists.`, 'name');
  }

  #checkOrgSlug(name: string, slug: string, self?: string): void {
    const other = this.#sql('SELECT guid, name FROM orgs WHERE slug = ?').get(slug) as Named | undefined;
    if (other !== undefined && other.guid !== self) throw slugTaken('Organization', name, slug, other.name);
  }

  // spaces

  async createSpace(space: Space): Promise<Space> {
    return this.#write(() => {
      if (!this.#exists('orgs', space.orgGuid)) throw notFound(INVALID_ORG, 'organization');
      this.#checkSpaceName(space.orgGuid, space.name);
      this.#checkSpaceSlug(space.orgGuid, space.name, space.slug);
      const m = metadataColumns(space.metadata);
      this.#sql(
        `INSERT INTO spaces (guid, org_guid, name, name_key, slug, labels, annotations, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        space.guid,
        space.orgGuid,
        space.name,
        nameKey(space.name),
        space.slug,
        m.labels,
        m.annotations,
        space.createdAt,
        space.updatedAt,
      );
      this.#putLabels(space.guid, space.metadata?.labels, false);
      return this.#get<SpaceRow, Space>('spaces', SPACE_COLUMNS, space.guid, toSpace)!;
    });
  }

  async getSpace(guid: string): Promise<Space | undefined> {
    return this.#get<SpaceRow, Space>('spaces', SPACE_COLUMNS, guid, toSpace);
  }

  async findSpaceBySlug(orgGuid: string, slug: string): Promise<Space | undefined> {
    const row = this.#sql(`SELECT ${SPACE_COLUMNS} FROM spaces t WHERE t.org_guid = ? AND t.slug = ?`).get(
      orgGuid,
      slug,
    ) as SpaceRow | undefined;
    return row && toSpace(row);
  }

  async updateSpace(
    guid: string,
    patch: { name?: string; slug?: string; metadata?: Metadata },
  ): Promise<Space | undefined> {
    return this.#write(() => {
      const space = this.#get<SpaceRow, Space>('spaces', SPACE_COLUMNS, guid, toSpace);
      if (space === undefined) return undefined;
      const name = patch.name ?? space.name;
      const slug = patch.slug ?? space.slug;
      if (patch.name !== undefined) this.#checkSpaceName(space.orgGuid, name, guid);
      if (patch.slug !== undefined) this.#checkSpaceSlug(space.orgGuid, name, slug, guid);
      const m = metadataColumns(patch.metadata ?? space.metadata);
      this.#sql(
        'UPDATE spaces SET name = ?, name_key = ?, slug = ?, labels = ?, annotations = ?, updated_at = ? WHERE guid = ?',
      ).run(name, nameKey(name), slug, m.labels, m.annotations, now(), guid);
      if (patch.metadata) this.#putLabels(guid, patch.metadata.labels, true);
      return this.#get<SpaceRow, Space>('spaces', SPACE_COLUMNS, guid, toSpace);
    });
  }

  async deleteSpace(guid: string): Promise<{ deleted: boolean; apps: App[] }> {
    return this.#write(() => {
      const apps = this.#sql(`SELECT ${APP_COLUMNS} FROM apps t WHERE t.space_guid = ? ORDER BY t.created_at, t.id`)
        .all(guid)
        .map((r) => toApp(r as AppRow));
      const deleted = this.#sql('DELETE FROM spaces WHERE guid = ?').run(guid).changes > 0;
      return { deleted, apps: deleted ? apps : [] };
    });
  }

  async listSpaces(query: ListQuery, filter: SpaceFilter, visibility: Visibility): Promise<Page<Space>> {
    const where = new Where()
      .common(filter, visibility)
      .in('t.name', filter.names)
      .in('t.org_guid', filter.organizationGuids)
      .add(spaceRule(visibility, 't.guid', 't.org_guid'));
    return this.#list<SpaceRow, Space>('spaces', SPACE_COLUMNS, where, query, NAMED, toSpace);
  }

  #checkSpaceName(orgGuid: string, name: string, self?: string): void {
    const other = this.#sql('SELECT guid FROM spaces WHERE org_guid = ? AND name_key = ?')
      .pluck()
      .get(orgGuid, nameKey(name));
    if (other !== undefined && other !== self) throw conflict('Name must be unique per organization', 'name');
  }

  #checkSpaceSlug(orgGuid: string, name: string, slug: string, self?: string): void {
    const other = this.#sql('SELECT guid, name FROM spaces WHERE org_guid = ? AND slug = ?').get(orgGuid, slug) as
      | Named
      | undefined;
    if (other !== undefined && other.guid !== self) throw slugTaken('Space', name, slug, other.name);
  }

  // roles

  async createRole(role: Role): Promise<Role> {
    return this.#write(() => {
      if (!isRoleType(role.type)) throw invalid(`Role type '${role.type}' is invalid.`, 'type');
      const username = this.#sql('SELECT username FROM users WHERE guid = ?').pluck().get(role.userGuid) as
        | string
        | undefined;
      if (username === undefined) throw notFound(INVALID_USER, 'user');
      let orgGuid: string;
      let spaceGuid: string | null = null;
      if (isSpaceRole(role.type)) {
        if (role.spaceGuid === undefined) throw invalid(`A '${role.type}' role needs a space.`, 'space');
        const space = this.#sql('SELECT org_guid, name FROM spaces WHERE guid = ?').get(role.spaceGuid) as
          | { org_guid: string; name: string }
          | undefined;
        if (space === undefined) throw notFound(INVALID_SPACE, 'space');
        orgGuid = space.org_guid;
        spaceGuid = role.spaceGuid;
        const member = this.#sql('SELECT 1 FROM roles WHERE org_guid = ? AND user_guid = ? AND space_guid IS NULL');
        if (member.get(orgGuid, role.userGuid) === undefined) {
          throw invalid(
            "Users cannot be assigned roles in a space if they do not have a role in that space's organization.",
            'role',
          );
        }
        const twice = this.#sql('SELECT 1 FROM roles WHERE user_guid = ? AND space_guid = ? AND type = ?');
        if (twice.get(role.userGuid, spaceGuid, role.type) !== undefined) {
          throw conflict(`User '${username}' already has '${role.type}' role in space '${space.name}'.`, 'role');
        }
      } else {
        if (role.spaceGuid !== undefined) {
          throw invalid(`A '${role.type}' role is held in an organization, not a space.`, 'space');
        }
        if (role.orgGuid === undefined) throw invalid(`A '${role.type}' role needs an organization.`, 'organization');
        orgGuid = role.orgGuid;
        const org = this.#sql('SELECT name FROM orgs WHERE guid = ?').pluck().get(orgGuid) as string | undefined;
        if (org === undefined) throw notFound(INVALID_ORG, 'organization');
        const twice = this.#sql(
          'SELECT 1 FROM roles WHERE user_guid = ? AND org_guid = ? AND type = ? AND space_guid IS NULL',
        );
        if (twice.get(role.userGuid, orgGuid, role.type) !== undefined) {
          throw conflict(`User '${username}' already has '${role.type}' role in organization '${org}'.`, 'role');
        }
      }
      const m = metadataColumns(role.metadata);
      this.#sql(
        `INSERT INTO roles (guid, type, user_guid, org_guid, space_guid, labels, annotations, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        role.guid,
        role.type,
        role.userGuid,
        orgGuid,
        spaceGuid,
        m.labels,
        m.annotations,
        role.createdAt,
        role.updatedAt,
      );
      this.#putLabels(role.guid, role.metadata?.labels, false);
      return this.#get<RoleRow, Role>('roles', ROLE_COLUMNS, role.guid, toRole)!;
    });
  }

  async getRole(guid: string): Promise<Role | undefined> {
    return this.#get<RoleRow, Role>('roles', ROLE_COLUMNS, guid, toRole);
  }

  async deleteRole(guid: string): Promise<boolean> {
    return this.#write(() => {
      const role = this.#sql('SELECT user_guid, org_guid, space_guid FROM roles WHERE guid = ?').get(guid) as
        | { user_guid: string; org_guid: string; space_guid: string | null }
        | undefined;
      if (role === undefined) return false;
      if (role.space_guid === null) {
        const inOrg = 'SELECT 1 FROM roles WHERE org_guid = ? AND user_guid = ?';
        const needed =
          this.#sql(`${inOrg} AND space_guid IS NOT NULL LIMIT 1`).get(role.org_guid, role.user_guid) !== undefined;
        const another =
          this.#sql(`${inOrg} AND space_guid IS NULL AND guid <> ? LIMIT 1`).get(
            role.org_guid,
            role.user_guid,
            guid,
          ) !== undefined;
        if (needed && !another) {
          throw invalid(
            'Cannot remove the organization role of a user who has space roles in it; remove those first.',
            'role',
          );
        }
      }
      return this.#sql('DELETE FROM roles WHERE guid = ?').run(guid).changes > 0;
    });
  }

  async listRoles(query: ListQuery, filter: RoleFilter, visibility: Visibility): Promise<Page<Role>> {
    const where = new Where()
      .common(filter, visibility)
      .in('t.type', filter.types)
      .in('t.user_guid', filter.userGuids)
      .in('t.org_guid', filter.organizationGuids)
      .in('t.space_guid', filter.spaceGuids)
      .add(roleRule(visibility));
    return this.#list<RoleRow, Role>('roles', ROLE_COLUMNS, where, query, TIMES, toRole);
  }

  async rolesOf(userGuid: string): Promise<Role[]> {
    return this.#sql(`SELECT ${ROLE_COLUMNS} FROM roles t WHERE t.user_guid = ? ORDER BY t.created_at, t.id`)
      .all(userGuid)
      .map((r) => toRole(r as RoleRow));
  }

  // apps

  async createApp(app: App): Promise<App> {
    return this.#write(() => {
      const orgGuid = this.#sql('SELECT org_guid FROM spaces WHERE guid = ?').pluck().get(app.spaceGuid) as
        | string
        | undefined;
      if (orgGuid === undefined) throw notFound(INVALID_SPACE, 'space');
      this.#checkAppName(app.spaceGuid, app.name);
      this.#checkAppSlug(app.spaceGuid, app.name, app.slug);
      // A droplet belongs to an app that exists: a new app has none to run yet.
      if (app.currentDropletGuid !== undefined) checkAssignable((s) => this.#sql(s), app.guid, app.currentDropletGuid);
      const m = metadataColumns(app.metadata);
      this.#sql(
        `INSERT INTO apps (guid, space_guid, org_guid, name, name_key, slug, state, lifecycle_type, stack, lifecycle,
           environment_variables, auto_rebase, labels, annotations, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        app.guid,
        app.spaceGuid,
        orgGuid,
        app.name,
        nameKey(app.name),
        app.slug,
        app.state,
        app.lifecycle.type,
        app.lifecycle.data?.stack ?? null,
        JSON.stringify(app.lifecycle),
        JSON.stringify(app.environmentVariables ?? {}),
        app.autoRebase === false ? 0 : 1,
        m.labels,
        m.annotations,
        app.createdAt,
        app.updatedAt,
      );
      this.#putLabels(app.guid, app.metadata?.labels, false);
      return this.#get<AppRow, App>('apps', APP_COLUMNS, app.guid, toApp)!;
    });
  }

  async getApp(guid: string): Promise<App | undefined> {
    return this.#get<AppRow, App>('apps', APP_COLUMNS, guid, toApp);
  }

  async findAppBySlug(spaceGuid: string, slug: string): Promise<App | undefined> {
    const row = this.#sql(`SELECT ${APP_COLUMNS} FROM apps t WHERE t.space_guid = ? AND t.slug = ?`).get(
      spaceGuid,
      slug,
    ) as AppRow | undefined;
    return row && toApp(row);
  }

  async updateApp(
    guid: string,
    patch: Partial<
      Pick<
        App,
        | 'name'
        | 'slug'
        | 'state'
        | 'lifecycle'
        | 'environmentVariables'
        | 'metadata'
        | 'currentDropletGuid'
        | 'autoRebase'
      >
    >,
  ): Promise<App | undefined> {
    return this.#write(() => {
      const app = this.#get<AppRow, App>('apps', APP_COLUMNS, guid, toApp);
      if (app === undefined) return undefined;
      const name = patch.name ?? app.name;
      const slug = patch.slug ?? app.slug;
      if (patch.name !== undefined) this.#checkAppName(app.spaceGuid, name, guid);
      if (patch.slug !== undefined) this.#checkAppSlug(app.spaceGuid, name, slug, guid);
      const lifecycle = patch.lifecycle ?? app.lifecycle;
      if (patch.currentDropletGuid !== undefined) checkAssignable((s) => this.#sql(s), guid, patch.currentDropletGuid);
      const m = metadataColumns(patch.metadata ?? app.metadata);
      this.#sql(
        `UPDATE apps SET name = ?, name_key = ?, slug = ?, state = ?, lifecycle_type = ?, stack = ?, lifecycle = ?,
           environment_variables = ?, current_droplet_guid = ?, auto_rebase = ?, labels = ?, annotations = ?,
           updated_at = ?
         WHERE guid = ?`,
      ).run(
        name,
        nameKey(name),
        slug,
        patch.state ?? app.state,
        lifecycle.type,
        lifecycle.data?.stack ?? null,
        JSON.stringify(lifecycle),
        JSON.stringify(patch.environmentVariables ?? app.environmentVariables),
        patch.currentDropletGuid ?? app.currentDropletGuid ?? null,
        (patch.autoRebase ?? app.autoRebase) === false ? 0 : 1,
        m.labels,
        m.annotations,
        now(),
        guid,
      );
      if (patch.metadata) this.#putLabels(guid, patch.metadata.labels, true);
      return this.#get<AppRow, App>('apps', APP_COLUMNS, guid, toApp);
    });
  }

  async deleteApp(guid: string): Promise<boolean> {
    return this.#write(() => this.#sql('DELETE FROM apps WHERE guid = ?').run(guid).changes > 0);
  }

  async listApps(query: ListQuery, filter: AppFilter, visibility: Visibility): Promise<Page<App>> {
    const where = new Where()
      .common(filter, visibility)
      .in('t.name', filter.names)
      .in('t.space_guid', filter.spaceGuids)
      .in('t.org_guid', filter.organizationGuids)
      .in('t.stack', filter.stacks)
      .eq('t.lifecycle_type', filter.lifecycleType)
      .add(spaceRule(visibility, 't.space_guid', 't.org_guid'));
    return this.#list<AppRow, App>('apps', APP_COLUMNS, where, query, NAMED, toApp);
  }

  #checkAppName(spaceGuid: string, name: string, self?: string): void {
    const other = this.#sql('SELECT guid FROM apps WHERE space_guid = ? AND name_key = ?')
      .pluck()
      .get(spaceGuid, nameKey(name));
    if (other !== undefined && other !== self) throw conflict(`App with the name '${name}' already exists.`, 'name');
  }

  #checkAppSlug(spaceGuid: string, name: string, slug: string, self?: string): void {
    const other = this.#sql('SELECT guid, name FROM apps WHERE space_guid = ? AND slug = ?').get(spaceGuid, slug) as
      | Named
      | undefined;
    if (other !== undefined && other.guid !== self) throw slugTaken('App', name, slug, other.name);
  }

  // buildpacks

  async createBuildpack(buildpack: Buildpack): Promise<Buildpack> {
    return this.#write(() => {
      this.#checkBuildpackName(buildpack.name, buildpack.stack);
      const position = this.#buildpacks.openAt(buildpack.position);
      const m = metadataColumns(buildpack.metadata);
      this.#sql(
        `INSERT INTO buildpacks (guid, name, stack, position, enabled, locked, state, filename, lifecycle, labels,
           annotations, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        buildpack.guid,
        buildpack.name,
        buildpack.stack,
        position,
        buildpack.enabled ? 1 : 0,
        buildpack.locked ? 1 : 0,
        buildpack.state,
        buildpack.filename,
        buildpack.lifecycle,
        m.labels,
        m.annotations,
        buildpack.createdAt,
        buildpack.updatedAt,
      );
      this.#putLabels(buildpack.guid, buildpack.metadata?.labels, false);
      return this.#get<BuildpackRow, Buildpack>('buildpacks', BUILDPACK_COLUMNS, buildpack.guid, toBuildpack)!;
    });
  }

  async getBuildpack(guid: string): Promise<Buildpack | undefined> {
    return this.#get<BuildpackRow, Buildpack>('buildpacks', BUILDPACK_COLUMNS, guid, toBuildpack);
  }

  async updateBuildpack(
    guid: string,
    patch: Partial<
      Pick<Buildpack, 'name' | 'stack' | 'position' | 'enabled' | 'locked' | 'state' | 'filename' | 'metadata'>
    >,
  ): Promise<Buildpack | undefined> {
    return this.#write(() => {
      const bp = this.#get<BuildpackRow, Buildpack>('buildpacks', BUILDPACK_COLUMNS, guid, toBuildpack);
      if (bp === undefined) return undefined;
      const name = patch.name ?? bp.name;
      const stack = patch.stack !== undefined ? patch.stack : bp.stack;
      if (patch.name !== undefined || patch.stack !== undefined) this.#checkBuildpackName(name, stack, guid);
      if (patch.position !== undefined) this.#buildpacks.move(guid, bp.position, patch.position);
      const m = metadataColumns(patch.metadata ?? bp.metadata);
      this.#sql(
        `UPDATE buildpacks SET name = ?, stack = ?, enabled = ?, locked = ?, state = ?, filename = ?, labels = ?,
           annotations = ?, updated_at = ?
         WHERE guid = ?`,
      ).run(
        name,
        stack,
        (patch.enabled ?? bp.enabled) ? 1 : 0,
        (patch.locked ?? bp.locked) ? 1 : 0,
        patch.state ?? bp.state,
        patch.filename !== undefined ? patch.filename : bp.filename,
        m.labels,
        m.annotations,
        now(),
        guid,
      );
      if (patch.metadata) this.#putLabels(guid, patch.metadata.labels, true);
      return this.#get<BuildpackRow, Buildpack>('buildpacks', BUILDPACK_COLUMNS, guid, toBuildpack);
    });
  }

  async deleteBuildpack(guid: string): Promise<boolean> {
    return this.#write(() => {
      const position = this.#sql('SELECT position FROM buildpacks WHERE guid = ?').pluck().get(guid) as
        | number
        | undefined;
      if (position === undefined) return false;
      this.#sql('DELETE FROM buildpacks WHERE guid = ?').run(guid);
      this.#buildpacks.closeAt(position);
      return true;
    });
  }

  async listBuildpacks(query: ListQuery, filter: BuildpackFilter): Promise<Page<Buildpack>> {
    const where = new Where().common(filter).in('t.name', filter.names).eq('t.lifecycle', filter.lifecycle);
    if (filter.stacks) {
      // CF's `stacks=` with an empty name matches the buildpacks with no stack.
      const named = filter.stacks.filter((s) => s !== '');
      const clause = inList('t.stack', named);
      where.add(
        filter.stacks.includes('') ? { sql: `${clause.sql} OR t.stack IS NULL`, params: clause.params } : clause,
      );
    }
    return this.#list<BuildpackRow, Buildpack>(
      'buildpacks',
      BUILDPACK_COLUMNS,
      where,
      query,
      BUILDPACK_ORDER,
      toBuildpack,
    );
  }

  #checkBuildpackName(name: string, stack: string | null, self?: string): void {
    const other = this.#sql("SELECT guid FROM buildpacks WHERE name = ? AND IFNULL(stack, '') = IFNULL(?, '')")
      .pluck()
      .get(name, stack);
    if (other === undefined || other === self) return;
    throw conflict(
      stack === null
        ? `Buildpack with name '${name}' and an unassigned stack already exists.`
        : `Buildpack with name '${name}' and stack '${stack}' already exists.`,
      'name',
    );
  }

  // audit events

  async recordEvent(event: AuditEvent): Promise<void> {
    this.#write(() => {
      // A space's event carries the space's org, so org managers see it by the space rule after the space is gone.
      const orgGuid =
        event.orgGuid ??
        (event.spaceGuid === undefined
          ? undefined
          : (this.#sql('SELECT org_guid FROM spaces WHERE guid = ?').pluck().get(event.spaceGuid) as
              | string
              | undefined));
      this.#sql(
        `INSERT INTO audit_events (guid, type, actor_guid, actor_type, actor_name, target_guid, target_type, target_name,
           data, space_guid, org_guid, request_id, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        event.guid,
        event.type,
        event.actor.guid,
        event.actor.type,
        event.actor.name,
        event.target.guid,
        event.target.type,
        event.target.name,
        JSON.stringify(event.data ?? {}),
        event.spaceGuid ?? null,
        orgGuid ?? null,
        event.requestId ?? null,
        event.createdAt,
        event.updatedAt,
      );
    });
  }

  async getEvent(guid: string): Promise<AuditEvent | undefined> {
    const row = this.#sql(`SELECT ${EVENT_COLUMNS} FROM audit_events t WHERE t.guid = ?`).get(guid) as
      | EventRow
      | undefined;
    return row && toEvent(row);
  }

  async listEvents(query: ListQuery, filter: EventFilter, visibility: Visibility): Promise<Page<AuditEvent>> {
    const where = new Where()
      .common(filter, visibility)
      .in('t.type', filter.types)
      .in('t.target_guid', filter.targetGuids)
      .in('t.space_guid', filter.spaceGuids)
      .in('t.org_guid', filter.organizationGuids)
      .add(eventRule(visibility));
    return this.#list<EventRow, AuditEvent>('audit_events', EVENT_COLUMNS, where, query, TIMES, toEvent);
  }

  // tokens

  async createApiToken(token: ApiToken): Promise<ApiToken> {
    return this.#write(() => {
      if (!this.#exists('users', token.userGuid)) throw notFound(INVALID_USER, 'user');
      if (!this.#exists('spaces', token.spaceGuid)) throw notFound(INVALID_SPACE, 'space');
      this.#sql(
        `INSERT INTO api_tokens (guid, name, user_guid, space_guid, secret_hash, created_at, last_used_at, revoked_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        token.guid,
        token.name,
        token.userGuid,
        token.spaceGuid,
        token.secretHash,
        token.createdAt,
        token.lastUsedAt ?? null,
        token.revokedAt ?? null,
      );
      return this.#getApiToken(token.guid)!;
    });
  }

  async getApiToken(guid: string): Promise<ApiToken | undefined> {
    return this.#getApiToken(guid);
  }

  async listApiTokens(userGuid: string): Promise<ApiToken[]> {
    return this.#sql(`SELECT ${API_TOKEN_COLUMNS} FROM api_tokens t WHERE t.user_guid = ? ORDER BY t.created_at, t.id`)
      .all(userGuid)
      .map((r) => toApiToken(r as ApiTokenRow));
  }

  /** True when this call revoked it (false when unknown or revoked before: the first revocation time stays). */
  async revokeApiToken(guid: string, at: string): Promise<boolean> {
    return this.#write(
      () =>
        this.#sql('UPDATE api_tokens SET revoked_at = ? WHERE guid = ? AND revoked_at IS NULL').run(at, guid).changes >
        0,
    );
  }

  async touchApiToken(guid: string, at: string): Promise<void> {
    this.#write(() => this.#sql('UPDATE api_tokens SET last_used_at = ? WHERE guid = ?').run(at, guid));
  }

  async createRefreshToken(token: RefreshToken): Promise<void> {
    this.#write(() => {
      if (!this.#exists('users', token.userGuid)) throw notFound(INVALID_USER, 'user');
      this.#sql(
        `INSERT INTO refresh_tokens (guid, user_guid, secret_hash, created_at, expires_at, revoked_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(token.guid, token.userGuid, token.secretHash, token.createdAt, token.expiresAt, token.revokedAt ?? null);
    });
  }

  async getRefreshToken(guid: string): Promise<RefreshToken | undefined> {
    const row = this.#sql(`SELECT ${REFRESH_TOKEN_COLUMNS} FROM refresh_tokens t WHERE t.guid = ?`).get(guid) as
      | RefreshTokenRow
      | undefined;
    return row && toRefreshToken(row);
  }

  /** True when this call revoked it: of two rotations of one refresh token at once, one wins. */
  async revokeRefreshToken(guid: string, at: string): Promise<boolean> {
    return this.#write(
      () =>
        this.#sql('UPDATE refresh_tokens SET revoked_at = ? WHERE guid = ? AND revoked_at IS NULL').run(at, guid)
          .changes > 0,
    );
  }

  async revokeRefreshTokensOf(userGuid: string, at: string): Promise<number> {
    return this.#write(
      () =>
        this.#sql('UPDATE refresh_tokens SET revoked_at = ? WHERE user_guid = ? AND revoked_at IS NULL').run(
          at,
          userGuid,
        ).changes,
    );
  }

  // jobs

  async createJob(job: Job): Promise<Job> {
    return this.#write(() => {
      this.#sql(
        `INSERT INTO jobs (guid, operation, state, errors, warnings, resource_guid, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        job.guid,
        job.operation,
        job.state,
        JSON.stringify(job.errors ?? []),
        JSON.stringify(job.warnings ?? []),
        job.resourceGuid ?? null,
        job.createdAt,
        job.updatedAt,
      );
      return this.#getJob(job.guid)!;
    });
  }

  async getJob(guid: string): Promise<Job | undefined> {
    return this.#getJob(guid);
  }

  async updateJob(guid: string, patch: Partial<Pick<Job, 'state' | 'errors' | 'warnings'>>): Promise<Job | undefined> {
    return this.#write(() => {
      const job = this.#getJob(guid);
      if (job === undefined) return undefined;
      this.#sql('UPDATE jobs SET state = ?, errors = ?, warnings = ?, updated_at = ? WHERE guid = ?').run(
        patch.state ?? job.state,
        JSON.stringify(patch.errors ?? job.errors),
        JSON.stringify(patch.warnings ?? job.warnings),
        now(),
        guid,
      );
      return this.#getJob(guid);
    });
  }

  async unfinishedJobs(): Promise<Job[]> {
    return this.#sql(`SELECT ${JOB_COLUMNS} FROM jobs t WHERE t.state = 'PROCESSING' ORDER BY t.created_at, t.id`)
      .all()
      .map((r) => toJob(r as JobRow));
  }

  // shared settings

  /** The value under `name`, or `create()`'s stored now: the read and the insert in one IMMEDIATE transaction. */
  async sharedSetting(name: string, create: () => string): Promise<string> {
    checkSettingName(name);
    return this.#write(() => {
      const stored = this.#sql('SELECT value FROM settings WHERE name = ?').pluck().get(name) as string | undefined;
      if (stored !== undefined) return stored;
      const value = create();
      this.#sql('INSERT INTO settings (name, value, created_at) VALUES (?, ?, ?)').run(name, value, now());
      return value;
    });
  }

  // the machinery

  #sql(source: string): Database.Statement {
    return this.#run.sql(source);
  }

  #write<T>(fn: () => T): T {
    return this.#run.write(fn);
  }

  #read<T>(fn: () => T): T {
    return this.#run.read(fn);
  }

  #exists(table: 'users' | 'orgs' | 'spaces', guid: string): boolean {
    return this.#sql(`SELECT 1 FROM ${table} WHERE guid = ?`).get(guid) !== undefined;
  }

  #get<R, T>(table: string, columns: string, guid: string, map: (row: R) => T): T | undefined {
    return this.#run.get(table, columns, guid, map);
  }

  #getApiToken(guid: string): ApiToken | undefined {
    return this.#get<ApiTokenRow, ApiToken>('api_tokens', API_TOKEN_COLUMNS, guid, toApiToken);
  }

  #getJob(guid: string): Job | undefined {
    return this.#get<JobRow, Job>('jobs', JOB_COLUMNS, guid, toJob);
  }

  /** A resource's labels into the `labels` table that selectors query. */
  #putLabels(guid: string, labels: Record<string, string> | undefined, replace: boolean): void {
    if (replace) this.#sql('DELETE FROM labels WHERE resource_guid = ?').run(guid);
    const insert = this.#sql('INSERT INTO labels (resource_guid, key, value) VALUES (?, ?, ?)');
    for (const [key, value] of Object.entries(labels ?? {})) insert.run(guid, key, value);
  }

  #list<R, T>(
    table: string,
    columns: string,
    where: Where,
    query: ListQuery,
    fields: Record<string, readonly string[]>,
    map: (row: R) => T,
  ): Page<T> {
    return this.#run.list(table, columns, where, query, fields, map);
  }
}

interface Named {
  guid: string;
  name: string;
}

const USER_ORDER: Record<string, readonly string[]> = { ...TIMES, username: ['t.username_key', 't.username'] };
const BUILDPACK_ORDER: Record<string, readonly string[]> = { ...TIMES, name: ['t.name'], position: ['t.position'] };

function conflict(message: string, field: string): SlipwayError {
  return new SlipwayError('CONFLICT', message, { detail: { field } });
}

function notFound(message: string, field: string): SlipwayError {
  return new SlipwayError('NOT_FOUND', message, { detail: { field } });
}

function invalid(message: string, field: string): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', message, { detail: { field } });
}

function slugTaken(kind: 'Organization' | 'Space' | 'App', name: string, slug: string, other: string): SlipwayError {
  return conflict(
    `${kind} name '${name}' gives the registry name '${slug}', which '${other}' has: choose another name`,
    'slug',
  );
}
