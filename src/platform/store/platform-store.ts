import type {
  ApiToken,
  App,
  AuditEvent,
  Buildpack,
  Job,
  Metadata,
  Organization,
  RefreshToken,
  Role,
  Space,
  User,
  UserCredentials,
} from '../model.js';
import type { OrgRoleType, RoleType, SpaceRoleType } from '../roles.js';

/**
 * Where the platform keeps its state: users, orgs, spaces, roles, apps, buildpacks,
 * audit events, tokens and jobs. The embedded default is SQLite (in $SLIPWAY_HOME);
 * the scale-out one is PostgreSQL; one contract test suite runs against both.
 *
 * Every method is one atomic step (a transaction where the engine has them): the
 * rules that must hold across rows (a space role needs an org role, names unique,
 * deleting an org takes everything in it) are kept by the store, so two requests at
 * once cannot break them. Authorization is not the store's: the policy module
 * (src/platform/policy.ts) decides, and hands lists a `Visibility` that the store
 * turns into SQL, so a list is filtered in the query, never loaded and filtered.
 *
 * Errors are SlipwayErrors whose messages are Cloud Controller's own texts (the v3
 * API passes them on as the `detail`, and the cf CLI matches some of them):
 * - CONFLICT, a name taken: "Organization 'NAME' already exists.", "Name must be
 *   unique per organization" (spaces), "App with the name 'NAME' already exists."
 *   (apps, in the space), "Buildpack with name 'NAME' and stack 'STACK' already
 *   exists.", "User 'USERNAME' already has 'TYPE' role in organization 'ORG'." (or
 *   "in space 'SPACE'."), "Username 'NAME' is taken." (users, same origin); a slug
 *   taken by another name: "Organization name 'NAME' gives the registry name 'SLUG',
 *   which 'OTHER' has: choose another name" (and likewise for spaces and apps).
 *   `detail.field` names the field (name, slug, role).
 * - NOT_FOUND, a parent missing (a space's org, a role's user, space or org).
 * - INVALID_ARGUMENT, a rule broken: "Users cannot be assigned roles in a space if
 *   they do not have a role in that space's organization." (createRole), "Cannot
 *   remove the organization role of a user who has space roles in it; remove those
 *   first." (deleteRole).
 * "PlatformConflict", "PlatformNotFound", "PlatformInvalid" below mean these.
 */
export interface PlatformStore {
  close(): Promise<void>;

  // users
  createUser(user: User, credentials: Omit<UserCredentials, 'userGuid'>): Promise<User>;
  getUser(guid: string): Promise<User | undefined>;
  /** By username and origin (default any origin: undefined when none, the first by creation when several). */
  findUser(username: string, origin?: string): Promise<User | undefined>;
  credentials(userGuid: string): Promise<UserCredentials | undefined>;
  setPasswordHash(userGuid: string, passwordHash: string): Promise<void>;
  updateUser(
    guid: string,
    patch: { globalRoles?: User['globalRoles']; metadata?: Metadata },
  ): Promise<User | undefined>;
  deleteUser(guid: string): Promise<boolean>;
  listUsers(query: ListQuery, filter: UserFilter, visibility: Visibility): Promise<Page<User>>;
  countUsers(): Promise<number>;

  // organizations
  createOrg(org: Organization): Promise<Organization>;
  getOrg(guid: string): Promise<Organization | undefined>;
  findOrgBySlug(slug: string): Promise<Organization | undefined>;
  updateOrg(
    guid: string,
    patch: { name?: string; slug?: string; suspended?: boolean; metadata?: Metadata },
  ): Promise<Organization | undefined>;
  /** Deletes the org with its spaces, apps and roles; returns the apps that went (their images go too). */
  deleteOrg(guid: string): Promise<{ deleted: boolean; apps: App[] }>;
  listOrgs(query: ListQuery, filter: OrgFilter, visibility: Visibility): Promise<Page<Organization>>;

  // spaces
  createSpace(space: Space): Promise<Space>;
  getSpace(guid: string): Promise<Space | undefined>;
  findSpaceBySlug(orgGuid: string, slug: string): Promise<Space | undefined>;
  updateSpace(guid: string, patch: { name?: string; slug?: string; metadata?: Metadata }): Promise<Space | undefined>;
  /** Deletes the space with its apps and roles; returns the apps that went. */
  deleteSpace(guid: string): Promise<{ deleted: boolean; apps: App[] }>;
  listSpaces(query: ListQuery, filter: SpaceFilter, visibility: Visibility): Promise<Page<Space>>;

  // roles
  /**
   * Adds a role. A space role needs the user to hold an org role in the space's org
   * (PlatformInvalid, CF's 1002 text); the same role twice is a PlatformConflict.
   * `orgGuid` of a space role is filled from the space.
   */
  createRole(role: Role): Promise<Role>;
  getRole(guid: string): Promise<Role | undefined>;
  /** Removes a role; an org role the user still needs for a space role in that org is PlatformInvalid. */
  deleteRole(guid: string): Promise<boolean>;
  listRoles(query: ListQuery, filter: RoleFilter, visibility: Visibility): Promise<Page<Role>>;
  /** Every role of a user (what the policy reasons from; one indexed query). */
  rolesOf(userGuid: string): Promise<Role[]>;

  // apps
  createApp(app: App): Promise<App>;
  getApp(guid: string): Promise<App | undefined>;
  findAppBySlug(spaceGuid: string, slug: string): Promise<App | undefined>;
  /**
   * `currentDropletGuid` as WorkloadStore.setCurrentDroplet sets it (the app's own droplet, STAGED: PlatformInvalid
   * otherwise; clear it there); `autoRebase` false pins the app (a stack update lists it as behind, never rolls it).
   */
  updateApp(
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
  ): Promise<App | undefined>;
  deleteApp(guid: string): Promise<boolean>;
  listApps(query: ListQuery, filter: AppFilter, visibility: Visibility): Promise<Page<App>>;

  // buildpacks (admin-managed; positions kept contiguous from 1: inserting at a position shifts the rest down)
  createBuildpack(buildpack: Buildpack): Promise<Buildpack>;
  getBuildpack(guid: string): Promise<Buildpack | undefined>;
  updateBuildpack(
    guid: string,
    patch: Partial<
      Pick<Buildpack, 'name' | 'stack' | 'position' | 'enabled' | 'locked' | 'state' | 'filename' | 'metadata'>
    >,
  ): Promise<Buildpack | undefined>;
  deleteBuildpack(guid: string): Promise<boolean>;
  listBuildpacks(query: ListQuery, filter: BuildpackFilter): Promise<Page<Buildpack>>;

  // audit events
  recordEvent(event: AuditEvent): Promise<void>;
  getEvent(guid: string): Promise<AuditEvent | undefined>;
  listEvents(query: ListQuery, filter: EventFilter, visibility: Visibility): Promise<Page<AuditEvent>>;

  // tokens
  createApiToken(token: ApiToken): Promise<ApiToken>;
  getApiToken(guid: string): Promise<ApiToken | undefined>;
  listApiTokens(userGuid: string): Promise<ApiToken[]>;
  revokeApiToken(guid: string, at: string): Promise<boolean>;
  touchApiToken(guid: string, at: string): Promise<void>;
  createRefreshToken(token: RefreshToken): Promise<void>;
  getRefreshToken(guid: string): Promise<RefreshToken | undefined>;
  revokeRefreshToken(guid: string, at: string): Promise<boolean>;
  /** Revokes every refresh token of a user (logout everywhere, a deleted user). */
  revokeRefreshTokensOf(userGuid: string, at: string): Promise<number>;

  // jobs
  createJob(job: Job): Promise<Job>;
  getJob(guid: string): Promise<Job | undefined>;
  updateJob(guid: string, patch: Partial<Pick<Job, 'state' | 'errors' | 'warnings'>>): Promise<Job | undefined>;
  /** Jobs still PROCESSING (after a restart, they are run again or failed). */
  unfinishedJobs(): Promise<Job[]>;

  // shared settings
  /**
   * The value stored under `name`, or, when there is none, `create()`'s, stored
   * atomically: the first writer wins and every caller, on any node sharing the
   * database, gets that one value (`create` is called only when nothing is stored,
   * and its value is thrown away when another caller stored first). What several
   * `slipway serve` nodes must agree on lives here: the token-signing key, the
   * workers' secret.
   *
   * @example
   * const key = await store.sharedSetting('token-signing-key', () => generateJwk());
   */
  sharedSetting(name: string, create: () => string): Promise<string>;
}

/** A page of a list, as CF's pagination counts it (pages from 1). */
export interface ListQuery {
  page: number;
  perPage: number;
  /** A field of the resource (created_at, updated_at, name, position), "-" first for descending. */
  orderBy: string;
}

export interface Page<T> {
  items: T[];
  /** Every match, all pages. */
  total: number;
}

/**
 * Which orgs and spaces the caller may read, as the policy decides it; the store
 * turns it into a WHERE clause.
 * - `all`: an admin, admin_read_only or global_auditor: no filter.
 * - `roles`: a user: a space is readable when the user holds one of `spaceRoles` in it
 *   or one of `orgRoles` in its org; an org is readable when the user holds any of
 *   `orgRoles` in it. Users are readable when they hold a role in a readable org, and
 *   the caller is always readable to itself.
 * - `none`: nothing (an API token outside its space, a staging identity).
 */
export type Visibility =
  | { kind: 'all' }
  | {
      kind: 'roles';
      userGuid: string;
      spaceRoles: readonly SpaceRoleType[];
      orgRoles: readonly OrgRoleType[];
      onlySpace?: string;
    }
  | { kind: 'none' };

/**
 * CF's label selector, parsed: every requirement must hold. `in`/`notin` list values;
 * `exists`/`notexists` ignore values; `=`/`!=` take one value.
 */
export interface LabelRequirement {
  key: string;
  op: 'in' | 'notin' | 'exists' | 'notexists';
  values: string[];
}

interface CommonFilter {
  guids?: string[];
  labelSelector?: LabelRequirement[];
  /** created_ats / updated_ats filters: ISO times, inclusive bounds. */
  createdAfter?: string;
  createdBefore?: string;
}

export interface UserFilter extends CommonFilter {
  usernames?: string[];
  origins?: string[];
}

export interface OrgFilter extends CommonFilter {
  names?: string[];
}

export interface SpaceFilter extends CommonFilter {
  names?: string[];
  organizationGuids?: string[];
}

export interface RoleFilter extends CommonFilter {
  types?: RoleType[];
  userGuids?: string[];
  organizationGuids?: string[];
  spaceGuids?: string[];
}

export interface AppFilter extends CommonFilter {
  names?: string[];
  spaceGuids?: string[];
  organizationGuids?: string[];
  stacks?: string[];
  lifecycleType?: App['lifecycle']['type'];
}

export interface BuildpackFilter extends CommonFilter {
  names?: string[];
  stacks?: string[];
  lifecycle?: Buildpack['lifecycle'];
}

export interface EventFilter extends CommonFilter {
  types?: string[];
  targetGuids?: string[];
  spaceGuids?: string[];
  organizationGuids?: string[];
}
