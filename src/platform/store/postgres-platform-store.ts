import type pg from 'pg';
import { SlipwayError } from '../../errors.js';
import { LOCK_CLASS } from '../../store/postgres-schema.js';
import { openPostgres } from '../../store/pg-resilience.js';
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
import { migratePostgresPlatform, PlatformLockKey } from './postgres-platform-schema.js';
import { PgBuildpackPositions } from './postgres-buildpack-positions.js';
import { PgRunner, type Sql } from './postgres-runner.js';
import { checkAssignablePg, PostgresWorkloadStore } from './postgres-workload-store.js';
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
import type { WorkloadStore } from './workload-store.js';

export interface PostgresPlatformOptions {
  /** Connections kept open (pg.Pool `max`). Default 10. */
  maxConnections?: number;
}

const INVALID_USER = 'Invalid user. Ensure that the user exists and you have access to it.';
const INVALID_ORG = 'Invalid organization. Ensure that the organization exists and you have access to it.';
const INVALID_SPACE = 'Invalid space. Ensure that the space exists and you have access to it.';

/**
 * The scale-out PlatformStore: the platform's tables in PostgreSQL (node-postgres
 * pool), shared by every `slipway serve` node and build worker on the database. The
 * same semantics, errors and SQL filters as SqlitePlatformStore; where SQLite's
 * BEGIN IMMEDIATE keeps a check and its write together, a write here is one
 * SERIALIZABLE transaction, retried whole when PostgreSQL aborts it for a concurrent
 * one (so two nodes creating the same name at once give one CONFLICT); buildpack
 * writes, which shift positions as a block, take an advisory lock instead. Lists are
 * single queries filtered by the caller's Visibility, each page with its total from
 * one snapshot. Migrations run at open, under the migration lock.
 *
 * @example
 * const store = await PostgresPlatformStore.open('postgres://slipway@db/slipway');
 * const page = await store.listApps({ page: 1, perPage: 50, orderBy: 'name' }, {}, perms.spaceVisibility());
 */
export class PostgresPlatformStore implements PlatformStore {
  readonly #pool: pg.Pool;
  readonly #run: PgRunner;
  /** The workload's store (packages, builds, droplets, processes, routes, ...): the same database and pool. */
  readonly workloads: WorkloadStore;
  #closed = false;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
    this.#run = new PgRunner(pool);
    this.workloads = new PostgresWorkloadStore(this.#run);
  }

  /** Connects and applies the platform's migrations (under the migration lock). */
  static async open(url: string, options: PostgresPlatformOptions = {}): Promise<PostgresPlatformStore> {
    // One-statement reads ride out a lost connection; transactions retry themselves (postgres-runner.ts).
    const pool = await openPostgres(url, {
      what: 'platform store',
      max: options.maxConnections ?? 10,
      migrate: migratePostgresPlatform,
    });
    return new PostgresPlatformStore(pool);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  // users

  async createUser(user: User, credentials: Omit<UserCredentials, 'userGuid'>): Promise<User> {
    return this.#write(async (c) => {
      const taken = await c.exists('SELECT 1 FROM users WHERE origin = ? AND username_key = ?', [
        user.origin,
        nameKey(user.username),
      ]);
      if (taken) throw conflict(`Username '${user.username}' is taken.`, 'username');
      const m = metadataColumns(user.metadata);
      await c.run(
        `INSERT INTO users (guid, username, username_key, origin, global_roles, labels, annotations, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          user.guid,
          user.username,
          nameKey(user.username),
          user.origin,
          JSON.stringify(user.globalRoles ?? []),
          m.labels,
          m.annotations,
          user.createdAt,
          user.updatedAt,
        ],
      );
      await c.run('INSERT INTO user_credentials (user_guid, password_hash) VALUES (?, ?)', [
        user.guid,
        credentials.passwordHash ?? null,
      ]);
      await putLabels(c, user.guid, user.metadata?.labels, false);
      return (await this.#run.get<UserRow, User>('users', USER_COLUMNS, user.guid, toUser, c))!;
    });
  }

  async getUser(guid: string): Promise<User | undefined> {
    return this.#run.get<UserRow, User>('users', USER_COLUMNS, guid, toUser);
  }

  async findUser(username: string, origin?: string): Promise<User | undefined> {
    const row =
      origin === undefined
        ? await this.#run.sql.one<UserRow>(
            `SELECT ${USER_COLUMNS} FROM users t WHERE t.username_key = ? ORDER BY t.created_at, t.id LIMIT 1`,
            [nameKey(username)],
          )
        : await this.#run.sql.one<UserRow>(
            `SELECT ${USER_COLUMNS} FROM users t WHERE t.origin = ? AND t.username_key = ?`,
            [origin, nameKey(username)],
          );
    return row && toUser(row);
  }

  async credentials(userGuid: string): Promise<UserCredentials | undefined> {
    const row = await this.#run.sql.one<{ password_hash: string | null }>(
      'SELECT password_hash FROM user_credentials WHERE user_guid = ?',
      [userGuid],
    );
    if (row === undefined) return undefined;
    return row.password_hash === null ? { userGuid } : { userGuid, passwordHash: row.password_hash };
  }

  async setPasswordHash(userGuid: string, passwordHash: string): Promise<void> {
    await this.#write(async (c) => {
      if (!(await exists(c, 'users', userGuid))) throw notFound(INVALID_USER, 'user');
      await c.run(
        `INSERT INTO user_credentials (user_guid, password_hash) VALUES (?, ?)
         ON CONFLICT (user_guid) DO UPDATE SET password_hash = excluded.password_hash`,
        [userGuid, passwordHash],
      );
    });
  }

  async updateUser(
    guid: string,
    patch: { globalRoles?: User['globalRoles']; metadata?: Metadata },
  ): Promise<User | undefined> {
    return this.#write(async (c) => {
      const row = await this.#run.get<UserRow, User>('users', USER_COLUMNS, guid, toUser, c);
      if (row === undefined) return undefined;
      const m = metadataColumns(patch.metadata ?? row.metadata);
      await c.run('UPDATE users SET global_roles = ?, labels = ?, annotations = ?, updated_at = ? WHERE guid = ?', [
        JSON.stringify(patch.globalRoles ?? row.globalRoles),
        m.labels,
        m.annotations,
        now(),
        guid,
      ]);
      if (patch.metadata) await putLabels(c, guid, patch.metadata.labels, true);
      return this.#run.get<UserRow, User>('users', USER_COLUMNS, guid, toUser, c);
    });
  }

  async deleteUser(guid: string): Promise<boolean> {
    return (await this.#write((c) => c.run('DELETE FROM users WHERE guid = ?', [guid]))) > 0;
  }

  async listUsers(query: ListQuery, filter: UserFilter, visibility: Visibility): Promise<Page<User>> {
    const where = new Where()
      .common(filter, visibility)
      .in('t.origin', filter.origins)
      .add(userRule(visibility, 't.guid'));
    // The key narrows through the index; the exact column keeps CF's exact match.
    if (filter.usernames)
      where.add(inList('t.username_key', filter.usernames.map(nameKey))).in('t.username', filter.usernames);
    return this.#run.list<UserRow, User>('users', USER_COLUMNS, where, query, USER_ORDER, toUser);
  }

  async countUsers(): Promise<number> {
    return (await this.#run.sql.value<number>('SELECT COUNT(*)::int FROM users')) ?? 0;
  }

  // organizations

  async createOrg(org: Organization): Promise<Organization> {
    return this.#write(async (c) => {
      await checkOrgName(c, org.name);
      await checkOrgSlug(c, org.name, org.slug);
      const m = metadataColumns(org.metadata);
      await c.run(
        `INSERT INTO orgs (guid, name, name_key, slug, suspended, labels, annotations, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          org.guid,
          org.name,
          nameKey(org.name),
          org.slug,
          org.suspended ? 1 : 0,
          m.labels,
          m.annotations,
          org.createdAt,
          org.updatedAt,
        ],
      );
      await putLabels(c, org.guid, org.metadata?.labels, false);
      return (await this.#run.get<OrgRow, Organization>('orgs', ORG_COLUMNS, org.guid, toOrg, c))!;
    });
  }

  async getOrg(guid: string): Promise<Organization | undefined> {
    return this.#run.get<OrgRow, Organization>('orgs', ORG_COLUMNS, guid, toOrg);
  }

  async findOrgBySlug(slug: string): Promise<Organization | undefined> {
    const row = await this.#run.sql.one<OrgRow>(`SELECT ${ORG_COLUMNS} FROM orgs t WHERE t.slug = ?`, [slug]);
    return row && toOrg(row);
  }

  async updateOrg(
    guid: string,
    patch: { name?: string; slug?: string; suspended?: boolean; metadata?: Metadata },
  ): Promise<Organization | undefined> {
    return this.#write(async (c) => {
      const org = await this.#run.get<OrgRow, Organization>('orgs', ORG_COLUMNS, guid, toOrg, c);
      if (org === undefined) return undefined;
      const name = patch.name ?? org.name;
      const slug = patch.slug ?? org.slug;
      if (patch.name !== undefined) await checkOrgName(c, name, guid);
      if (patch.slug !== undefined) await checkOrgSlug(c, name, slug, guid);
      const m = metadataColumns(patch.metadata ?? org.metadata);
      await c.run(
        `UPDATE orgs SET name = ?, name_key = ?, slug = ?, suspended = ?, labels = ?, annotations = ?, updated_at = ?
         WHERE guid = ?`,
        [name, nameKey(name), slug, (patch.suspended ?? org.suspended) ? 1 : 0, m.labels, m.annotations, now(), guid],
      );
      if (patch.metadata) await putLabels(c, guid, patch.metadata.labels, true);
      return this.#run.get<OrgRow, Organization>('orgs', ORG_COLUMNS, guid, toOrg, c);
    });
  }

  async deleteOrg(guid: string): Promise<{ deleted: boolean; apps: App[] }> {
    return this.#write(async (c) => {
      const apps = await this.#run.all<AppRow, App>(
        `SELECT ${APP_COLUMNS} FROM apps t WHERE t.org_guid = ? ORDER BY t.created_at, t.id`,
        [guid],
        toApp,
        c,
      );
      // Spaces, apps, roles and API tokens go by ON DELETE CASCADE, labels by trigger.
      const deleted = (await c.run('DELETE FROM orgs WHERE guid = ?', [guid])) > 0;
      return { deleted, apps: deleted ? apps : [] };
    });
  }

  async listOrgs(query: ListQuery, filter: OrgFilter, visibility: Visibility): Promise<Page<Organization>> {
    const where = new Where().common(filter, visibility).in('t.name', filter.names).add(orgRule(visibility, 't.guid'));
    return this.#run.list<OrgRow, Organization>('orgs', ORG_COLUMNS, where, query, NAMED, toOrg);
  }

  // spaces

  async createSpace(space: Space): Promise<Space> {
    return this.#write(async (c) => {
      if (!(await exists(c, 'orgs', space.orgGuid))) throw notFound(INVALID_ORG, 'organization');
      await checkSpaceName(c, space.orgGuid, space.name);
      await checkSpaceSlug(c, space.orgGuid, space.name, space.slug);
      const m = metadataColumns(space.metadata);
      await c.run(
        `INSERT INTO spaces (guid, org_guid, name, name_key, slug, labels, annotations, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          space.guid,
          space.orgGuid,
          space.name,
          nameKey(space.name),
          space.slug,
          m.labels,
          m.annotations,
          space.createdAt,
          space.updatedAt,
        ],
      );
      await putLabels(c, space.guid, space.metadata?.labels, false);
      return (await this.#run.get<SpaceRow, Space>('spaces', SPACE_COLUMNS, space.guid, toSpace, c))!;
    });
  }

  async getSpace(guid: string): Promise<Space | undefined> {
    return this.#run.get<SpaceRow, Space>('spaces', SPACE_COLUMNS, guid, toSpace);
  }

  async findSpaceBySlug(orgGuid: string, slug: string): Promise<Space | undefined> {
    const row = await this.#run.sql.one<SpaceRow>(
      `SELECT ${SPACE_COLUMNS} FROM spaces t WHERE t.org_guid = ? AND t.slug = ?`,
      [orgGuid, slug],
    );
    return row && toSpace(row);
  }

  async updateSpace(
    guid: string,
    patch: { name?: string; slug?: string; metadata?: Metadata },
  ): Promise<Space | undefined> {
    return this.#write(async (c) => {
      const space = await this.#run.get<SpaceRow, Space>('spaces', SPACE_COLUMNS, guid, toSpace, c);
      if (space === undefined) return undefined;
      const name = patch.name ?? space.name;
      const slug = patch.slug ?? space.slug;
      if (patch.name !== undefined) await checkSpaceName(c, space.orgGuid, name, guid);
      if (patch.slug !== undefined) await checkSpaceSlug(c, space.orgGuid, name, slug, guid);
      const m = metadataColumns(patch.metadata ?? space.metadata);
      await c.run(
        'UPDATE spaces SET name = ?, name_key = ?, slug = ?, labels = ?, annotations = ?, updated_at = ? WHERE guid = ?',
        [name, nameKey(name), slug, m.labels, m.annotations, now(), guid],
      );
      if (patch.metadata) await putLabels(c, guid, patch.metadata.labels, true);
      return this.#run.get<SpaceRow, Space>('spaces', SPACE_COLUMNS, guid, toSpace, c);
    });
  }

  async deleteSpace(guid: string): Promise<{ deleted: boolean; apps: App[] }> {
    return this.#write(async (c) => {
      const apps = await this.#run.all<AppRow, App>(
        `SELECT ${APP_COLUMNS} FROM apps t WHERE t.space_guid = ? ORDER BY t.created_at, t.id`,
        [guid],
        toApp,
        c,
      );
      const deleted = (await c.run('DELETE FROM spaces WHERE guid = ?', [guid])) > 0;
      return { deleted, apps: deleted ? apps : [] };
    });
  }

  async listSpaces(query: ListQuery, filter: SpaceFilter, visibility: Visibility): Promise<Page<Space>> {
    const where = new Where()
      .common(filter, visibility)
      .in('t.name', filter.names)
      .in('t.org_guid', filter.organizationGuids)
      .add(spaceRule(visibility, 't.guid', 't.org_guid'));
    return this.#run.list<SpaceRow, Space>('spaces', SPACE_COLUMNS, where, query, NAMED, toSpace);
  }

  // roles

  async createRole(role: Role): Promise<Role> {
    return this.#write(async (c) => {
      if (!isRoleType(role.type)) throw invalid(`Role type '${role.type}' is invalid.`, 'type');
      const username = await c.value<string>('SELECT username FROM users WHERE guid = ?', [role.userGuid]);
      if (username === undefined) throw notFound(INVALID_USER, 'user');
      let orgGuid: string;
      let spaceGuid: string | null = null;
      if (isSpaceRole(role.type)) {
        if (role.spaceGuid === undefined) throw invalid(`A '${role.type}' role needs a space.`, 'space');
        const space = await c.one<{ org_guid: string; name: string }>(
          'SELECT org_guid, name FROM spaces WHERE guid = ?',
          [role.spaceGuid],
        );
        if (space === undefined) throw notFound(INVALID_SPACE, 'space');
        orgGuid = space.org_guid;
        spaceGuid = role.spaceGuid;
        const member = await c.exists(
          'SELECT 1 FROM roles WHERE org_guid = ? AND user_guid = ? AND space_guid IS NULL',
          [orgGuid, role.userGuid],
        );
        if (!member) {
          throw invalid(
            "Users cannot be assigned roles in a space if they do not have a role in that space's organization.",
            'role',
          );
        }
        const twice = await c.exists('SELECT 1 FROM roles WHERE user_guid = ? AND space_guid = ? AND type = ?', [
          role.userGuid,
          spaceGuid,
          role.type,
        ]);
        if (twice) {
          throw conflict(`User '${username}' already has '${role.type}' role in space '${space.name}'.`, 'role');
        }
      } else {
        if (role.spaceGuid !== undefined) {
          throw invalid(`A '${role.type}' role is held in an organization, not a space.`, 'space');
        }
        if (role.orgGuid === undefined) throw invalid(`A '${role.type}' role needs an organization.`, 'organization');
        orgGuid = role.orgGuid;
        const org = await c.value<string>('SELECT name FROM orgs WHERE guid = ?', [orgGuid]);
        if (org === undefined) throw notFound(INVALID_ORG, 'organization');
        const twice = await c.exists(
          'SELECT 1 FROM roles WHERE user_guid = ? AND org_guid = ? AND type = ? AND space_guid IS NULL',
          [role.userGuid, orgGuid, role.type],
        );
        if (twice) {
          throw conflict(`User '${username}' already has '${role.type}' role in organization '${org}'.`, 'role');
        }
      }
      const m = metadataColumns(role.metadata);
      await c.run(
        `INSERT INTO roles (guid, type, user_guid, org_guid, space_guid, labels, annotations, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          role.guid,
          role.type,
          role.userGuid,
          orgGuid,
          spaceGuid,
          m.labels,
          m.annotations,
          role.createdAt,
          role.updatedAt,
        ],
      );
      await putLabels(c, role.guid, role.metadata?.labels, false);
      return (await this.#run.get<RoleRow, Role>('roles', ROLE_COLUMNS, role.guid, toRole, c))!;
    });
  }

  async getRole(guid: string): Promise<Role | undefined> {
    return this.#run.get<RoleRow, Role>('roles', ROLE_COLUMNS, guid, toRole);
  }

  async deleteRole(guid: string): Promise<boolean> {
    return this.#write(async (c) => {
      const role = await c.one<{ user_guid: string; org_guid: string; space_guid: string | null }>(
        'SELECT user_guid, org_guid, space_guid FROM roles WHERE guid = ?',
        [guid],
      );
      if (role === undefined) return false;
      if (role.space_guid === null) {
        const inOrg = 'SELECT 1 FROM roles WHERE org_guid = ? AND user_guid = ?';
        const needed = await c.exists(`${inOrg} AND space_guid IS NOT NULL LIMIT 1`, [role.org_guid, role.user_guid]);
        const another = await c.exists(`${inOrg} AND space_guid IS NULL AND guid <> ? LIMIT 1`, [
          role.org_guid,
          role.user_guid,
          guid,
        ]);
        if (needed && !another) {
          throw invalid(
            'Cannot remove the organization role of a user who has space roles in it; remove those first.',
            'role',
          );
        }
      }
      return (await c.run('DELETE FROM roles WHERE guid = ?', [guid])) > 0;
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
    return this.#run.list<RoleRow, Role>('roles', ROLE_COLUMNS, where, query, TIMES, toRole);
  }

  async rolesOf(userGuid: string): Promise<Role[]> {
    return this.#run.all<RoleRow, Role>(
      `SELECT ${ROLE_COLUMNS} FROM roles t WHERE t.user_guid = ? ORDER BY t.created_at, t.id`,
      [userGuid],
      toRole,
    );
  }

  // apps

  async createApp(app: App): Promise<App> {
    return this.#write(async (c) => {
      const orgGuid = await c.value<string>('SELECT org_guid FROM spaces WHERE guid = ?', [app.spaceGuid]);
      if (orgGuid === undefined) throw notFound(INVALID_SPACE, 'space');
      await checkAppName(c, app.spaceGuid, app.name);
      await checkAppSlug(c, app.spaceGuid, app.name, app.slug);
      // A droplet belongs to an app that exists: a new app has none to run yet.
      if (app.currentDropletGuid !== undefined) await checkAssignablePg(c, app.guid, app.currentDropletGuid);
      const m = metadataColumns(app.metadata);
      await c.run(
        `INSERT INTO apps (guid, space_guid, org_guid, name, name_key, slug, state, lifecycle_type, stack, lifecycle,
           environment_variables, auto_rebase, labels, annotations, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
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
        ],
      );
      await putLabels(c, app.guid, app.metadata?.labels, false);
      return (await this.#run.get<AppRow, App>('apps', APP_COLUMNS, app.guid, toApp, c))!;
    });
  }

  async getApp(guid: string): Promise<App | undefined> {
    return this.#run.get<AppRow, App>('apps', APP_COLUMNS, guid, toApp);
  }

  async findAppBySlug(spaceGuid: string, slug: string): Promise<App | undefined> {
    const row = await this.#run.sql.one<AppRow>(
      `SELECT ${APP_COLUMNS} FROM apps t WHERE t.space_guid = ? AND t.slug = ?`,
      [spaceGuid, slug],
    );
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
    return this.#write(async (c) => {
      const app = await this.#run.get<AppRow, App>('apps', APP_COLUMNS, guid, toApp, c);
      if (app === undefined) return undefined;
      const name = patch.name ?? app.name;
      const slug = patch.slug ?? app.slug;
      if (patch.name !== undefined) await checkAppName(c, app.spaceGuid, name, guid);
      if (patch.slug !== undefined) await checkAppSlug(c, app.spaceGuid, name, slug, guid);
      const lifecycle = patch.lifecycle ?? app.lifecycle;
      if (patch.currentDropletGuid !== undefined) await checkAssignablePg(c, guid, patch.currentDropletGuid);
      const m = metadataColumns(patch.metadata ?? app.metadata);
      await c.run(
        `UPDATE apps SET name = ?, name_key = ?, slug = ?, state = ?, lifecycle_type = ?, stack = ?, lifecycle = ?,
           environment_variables = ?, current_droplet_guid = ?, auto_rebase = ?, labels = ?, annotations = ?,
           updated_at = ?
         WHERE guid = ?`,
        [
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
        ],
      );
      if (patch.metadata) await putLabels(c, guid, patch.metadata.labels, true);
      return this.#run.get<AppRow, App>('apps', APP_COLUMNS, guid, toApp, c);
    });
  }

  async deleteApp(guid: string): Promise<boolean> {
    return (await this.#write((c) => c.run('DELETE FROM apps WHERE guid = ?', [guid]))) > 0;
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
    return this.#run.list<AppRow, App>('apps', APP_COLUMNS, where, query, NAMED, toApp);
  }

  // buildpacks

  async createBuildpack(buildpack: Buildpack): Promise<Buildpack> {
    return this.#buildpackWrite(async (c) => {
      await checkBuildpackName(c, buildpack.name, buildpack.stack);
      const position = await new PgBuildpackPositions(c).openAt(buildpack.position);
      const m = metadataColumns(buildpack.metadata);
      await c.run(
        `INSERT INTO buildpacks (guid, name, stack, position, enabled, locked, state, filename, lifecycle, labels,
           annotations, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
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
        ],
      );
      await putLabels(c, buildpack.guid, buildpack.metadata?.labels, false);
      return (await this.#run.get<BuildpackRow, Buildpack>(
        'buildpacks',
        BUILDPACK_COLUMNS,
        buildpack.guid,
        toBuildpack,
        c,
      ))!;
    });
  }

  async getBuildpack(guid: string): Promise<Buildpack | undefined> {
    return this.#run.get<BuildpackRow, Buildpack>('buildpacks', BUILDPACK_COLUMNS, guid, toBuildpack);
  }

  async updateBuildpack(
    guid: string,
    patch: Partial<
      Pick<Buildpack, 'name' | 'stack' | 'position' | 'enabled' | 'locked' | 'state' | 'filename' | 'metadata'>
    >,
  ): Promise<Buildpack | undefined> {
    return this.#buildpackWrite(async (c) => {
      const bp = await this.#run.get<BuildpackRow, Buildpack>('buildpacks', BUILDPACK_COLUMNS, guid, toBuildpack, c);
      if (bp === undefined) return undefined;
      const name = patch.name ?? bp.name;
      const stack = patch.stack !== undefined ? patch.stack : bp.stack;
      if (patch.name !== undefined || patch.stack !== undefined) await checkBuildpackName(c, name, stack, guid);
      if (patch.position !== undefined) await new PgBuildpackPositions(c).move(guid, bp.position, patch.position);
      const m = metadataColumns(patch.metadata ?? bp.metadata);
      await c.run(
        `UPDATE buildpacks SET name = ?, stack = ?, enabled = ?, locked = ?, state = ?, filename = ?, labels = ?,
           annotations = ?, updated_at = ?
         WHERE guid = ?`,
        [
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
        ],
      );
      if (patch.metadata) await putLabels(c, guid, patch.metadata.labels, true);
      return this.#run.get<BuildpackRow, Buildpack>('buildpacks', BUILDPACK_COLUMNS, guid, toBuildpack, c);
    });
  }

  async deleteBuildpack(guid: string): Promise<boolean> {
    return this.#buildpackWrite(async (c) => {
      const position = await c.value<number>('SELECT position FROM buildpacks WHERE guid = ?', [guid]);
      if (position === undefined) return false;
      await c.run('DELETE FROM buildpacks WHERE guid = ?', [guid]);
      await new PgBuildpackPositions(c).closeAt(position);
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
    return this.#run.list<BuildpackRow, Buildpack>(
      'buildpacks',
      BUILDPACK_COLUMNS,
      where,
      query,
      BUILDPACK_ORDER,
      toBuildpack,
    );
  }

  // audit events

  async recordEvent(event: AuditEvent): Promise<void> {
    await this.#write(async (c) => {
      // A space's event carries the space's org, so org managers see it by the space rule after the space is gone.
      const orgGuid =
        event.orgGuid ??
        (event.spaceGuid === undefined
          ? undefined
          : await c.value<string>('SELECT org_guid FROM spaces WHERE guid = ?', [event.spaceGuid]));
      await c.run(
        `INSERT INTO audit_events (guid, type, actor_guid, actor_type, actor_name, target_guid, target_type, target_name,
           data, space_guid, org_guid, request_id, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
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
        ],
      );
    }, 'READ COMMITTED');
  }

  async getEvent(guid: string): Promise<AuditEvent | undefined> {
    return this.#run.get<EventRow, AuditEvent>('audit_events', EVENT_COLUMNS, guid, toEvent);
  }

  async listEvents(query: ListQuery, filter: EventFilter, visibility: Visibility): Promise<Page<AuditEvent>> {
    const where = new Where()
      .common(filter, visibility)
      .in('t.type', filter.types)
      .in('t.target_guid', filter.targetGuids)
      .in('t.space_guid', filter.spaceGuids)
      .in('t.org_guid', filter.organizationGuids)
      .add(eventRule(visibility));
    return this.#run.list<EventRow, AuditEvent>('audit_events', EVENT_COLUMNS, where, query, TIMES, toEvent);
  }

  // tokens

  async createApiToken(token: ApiToken): Promise<ApiToken> {
    return this.#write(async (c) => {
      if (!(await exists(c, 'users', token.userGuid))) throw notFound(INVALID_USER, 'user');
      if (!(await exists(c, 'spaces', token.spaceGuid))) throw notFound(INVALID_SPACE, 'space');
      await c.run(
        `INSERT INTO api_tokens (guid, name, user_guid, space_guid, secret_hash, created_at, last_used_at, revoked_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          token.guid,
          token.name,
          token.userGuid,
          token.spaceGuid,
          token.secretHash,
          token.createdAt,
          token.lastUsedAt ?? null,
          token.revokedAt ?? null,
        ],
      );
      return (await this.#run.get<ApiTokenRow, ApiToken>('api_tokens', API_TOKEN_COLUMNS, token.guid, toApiToken, c))!;
    });
  }

  async getApiToken(guid: string): Promise<ApiToken | undefined> {
    return this.#run.get<ApiTokenRow, ApiToken>('api_tokens', API_TOKEN_COLUMNS, guid, toApiToken);
  }

  async listApiTokens(userGuid: string): Promise<ApiToken[]> {
    return this.#run.all<ApiTokenRow, ApiToken>(
      `SELECT ${API_TOKEN_COLUMNS} FROM api_tokens t WHERE t.user_guid = ? ORDER BY t.created_at, t.id`,
      [userGuid],
      toApiToken,
    );
  }

  /** True when this call revoked it (false when unknown or revoked before: the first revocation time stays). */
  async revokeApiToken(guid: string, at: string): Promise<boolean> {
    // One UPDATE: of two at once, the second waits for the first's row and then finds it revoked.
    return (
      (await this.#run.sql.run('UPDATE api_tokens SET revoked_at = ? WHERE guid = ? AND revoked_at IS NULL', [
        at,
        guid,
      ])) > 0
    );
  }

  async touchApiToken(guid: string, at: string): Promise<void> {
    await this.#run.sql.run('UPDATE api_tokens SET last_used_at = ? WHERE guid = ?', [at, guid]);
  }

  async createRefreshToken(token: RefreshToken): Promise<void> {
    await this.#write(async (c) => {
      if (!(await exists(c, 'users', token.userGuid))) throw notFound(INVALID_USER, 'user');
      await c.run(
        `INSERT INTO refresh_tokens (guid, user_guid, secret_hash, created_at, expires_at, revoked_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
        [token.guid, token.userGuid, token.secretHash, token.createdAt, token.expiresAt, token.revokedAt ?? null],
      );
    });
  }

  async getRefreshToken(guid: string): Promise<RefreshToken | undefined> {
    return this.#run.get<RefreshTokenRow, RefreshToken>('refresh_tokens', REFRESH_TOKEN_COLUMNS, guid, toRefreshToken);
  }

  /** True when this call revoked it: of two rotations of one refresh token at once, one wins. */
  async revokeRefreshToken(guid: string, at: string): Promise<boolean> {
    return (
      (await this.#run.sql.run('UPDATE refresh_tokens SET revoked_at = ? WHERE guid = ? AND revoked_at IS NULL', [
        at,
        guid,
      ])) > 0
    );
  }

  async revokeRefreshTokensOf(userGuid: string, at: string): Promise<number> {
    return this.#run.sql.run('UPDATE refresh_tokens SET revoked_at = ? WHERE user_guid = ? AND revoked_at IS NULL', [
      at,
      userGuid,
    ]);
  }

  // jobs

  async createJob(job: Job): Promise<Job> {
    return this.#write(async (c) => {
      await c.run(
        `INSERT INTO jobs (guid, operation, state, errors, warnings, resource_guid, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          job.guid,
          job.operation,
          job.state,
          JSON.stringify(job.errors ?? []),
          JSON.stringify(job.warnings ?? []),
          job.resourceGuid ?? null,
          job.createdAt,
          job.updatedAt,
        ],
      );
      return (await this.#run.get<JobRow, Job>('jobs', JOB_COLUMNS, job.guid, toJob, c))!;
    }, 'READ COMMITTED');
  }

  async getJob(guid: string): Promise<Job | undefined> {
    return this.#run.get<JobRow, Job>('jobs', JOB_COLUMNS, guid, toJob);
  }

  async updateJob(guid: string, patch: Partial<Pick<Job, 'state' | 'errors' | 'warnings'>>): Promise<Job | undefined> {
    return this.#write(async (c) => {
      const job = await this.#run.get<JobRow, Job>('jobs', JOB_COLUMNS, guid, toJob, c);
      if (job === undefined) return undefined;
      await c.run('UPDATE jobs SET state = ?, errors = ?, warnings = ?, updated_at = ? WHERE guid = ?', [
        patch.state ?? job.state,
        JSON.stringify(patch.errors ?? job.errors),
        JSON.stringify(patch.warnings ?? job.warnings),
        now(),
        guid,
      ]);
      return this.#run.get<JobRow, Job>('jobs', JOB_COLUMNS, guid, toJob, c);
    });
  }

  async unfinishedJobs(): Promise<Job[]> {
    return this.#run.all<JobRow, Job>(
      `SELECT ${JOB_COLUMNS} FROM jobs t WHERE t.state = 'PROCESSING' ORDER BY t.created_at, t.id`,
      [],
      toJob,
    );
  }

  // shared settings

  /**
   * The value stored under `name`, or `create()`'s, stored now when there is none: one
   * READ COMMITTED transaction, each statement with a fresh snapshot. The INSERT's ON
   * CONFLICT waits for a concurrent first writer's commit and then keeps its row; the
   * SELECT after it reads the winner's value.
   */
  async sharedSetting(name: string, create: () => string): Promise<string> {
    checkSettingName(name);
    return this.#write(async (c) => {
      const read = () => c.value<string>('SELECT value FROM settings WHERE name = ?', [name]);
      const stored = await read();
      if (stored !== undefined) return stored;
      await c.run('INSERT INTO settings (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING', [
        name,
        create(),
        now(),
      ]);
      return (await read())!;
    }, 'READ COMMITTED');
  }

  // the machinery

  #write<T>(fn: (c: Sql) => Promise<T>, isolation?: 'SERIALIZABLE' | 'READ COMMITTED'): Promise<T> {
    return this.#run.write(fn, isolation);
  }

  /**
   * A buildpack write: READ COMMITTED under the buildpacks' advisory lock, taken first,
   * so each statement after it sees every earlier writer's shifted positions.
   */
  #buildpackWrite<T>(fn: (c: Sql) => Promise<T>): Promise<T> {
    return this.#run.write(async (c) => {
      await c.run('SELECT pg_advisory_xact_lock(?, ?)', [LOCK_CLASS, PlatformLockKey.buildpacks]);
      return fn(c);
    }, 'READ COMMITTED');
  }
}

async function exists(c: Sql, table: 'users' | 'orgs' | 'spaces', guid: string): Promise<boolean> {
  return c.exists(`SELECT 1 FROM ${table} WHERE guid = ?`, [guid]);
}

/** A resource's labels into the `labels` table that selectors query, in one statement. */
async function putLabels(
  c: Sql,
  guid: string,
  labels: Record<string, string> | undefined,
  replace: boolean,
): Promise<void> {
  if (replace) await c.run('DELETE FROM labels WHERE resource_guid = ?', [guid]);
  const entries = Object.entries(labels ?? {});
  if (entries.length === 0) return;
  await c.run(
    'INSERT INTO labels (resource_guid, key, value) SELECT ?, k, v FROM unnest(?::text[], ?::text[]) AS l (k, v)',
    [guid, entries.map(([k]) => k), entries.map(([, v]) => v)],
  );
}

interface Named {
  guid: string;
  name: string;
}

async function checkOrgName(c: Sql, name: string, self?: string): Promise<void> {
  const other = await c.value<string>('SELECT guid FROM orgs WHERE name_key = ?', [nameKey(name)]);
  if (other !== undefined && other !== self) throw conflict(`Organization '${name}' already exists.`, 'name');
}

async function checkOrgSlug(c: Sql, name: string, slug: string, self?: string): Promise<void> {
  const other = await c.one<Named>('SELECT guid, name FROM orgs WHERE slug = ?', [slug]);
  if (other !== undefined && other.guid !== self) throw slugTaken('Organization', name, slug, other.name);
}

async function checkSpaceName(c: Sql, orgGuid: string, name: string, self?: string): Promise<void> {
  const other = await c.value<string>('SELECT guid FROM spaces WHERE org_guid = ? AND name_key = ?', [
    orgGuid,
    nameKey(name),
  ]);
  if (other !== undefined && other !== self) throw conflict('Name must be unique per organization', 'name');
}

async function checkSpaceSlug(c: Sql, orgGuid: string, name: string, slug: string, self?: string): Promise<void> {
  const other = await c.one<Named>('SELECT guid, name FROM spaces WHERE org_guid = ? AND slug = ?', [orgGuid, slug]);
  if (other !== undefined && other.guid !== self) throw slugTaken('Space', name, slug, other.name);
}

async function checkAppName(c: Sql, spaceGuid: string, name: string, self?: string): Promise<void> {
  const other = await c.value<string>('SELECT guid FROM apps WHERE space_guid = ? AND name_key = ?', [
    spaceGuid,
    nameKey(name),
  ]);
  if (other !== undefined && other !== self) throw conflict(`App with the name '${name}' already exists.`, 'name');
}

async function checkAppSlug(c: Sql, spaceGuid: string, name: string, slug: string, self?: string): Promise<void> {
  const other = await c.one<Named>('SELECT guid, name FROM apps WHERE space_guid = ? AND slug = ?', [spaceGuid, slug]);
  if (other !== undefined && other.guid !== self) throw slugTaken('App', name, slug, other.name);
}

async function checkBuildpackName(c: Sql, name: string, stack: string | null, self?: string): Promise<void> {
  const other = await c.value<string>(
    "SELECT guid FROM buildpacks WHERE name = ? AND COALESCE(stack, '') = COALESCE(?::text, '')",
    [name, stack],
  );
  if (other === undefined || other === self) return;
  throw conflict(
    stack === null
      ? `Buildpack with name '${name}' and an unassigned stack already exists.`
      : `Buildpack with name '${name}' and stack '${stack}' already exists.`,
    'name',
  );
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
