import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StackInfo, StackSource } from '../../../platform/actions/stacks.js';
import type { AppImages } from '../../../platform/jobs.js';
import {
  type App,
  type Buildpack,
  emptyMetadata,
  newGuid,
  type Organization,
  type Role,
  type Space,
  slugOf,
  type User,
} from '../../../platform/model.js';
import type { GlobalRole, OrgRoleType, SpaceRoleType } from '../../../platform/roles.js';
import { SqlitePlatformStore } from '../../../platform/store/sqlite-platform-store.js';
import { createV3App, type V3App } from '../app.js';
import { testOnlyAuthenticate, testToken } from './test-auth.js';

/** The API's public base in tests. */
export const BASE = 'https://api.example.com';

export const STACKS: StackInfo[] = [
  {
    name: 'bookworm',
    description: 'Debian 12',
    version: '12.7',
    buildImage: 'stacks/bookworm-build:12.7',
    runImage: 'stacks/bookworm-run:12.7',
    default: true,
  },
  {
    name: 'trixie',
    description: 'Debian 13',
    version: '13.0',
    buildImage: 'stacks/trixie-build:13.0',
    runImage: 'stacks/trixie-run:13.0',
    default: false,
  },
];

/** The images of deleted apps the API asked to delete (the registry's side is someone else's). */
export class RecordingImages implements AppImages {
  readonly deleted: App[][] = [];
  fail: Error | undefined;
  async deleteImages(apps: App[]): Promise<void> {
    if (this.fail) throw this.fail;
    this.deleted.push(apps);
  }
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

/**
 * A platform to test the API against: a real SQLite store in a temp dir, and one user
 * per role of CF's matrix. Org "acme" has space "dev" with app "web"; org "globex" has
 * space "prod" with app "api" (whose developer is "another org's developer").
 */
export class World {
  readonly dir: string;
  readonly store: SqlitePlatformStore;
  readonly images = new RecordingImages();
  readonly app: V3App;
  #t = Date.parse('2024-01-01T00:00:00Z');

  users = {} as Record<Principal, User>;
  acme!: Organization;
  dev!: Space;
  web!: App;
  globex!: Organization;
  prod!: Space;
  api!: App;
  ruby!: Buildpack;

  private constructor(dir: string, store: SqlitePlatformStore) {
    this.dir = dir;
    this.store = store;
    this.app = createV3App({
      store,
      authenticate: testOnlyAuthenticate(store),
      stacks: { list: async () => STACKS } satisfies StackSource,
      images: this.images,
      publicUrl: BASE,
      clock: () => this.clock(),
    });
  }

  /** Strictly increasing times, so that orders by time are certain. */
  clock(): Date {
    this.#t += 1000;
    return new Date(this.#t);
  }

  stamp(): { createdAt: string; updatedAt: string } {
    const t = this.clock().toISOString();
    return { createdAt: t, updatedAt: t };
  }

  static async create(): Promise<World> {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-v3-'));
    const world = new World(dir, await SqlitePlatformStore.open(join(dir, 'platform.sqlite')));
    await world.#populate();
    return world;
  }

  async close(): Promise<void> {
    await this.app.jobs.idle();
    await this.store.close();
    await rm(this.dir, { recursive: true, force: true });
  }

  async user(username: string, globalRoles: GlobalRole[] = []): Promise<User> {
    return this.store.createUser(
      { guid: newGuid(), username, origin: 'uaa', globalRoles, metadata: emptyMetadata(), ...this.stamp() },
      { passwordHash: 'x' },
    );
  }

  async org(name: string): Promise<Organization> {
    return this.store.createOrg({
      guid: newGuid(),
      name,
      slug: slugOf(name),
      suspended: false,
      metadata: emptyMetadata(),
      ...this.stamp(),
    });
  }

  async space(org: Organization, name: string): Promise<Space> {
    return this.store.createSpace({
      guid: newGuid(),
      name,
      slug: slugOf(name),
      orgGuid: org.guid,
      metadata: emptyMetadata(),
      ...this.stamp(),
    });
  }

  async appIn(space: Space, name: string, labels: Record<string, string> = {}): Promise<App> {
    return this.store.createApp({
      guid: newGuid(),
      name,
      slug: slugOf(name),
      spaceGuid: space.guid,
      state: 'STOPPED',
      lifecycle: { type: 'buildpack', data: { buildpacks: [], stack: 'bookworm' } },
      environmentVariables: { SECRET: 'hunter2' },
      metadata: { labels, annotations: {} },
      ...this.stamp(),
    });
  }

  async buildpack(name: string, position = 1): Promise<Buildpack> {
    return this.store.createBuildpack({
      guid: newGuid(),
      name,
      stack: null,
      position,
      enabled: true,
      locked: false,
      state: 'AWAITING_UPLOAD',
      filename: null,
      lifecycle: 'buildpack',
      metadata: emptyMetadata(),
      ...this.stamp(),
    });
  }

  async orgRole(user: User, org: Organization, type: OrgRoleType): Promise<Role> {
    return this.store.createRole({
      guid: newGuid(),
      type,
      userGuid: user.guid,
      orgGuid: org.guid,
      metadata: emptyMetadata(),
      ...this.stamp(),
    });
  }

  async spaceRole(user: User, space: Space, type: SpaceRoleType): Promise<Role> {
    return this.store.createRole({
      guid: newGuid(),
      type,
      userGuid: user.guid,
      spaceGuid: space.guid,
      orgGuid: space.orgGuid,
      metadata: emptyMetadata(),
      ...this.stamp(),
    });
  }

  async #populate(): Promise<void> {
    this.acme = await this.org('acme');
    this.dev = await this.space(this.acme, 'dev');
    this.web = await this.appIn(this.dev, 'web', { tier: 'frontend' });
    this.globex = await this.org('globex');
    this.prod = await this.space(this.globex, 'prod');
    this.api = await this.appIn(this.prod, 'api');
    this.ruby = await this.buildpack('ruby_buildpack');
    const u = this.users;
    u.admin = await this.user('admin', ['admin']);
    u.adminReadOnly = await this.user('admin-ro', ['admin_read_only']);
    u.globalAuditor = await this.user('global-auditor', ['global_auditor']);
    for (const [p, type] of [
      ['orgManager', 'organization_manager'],
      ['orgAuditor', 'organization_auditor'],
      ['orgBillingManager', 'organization_billing_manager'],
      ['orgUser', 'organization_user'],
    ] as const) {
      u[p] = await this.user(p);
      await this.orgRole(u[p], this.acme, type);
    }
    for (const [p, type] of [
      ['spaceDeveloper', 'space_developer'],
      ['spaceManager', 'space_manager'],
      ['spaceAuditor', 'space_auditor'],
      ['spaceSupporter', 'space_supporter'],
    ] as const) {
      u[p] = await this.user(p);
      await this.orgRole(u[p], this.acme, 'organization_user');
      await this.spaceRole(u[p], this.dev, type);
    }
    u.otherOrgDeveloper = await this.user('other-dev');
    await this.orgRole(u.otherOrgDeveloper, this.globex, 'organization_user');
    await this.spaceRole(u.otherOrgDeveloper, this.prod, 'space_developer');
  }

  /** A request to the API as `who` (a principal, a user, or anonymous). */
  async call(method: string, path: string, who?: Principal | User, body?: unknown): Promise<Answer> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const user = typeof who === 'string' ? (who === 'anonymous' ? undefined : this.users[who]) : who;
    if (user) headers.authorization = testToken(user);
    const res = await this.app.request(path.startsWith('http') ? path : BASE + path, {
      method,
      headers,
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
  }

  get(path: string, who?: Principal | User): Promise<Answer> {
    return this.call('GET', path, who);
  }
}

export const PRINCIPALS = [
  'admin',
  'adminReadOnly',
  'globalAuditor',
  'orgManager',
  'orgAuditor',
  'orgBillingManager',
  'orgUser',
  'spaceDeveloper',
  'spaceManager',
  'spaceAuditor',
  'spaceSupporter',
  'otherOrgDeveloper',
] as const;
export type Principal = (typeof PRINCIPALS)[number] | 'anonymous';
