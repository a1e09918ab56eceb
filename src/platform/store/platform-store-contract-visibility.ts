import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { Organization, Space, User } from '../model.js';
import { ORG_READING, ORG_ROLES_READING_SPACES, SPACE_READING, SPACE_ROLE_TYPES } from '../roles.js';
import { ALL, type Harness, NONE, names, q } from './platform-store-fixture.js';
import type { Visibility } from './platform-store.js';

/**
 * The PlatformStore contract, part 2: what each caller's lists hold. Two orgs of
 * spaces and apps, a user per role type, and the Visibility the policy
 * (src/platform/policy.ts) hands the store for each of them.
 */
export function visibilityContract(h: Harness): void {
  describe('visibility', () => {
    let acme: Organization;
    let other: Organization;
    let dev: Space;
    let prod: Space;
    let far: Space;
    let users: Record<string, User>;

    beforeEach(async () => {
      acme = await h.fx.org('acme');
      other = await h.fx.org('other');
      dev = await h.fx.space(acme, 'dev');
      prod = await h.fx.space(acme, 'prod');
      far = await h.fx.space(other, 'far');
      await h.fx.app(dev, 'dev-web');
      await h.fx.app(dev, 'dev-api');
      await h.fx.app(prod, 'prod-web');
      await h.fx.app(far, 'far-web');
      users = {};
      for (const type of SPACE_ROLE_TYPES) {
        users[type] = await h.fx.user(type);
        await h.fx.member(users[type]!, dev, type);
      }
      for (const type of ['organization_user', 'organization_auditor', 'organization_billing_manager'] as const) {
        users[type] = await h.fx.user(type);
        await h.fx.orgRole(users[type]!, acme, type);
      }
      users['organization_manager'] = await h.fx.user('organization_manager');
      await h.fx.orgRole(users['organization_manager'], acme, 'organization_manager');
      users['farDev'] = await h.fx.user('far-dev');
      await h.fx.member(users['farDev'], far);
      users['stranger'] = await h.fx.user('stranger');
      for (const role of ['admin', 'admin_read_only', 'global_auditor'] as const)
        users[role] = await h.fx.user(role, [role]);
    });

    const appNames = async (v: Visibility) => names(await h.store.listApps(q({ orderBy: 'name' }), {}, v));
    const spaceNames = async (v: Visibility) => names(await h.store.listSpaces(q({ orderBy: 'name' }), {}, v));
    const orgNames = async (v: Visibility) => names(await h.store.listOrgs(q({ orderBy: 'name' }), {}, v));

    it('every space role reads its space and its apps, nothing else', async () => {
      for (const type of SPACE_ROLE_TYPES) {
        const v = await h.fx.spaceVisibility(users[type]!);
        assert.deepEqual(await appNames(v), ['dev-api', 'dev-web'], type);
        assert.deepEqual(await spaceNames(v), ['dev'], type);
        assert.deepEqual(await orgNames(await h.fx.orgVisibility(users[type]!)), ['acme'], type);
      }
    });

    it('an org manager reads every space and app of the org; other org roles read the org only', async () => {
      const manager = await h.fx.spaceVisibility(users['organization_manager']!);
      assert.deepEqual(await appNames(manager), ['dev-api', 'dev-web', 'prod-web']);
      assert.deepEqual(await spaceNames(manager), ['dev', 'prod']);
      for (const type of ['organization_user', 'organization_auditor', 'organization_billing_manager']) {
        const v = await h.fx.spaceVisibility(users[type]!);
        assert.deepEqual(await appNames(v), [], type);
        assert.deepEqual(await spaceNames(v), [], type);
        assert.deepEqual(await orgNames(await h.fx.orgVisibility(users[type]!)), ['acme'], type);
      }
      assert.deepEqual(await orgNames(await h.fx.orgVisibility(users['organization_manager']!)), ['acme']);
    });

    it('global roles read everything; a stranger and `none` read nothing', async () => {
      for (const role of ['admin', 'admin_read_only', 'global_auditor']) {
        const v = await h.fx.spaceVisibility(users[role]!);
        assert.deepEqual(v, ALL, role);
        assert.deepEqual(await appNames(v), ['dev-api', 'dev-web', 'far-web', 'prod-web']);
      }
      const stranger = await h.fx.spaceVisibility(users['stranger']!);
      assert.deepEqual(await appNames(stranger), []);
      assert.deepEqual(await spaceNames(stranger), []);
      assert.deepEqual(await orgNames(await h.fx.orgVisibility(users['stranger']!)), []);
      assert.deepEqual(await appNames(NONE), []);
      assert.deepEqual(await orgNames(NONE), []);
      assert.equal((await h.store.listUsers(q(), {}, NONE)).total, 0);
      assert.equal((await h.store.listRoles(q(), {}, NONE)).total, 0);
      assert.equal((await h.store.listEvents(q(), {}, NONE)).total, 0);
    });

    it('an API token reads only its space (and its org)', async () => {
      const manager = users['organization_manager']!;
      assert.deepEqual(await appNames(await h.fx.spaceVisibility(manager, prod.guid)), ['prod-web']);
      assert.deepEqual(await spaceNames(await h.fx.spaceVisibility(manager, prod.guid)), ['prod']);
      const developer = users['space_developer']!;
      assert.deepEqual(await appNames(await h.fx.spaceVisibility(developer, dev.guid)), ['dev-api', 'dev-web']);
      assert.deepEqual(await appNames(await h.fx.spaceVisibility(developer, prod.guid)), [], 'no role there');
      assert.deepEqual(await appNames(await h.fx.spaceVisibility(developer, far.guid)), []);
      assert.deepEqual(await orgNames(await h.fx.orgVisibility(developer, dev.guid)), ['acme']);
      assert.deepEqual(await orgNames(await h.fx.orgVisibility(users['farDev']!, far.guid)), ['other']);
      assert.deepEqual(await orgNames(await h.fx.orgVisibility(users['farDev']!, dev.guid)), []);
    });

    it('an org is readable through a space role in one of its spaces', async () => {
      const v: Visibility = {
        kind: 'roles',
        userGuid: users['space_supporter']!.guid,
        spaceRoles: SPACE_READING,
        orgRoles: [],
      };
      assert.deepEqual(await orgNames(v), ['acme']);
      assert.deepEqual(await orgNames({ ...v, spaceRoles: ['space_developer'] }), []);
    });

    it('users: the caller and whoever holds a role in an org the caller reads', async () => {
      const usernames = async (v: Visibility) =>
        (await h.store.listUsers(q({ perPage: 100 }), {}, v)).items.map((u) => u.username).sort();
      const acmeMembers = [
        ...SPACE_ROLE_TYPES,
        'organization_user',
        'organization_auditor',
        'organization_billing_manager',
        'organization_manager',
      ].sort();
      assert.deepEqual(await usernames(await h.fx.orgVisibility(users['space_developer']!)), acmeMembers);
      assert.deepEqual(await usernames(await h.fx.orgVisibility(users['farDev']!)), ['far-dev']);
      assert.deepEqual(await usernames(await h.fx.orgVisibility(users['stranger']!)), ['stranger']);
      assert.equal((await h.store.listUsers(q(), {}, ALL)).total, Object.keys(users).length);
      assert.deepEqual(await usernames(await h.fx.orgVisibility(users['farDev']!, dev.guid)), ['far-dev']);
    });

    it('roles: org roles by the org rule, space roles by the space rule', async () => {
      const farManager = await h.fx.user('far-manager');
      await h.fx.orgRole(farManager, other, 'organization_manager');
      const prodDev = await h.fx.user('prod-dev');
      await h.fx.member(prodDev, prod);
      const visible = async (v: Visibility) => {
        const page = await h.store.listRoles(q({ perPage: 100 }), {}, v);
        assert.equal(page.total, page.items.length);
        return page.items;
      };
      // A space developer of dev: acme's org roles, dev's space roles; not prod's, not other's.
      const developer = users['space_developer']!;
      const seen = await visible({
        kind: 'roles',
        userGuid: developer.guid,
        spaceRoles: SPACE_READING,
        orgRoles: ORG_ROLES_READING_SPACES,
      });
      assert.ok(seen.length > 0);
      for (const r of seen) {
        assert.equal(r.orgGuid, acme.guid);
        if (r.spaceGuid !== undefined) assert.equal(r.spaceGuid, dev.guid);
      }
      assert.ok(seen.some((r) => r.type === 'organization_manager'));
      assert.ok(!seen.some((r) => r.userGuid === prodDev.guid && r.spaceGuid === prod.guid));
      // An org manager sees every role in the org, its spaces included.
      const manager = await visible(await h.fx.spaceVisibility(users['organization_manager']!));
      assert.ok(manager.some((r) => r.userGuid === prodDev.guid && r.spaceGuid === prod.guid));
      assert.ok(manager.every((r) => r.orgGuid === acme.guid));
      const all = await visible(ALL);
      assert.ok(all.some((r) => r.userGuid === farManager.guid));
      assert.deepEqual(await visible(await h.fx.spaceVisibility(users['stranger']!)), []);
      // With ORG_READING as orgRoles (orgVisibility), an org user reads the org's org roles.
      const orgUser = await visible({
        kind: 'roles',
        userGuid: users['organization_user']!.guid,
        spaceRoles: SPACE_READING,
        orgRoles: ORG_READING,
      });
      assert.ok(orgUser.some((r) => r.spaceGuid === undefined && r.type === 'organization_manager'));
    });

    it('events as CC shows them: a space event to its auditors, developers and supporters, an org event to its auditors, a platform event to global readers', async () => {
      const events = {
        dev: h.fx.event('audit.app.create', { spaceGuid: dev.guid, orgGuid: acme.guid }),
        prod: h.fx.event('audit.app.create', { spaceGuid: prod.guid, orgGuid: acme.guid }),
        acme: h.fx.event('audit.organization.update', { orgGuid: acme.guid }),
        other: h.fx.event('audit.organization.update', { orgGuid: other.guid }),
        platform: h.fx.event('audit.user.create'),
      };
      for (const e of Object.values(events)) await h.store.recordEvent(e);
      const seen = async (v: Visibility) => {
        const page = await h.store.listEvents(q(), {}, v);
        const byGuid = new Map(Object.entries(events).map(([k, e]) => [e.guid, k]));
        return page.items.map((e) => byGuid.get(e.guid)).sort();
      };
      assert.deepEqual(await seen(await h.fx.eventVisibility(users['space_developer']!)), ['dev']);
      assert.deepEqual(await seen(await h.fx.eventVisibility(users['space_supporter']!)), ['dev']);
      assert.deepEqual(await seen(await h.fx.eventVisibility(users['space_auditor']!)), ['dev']);
      assert.deepEqual(await seen(await h.fx.eventVisibility(users['space_manager']!)), []);
      assert.deepEqual(await seen(await h.fx.eventVisibility(users['organization_auditor']!)), ['acme']);
      assert.deepEqual(await seen(await h.fx.eventVisibility(users['organization_manager']!)), []);
      assert.deepEqual(await seen(await h.fx.eventVisibility(users['farDev']!)), []);
      assert.deepEqual(await seen(await h.fx.eventVisibility(users['stranger']!)), []);
      assert.deepEqual(await seen(ALL), ['acme', 'dev', 'other', 'platform', 'prod']);
      assert.deepEqual(await seen(await h.fx.eventVisibility(users['space_developer']!, prod.guid)), []);
      assert.deepEqual(await h.store.getEvent(events.dev.guid), events.dev);
    });
  });
}
