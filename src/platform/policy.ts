import type { App, Organization, Role, Space, User } from './model.js';
import {
  APP_MANAGING,
  DROPLET_DOWNLOAD,
  ORG_READING,
  ORG_ROLES_READING_SPACES,
  SPACE_READING,
  SPACE_SECRETS_READING,
  SPACE_UPDATING,
  SPACE_WRITING,
  type OrgRoleType,
  type RoleType,
  type SpaceRoleType,
} from './roles.js';
import type { Visibility } from './store/platform-store.js';

/**
 * THE policy: every question of who may do what on the platform is answered here,
 * and only here. The v3 API, the registry (token scopes and basic auth), the
 * dashboard and the build workers' staging tokens all ask a Permissions object, made
 * once per request from the caller and their roles (Cloud Controller's
 * permissions.rb, rules as cf-roles.md sets them out).
 *
 * Two kinds of answer: a yes/no for one resource, and a Visibility for lists, which
 * the store turns into SQL. "Not found" for what the caller may not read, "not
 * authorized" for what they may read but not change: the API decides which from
 * canRead* before can{Write,Manage,...}.
 */

/** Who is asking. */
export type Caller =
  /** A signed-in user (a password login's access token). */
  | { kind: 'user'; user: User; roles: Role[] }
  /** A CI token: its user's roles, but only within one space. */
  | { kind: 'api-token'; user: User; roles: Role[]; spaceGuid: string; tokenGuid: string }
  /**
   * A build of one app: pushes that app's image, pulls what it builds from; nothing else.
   * `pullOnly`: an app's pods on a cluster (their image pull secret), which only pull its images.
   */
  | { kind: 'staging'; appGuid: string; spaceGuid: string; orgGuid: string; repository: string; pullOnly?: true }
  | { kind: 'anonymous' };

/** What a registry principal may do to one repository. */
export type RegistryAction = 'pull' | 'push' | 'delete' | 'list';

/** The registry answer for one repository: the actions allowed, or `hidden` (404, the caller may not know it exists). */
export interface RegistryDecision {
  hidden: boolean;
  actions: RegistryAction[];
}

/** A space with what the policy needs of its org. */
export interface SpaceContext {
  space: Pick<Space, 'guid' | 'orgGuid'>;
  org: Pick<Organization, 'guid' | 'suspended'>;
}

const EVENT_SPACE_ROLES: readonly SpaceRoleType[] = ['space_auditor', 'space_developer', 'space_supporter'];
const EVENT_ORG_ROLES: readonly OrgRoleType[] = ['organization_auditor'];
/** CC's ROLES_FOR_ROUTE_READING beyond the space's readers: org managers (who read the spaces) and org auditors. */
const ROUTE_READING_ORG_ROLES: readonly OrgRoleType[] = [...ORG_ROLES_READING_SPACES, 'organization_auditor'];

export class Permissions {
  readonly caller: Caller;
  readonly #spaceRoles = new Map<string, Set<RoleType>>();
  readonly #orgRoles = new Map<string, Set<RoleType>>();

  constructor(caller: Caller) {
    this.caller = caller;
    if (caller.kind === 'user' || caller.kind === 'api-token') {
      for (const r of caller.roles) {
        if (r.spaceGuid) add(this.#spaceRoles, r.spaceGuid, r.type);
        else if (r.orgGuid) add(this.#orgRoles, r.orgGuid, r.type);
      }
    }
  }

  /** The signed-in user behind the call (undefined for staging and anonymous callers). */
  get user(): User | undefined {
    return this.caller.kind === 'user' || this.caller.kind === 'api-token' ? this.caller.user : undefined;
  }

  get signedIn(): boolean {
    return this.caller.kind !== 'anonymous';
  }

  /** cloud_controller.admin: reads and writes everything (an API token of an admin stays in its space). */
  isAdmin(): boolean {
    return this.caller.kind === 'user' && this.caller.user.globalRoles.includes('admin');
  }

  /** admin, admin_read_only or global_auditor: reads everything. */
  readsEverything(): boolean {
    return (
      this.caller.kind === 'user' &&
      this.caller.user.globalRoles.some((r) => r === 'admin' || r === 'admin_read_only' || r === 'global_auditor')
    );
  }

  /** admin or admin_read_only: reads every secret (global_auditor does not). */
  readsEverySecret(): boolean {
    return (
      this.caller.kind === 'user' && this.caller.user.globalRoles.some((r) => r === 'admin' || r === 'admin_read_only')
    );
  }

  // organizations

  canCreateOrg(): boolean {
    return this.isAdmin();
  }

  canReadOrg(orgGuid: string): boolean {
    if (this.readsEverything()) return true;
    if (this.caller.kind === 'api-token') return this.#inTokenOrg(orgGuid) && this.#hasOrgRole(orgGuid, ORG_READING);
    return this.#hasOrgRole(orgGuid, ORG_READING);
  }

  /** Rename the org, assign its org roles, create its spaces: its managers, never in a suspended org (CF: admins only then). */
  canManageOrg(orgGuid: string, suspended = false): boolean {
    if (this.isAdmin()) return true;
    if (this.caller.kind !== 'user' || suspended) return false;
    return this.#hasOrgRole(orgGuid, ['organization_manager']);
  }

  /** Suspending or unsuspending, as CF: admins only. */
  canSuspendOrg(): boolean {
    return this.isAdmin();
  }

  /** Deleting an org, as CF (OrganizationsV3Controller#fetch_deletable_org: can_write_globally?): admins only. */
  canDeleteOrg(): boolean {
    return this.isAdmin();
  }

  // spaces

  canReadSpace(ctx: SpaceContext): boolean {
    if (this.readsEverything()) return true;
    if (this.caller.kind === 'staging') return false;
    if (this.caller.kind === 'api-token' && this.caller.spaceGuid !== ctx.space.guid) return false;
    return (
      this.#hasSpaceRole(ctx.space.guid, SPACE_READING) || this.#hasOrgRole(ctx.space.orgGuid, ORG_ROLES_READING_SPACES)
    );
  }

  /** Create and delete apps and packages, push: space developers (and admins), never in a suspended org. */
  canWriteToSpace(ctx: SpaceContext): boolean {
    if (this.isAdmin()) return true;
    if (ctx.org.suspended) return false;
    return this.#inSpace(ctx) && this.#hasSpaceRole(ctx.space.guid, SPACE_WRITING);
  }

  /** Stage, start, stop, restart, set the current droplet: developers and supporters. */
  canManageApps(ctx: SpaceContext): boolean {
    if (this.isAdmin()) return true;
    if (ctx.org.suspended) return false;
    return this.#inSpace(ctx) && this.#hasSpaceRole(ctx.space.guid, APP_MANAGING);
  }

  /** Environment variables and unredacted commands. */
  canReadSecrets(ctx: SpaceContext): boolean {
    if (this.readsEverySecret()) return true;
    return this.#inSpace(ctx) && this.#hasSpaceRole(ctx.space.guid, SPACE_SECRETS_READING);
  }

  /**
   * Pull an app's image (`GET /v3/droplets/:guid/download`, the registry's pull): CC's
   * can_download_droplet? (ROLES_FOR_DROPLET_DOWLOAD: space developers, managers,
   * auditors and the org's managers, and global readers; not supporters).
   */
  canDownloadDroplet(ctx: SpaceContext): boolean {
    if (this.readsEverything()) return true;
    if (!this.canReadSpace(ctx)) return false;
    return (
      this.#hasSpaceRole(ctx.space.guid, DROPLET_DOWNLOAD) ||
      this.#hasOrgRole(ctx.space.orgGuid, ['organization_manager'])
    );
  }

  /**
   * A route of a space: CC's can_read_route? (ROLES_FOR_ROUTE_READING: the space's
   * readers and also the org's auditors, who see routes but not apps).
   */
  canReadRoute(ctx: SpaceContext): boolean {
    if (this.canReadSpace(ctx)) return true;
    if (this.caller.kind === 'staging') return false;
    if (this.caller.kind === 'api-token' && this.caller.spaceGuid !== ctx.space.guid) return false;
    return this.#hasOrgRole(ctx.space.orgGuid, ROUTE_READING_ORG_ROLES);
  }

  /** Rename the space, assign its roles: space managers and org managers. */
  canUpdateSpace(ctx: SpaceContext): boolean {
    if (this.isAdmin()) return true;
    if (this.caller.kind !== 'user') return false;
    if (ctx.org.suspended) return false;
    return (
      this.#hasSpaceRole(ctx.space.guid, SPACE_UPDATING) ||
      this.#hasOrgRole(ctx.space.orgGuid, ['organization_manager'])
    );
  }

  /** Create a space in an org, delete a space: org managers. */
  canCreateSpace(org: Pick<Organization, 'guid' | 'suspended'>): boolean {
    if (this.isAdmin()) return true;
    return this.canManageOrg(org.guid, org.suspended);
  }

  // roles

  /** Give or take an org role: org managers of that org (admins anywhere). */
  canAssignOrgRole(orgGuid: string, suspended = false): boolean {
    return this.canManageOrg(orgGuid, suspended);
  }

  /** Give or take a space role: space managers of that space and org managers of its org. */
  canAssignSpaceRole(ctx: SpaceContext): boolean {
    return this.canUpdateSpace(ctx);
  }

  // users and platform-wide resources

  canCreateUser(): boolean {
    return this.isAdmin();
  }

  /** Deleting a user, as CF (UsersController#destroy: can_write_globally?): admins only. */
  canDeleteUser(): boolean {
    return this.isAdmin();
  }

  /** Stacks and buildpacks: every signed-in user reads them; admins change them. */
  canReadPlatformResources(): boolean {
    return this.signedIn;
  }

  canManagePlatformResources(): boolean {
    return this.isAdmin();
  }

  // lists: what the store filters by

  /** Spaces (and what is in them: apps, space roles, space events) the caller reads. */
  spaceVisibility(): Visibility {
    if (this.readsEverything()) return { kind: 'all' };
    const c = this.caller;
    if (c.kind === 'user')
      return { kind: 'roles', userGuid: c.user.guid, spaceRoles: SPACE_READING, orgRoles: ORG_ROLES_READING_SPACES };
    if (c.kind === 'api-token')
      return {
        kind: 'roles',
        userGuid: c.user.guid,
        spaceRoles: SPACE_READING,
        orgRoles: ORG_ROLES_READING_SPACES,
        onlySpace: c.spaceGuid,
      };
    return { kind: 'none' };
  }

  /**
   * Audit events, as Cloud Controller shows them: a space's to its auditors, developers
   * and supporters, an org's to its auditors, everything to global readers.
   */
  eventVisibility(): Visibility {
    if (this.readsEverything()) return { kind: 'all' };
    const c = this.caller;
    const v = { spaceRoles: EVENT_SPACE_ROLES, orgRoles: EVENT_ORG_ROLES };
    if (c.kind === 'user') return { kind: 'roles', userGuid: c.user.guid, ...v };
    if (c.kind === 'api-token') return { kind: 'roles', userGuid: c.user.guid, ...v, onlySpace: c.spaceGuid };
    return { kind: 'none' };
  }

  /** Routes the caller reads (CC: space_guids_with_readable_routes_query): spaceVisibility plus the org auditors' orgs. */
  routeVisibility(): Visibility {
    const v = this.spaceVisibility();
    return v.kind === 'roles' ? { ...v, orgRoles: ROUTE_READING_ORG_ROLES } : v;
  }

  /** Orgs (and org roles, org users) the caller reads. */
  orgVisibility(): Visibility {
    if (this.readsEverything()) return { kind: 'all' };
    const c = this.caller;
    if (c.kind === 'user')
      return { kind: 'roles', userGuid: c.user.guid, spaceRoles: SPACE_READING, orgRoles: ORG_READING };
    if (c.kind === 'api-token')
      return {
        kind: 'roles',
        userGuid: c.user.guid,
        spaceRoles: SPACE_READING,
        orgRoles: ORG_READING,
        onlySpace: c.spaceGuid,
      };
    return { kind: 'none' };
  }

  // the registry

  /**
   * What the caller may do to a repository of the platform's registry. `app` is the
   * app a repository `ORG/SPACE/APP[/...]` names (with its space and org), undefined
   * when it names no app; `platform` marks `stacks/*` and `buildpacks/*`.
   * (cf-roles.md §3.3: developers pull, push and delete; managers, auditors, org
   * managers and global readers pull; supporters list but do not pull; org-only roles
   * and strangers see nothing.)
   */
  registryAccess(target: { platform: true } | { app?: { app: Pick<App, 'guid'> } & SpaceContext }): RegistryDecision {
    const c = this.caller;
    if ('platform' in target) {
      if (!this.signedIn) return { hidden: true, actions: [] };
      return { hidden: false, actions: this.isAdmin() ? ['pull', 'list', 'push', 'delete'] : ['pull', 'list'] };
    }
    const found = target.app;
    if (!found)
      return this.isAdmin()
        ? { hidden: false, actions: ['pull', 'list', 'push', 'delete'] }
        : { hidden: true, actions: [] };
    if (c.kind === 'staging') {
      if (c.appGuid !== found.app.guid) return { hidden: true, actions: [] };
      return { hidden: false, actions: c.pullOnly ? ['pull'] : ['pull', 'list', 'push'] };
    }
    if (!this.canReadSpace(found)) return { hidden: true, actions: [] };
    const actions: RegistryAction[] = ['list'];
    if (this.canDownloadDroplet(found)) actions.push('pull');
    if (this.canWriteToSpace(found)) actions.push('push', 'delete');
    return { hidden: false, actions };
  }

  #inSpace(ctx: SpaceContext): boolean {
    if (this.caller.kind === 'api-token') return this.caller.spaceGuid === ctx.space.guid;
    return this.caller.kind === 'user';
  }

  #inTokenOrg(orgGuid: string): boolean {
    if (this.caller.kind !== 'api-token') return true;
    const space = this.caller.spaceGuid;
    return this.caller.roles.some((r) => r.spaceGuid === space && r.orgGuid === orgGuid);
  }

  #hasSpaceRole(spaceGuid: string, types: readonly SpaceRoleType[]): boolean {
    const mine = this.#spaceRoles.get(spaceGuid);
    return mine !== undefined && types.some((t) => mine.has(t));
  }

  #hasOrgRole(orgGuid: string, types: readonly OrgRoleType[]): boolean {
    const mine = this.#orgRoles.get(orgGuid);
    return mine !== undefined && types.some((t) => mine.has(t));
  }
}

function add(map: Map<string, Set<RoleType>>, key: string, type: RoleType): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(type);
}
