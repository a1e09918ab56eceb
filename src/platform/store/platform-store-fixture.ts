import assert from 'node:assert/strict';
import { type ErrorCode, isSlipwayError } from '../../errors.js';
import {
  type App,
  type AuditEvent,
  type Buildpack,
  emptyMetadata,
  type Metadata,
  newGuid,
  type Organization,
  type Role,
  type Space,
  slugOf,
  type User,
} from '../model.js';
import { Permissions } from '../policy.js';
import type { GlobalRole, OrgRoleType, SpaceRoleType } from '../roles.js';
import type { ListQuery, PlatformStore, Visibility } from './platform-store.js';

/**
 * What the PlatformStore contract tests (platform-store-contract*.ts) build with:
 * resources made through the store under test, with strictly increasing creation
 * times so that orders by time are certain on any back-end.
 */
export class Fixture {
  readonly store: PlatformStore;
  #last = 0;

  constructor(store: PlatformStore) {
    this.store = store;
  }

  /** An ISO time after every earlier one this fixture gave. */
  time(): string {
    this.#last = Math.max(Date.now(), this.#last + 1);
    return new Date(this.#last).toISOString();
  }

  #stamp(): { createdAt: string; updatedAt: string } {
    const t = this.time();
    return { createdAt: t, updatedAt: t };
  }

  userValue(username: string, extra: Partial<User> = {}): User {
    return {
      guid: newGuid(),
      username,
      origin: 'uaa',
      globalRoles: [],
      metadata: emptyMetadata(),
      ...this.#stamp(),
      ...extra,
    };
  }

  async user(username: string, globalRoles: GlobalRole[] = [], extra: Partial<User> = {}): Promise<User> {
    return this.store.createUser(this.userValue(username, { globalRoles, ...extra }), {
      passwordHash: `hash-of-${username}`,
    });
  }

  orgValue(name: string, extra: Partial<Organization> = {}): Organization {
    return {
      guid: newGuid(),
      name,
      slug: slugOf(name),
      suspended: false,
      metadata: emptyMetadata(),
      ...this.#stamp(),
      ...extra,
    };
  }

  async org(name: string, extra: Partial<Organization> = {}): Promise<Organization> {
    return this.store.createOrg(this.orgValue(name, extra));
  }

  spaceValue(org: Organization, name: string, extra: Partial<Space> = {}): Space {
    return {
      guid: newGuid(),
      name,
      slug: slugOf(name),
      orgGuid: org.guid,
      metadata: emptyMetadata(),
      ...this.#stamp(),
      ...extra,
    };
  }

  async space(org: Organization, name: string, extra: Partial<Space> = {}): Promise<Space> {
    return this.store.createSpace(this.spaceValue(org, name, extra));
  }

  appValue(space: Space, name: string, extra: Partial<App> = {}): App {
    return {
      guid: newGuid(),
      name,
      slug: slugOf(name),
      spaceGuid: space.guid,
      state: 'STOPPED',
      lifecycle: { type: 'buildpack', data: { buildpacks: [], stack: 'cflinuxfs4' } },
      environmentVariables: {},
      metadata: emptyMetadata(),
      ...this.#stamp(),
      ...extra,
    };
  }

  async app(space: Space, name: string, extra: Partial<App> = {}): Promise<App> {
    return this.store.createApp(this.appValue(space, name, extra));
  }

  /** An app with labels. */
  async labelled(space: Space, name: string, labels: Record<string, string>): Promise<App> {
    return this.app(space, name, { metadata: { labels, annotations: {} } });
  }

  orgRoleValue(user: User, org: Pick<Organization, 'guid'>, type: OrgRoleType): Role {
    return {
      guid: newGuid(),
      type,
      userGuid: user.guid,
      orgGuid: org.guid,
      metadata: emptyMetadata(),
      ...this.#stamp(),
    };
  }

  async orgRole(user: User, org: Pick<Organization, 'guid'>, type: OrgRoleType = 'organization_user'): Promise<Role> {
    return this.store.createRole(this.orgRoleValue(user, org, type));
  }

  spaceRoleValue(user: User, space: Space, type: SpaceRoleType): Role {
    return {
      guid: newGuid(),
      type,
      userGuid: user.guid,
      spaceGuid: space.guid,
      metadata: emptyMetadata(),
      ...this.#stamp(),
    };
  }

  /** A space role alone (the user must already hold an org role in the space's org). */
  async spaceRole(user: User, space: Space, type: SpaceRoleType = 'space_developer'): Promise<Role> {
    return this.store.createRole(this.spaceRoleValue(user, space, type));
  }

  /** A space role, with the organization_user role it needs if the user has no org role there yet. */
  async member(user: User, space: Space, type: SpaceRoleType = 'space_developer'): Promise<Role> {
    const roles = await this.store.rolesOf(user.guid);
    if (!roles.some((r) => r.orgGuid === space.orgGuid && r.spaceGuid === undefined)) {
      await this.orgRole(user, { guid: space.orgGuid });
    }
    return this.spaceRole(user, space, type);
  }

  buildpackValue(name: string, position: number, extra: Partial<Buildpack> = {}): Buildpack {
    return {
      guid: newGuid(),
      name,
      stack: 'cflinuxfs4',
      position,
      enabled: true,
      locked: false,
      state: 'AWAITING_UPLOAD',
      filename: null,
      lifecycle: 'buildpack',
      metadata: emptyMetadata(),
      ...this.#stamp(),
      ...extra,
    };
  }

  async buildpack(name: string, position: number, extra: Partial<Buildpack> = {}): Promise<Buildpack> {
    return this.store.createBuildpack(this.buildpackValue(name, position, extra));
  }

  event(type: string, extra: Partial<AuditEvent> = {}): AuditEvent {
    return {
      guid: newGuid(),
      type,
      actor: { guid: newGuid(), type: 'user', name: 'someone' },
      target: { guid: newGuid(), type: 'app', name: 'target' },
      data: {},
      ...this.#stamp(),
      ...extra,
    };
  }

  /** What the policy hands the store for this user's lists of spaces and what is in them. */
  async spaceVisibility(user: User, onlySpace?: string): Promise<Visibility> {
    return (await this.#permissions(user, onlySpace)).spaceVisibility();
  }

  /** What the policy hands the store for this user's list of audit events. */
  async eventVisibility(user: User, onlySpace?: string): Promise<Visibility> {
    return (await this.#permissions(user, onlySpace)).eventVisibility();
  }

  /** What the policy hands the store for this user's lists of orgs, org roles and users. */
  async orgVisibility(user: User, onlySpace?: string): Promise<Visibility> {
    return (await this.#permissions(user, onlySpace)).orgVisibility();
  }

  async #permissions(user: User, onlySpace?: string): Promise<Permissions> {
    const roles = await this.store.rolesOf(user.guid);
    return new Permissions(
      onlySpace === undefined
        ? { kind: 'user', user, roles }
        : { kind: 'api-token', user, roles, spaceGuid: onlySpace, tokenGuid: newGuid() },
    );
  }
}

/** What each contract test reaches: the store it got from `open` and a fixture on it. */
export interface Harness {
  readonly store: PlatformStore;
  readonly fx: Fixture;
}

export const ALL: Visibility = { kind: 'all' };
export const NONE: Visibility = { kind: 'none' };

/** A list query: page 1 of 50 by creation, unless told. */
export function q(extra: Partial<ListQuery> = {}): ListQuery {
  return { page: 1, perPage: 50, orderBy: 'created_at', ...extra };
}

export function labels(values: Record<string, string>): Metadata {
  return { labels: values, annotations: {} };
}

/** The names of a page's items, in order. */
export function names(page: { items: { name: string }[] }): string[] {
  return page.items.map((i) => i.name);
}

export function guids(page: { items: { guid: string }[] } | { guid: string }[]): string[] {
  return (Array.isArray(page) ? page : page.items).map((i) => i.guid).sort();
}

/** Awaits a rejection with this SlipwayError code, and when given, this exact message and detail.field. */
export async function refused(
  promise: Promise<unknown>,
  code: ErrorCode,
  message?: string | RegExp,
  field?: string,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isSlipwayError(err), `expected a SlipwayError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, `code of "${err.message}"`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else if (message) assert.match(err.message, message);
    if (field !== undefined) assert.equal(err.detail?.['field'], field, `detail.field of "${err.message}"`);
    return true;
  });
}
