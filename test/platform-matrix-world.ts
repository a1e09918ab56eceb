import { join } from 'node:path';
import {
  type Credentials,
  type InProcessPlatform,
  makeImage,
  makeReferrer,
  PlatformClient,
  seededBytes,
  sha256,
  startInProcessPlatform,
  type TestImage,
} from './platform-world.js';

/**
 * TEST SUPPORT for test/platform-matrix.test.ts: one platform served in-process, made
 * through its own API (as an admin) the way an operator would, with one principal per
 * row of the permission matrix.
 *
 * - org "acme": space "dev" (apps "web" and "worker"), space "qa" (app "checker");
 *   org "globex": space "prod" (app "api");
 * - the org roles are in acme; each space role holder is acme's organization_user and
 *   holds the role in dev; the space developer is also a developer in qa (so an API
 *   token for dev must not reach qa); "otherOrgDeveloper" develops in globex's prod;
 * - admin_read_only and global_auditor are set on users through the store (the API
 *   has no endpoint for global roles, as CF sets them as UAA scopes);
 * - "apiToken" is the space developer's API token for dev; "staging" is a staging token
 *   of acme/dev/web minted with the server's own key;
 * - images: ORG/SPACE/APP:v1 of every app, stacks/tiny/{run,build}:{1,latest}, and an
 *   SBOM-like artifact referring to acme/dev/web:v1.
 */

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
  'apiToken',
  'staging',
  'anonymous',
] as const;
export type Principal = (typeof PRINCIPALS)[number];

export const USER_PRINCIPALS = PRINCIPALS.filter(
  (p): p is Exclude<Principal, 'apiToken' | 'staging' | 'anonymous'> =>
    p !== 'apiToken' && p !== 'staging' && p !== 'anonymous',
);
export type UserPrincipal = (typeof USER_PRINCIPALS)[number];

/** The org roles of acme and space roles of dev each principal holds (and mirrors into fresh orgs and spaces). */
const ORG_ROLE: Partial<Record<UserPrincipal, string>> = {
  orgManager: 'organization_manager',
  orgAuditor: 'organization_auditor',
  orgBillingManager: 'organization_billing_manager',
  orgUser: 'organization_user',
  spaceDeveloper: 'organization_user',
  spaceManager: 'organization_user',
  spaceAuditor: 'organization_user',
  spaceSupporter: 'organization_user',
};
const SPACE_ROLE: Partial<Record<UserPrincipal, string>> = {
  spaceDeveloper: 'space_developer',
  spaceManager: 'space_manager',
  spaceAuditor: 'space_auditor',
  spaceSupporter: 'space_supporter',
};

export const ARTIFACT_TYPE = 'application/vnd.example.sbom.v1+json';

export interface BaseRole {
  guid: string;
  type: string;
  user: string;
  org: string;
  space?: string;
}

export class MatrixWorld {
  readonly p: InProcessPlatform;
  readonly c: PlatformClient;
  readonly admin: string;
  readonly guid: Record<string, string> = {};
  readonly users = {} as Record<UserPrincipal, { guid: string; username: string; password: string }>;
  readonly creds = {} as Record<Principal, Credentials>;
  readonly images: Record<string, TestImage> = {};
  readonly roles: BaseRole[] = [];
  apiTokenGuid = '';
  #n = 0;

  private constructor(p: InProcessPlatform, admin: string) {
    this.p = p;
    this.c = new PlatformClient(p.url);
    this.admin = admin;
  }

  static async create(dir: string): Promise<MatrixWorld> {
    const p = await startInProcessPlatform(join(dir, 'home'));
    const c = new PlatformClient(p.url);
    const w = new MatrixWorld(p, await c.login('admin', p.adminPassword));
    await w.#populate();
    return w;
  }

  close(): Promise<void> {
    return this.p.close();
  }

  /** A number not used before (names of what cells create). */
  next(): number {
    this.#n += 1;
    return this.#n;
  }

  get host(): string {
    return this.p.host;
  }

  async #populate(): Promise<void> {
    const { c, admin, guid: g } = this;
    g['acme'] = await c.createOrg(admin, 'acme');
    g['globex'] = await c.createOrg(admin, 'globex');
    g['dev'] = await c.createSpace(admin, g['acme'], 'dev');
    g['qa'] = await c.createSpace(admin, g['acme'], 'qa');
    g['prod'] = await c.createSpace(admin, g['globex'], 'prod');
    g['web'] = await c.createApp(admin, g['dev'], 'web', { SECRET: 'web-secret' });
    g['worker'] = await c.createApp(admin, g['dev'], 'worker');
    g['checker'] = await c.createApp(admin, g['qa'], 'checker');
    g['api'] = await c.createApp(admin, g['prod'], 'api');

    const adminUser = (await c.ok('GET', '/v3/users?usernames=admin', admin)).resources[0];
    this.users.admin = { guid: adminUser.guid, username: 'admin', password: this.p.adminPassword };
    for (const who of USER_PRINCIPALS) {
      if (who === 'admin') continue;
      const username = who.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`);
      const password = `pw-${username}-x`;
      this.users[who] = { guid: await c.createUser(admin, username, password), username, password };
    }
    await this.p.pstore.updateUser(this.users.adminReadOnly.guid, { globalRoles: ['admin_read_only'] });
    await this.p.pstore.updateUser(this.users.globalAuditor.guid, { globalRoles: ['global_auditor'] });

    for (const who of USER_PRINCIPALS) {
      const orgType = ORG_ROLE[who];
      if (orgType) await this.#role(who, orgType, 'acme');
      const spaceType = SPACE_ROLE[who];
      if (spaceType) await this.#role(who, spaceType, 'acme', 'dev');
    }
    await this.#role('spaceDeveloper', 'space_developer', 'acme', 'qa');
    await this.#role('otherOrgDeveloper', 'organization_user', 'globex');
    await this.#role('otherOrgDeveloper', 'space_developer', 'globex', 'prod');

    for (const who of USER_PRINCIPALS) {
      const u = this.users[who];
      this.creds[who] = {
        api: await c.login(u.username, u.password),
        registry: { username: u.username, password: u.password },
      };
    }
    const token = await c.apiToken(this.creds.spaceDeveloper.api as string, g['dev'], 'ci');
    this.apiTokenGuid = token.guid;
    this.creds.apiToken = { api: `bearer ${token.token}`, registry: { username: 'ci', password: token.token } };
    const staging = await this.p.tokens.issueStaging({
      appGuid: g['web'],
      spaceGuid: g['dev'],
      orgGuid: g['acme'],
      repository: 'acme/dev/web',
    });
    this.creds.staging = { api: `bearer ${staging}`, registry: { username: 'staging', password: staging } };
    this.creds.anonymous = {};

    // Images, pushed by the admin over HTTP.
    const push = async (repo: string, tag: string, image: TestImage) => {
      const token = await this.adminRegistryToken([`repository:${repo}:pull,push`]);
      const res = await c.pushImage(token, repo, tag, image);
      if (res.status !== 201) throw new Error(`push ${repo}:${tag}: ${res.status} ${res.text}`);
    };
    for (const [app, repo] of [
      ['web', 'acme/dev/web'],
      ['worker', 'acme/dev/worker'],
      ['checker', 'acme/qa/checker'],
      ['api', 'globex/prod/api'],
    ] as const) {
      this.images[app] = makeImage(['base', `${app}-layer`]);
      await push(repo, 'v1', this.images[app]);
    }
    this.images['stack'] = makeImage(['stack-layer']);
    for (const role of ['run', 'build'])
      for (const tag of ['1', 'latest']) await push(`stacks/tiny/${role}`, tag, this.images['stack']);
    this.images['referrer'] = makeReferrer(this.images['web'] as TestImage, ARTIFACT_TYPE);
    await push('acme/dev/web', 'sbom', this.images['referrer']);
  }

  async #role(who: UserPrincipal, type: string, org: string, space?: string): Promise<void> {
    const user = this.users[who].guid;
    const orgGuid = this.guid[org] as string;
    const guid =
      space === undefined
        ? await this.c.orgRole(this.admin, user, orgGuid, type)
        : await this.c.spaceRole(this.admin, user, this.guid[space] as string, type);
    this.roles.push({ guid, type, user, org: orgGuid, ...(space === undefined ? {} : { space: this.guid[space] }) });
  }

  adminRegistryToken(scopes: string[]): Promise<string> {
    return this.c.registryToken({ username: 'admin', password: this.p.adminPassword }, scopes);
  }

  // Fresh things for cells that change or delete what they act on (one per principal).

  /** A new org with a space and an app, where every principal holds the roles it holds in acme and dev. */
  async freshOrg(): Promise<{ org: string; space: string; app: string }> {
    const n = this.next();
    const org = await this.c.createOrg(this.admin, `fresh-org-${n}`);
    const space = await this.c.createSpace(this.admin, org, 'fresh');
    const app = await this.c.createApp(this.admin, space, 'fresh');
    await this.#mirror(org, space, true);
    return { org, space, app };
  }

  /** A new space in acme where every space role holder holds their dev role. */
  async freshSpace(): Promise<string> {
    const space = await this.c.createSpace(this.admin, this.guid['acme'] as string, `fresh-space-${this.next()}`);
    await this.#mirror(this.guid['acme'] as string, space, false);
    return space;
  }

  async #mirror(org: string, space: string, orgRoles: boolean): Promise<void> {
    await Promise.all(
      USER_PRINCIPALS.map(async (who) => {
        const orgType = ORG_ROLE[who];
        if (orgRoles && orgType) await this.c.orgRole(this.admin, this.users[who].guid, org, orgType);
        const spaceType = SPACE_ROLE[who];
        if (spaceType) await this.c.spaceRole(this.admin, this.users[who].guid, space, spaceType);
      }),
    );
  }

  freshApp(): Promise<string> {
    return this.c.createApp(this.admin, this.guid['dev'] as string, `fresh-app-${this.next()}`);
  }

  /** A new user with `orgType` in acme (and `spaceType` in dev); its guid and the newest role's guid. */
  async freshMember(orgType?: string, spaceType?: string): Promise<{ user: string; role: string }> {
    const n = this.next();
    const user = await this.c.createUser(this.admin, `member-${n}`, `pw-member-${n}`);
    let role = '';
    if (orgType) role = await this.c.orgRole(this.admin, user, this.guid['acme'] as string, orgType);
    if (spaceType) role = await this.c.spaceRole(this.admin, user, this.guid['dev'] as string, spaceType);
    return { user, role };
  }

  async freshBuildpack(): Promise<string> {
    return (await this.c.ok('POST', '/v3/buildpacks', this.admin, { name: `fresh_bp_${this.next()}` })).guid;
  }

  async freshApiToken(): Promise<string> {
    return (
      await this.c.apiToken(this.creds.spaceDeveloper.api as string, this.guid['dev'] as string, `t${this.next()}`)
    ).guid;
  }

  /** A manifest only this cell knows (the web image with a unique annotation), pushed to `repo` by the admin. */
  async freshManifest(repo: string): Promise<{ tag: string; digest: string }> {
    const n = this.next();
    const image = makeImage(['base', 'web-layer'], { 'test.unique': String(n) });
    const token = await this.adminRegistryToken([`repository:${repo}:pull,push`]);
    const tag = `fresh-${n}`;
    const res = await this.c.pushImage(token, repo, tag, image);
    if (res.status !== 201) throw new Error(`push ${repo}:${tag}: ${res.status} ${res.text}`);
    return { tag, digest: image.digest };
  }

  /** A blob only in `repo` (uploaded by the admin): what a mount-from cell tries to take. */
  async freshBlob(repo: string): Promise<string> {
    const bytes = seededBytes(`mount-${this.next()}`, 512);
    const digest = sha256(bytes);
    const token = await this.adminRegistryToken([`repository:${repo}:pull,push`]);
    const res = await this.c.call('POST', `/v2/${repo}/blobs/uploads/?digest=${digest}`, token, bytes, {
      'content-type': 'application/octet-stream',
    });
    if (res.status !== 201) throw new Error(`blob upload to ${repo}: ${res.status} ${res.text}`);
    return digest;
  }

  /** Whether `repo` has the blob (asked as the admin). */
  async hasBlob(repo: string, digest: string): Promise<boolean> {
    const token = await this.adminRegistryToken([`repository:${repo}:pull`]);
    return (await this.c.call('HEAD', `/v2/${repo}/blobs/${digest}`, token)).status === 200;
  }
}
