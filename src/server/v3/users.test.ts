import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BASE, World } from './testdata/world.js';

describe('v3 users', () => {
  let w: World;
  beforeEach(async () => {
    w = await World.create();
  });
  afterEach(async () => {
    await w.close();
  });

  it("a user has CF's shape: username, presentation_name, origin, metadata, links", async () => {
    const res = await w.get(`/v3/users/${w.users.spaceDeveloper.guid}`, 'spaceDeveloper');
    assert.equal(res.status, 200);
    assert.deepEqual(
      { ...res.body, created_at: undefined, updated_at: undefined },
      {
        guid: w.users.spaceDeveloper.guid,
        created_at: undefined,
        updated_at: undefined,
        username: 'spaceDeveloper',
        presentation_name: 'spaceDeveloper',
        origin: 'uaa',
        metadata: { labels: {}, annotations: {} },
        links: { self: { href: `${BASE}/v3/users/${w.users.spaceDeveloper.guid}` } },
      },
    );
  });

  it('users are readable to those who share an org with them, and to themselves', async () => {
    const names = async (who: Parameters<World['get']>[1]) =>
      (await w.get('/v3/users?per_page=100', who)).body.resources.map((u: { username: string }) => u.username).sort();
    assert.deepEqual(await names('otherOrgDeveloper'), ['other-dev']);
    const acme = await names('orgBillingManager');
    assert.ok(acme.includes('spaceSupporter') && acme.includes('orgManager') && !acme.includes('other-dev'));
    assert.equal((await names('admin')).length, 12, 'every user of the world');
    assert.equal((await w.get(`/v3/users/${w.users.otherOrgDeveloper.guid}`, 'orgManager')).status, 404);
    assert.equal(
      (await w.get(`/v3/users/${w.users.otherOrgDeveloper.guid}`, 'orgManager')).body.errors[0].detail,
      'User not found',
    );
  });

  it('cf unset-*-role finds users by usernames and origins; origins alone is 422 as CC', async () => {
    const res = await w.get('/v3/users?usernames=orgUser&origins=uaa', 'orgManager');
    assert.deepEqual(
      res.body.resources.map((u: { guid: string }) => u.guid),
      [w.users.orgUser.guid],
    );
    assert.equal(res.body.pagination.first.href, `${BASE}/v3/users?origins=uaa&page=1&per_page=50&usernames=orgUser`);
    const alone = await w.get('/v3/users?origins=uaa', 'admin');
    assert.equal(alone.status, 422);
    assert.equal(
      alone.body.errors[0].detail,
      'Origins filter cannot be provided without usernames or partial_usernames filter.',
    );
    assert.equal((await w.get('/v3/users?usernames=ghost', 'admin')).body.pagination.total_results, 0);
  });

  it('create by guid answers the user UAA made (cf create-user), 201; an unknown guid is 422', async () => {
    const uaaMade = await w.user('fresh');
    const res = await w.call('POST', '/v3/users', 'admin', { guid: uaaMade.guid });
    assert.equal(res.status, 201);
    assert.equal(res.body.guid, uaaMade.guid);
    assert.equal(res.body.username, 'fresh');
    const unknown = await w.call('POST', '/v3/users', 'admin', { guid: 'nope' });
    assert.equal(unknown.status, 422);
    assert.equal(unknown.body.errors[0].detail, "No user exists with the guid 'nope'.");
  });

  it('create by username and origin makes a user of that origin; CC refuses uaa and duplicates', async () => {
    const res = await w.call('POST', '/v3/users', 'admin', { username: 'carol', origin: 'ldap' });
    assert.equal(res.status, 201);
    assert.deepEqual([res.body.username, res.body.origin], ['carol', 'ldap']);
    const again = await w.call('POST', '/v3/users', 'admin', { username: 'carol', origin: 'ldap' });
    assert.equal(again.body.errors[0].detail, "User with username 'carol' and origin 'ldap' already exists.");
    const detail = async (body: unknown) => (await w.call('POST', '/v3/users', 'admin', body)).body.errors[0].detail;
    assert.equal(
      await detail({ username: 'dan', origin: 'uaa' }),
      "Origin cannot be 'uaa' when creating a user by username",
    );
    assert.equal(await detail({ username: 'dan' }), "Username can only be provided together with 'origin'");
    assert.equal(await detail({}), "Guid or 'username' and 'origin' must be provided");
    assert.equal(await detail({ guid: 'g', username: 'u' }), "Username cannot be provided with 'guid'");
    const events = await w.get(`/v3/audit_events?target_guids=${res.body.guid}`, 'admin');
    assert.equal(events.body.resources[0].type, 'audit.user.create');
  });

  it('delete: admins; a job that removes the user with their roles', async () => {
    const res = await w.call('DELETE', `/v3/users/${w.users.orgUser.guid}`, 'admin');
    assert.equal(res.status, 202);
    await w.app.jobs.idle();
    assert.equal((await w.get(res.headers.get('location') ?? '', 'admin')).body.state, 'COMPLETE');
    assert.equal(await w.store.getUser(w.users.orgUser.guid), undefined);
    assert.deepEqual(await w.store.rolesOf(w.users.orgUser.guid), []);
  });
});
