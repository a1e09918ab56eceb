import type { Access, Authorizer } from '../auth/access.js';
import type { RepositoryNames } from '../auth/repository-names.js';
import type { Identity } from './identity/identity.js';
import type { App, Organization, Space } from './model.js';
import { Permissions, type RegistryAction } from './policy.js';
import type { PlatformStore } from './store/platform-store.js';

/** Where app images are kept: under the app's GUID, so renaming an org, space or app moves only the alias. */
const STORED_PREFIX = 'apps/';
const STACKS_PREFIX = 'stacks/';
/** How the store names a stack's images (src/stack: NAME/build, NAME/run). */
const STACK_REPOSITORY = /^[^/]+\/(build|run)$/;
/** Repositories of the platform itself, readable by every signed-in user. */
const PLATFORM_PREFIXES = [STACKS_PREFIX, 'buildpacks/'];
/** How long a name's resolution is trusted (renames take this long to reach the registry's cache). */
const NAME_TTL_MS = 5_000;

interface ResolvedApp {
  app: App;
  space: Space;
  org: Organization;
}

/**
 * The platform's registry: who may pull, push, list and delete is the policy's
 * registryAccess (cf-roles.md §3.3), asked per repository; an app's images are
 * addressed as ORG/SPACE/APP (the slugs) and stored under `apps/APP-GUID`.
 *
 * Subjects (what a login proves, carried in registry tokens): `user:GUID`,
 * `apitoken:GUID`, `staging:JWT` (Identity.registryLogin).
 */
export class PlatformRegistry implements Authorizer, RepositoryNames {
  readonly #store: PlatformStore;
  readonly #identity: Identity;
  readonly #byPath = new Map<string, { at: number; found: ResolvedApp | undefined }>();

  constructor(store: PlatformStore, identity: Identity) {
    this.#store = store;
    this.#identity = identity;
  }

  login(user: string, password: string): Promise<string | undefined> {
    return this.#identity.registryLogin(user, password);
  }

  async stillValid(subject: string): Promise<boolean> {
    return (await this.#identity.callerForSubject(subject)).kind !== 'anonymous';
  }

  async authorize(subject: string | undefined, requested: Access): Promise<Access> {
    const perms = new Permissions(await this.#identity.callerForSubject(subject));
    if (requested.type === 'registry') {
      // The catalog: every signed-in caller may ask; it lists only what they may see (listed()).
      return { ...requested, actions: perms.signedIn && requested.name === 'catalog' ? requested.actions : [] };
    }
    const decision = await this.#decide(perms, requested.name);
    if (decision.hidden) return { type: requested.type, name: requested.name, actions: [], hidden: true };
    const allowed = new Set<string>(decision.actions);
    const actions = requested.actions.filter((a) =>
      a === '*' ? ['pull', 'push', 'delete'].every((x) => allowed.has(x)) : allowed.has(a),
    );
    // A client asks for pull to list tags: a role that may list but not pull gets list alone.
    if (requested.actions.includes('pull') && !allowed.has('pull') && allowed.has('list')) actions.push('list');
    return { type: requested.type, name: requested.name, actions };
  }

  async stored(name: string): Promise<string> {
    // The store keeps stack images as NAME/build and NAME/run; the registry shows them under stacks/.
    if (name.startsWith(STACKS_PREFIX)) return name.slice(STACKS_PREFIX.length);
    const found = await this.#resolve(name);
    if (!found) return name;
    const rest = name.split('/').slice(3).join('/');
    return `${STORED_PREFIX}${found.app.guid}${rest ? `/${rest}` : ''}`;
  }

  async public(stored: string): Promise<string | undefined> {
    if (STACK_REPOSITORY.test(stored)) return `${STACKS_PREFIX}${stored}`;
    if (!stored.startsWith(STORED_PREFIX)) return stored;
    const [guid, ...rest] = stored.slice(STORED_PREFIX.length).split('/');
    const app = guid ? await this.#store.getApp(guid) : undefined;
    const space = app ? await this.#store.getSpace(app.spaceGuid) : undefined;
    const org = space ? await this.#store.getOrg(space.orgGuid) : undefined;
    if (!app || !space || !org) return undefined;
    return [org.slug, space.slug, app.slug, ...rest].join('/');
  }

  async listed(subject: string | undefined, stored: string[]): Promise<string[]> {
    const perms = new Permissions(await this.#identity.callerForSubject(subject));
    if (!perms.signedIn) return [];
    const out: string[] = [];
    for (const s of stored) {
      const name = await this.public(s);
      if (name === undefined) continue;
      const decision = await this.#decide(perms, name);
      if (!decision.hidden && decision.actions.includes('list')) out.push(name);
    }
    return out;
  }

  /** Forgets cached name resolutions (after a rename or delete in this process). */
  forgetNames(): void {
    this.#byPath.clear();
  }

  async #decide(perms: Permissions, name: string): Promise<{ hidden: boolean; actions: RegistryAction[] }> {
    if (PLATFORM_PREFIXES.some((p) => name.startsWith(p))) return perms.registryAccess({ platform: true });
    // Stored names are never addressed directly but by an admin, and by an app's own pods
    // (their pull token names `apps/GUID`: renaming the app does not change what they pull).
    const c = perms.caller;
    if (c.kind === 'staging' && c.pullOnly && name === `${STORED_PREFIX}${c.appGuid}`)
      return { hidden: false, actions: ['pull'] };
    if (name.startsWith(STORED_PREFIX) && !perms.isAdmin()) return { hidden: true, actions: [] };
    const found = await this.#resolve(name);
    return perms.registryAccess(found ? { app: { app: found.app, space: found.space, org: found.org } } : {});
  }

  /** The app an `ORG/SPACE/APP[/...]` name stands for (by slugs), cached briefly. */
  async #resolve(name: string): Promise<ResolvedApp | undefined> {
    const parts = name.split('/');
    if (parts.length < 3) return undefined;
    const key = parts.slice(0, 3).join('/');
    const cached = this.#byPath.get(key);
    if (cached && Date.now() - cached.at < NAME_TTL_MS) return cached.found;
    const org = await this.#store.findOrgBySlug(parts[0]!);
    const space = org ? await this.#store.findSpaceBySlug(org.guid, parts[1]!) : undefined;
    const app = space ? await this.#store.findAppBySlug(space.guid, parts[2]!) : undefined;
    const found = app && space && org ? { app, space, org } : undefined;
    if (this.#byPath.size > 10_000) this.#byPath.clear();
    this.#byPath.set(key, { at: Date.now(), found });
    return found;
  }
}
