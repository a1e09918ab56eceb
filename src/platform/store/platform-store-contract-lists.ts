import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLabelSelector } from '../label-selector.js';
import { ALL, type Harness, labels, names, q, refused } from './platform-store-fixture.js';
import type { Visibility } from './platform-store.js';

/** The PlatformStore contract, part 3: filters, label selectors, pages, totals and orders. */
export function listContract(h: Harness): void {
  describe('filters', () => {
    it('filters apps by names (exactly), spaces, orgs, stacks, lifecycle, guids and creation times', async () => {
      const acme = await h.fx.org('acme');
      const other = await h.fx.org('other');
      const dev = await h.fx.space(acme, 'dev');
      const far = await h.fx.space(other, 'far');
      const web = await h.fx.app(dev, 'web');
      const api = await h.fx.app(dev, 'api', { lifecycle: { type: 'cnb', data: { buildpacks: [], stack: 'jammy' } } });
      const farWeb = await h.fx.app(far, 'web');
      const sorted = async (filter: Parameters<typeof h.store.listApps>[1]) =>
        (await h.store.listApps(q(), filter, ALL)).items.map((a) => a.guid).sort();
      const of = (...a: { guid: string }[]) => a.map((x) => x.guid).sort();
      assert.deepEqual(await sorted({ names: ['web'] }), of(web, farWeb));
      assert.deepEqual(await sorted({ names: ['WEB'] }), [], 'names match exactly');
      assert.deepEqual(await sorted({ names: ['web', 'api'], spaceGuids: [dev.guid] }), of(web, api));
      assert.deepEqual(await sorted({ organizationGuids: [other.guid] }), of(farWeb));
      assert.deepEqual(await sorted({ stacks: ['jammy'] }), of(api));
      assert.deepEqual(await sorted({ lifecycleType: 'buildpack' }), of(web, farWeb));
      assert.deepEqual(await sorted({ guids: [api.guid, farWeb.guid] }), of(api, farWeb));
      assert.deepEqual(await sorted({ createdAfter: api.createdAt }), of(api, farWeb), 'bounds are inclusive');
      assert.deepEqual(await sorted({ createdBefore: api.createdAt }), of(web, api));
      assert.deepEqual(await sorted({ createdAfter: api.createdAt, createdBefore: api.createdAt }), of(api));
      assert.deepEqual(await sorted({ names: [] }), [], 'an empty list matches nothing');
      await refused(h.store.listApps(q(), { createdAfter: 'yesterday' }, ALL), 'INVALID_ARGUMENT');
    });

    it('filters orgs, spaces, users, roles and events by their fields', async () => {
      const acme = await h.fx.org('acme');
      const other = await h.fx.org('other');
      const dev = await h.fx.space(acme, 'dev');
      await h.fx.space(acme, 'prod');
      const farDev = await h.fx.space(other, 'dev');
      assert.deepEqual(names(await h.store.listOrgs(q(), { names: ['other'] }, ALL)), ['other']);
      assert.deepEqual(names(await h.store.listOrgs(q(), { names: ['Other'] }, ALL)), []);
      assert.deepEqual(
        (await h.store.listSpaces(q(), { names: ['dev'] }, ALL)).items.map((s) => s.guid),
        [dev.guid, farDev.guid],
      );
      assert.deepEqual(names(await h.store.listSpaces(q(), { organizationGuids: [acme.guid] }, ALL)), ['dev', 'prod']);

      const alice = await h.fx.user('alice');
      const bob = await h.fx.user('bob', [], { origin: 'ldap' });
      const byName = async (filter: Parameters<typeof h.store.listUsers>[1]) =>
        (await h.store.listUsers(q(), filter, ALL)).items.map((u) => u.username);
      assert.deepEqual(await byName({ usernames: ['alice'] }), ['alice']);
      assert.deepEqual(await byName({ usernames: ['ALICE'] }), [], 'usernames match exactly');
      assert.deepEqual(await byName({ origins: ['ldap'] }), ['bob']);
      assert.deepEqual(await byName({ guids: [bob.guid] }), ['bob']);

      const member = await h.fx.orgRole(alice, acme);
      const manager = await h.fx.orgRole(bob, acme, 'organization_manager');
      const developer = await h.fx.spaceRole(alice, dev);
      const farMember = await h.fx.orgRole(alice, other);
      const roles = async (filter: Parameters<typeof h.store.listRoles>[1]) =>
        (await h.store.listRoles(q(), filter, ALL)).items.map((r) => r.guid);
      assert.deepEqual(await roles({ types: ['organization_manager'] }), [manager.guid]);
      assert.deepEqual(await roles({ userGuids: [alice.guid] }), [member.guid, developer.guid, farMember.guid]);
      assert.deepEqual(await roles({ spaceGuids: [dev.guid] }), [developer.guid]);
      assert.deepEqual(await roles({ organizationGuids: [other.guid] }), [farMember.guid]);
      assert.deepEqual(
        await roles({ organizationGuids: [acme.guid], types: ['organization_user', 'space_developer'] }),
        [member.guid, developer.guid],
      );

      const e1 = h.fx.event('audit.app.create', { spaceGuid: dev.guid, orgGuid: acme.guid });
      const e2 = h.fx.event('audit.app.delete-request', { spaceGuid: farDev.guid, orgGuid: other.guid });
      const e3 = h.fx.event('audit.organization.update', {
        orgGuid: acme.guid,
        target: { guid: acme.guid, type: 'organization', name: 'acme' },
      });
      for (const e of [e1, e2, e3]) await h.store.recordEvent(e);
      const events = async (filter: Parameters<typeof h.store.listEvents>[1]) =>
        (await h.store.listEvents(q(), filter, ALL)).items.map((e) => e.guid);
      assert.deepEqual(await events({ types: ['audit.app.create', 'audit.app.delete-request'] }), [e1.guid, e2.guid]);
      assert.deepEqual(await events({ targetGuids: [acme.guid] }), [e3.guid]);
      assert.deepEqual(await events({ spaceGuids: [farDev.guid] }), [e2.guid]);
      assert.deepEqual(await events({ organizationGuids: [acme.guid] }), [e1.guid, e3.guid]);
      assert.deepEqual(
        (await h.store.listEvents(q({ orderBy: '-created_at' }), {}, ALL)).items.map((e) => e.guid),
        [e3.guid, e2.guid, e1.guid],
      );
    });
  });

  describe('label selectors', () => {
    const cases: [string, string[]][] = [
      ['env=prod', ['w1', 'w3']],
      ['env==prod', ['w1', 'w3']],
      ['env!=prod', ['w2', 'w4']],
      ['env in (prod,staging)', ['w1', 'w2', 'w3']],
      ['env notin (prod,staging)', ['w4']],
      ['tier', ['w1', 'w2']],
      ['!tier', ['w3', 'w4']],
      ['env=prod,tier=web', ['w1']],
      ['env=prod,!tier', ['w3']],
      ['example.com/team=a', ['w1']],
      ['example.com/team', ['w1']],
      ['team', []],
      ['env=PROD', []],
    ];

    for (const visibility of ['everything', 'a space developer'] as const) {
      it(`selects apps by labels, as seen by ${visibility}`, async () => {
        const org = await h.fx.org('acme');
        const space = await h.fx.space(org, 'dev');
        const hidden = await h.fx.space(org, 'hidden');
        await h.fx.labelled(space, 'w1', { env: 'prod', tier: 'web', 'example.com/team': 'a' });
        await h.fx.labelled(space, 'w2', { env: 'staging', tier: 'web' });
        await h.fx.labelled(space, 'w3', { env: 'prod' });
        await h.fx.labelled(space, 'w4', {});
        await h.fx.labelled(hidden, 'h1', { env: 'prod', tier: 'web' });
        let v: Visibility = ALL;
        if (visibility !== 'everything') {
          const dev = await h.fx.user('dev');
          await h.fx.member(dev, space);
          v = await h.fx.spaceVisibility(dev);
        }
        for (const [selector, expected] of cases) {
          const page = await h.store.listApps(
            q({ orderBy: 'name' }),
            { labelSelector: parseLabelSelector(selector) },
            v,
          );
          const got = names(page).filter((n) => n !== 'h1');
          assert.deepEqual(got, expected, selector);
          assert.equal(page.total, page.items.length, `${selector}: total`);
          const hiddenSeen = names(page).includes('h1');
          const hiddenMatches = [
            'env=prod',
            'env==prod',
            'env in (prod,staging)',
            'tier',
            'env=prod,tier=web',
          ].includes(selector);
          assert.equal(hiddenSeen, visibility === 'everything' && hiddenMatches, `${selector}: the other space's app`);
        }
      });
    }

    it('follows a change of labels, and selects orgs, spaces, users and roles too', async () => {
      const org = await h.fx.org('acme', { metadata: labels({ plan: 'gold' }) });
      await h.fx.org('other');
      const space = await h.fx.space(org, 'dev', { metadata: labels({ kind: 'sandbox' }) });
      const app = await h.fx.labelled(space, 'web', { env: 'prod' });
      const selected = async (selector: string) =>
        names(await h.store.listApps(q(), { labelSelector: parseLabelSelector(selector) }, ALL));
      assert.deepEqual(await selected('env=prod'), ['web']);
      await h.store.updateApp(app.guid, { metadata: labels({ env: 'staging', fresh: 'yes' }) });
      assert.deepEqual(await selected('env=prod'), []);
      assert.deepEqual(await selected('env=staging,fresh'), ['web']);
      await h.store.updateApp(app.guid, { metadata: labels({}) });
      assert.deepEqual(await selected('fresh'), []);
      assert.deepEqual(await selected('!fresh'), ['web']);
      assert.deepEqual(names(await h.store.listOrgs(q(), { labelSelector: parseLabelSelector('plan=gold') }, ALL)), [
        'acme',
      ]);
      assert.deepEqual(names(await h.store.listOrgs(q(), { labelSelector: parseLabelSelector('!plan') }, ALL)), [
        'other',
      ]);
      const kinds = async () =>
        names(await h.store.listSpaces(q(), { labelSelector: parseLabelSelector('kind') }, ALL));
      assert.deepEqual(await kinds(), ['dev']);
      await h.store.updateOrg(org.guid, { metadata: labels({ plan: 'silver' }) });
      assert.deepEqual(names(await h.store.listOrgs(q(), { labelSelector: parseLabelSelector('plan=gold') }, ALL)), []);
      await h.store.updateSpace(space.guid, { metadata: labels({}) });
      assert.deepEqual(await kinds(), []);
      const bp = await h.fx.buildpack('node', 1, { metadata: labels({ official: 'yes' }) });
      await h.fx.buildpack('go', 2);
      const official = async () =>
        (await h.store.listBuildpacks(q(), { labelSelector: parseLabelSelector('official=yes') })).items.map(
          (b) => b.name,
        );
      assert.deepEqual(await official(), ['node']);
      await h.store.updateBuildpack(bp.guid, { metadata: labels({ official: 'no' }) });
      assert.deepEqual(await official(), []);
      const alice = await h.fx.user('alice', [], { metadata: labels({ team: 'core' }) });
      await h.fx.user('bob');
      const users = await h.store.listUsers(q(), { labelSelector: parseLabelSelector('team in (core)') }, ALL);
      assert.deepEqual(
        users.items.map((u) => u.guid),
        [alice.guid],
      );
      const role = await h.store.createRole({
        ...h.fx.orgRoleValue(alice, org, 'organization_user'),
        metadata: labels({ x: 'y' }),
      });
      await h.fx.orgRole(alice, org, 'organization_auditor');
      const roles = await h.store.listRoles(q(), { labelSelector: parseLabelSelector('x=y') }, ALL);
      assert.deepEqual(
        roles.items.map((r) => r.guid),
        [role.guid],
      );
    });
  });

  describe('pages and orders', () => {
    it('pages with totals of every match', async () => {
      const org = await h.fx.org('acme');
      const space = await h.fx.space(org, 'dev');
      for (const n of ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7'])
        await h.fx.app(space, n, { metadata: labels({ odd: String(Number(n[1]) % 2) }) });
      const page = (n: number, perPage = 3) => h.store.listApps(q({ page: n, perPage }), {}, ALL);
      assert.deepEqual(await page(1).then((p) => [names(p), p.total]), [['a1', 'a2', 'a3'], 7]);
      assert.deepEqual(await page(2).then((p) => [names(p), p.total]), [['a4', 'a5', 'a6'], 7]);
      assert.deepEqual(await page(3).then((p) => [names(p), p.total]), [['a7'], 7]);
      assert.deepEqual(
        await page(4).then((p) => [names(p), p.total]),
        [[], 7],
        'past the end: no items, the same total',
      );
      assert.deepEqual(await page(1, 7).then((p) => [names(p).length, p.total]), [7, 7]);
      const odd = await h.store.listApps(
        q({ page: 2, perPage: 2 }),
        { labelSelector: parseLabelSelector('odd=1') },
        ALL,
      );
      assert.deepEqual([names(odd), odd.total], [['a5', 'a7'], 4]);
      const none = await h.store.listApps(q(), { names: ['zzz'] }, ALL);
      assert.deepEqual([none.items, none.total], [[], 0]);
    });

    it('orders by name (regardless of case), creation and update, ascending or descending', async () => {
      const org = await h.fx.org('acme');
      const space = await h.fx.space(org, 'dev');
      const b = await h.fx.app(space, 'b');
      await h.fx.app(space, 'A');
      await h.fx.app(space, 'c');
      const order = async (orderBy: string) => names(await h.store.listApps(q({ orderBy }), {}, ALL));
      assert.deepEqual(await order('name'), ['A', 'b', 'c']);
      assert.deepEqual(await order('-name'), ['c', 'b', 'A']);
      assert.deepEqual(await order('created_at'), ['b', 'A', 'c']);
      assert.deepEqual(await order('-created_at'), ['c', 'A', 'b']);
      await new Promise((r) => setTimeout(r, 2));
      await h.store.updateApp(b.guid, { state: 'STARTED' });
      assert.deepEqual(await order('updated_at'), ['A', 'c', 'b']);
      assert.deepEqual(await order('-updated_at'), ['b', 'c', 'A']);
      await h.fx.org('Zeta');
      await h.fx.org('beta');
      assert.deepEqual(names(await h.store.listOrgs(q({ orderBy: 'name' }), {}, ALL)), ['acme', 'beta', 'Zeta']);
      assert.deepEqual(names(await h.store.listSpaces(q({ orderBy: '-name' }), {}, ALL)), ['dev']);
      const users = await Promise.all(['carol', 'Bob', 'alice'].map((u) => h.fx.user(u)));
      assert.deepEqual(
        (await h.store.listUsers(q({ orderBy: 'username' }), {}, ALL)).items.map((u) => u.username),
        ['alice', 'Bob', 'carol'],
      );
      assert.equal(users.length, 3);
    });

    it('refuses a bad page, page size or order (CF caps per_page at 5000 in the API, not here)', async () => {
      await refused(
        h.store.listApps(q({ page: 0 }), {}, ALL),
        'INVALID_ARGUMENT',
        'Page must be greater than 0',
        'page',
      );
      await refused(
        h.store.listApps(q({ perPage: 0 }), {}, ALL),
        'INVALID_ARGUMENT',
        'Per page must be greater than 0',
        'per_page',
      );
      await refused(
        h.store.listOrgs(q({ perPage: 1.5 }), {}, ALL),
        'INVALID_ARGUMENT',
        'Per page must be greater than 0',
      );
      await refused(h.store.listOrgs(q({ page: 1.5 }), {}, ALL), 'INVALID_ARGUMENT', 'Page must be greater than 0');
      // CF's cap of 5000 is the API's; the store serves its own callers' larger pages.
      assert.equal((await h.store.listOrgs(q({ perPage: 10_000 }), {}, ALL)).total, 0);
      await refused(
        h.store.listApps(q({ orderBy: 'guid' }), {}, ALL),
        'INVALID_ARGUMENT',
        /^Order by can only be: /,
        'order_by',
      );
      await refused(h.store.listRoles(q({ orderBy: 'name' }), {}, ALL), 'INVALID_ARGUMENT', /Order by can only be/);
      await refused(h.store.listEvents(q({ orderBy: '-position' }), {}, ALL), 'INVALID_ARGUMENT');
    });
  });
}
