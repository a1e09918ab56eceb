import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newGuid } from '../model.js';
import { parseLabelSelector } from '../label-selector.js';
import { ALL, type Harness, labels, q, refused } from './platform-store-fixture.js';

/** The PlatformStore contract, part 1: users, orgs, spaces, apps, roles and CF's rules on them. */
export function resourceContract(h: Harness): void {
  describe('users', () => {
    it('creates, reads, finds (username regardless of case, by origin) and counts users', async () => {
      const alice = await h.fx.user('alice', ['admin'], { metadata: labels({ team: 'core' }) });
      assert.equal(alice.username, 'alice');
      assert.equal(alice.origin, 'uaa');
      assert.deepEqual(alice.globalRoles, ['admin']);
      assert.deepEqual(alice.metadata, { labels: { team: 'core' }, annotations: {} });
      assert.deepEqual(await h.store.getUser(alice.guid), alice);
      assert.deepEqual(await h.store.findUser('alice'), alice);
      assert.deepEqual(await h.store.findUser('ALICE'), alice);
      assert.deepEqual(await h.store.findUser('alice', 'uaa'), alice);
      assert.equal(await h.store.findUser('alice', 'ldap'), undefined);
      assert.equal(await h.store.findUser('bob'), undefined);
      assert.equal(await h.store.getUser(newGuid()), undefined);
      const ldap = await h.fx.user('alice', [], { origin: 'ldap' });
      assert.deepEqual(await h.store.findUser('alice', 'ldap'), ldap);
      assert.equal((await h.store.findUser('alice'))?.guid, alice.guid, 'any origin: the first created');
      assert.equal(await h.store.countUsers(), 2);
    });

    it('refuses a username taken in the same origin, whatever its case', async () => {
      await h.fx.user('alice');
      await refused(h.fx.user('alice'), 'CONFLICT', "Username 'alice' is taken.", 'username');
      await refused(h.fx.user('Alice'), 'CONFLICT', "Username 'Alice' is taken.", 'username');
      await h.fx.user('alice', [], { origin: 'ldap' });
    });

    it('keeps credentials apart and sets a new password hash', async () => {
      const alice = await h.fx.user('alice');
      assert.deepEqual(await h.store.credentials(alice.guid), { userGuid: alice.guid, passwordHash: 'hash-of-alice' });
      await h.store.setPasswordHash(alice.guid, 'argon2id-new');
      assert.deepEqual(await h.store.credentials(alice.guid), { userGuid: alice.guid, passwordHash: 'argon2id-new' });
      const robot = await h.store.createUser(h.fx.userValue('robot'), {});
      const creds = await h.store.credentials(robot.guid);
      assert.equal(creds?.userGuid, robot.guid);
      assert.equal(creds?.passwordHash, undefined);
      assert.equal(await h.store.credentials(newGuid()), undefined);
      await refused(h.store.setPasswordHash(newGuid(), 'x'), 'NOT_FOUND');
    });

    it('updates global roles and metadata, and moves updatedAt', async () => {
      const alice = await h.fx.user('alice');
      await new Promise((r) => setTimeout(r, 2));
      const updated = await h.store.updateUser(alice.guid, { globalRoles: ['global_auditor'] });
      assert.deepEqual(updated?.globalRoles, ['global_auditor']);
      assert.ok(updated!.updatedAt > alice.updatedAt, 'updatedAt moves');
      assert.equal(updated!.createdAt, alice.createdAt);
      const relabelled = await h.store.updateUser(alice.guid, { metadata: labels({ a: '1' }) });
      assert.deepEqual(relabelled?.globalRoles, ['global_auditor'], 'an update keeps what it does not name');
      assert.deepEqual(relabelled?.metadata.labels, { a: '1' });
      const selected = async (selector: string) =>
        (await h.store.listUsers(q(), { labelSelector: parseLabelSelector(selector) }, ALL)).items.map((u) => u.guid);
      assert.deepEqual(await selected('a=1'), [alice.guid]);
      await h.store.updateUser(alice.guid, { metadata: labels({ b: '2' }) });
      assert.deepEqual(await selected('a'), []);
      assert.deepEqual(await selected('b=2'), [alice.guid]);
      assert.equal(await h.store.updateUser(newGuid(), { globalRoles: [] }), undefined);
    });

    it('deletes a user with its roles and credentials', async () => {
      const alice = await h.fx.user('alice');
      const org = await h.fx.org('acme');
      const space = await h.fx.space(org, 'dev');
      await h.fx.member(alice, space);
      assert.equal(await h.store.deleteUser(alice.guid), true);
      assert.equal(await h.store.getUser(alice.guid), undefined);
      assert.deepEqual(await h.store.rolesOf(alice.guid), []);
      assert.equal(await h.store.credentials(alice.guid), undefined);
      assert.equal((await h.store.listRoles(q(), {}, { kind: 'all' })).total, 0);
      assert.equal(await h.store.deleteUser(alice.guid), false);
      assert.equal(await h.store.countUsers(), 0);
    });
  });

  describe('organizations', () => {
    it('creates, reads and finds an org by slug', async () => {
      const org = await h.fx.org('Acme Corp', { metadata: { labels: { env: 'prod' }, annotations: { note: 'hi' } } });
      assert.equal(org.slug, 'acme-corp');
      assert.equal(org.suspended, false);
      assert.deepEqual(await h.store.getOrg(org.guid), org);
      assert.deepEqual(await h.store.findOrgBySlug('acme-corp'), org);
      assert.equal(await h.store.findOrgBySlug('acme'), undefined);
      assert.equal(await h.store.getOrg(newGuid()), undefined);
      assert.deepEqual(org.metadata, { labels: { env: 'prod' }, annotations: { note: 'hi' } });
    });

    it('keeps org names unique regardless of case, and slugs unique', async () => {
      await h.fx.org('acme');
      await refused(h.fx.org('acme'), 'CONFLICT', "Organization 'acme' already exists.", 'name');
      await refused(h.fx.org('ACME'), 'CONFLICT', "Organization 'ACME' already exists.", 'name');
      await refused(
        h.fx.org('Acme!', { slug: 'acme' }),
        'CONFLICT',
        "Organization name 'Acme!' gives the registry name 'acme', which 'acme' has: choose another name",
        'slug',
      );
    });

    it('renames, suspends and relabels an org, keeping the rules', async () => {
      const acme = await h.fx.org('acme');
      const other = await h.fx.org('other');
      await new Promise((r) => setTimeout(r, 2));
      const renamed = await h.store.updateOrg(acme.guid, { name: 'ACME', suspended: true });
      assert.equal(renamed?.name, 'ACME', 'its own name in another case is no conflict');
      assert.equal(renamed?.slug, 'acme', 'the slug changes only when asked');
      assert.equal(renamed?.suspended, true);
      assert.ok(renamed!.updatedAt > acme.updatedAt);
      await refused(
        h.store.updateOrg(acme.guid, { name: 'Other' }),
        'CONFLICT',
        "Organization 'Other' already exists.",
        'name',
      );
      await refused(
        h.store.updateOrg(acme.guid, { slug: 'other' }),
        'CONFLICT',
        "Organization name 'ACME' gives the registry name 'other', which 'other' has: choose another name",
        'slug',
      );
      const moved = await h.store.updateOrg(acme.guid, { name: 'Acme 2', slug: 'acme-2' });
      assert.equal((await h.store.findOrgBySlug('acme-2'))?.guid, acme.guid);
      assert.equal(moved?.suspended, true);
      assert.equal(await h.store.findOrgBySlug('acme'), undefined);
      const relabelled = await h.store.updateOrg(other.guid, { metadata: labels({ tier: 'gold' }) });
      assert.deepEqual(relabelled?.metadata.labels, { tier: 'gold' });
      assert.equal(await h.store.updateOrg(newGuid(), { name: 'x' }), undefined);
    });

    it('deletes an org with its spaces, apps and roles, and returns the apps', async () => {
      const acme = await h.fx.org('acme');
      const kept = await h.fx.org('kept');
      const dev = await h.fx.space(acme, 'dev');
      const prod = await h.fx.space(acme, 'prod');
      const keptSpace = await h.fx.space(kept, 'dev');
      const a1 = await h.fx.labelled(dev, 'a1', { env: 'x' });
      const a2 = await h.fx.app(prod, 'a2');
      const keptApp = await h.fx.app(keptSpace, 'a1');
      const alice = await h.fx.user('alice');
      await h.fx.member(alice, dev);
      await h.fx.orgRole(alice, acme, 'organization_manager');
      const keptRole = await h.fx.orgRole(alice, kept);
      const result = await h.store.deleteOrg(acme.guid);
      assert.equal(result.deleted, true);
      assert.deepEqual(result.apps.map((a) => a.guid).sort(), [a1.guid, a2.guid].sort());
      assert.deepEqual(
        result.apps.find((a) => a.guid === a1.guid),
        a1,
        'the apps as they were',
      );
      assert.equal(await h.store.getOrg(acme.guid), undefined);
      assert.equal(await h.store.getSpace(dev.guid), undefined);
      assert.equal(await h.store.getSpace(prod.guid), undefined);
      assert.equal(await h.store.getApp(a1.guid), undefined);
      assert.deepEqual(
        (await h.store.rolesOf(alice.guid)).map((r) => r.guid),
        [keptRole.guid],
      );
      assert.deepEqual(await h.store.getApp(keptApp.guid), keptApp);
      assert.ok(await h.store.getUser(alice.guid), 'users stay');
      const selected = await h.store.listApps(
        q(),
        { labelSelector: [{ key: 'env', op: 'exists', values: [] }] },
        { kind: 'all' },
      );
      assert.equal(selected.total, 0, 'the labels went with the apps');
      assert.deepEqual(await h.store.deleteOrg(acme.guid), { deleted: false, apps: [] });
      // The name is free again.
      await h.fx.org('acme');
    });
  });

  describe('spaces', () => {
    it('creates, reads and finds a space by slug within its org', async () => {
      const org = await h.fx.org('acme');
      const space = await h.fx.space(org, 'Dev Space');
      assert.equal(space.orgGuid, org.guid);
      assert.deepEqual(await h.store.getSpace(space.guid), space);
      assert.deepEqual(await h.store.findSpaceBySlug(org.guid, 'dev-space'), space);
      const other = await h.fx.org('other');
      assert.equal(await h.store.findSpaceBySlug(other.guid, 'dev-space'), undefined);
    });

    it('refuses a space in a missing org', async () => {
      const ghost = h.fx.orgValue('ghost');
      await refused(
        h.store.createSpace(h.fx.spaceValue(ghost, 'dev')),
        'NOT_FOUND',
        'Invalid organization. Ensure that the organization exists and you have access to it.',
        'organization',
      );
    });

    it('keeps space names unique per org regardless of case, and slugs unique per org', async () => {
      const acme = await h.fx.org('acme');
      const other = await h.fx.org('other');
      await h.fx.space(acme, 'dev');
      await refused(h.fx.space(acme, 'DEV'), 'CONFLICT', 'Name must be unique per organization', 'name');
      await refused(
        h.fx.space(acme, 'dev!', { slug: 'dev' }),
        'CONFLICT',
        "Space name 'dev!' gives the registry name 'dev', which 'dev' has: choose another name",
        'slug',
      );
      await h.fx.space(other, 'dev');
    });

    it('renames and relabels a space', async () => {
      const acme = await h.fx.org('acme');
      const dev = await h.fx.space(acme, 'dev');
      await h.fx.space(acme, 'prod');
      await refused(
        h.store.updateSpace(dev.guid, { name: 'Prod' }),
        'CONFLICT',
        'Name must be unique per organization',
        'name',
      );
      await refused(
        h.store.updateSpace(dev.guid, { slug: 'prod' }),
        'CONFLICT',
        "Space name 'dev' gives the registry name 'prod', which 'prod' has: choose another name",
        'slug',
      );
      const renamed = await h.store.updateSpace(dev.guid, {
        name: 'development',
        slug: 'development',
        metadata: labels({ a: 'b' }),
      });
      assert.equal(renamed?.name, 'development');
      assert.equal((await h.store.findSpaceBySlug(acme.guid, 'development'))?.guid, dev.guid);
      assert.deepEqual(renamed?.metadata.labels, { a: 'b' });
      assert.equal(await h.store.updateSpace(newGuid(), { name: 'x' }), undefined);
    });

    it('deletes a space with its apps and space roles, keeping org roles', async () => {
      const acme = await h.fx.org('acme');
      const dev = await h.fx.space(acme, 'dev');
      const prod = await h.fx.space(acme, 'prod');
      const web = await h.fx.app(dev, 'web');
      const api = await h.fx.app(prod, 'api');
      const alice = await h.fx.user('alice');
      await h.fx.member(alice, dev);
      const prodRole = await h.fx.spaceRole(alice, prod);
      const result = await h.store.deleteSpace(dev.guid);
      assert.equal(result.deleted, true);
      assert.deepEqual(result.apps, [web]);
      assert.equal(await h.store.getApp(web.guid), undefined);
      assert.deepEqual(await h.store.getApp(api.guid), api);
      const left = await h.store.rolesOf(alice.guid);
      assert.deepEqual(left.map((r) => r.type).sort(), ['organization_user', 'space_developer']);
      assert.ok(left.some((r) => r.guid === prodRole.guid));
      assert.deepEqual(await h.store.deleteSpace(dev.guid), { deleted: false, apps: [] });
    });
  });

  describe('apps', () => {
    it('creates, reads, finds by slug, updates and deletes an app', async () => {
      const org = await h.fx.org('acme');
      const space = await h.fx.space(org, 'dev');
      const app = await h.fx.app(space, 'Web App', {
        environmentVariables: { SECRET: 's3cret' },
        metadata: { labels: { tier: 'web' }, annotations: { owner: 'me' } },
      });
      assert.equal(app.slug, 'web-app');
      assert.deepEqual(await h.store.getApp(app.guid), app);
      assert.deepEqual(await h.store.findAppBySlug(space.guid, 'web-app'), app);
      assert.equal(await h.store.findAppBySlug(space.guid, 'web'), undefined);
      await new Promise((r) => setTimeout(r, 2));
      const started = await h.store.updateApp(app.guid, {
        state: 'STARTED',
        lifecycle: { type: 'cnb', data: { buildpacks: ['paketo/node'], stack: null } },
        environmentVariables: { A: '1' },
      });
      assert.equal(started?.state, 'STARTED');
      assert.deepEqual(started?.lifecycle, { type: 'cnb', data: { buildpacks: ['paketo/node'], stack: null } });
      assert.deepEqual(started?.environmentVariables, { A: '1' });
      assert.equal(started?.name, 'Web App');
      assert.deepEqual(started?.metadata, app.metadata);
      assert.ok(started!.updatedAt > app.updatedAt);
      assert.equal(await h.store.updateApp(newGuid(), { state: 'STARTED' }), undefined);
      assert.equal(await h.store.deleteApp(app.guid), true);
      assert.equal(await h.store.getApp(app.guid), undefined);
      assert.equal(await h.store.deleteApp(app.guid), false);
    });

    it('refuses an app in a missing space', async () => {
      const org = await h.fx.org('acme');
      const ghost = h.fx.spaceValue(org, 'ghost');
      await refused(
        h.store.createApp(h.fx.appValue(ghost, 'web')),
        'NOT_FOUND',
        'Invalid space. Ensure that the space exists and you have access to it.',
        'space',
      );
    });

    it('keeps app names unique per space regardless of case, and slugs unique per space', async () => {
      const org = await h.fx.org('acme');
      const dev = await h.fx.space(org, 'dev');
      const prod = await h.fx.space(org, 'prod');
      const web = await h.fx.app(dev, 'web');
      await refused(h.fx.app(dev, 'WEB'), 'CONFLICT', "App with the name 'WEB' already exists.", 'name');
      await refused(
        h.fx.app(dev, 'web!', { slug: 'web' }),
        'CONFLICT',
        "App name 'web!' gives the registry name 'web', which 'web' has: choose another name",
        'slug',
      );
      await h.fx.app(prod, 'web');
      const api = await h.fx.app(dev, 'api');
      await refused(
        h.store.updateApp(api.guid, { name: 'Web' }),
        'CONFLICT',
        "App with the name 'Web' already exists.",
        'name',
      );
      await refused(
        h.store.updateApp(api.guid, { slug: 'web' }),
        'CONFLICT',
        "App name 'api' gives the registry name 'web', which 'web' has: choose another name",
        'slug',
      );
      assert.equal((await h.store.updateApp(web.guid, { name: 'Web' }))?.name, 'Web');
    });
  });

  describe('roles', () => {
    it('creates org and space roles; a space role carries its space org', async () => {
      const org = await h.fx.org('acme');
      const space = await h.fx.space(org, 'dev');
      const alice = await h.fx.user('alice');
      const orgRole = await h.fx.orgRole(alice, org, 'organization_auditor');
      assert.equal(orgRole.orgGuid, org.guid);
      assert.equal(orgRole.spaceGuid, undefined);
      assert.deepEqual(await h.store.getRole(orgRole.guid), orgRole);
      const spaceRole = await h.fx.spaceRole(alice, space, 'space_manager');
      assert.equal(spaceRole.spaceGuid, space.guid);
      assert.equal(spaceRole.orgGuid, org.guid, 'filled from the space');
      assert.deepEqual(await h.store.getRole(spaceRole.guid), spaceRole);
      assert.deepEqual(
        (await h.store.rolesOf(alice.guid)).map((r) => r.guid),
        [orgRole.guid, spaceRole.guid],
      );
      assert.equal(await h.store.getRole(newGuid()), undefined);
    });

    it('refuses a space role without an org role in that org, and the same role twice', async () => {
      const acme = await h.fx.org('acme');
      const other = await h.fx.org('other');
      const space = await h.fx.space(acme, 'dev');
      const alice = await h.fx.user('alice');
      await h.fx.orgRole(alice, other);
      await refused(
        h.fx.spaceRole(alice, space),
        'INVALID_ARGUMENT',
        "Users cannot be assigned roles in a space if they do not have a role in that space's organization.",
      );
      await h.fx.orgRole(alice, acme, 'organization_billing_manager');
      await h.fx.spaceRole(alice, space);
      await refused(
        h.fx.spaceRole(alice, space),
        'CONFLICT',
        "User 'alice' already has 'space_developer' role in space 'dev'.",
        'role',
      );
      await refused(
        h.fx.orgRole(alice, acme, 'organization_billing_manager'),
        'CONFLICT',
        "User 'alice' already has 'organization_billing_manager' role in organization 'acme'.",
        'role',
      );
      await h.fx.spaceRole(alice, space, 'space_auditor');
      await h.fx.orgRole(alice, acme, 'organization_manager');
    });

    it('refuses a role of an unknown type, or for a missing user, org or space', async () => {
      const org = await h.fx.org('acme');
      const space = await h.fx.space(org, 'dev');
      const alice = await h.fx.user('alice');
      const bad = { ...h.fx.orgRoleValue(alice, org, 'organization_user'), type: 'organization_owner' };
      await refused(h.store.createRole(bad as never), 'INVALID_ARGUMENT', "Role type 'organization_owner' is invalid.");
      await refused(
        h.store.createRole(h.fx.orgRoleValue(h.fx.userValue('ghost'), org, 'organization_user')),
        'NOT_FOUND',
        'Invalid user. Ensure that the user exists and you have access to it.',
        'user',
      );
      await refused(
        h.store.createRole(h.fx.orgRoleValue(alice, h.fx.orgValue('ghost'), 'organization_user')),
        'NOT_FOUND',
        'Invalid organization. Ensure that the organization exists and you have access to it.',
        'organization',
      );
      await refused(
        h.store.createRole(h.fx.spaceRoleValue(alice, h.fx.spaceValue(org, 'ghost'), 'space_developer')),
        'NOT_FOUND',
        'Invalid space. Ensure that the space exists and you have access to it.',
        'space',
      );
      assert.ok(space);
    });

    it('refuses to remove an org role a space role still needs', async () => {
      const org = await h.fx.org('acme');
      const space = await h.fx.space(org, 'dev');
      const alice = await h.fx.user('alice');
      const member = await h.fx.orgRole(alice, org, 'organization_user');
      const dev = await h.fx.spaceRole(alice, space);
      await refused(
        h.store.deleteRole(member.guid),
        'INVALID_ARGUMENT',
        'Cannot remove the organization role of a user who has space roles in it; remove those first.',
      );
      assert.ok(await h.store.getRole(member.guid), 'still there');
      // With another org role in the org, this one is not needed.
      const auditor = await h.fx.orgRole(alice, org, 'organization_auditor');
      assert.equal(await h.store.deleteRole(member.guid), true);
      await refused(h.store.deleteRole(auditor.guid), 'INVALID_ARGUMENT');
      assert.equal(await h.store.deleteRole(dev.guid), true);
      assert.equal(await h.store.deleteRole(auditor.guid), true);
      assert.deepEqual(await h.store.rolesOf(alice.guid), []);
      assert.equal(await h.store.deleteRole(auditor.guid), false);
    });
  });
}
