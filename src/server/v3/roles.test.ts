import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BASE, World } from './testdata/world.js';

const orgRole = (type: string, org: string, user: unknown) => ({
  type,
  relationships: { user: { data: user }, organization: { data: { guid: org } } },
});
const spaceRole = (type: string, space: string, user: unknown) => ({
  type,
  relationships: { user: { data: user }, space: { data: { guid: space } } },
});

describe('v3 roles', () => {
  let w: World;
  beforeEach(async () => {
    w = await World.create();
  });
  afterEach(async () => {
    await w.close();
  });

  it("a role has CF's shape: type, relationships user/organization/space (the other null), links", async () => {
    const [org] = (await w.store.rolesOf(w.users.orgAuditor.guid)).filter((r) => r.type === 'organization_auditor');
    const res = await w.get(`/v3/roles/${org?.guid}`, 'orgManager');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.relationships, {
      user: { data: { guid: w.users.orgAuditor.guid } },
      organization: { data: { guid: w.acme.guid } },
      space: { data: null },
    });
    assert.deepEqual(res.body.links, {
      self: { href: `${BASE}/v3/roles/${org?.guid}` },
      user: { href: `${BASE}/v3/users/${w.users.orgAuditor.guid}` },
      organization: { href: `${BASE}/v3/organizations/${w.acme.guid}` },
    });
    const [space] = await w.store.rolesOf(w.users.spaceDeveloper.guid).then((rs) => rs.filter((r) => r.spaceGuid));
    const s = await w.get(`/v3/roles/${space?.guid}`, 'spaceManager');
    assert.deepEqual(s.body.relationships.organization, { data: null });
    assert.deepEqual(s.body.relationships.space, { data: { guid: w.dev.guid } });
    assert.equal(s.body.links.space.href, `${BASE}/v3/spaces/${w.dev.guid}`);
  });

  it('cf org-users: GET /v3/roles?include=user&organization_guids= lists the org roles with included users', async () => {
    const res = await w.get(`/v3/roles?include=user&organization_guids=${w.acme.guid}&per_page=100`, 'orgManager');
    assert.equal(res.status, 200);
    assert.equal(res.body.resources.length, 8, 'four org roles and the organization_user of four space members');
    for (const r of res.body.resources)
      assert.equal(r.relationships.space.data, null, 'organization_guids: org roles only, as CC');
    const users = res.body.included.users;
    const byGuid = new Map(users.map((u: { guid: string }) => [u.guid, u]));
    for (const r of res.body.resources) assert.ok(byGuid.has(r.relationships.user.data.guid));
    const auditor = byGuid.get(w.users.orgAuditor.guid) as Record<string, unknown>;
    assert.deepEqual(
      { username: auditor.username, presentation_name: auditor.presentation_name, origin: auditor.origin },
      { username: 'orgAuditor', presentation_name: 'orgAuditor', origin: 'uaa' },
    );
    assert.equal(
      res.body.pagination.first.href,
      `${BASE}/v3/roles?include=user&order_by=created_at&organization_guids=${w.acme.guid}&page=1&per_page=100`,
    );
  });

  it('cf space-users and unset-*-role lookups: filters space_guids, types, user_guids', async () => {
    const res = await w.get(
      `/v3/roles?page=1&per_page=1&space_guids=${w.dev.guid}&types=space_developer&user_guids=${w.users.spaceDeveloper.guid}`,
      'spaceManager',
    );
    assert.equal(res.body.pagination.total_results, 1);
    assert.equal(res.body.resources[0].type, 'space_developer');
    const none = await w.get(`/v3/roles?types=space_wizard`, 'admin');
    assert.equal(none.body.pagination.total_results, 0);
    const included = await w.get(`/v3/roles?include=space,organization&space_guids=${w.dev.guid}`, 'admin');
    assert.deepEqual(
      included.body.included.spaces.map((s: { guid: string }) => s.guid),
      [w.dev.guid],
    );
    assert.deepEqual(included.body.included.organizations, []);
  });

  it('org-only roles read the org roles, not the roles of spaces they cannot see; pages of the merged list', async () => {
    const kinds = async (who: Parameters<World['get']>[1]) => {
      const res = await w.get('/v3/roles?per_page=100', who);
      assert.equal(res.body.pagination.total_results, res.body.resources.length);
      return res.body.resources.map((r: { type: string }) => r.type);
    };
    const auditorSees = await kinds('orgAuditor');
    assert.equal(auditorSees.length, 8);
    assert.ok(auditorSees.every((t: string) => t.startsWith('organization_')));
    assert.equal((await kinds('spaceDeveloper')).length, 12, "acme's org roles and dev's space roles");
    assert.equal((await kinds('orgManager')).length, 12);
    // Walking pages of 5 gives every role once, oldest first.
    const seen: { guid: string; created_at: string }[] = [];
    let href: string | null = `${BASE}/v3/roles?per_page=5`;
    while (href) {
      const page = await w.get(href, 'spaceDeveloper');
      assert.equal(page.body.pagination.total_results, 12);
      assert.equal(page.body.pagination.total_pages, 3);
      seen.push(...page.body.resources);
      href = page.body.pagination.next?.href ?? null;
    }
    assert.equal(new Set(seen.map((r) => r.guid)).size, 12);
    const times = seen.map((r) => r.created_at);
    assert.deepEqual(times, [...times].sort());
    const newest = await w.get('/v3/roles?order_by=-created_at&per_page=2&page=2', 'spaceDeveloper');
    assert.deepEqual(
      newest.body.resources.map((r: { guid: string }) => r.guid),
      [...seen]
        .reverse()
        .slice(2, 4)
        .map((r) => r.guid),
    );
  });

  it('an invalid roles query is 422, as CC answers it here', async () => {
    const res = await w.get('/v3/roles?colour=red', 'admin');
    assert.equal(res.status, 422);
    assert.equal(res.body.errors[0].code, 10008);
    assert.match(res.body.errors[0].detail, /^Unknown query parameter\(s\): 'colour'\. Valid parameters are: 'page', /);
  });

  it('create an org role by username (and origin), as cf set-org-role sends it', async () => {
    const newcomer = await w.user('newcomer');
    const res = await w.call(
      'POST',
      '/v3/roles',
      'orgManager',
      orgRole('organization_auditor', w.acme.guid, { username: 'newcomer', origin: 'uaa' }),
    );
    assert.equal(res.status, 201);
    assert.equal(res.body.type, 'organization_auditor');
    assert.equal(res.body.relationships.user.data.guid, newcomer.guid);
    const again = await w.call(
      'POST',
      '/v3/roles',
      'orgManager',
      orgRole('organization_auditor', w.acme.guid, { username: 'newcomer' }),
    );
    assert.equal(again.status, 422);
    assert.equal(
      again.body.errors[0].detail,
      "User 'newcomer' already has 'organization_auditor' role in organization 'acme'.",
    );
    const missing = await w.call(
      'POST',
      '/v3/roles',
      'orgManager',
      orgRole('organization_user', w.acme.guid, { username: 'ghost' }),
    );
    assert.equal(missing.status, 422);
    assert.equal(missing.body.errors[0].detail, "No user exists with the username 'ghost'.");
    const withOrigin = await w.call(
      'POST',
      '/v3/roles',
      'orgManager',
      orgRole('organization_user', w.acme.guid, { username: 'ghost', origin: 'ldap' }),
    );
    assert.equal(withOrigin.body.errors[0].detail, "No user exists with the username 'ghost' and origin 'ldap'.");
  });

  it('a username in two origins is ambiguous without an origin', async () => {
    await w.user('twin');
    await w.call('POST', '/v3/users', 'admin', { username: 'twin', origin: 'ldap' });
    const res = await w.call(
      'POST',
      '/v3/roles',
      'admin',
      orgRole('organization_user', w.acme.guid, { username: 'twin' }),
    );
    assert.equal(res.status, 422);
    assert.equal(
      res.body.errors[0].detail,
      "Ambiguous user. User with username 'twin' exists in the following origins: ldap, uaa. Specify an origin to disambiguate.",
    );
  });

  it('a space role needs an org role first (CC 1002 text), then the space manager may give it', async () => {
    const outsider = await w.user('outsider');
    const body = spaceRole('space_developer', w.dev.guid, { guid: outsider.guid });
    const denied = await w.call('POST', '/v3/roles', 'spaceManager', body);
    assert.equal(denied.status, 422);
    assert.equal(
      denied.body.errors[0].detail,
      "Users cannot be assigned roles in a space if they do not have a role in that space's organization.",
    );
    assert.equal(
      (
        await w.call(
          'POST',
          '/v3/roles',
          'orgManager',
          orgRole('organization_user', w.acme.guid, { guid: outsider.guid }),
        )
      ).status,
      201,
    );
    const granted = await w.call('POST', '/v3/roles', 'spaceManager', body);
    assert.equal(granted.status, 201);
    const twice = await w.call('POST', '/v3/roles', 'spaceManager', body);
    assert.equal(twice.body.errors[0].detail, "User 'outsider' already has 'space_developer' role in space 'dev'.");
  });

  it("CC's message rules for a role body", async () => {
    const detail = async (body: unknown) => (await w.call('POST', '/v3/roles', 'admin', body)).body.errors[0].detail;
    assert.match(
      await detail({ type: 'owner', relationships: { user: { data: { guid: 'x' } } } }),
      /^Type must be one of the allowed types \[/,
    );
    assert.equal(
      await detail({
        type: 'space_developer',
        relationships: { user: { data: { guid: 'x' } }, organization: { data: { guid: 'o' } } },
      }),
      "Relationships Organization cannot be provided with the space role type: 'space_developer'.",
    );
    assert.equal(
      await detail({
        type: 'organization_user',
        relationships: { user: { data: { guid: 'x', username: 'y' } }, organization: { data: { guid: 'o' } } },
      }),
      'Relationships Username cannot be specified when identifying user by guid',
    );
    assert.equal(
      await detail({ type: 'organization_user', relationships: { user: { data: {} } } }),
      'Relationships User must have a username or guid specified, Relationships must specify either a space or an organization.',
    );
    assert.equal(
      await detail(orgRole('organization_user', 'nope', { guid: w.users.orgUser.guid })),
      'Invalid organization. Ensure that the organization exists and you have access to it.',
    );
    assert.equal(
      await detail(spaceRole('space_auditor', 'nope', { guid: w.users.orgUser.guid })),
      'Invalid space. Ensure that the space exists and you have access to it.',
    );
  });

  it('delete: a job; organization_user stays while the user has space roles in the org; audit add and remove events', async () => {
    const roles = await w.store.rolesOf(w.users.spaceAuditor.guid);
    const orgUser = roles.find((r) => r.type === 'organization_user');
    const auditor = roles.find((r) => r.type === 'space_auditor');
    const blocked = await w.call('DELETE', `/v3/roles/${orgUser?.guid}`, 'orgManager');
    assert.equal(blocked.status, 422);
    assert.equal(
      blocked.body.errors[0].detail,
      'Cannot delete organization_user role while user has roles in spaces in that organization.',
    );
    const res = await w.call('DELETE', `/v3/roles/${auditor?.guid}`, 'spaceManager');
    assert.equal(res.status, 202);
    await w.app.jobs.idle();
    assert.equal((await w.get(res.headers.get('location') ?? '', 'spaceManager')).body.state, 'COMPLETE');
    assert.equal(await w.store.getRole(auditor?.guid ?? ''), undefined);
    assert.equal((await w.call('DELETE', `/v3/roles/${orgUser?.guid}`, 'orgManager')).status, 202);
    await w.app.jobs.idle();
    const events = await w.get(
      `/v3/audit_events?target_guids=${w.users.spaceAuditor.guid}&order_by=created_at`,
      'admin',
    );
    assert.deepEqual(
      events.body.resources.map((e: { type: string }) => e.type),
      ['audit.user.space_auditor_remove', 'audit.user.organization_user_remove'],
    );
    assert.deepEqual(events.body.resources[0].target, {
      guid: w.users.spaceAuditor.guid,
      type: 'user',
      name: 'spaceAuditor',
    });
    const granted = await w.call(
      'POST',
      '/v3/roles',
      'orgManager',
      orgRole('organization_auditor', w.acme.guid, { guid: w.users.orgUser.guid }),
    );
    assert.equal(granted.status, 201);
    const add = await w.get(`/v3/audit_events?types=audit.user.organization_auditor_add`, 'admin');
    assert.equal(add.body.resources[0].target.guid, w.users.orgUser.guid);
    assert.deepEqual(add.body.resources[0].organization, { guid: w.acme.guid });
  });

  it('a role of another org is 404 "Role not found"', async () => {
    const [theirs] = await w.store.rolesOf(w.users.otherOrgDeveloper.guid);
    const res = await w.get(`/v3/roles/${theirs?.guid}`, 'orgManager');
    assert.equal(res.status, 404);
    assert.equal(res.body.errors[0].detail, 'Role not found');
    const list = await w.get(`/v3/roles?user_guids=${w.users.otherOrgDeveloper.guid}`, 'orgManager');
    assert.equal(list.body.pagination.total_results, 0);
  });
});
