import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSlipwayError } from '../../errors.js';
import { newGuid } from '../model.js';
import { type Harness, labels, q, refused } from './platform-store-fixture.js';

/** The PlatformStore contract, part 4: buildpacks, tokens, jobs, shared settings, and two writers at once. */
export function platformContract(h: Harness): void {
  describe('buildpacks', () => {
    const order = async () =>
      (await h.store.listBuildpacks(q({ orderBy: 'position' }), {})).items.map((b) => `${b.position}:${b.name}`);

    it('keeps positions contiguous from 1: insert shifts down, past the end goes last', async () => {
      const ruby = await h.fx.buildpack('ruby', 1);
      assert.equal(ruby.position, 1);
      assert.equal((await h.fx.buildpack('node', 10)).position, 2, 'past the end: last');
      await h.fx.buildpack('go', 3);
      assert.deepEqual(await order(), ['1:ruby', '2:node', '3:go']);
      const java = await h.fx.buildpack('java', 1);
      assert.deepEqual(await order(), ['1:java', '2:ruby', '3:node', '4:go']);
      await h.fx.buildpack('python', 3);
      assert.deepEqual(await order(), ['1:java', '2:ruby', '3:python', '4:node', '5:go']);
      assert.deepEqual(await h.store.getBuildpack(java.guid), { ...java, position: 1 });
      assert.equal((await h.store.getBuildpack(ruby.guid))?.position, 2, 'the shift is stored');
      await refused(
        h.fx.buildpack('zero', 0),
        'INVALID_ARGUMENT',
        'Position must be greater than or equal to 1',
        'position',
      );
    });

    it('moves a buildpack up, down and past the end; deleting one closes the gap', async () => {
      const bps = [];
      for (const name of ['a', 'b', 'c', 'd', 'e']) bps.push(await h.fx.buildpack(name, 99));
      const [a, b, , d, e] = bps;
      await h.store.updateBuildpack(d!.guid, { position: 2 });
      assert.deepEqual(await order(), ['1:a', '2:d', '3:b', '4:c', '5:e']);
      await h.store.updateBuildpack(a!.guid, { position: 4 });
      assert.deepEqual(await order(), ['1:d', '2:b', '3:c', '4:a', '5:e']);
      const moved = await h.store.updateBuildpack(b!.guid, { position: 50 });
      assert.equal(moved?.position, 5, 'past the end: last');
      assert.deepEqual(await order(), ['1:d', '2:c', '3:a', '4:e', '5:b']);
      await h.store.updateBuildpack(e!.guid, { position: 4, enabled: false });
      assert.deepEqual(await order(), ['1:d', '2:c', '3:a', '4:e', '5:b'], 'the same position: nothing moves');
      assert.equal(await h.store.deleteBuildpack(d!.guid), true);
      assert.deepEqual(await order(), ['1:c', '2:a', '3:e', '4:b']);
      assert.equal(await h.store.deleteBuildpack(b!.guid), true);
      assert.deepEqual(await order(), ['1:c', '2:a', '3:e']);
      assert.equal(await h.store.deleteBuildpack(b!.guid), false);
      await refused(h.store.updateBuildpack(a!.guid, { position: -1 }), 'INVALID_ARGUMENT');
      assert.equal(await h.store.updateBuildpack(newGuid(), { position: 1 }), undefined);
    });

    it('keeps name and stack unique, and updates the other fields', async () => {
      const node = await h.fx.buildpack('node', 1, { stack: 'cflinuxfs4' });
      await refused(
        h.fx.buildpack('node', 1, { stack: 'cflinuxfs4' }),
        'CONFLICT',
        "Buildpack with name 'node' and stack 'cflinuxfs4' already exists.",
        'name',
      );
      await h.fx.buildpack('node', 1, { stack: 'jammy' });
      await h.fx.buildpack('node', 1, { stack: null });
      await refused(
        h.fx.buildpack('node', 1, { stack: null }),
        'CONFLICT',
        "Buildpack with name 'node' and an unassigned stack already exists.",
        'name',
      );
      await refused(h.store.updateBuildpack(node.guid, { stack: 'jammy' }), 'CONFLICT', /already exists/);
      assert.deepEqual(
        (await h.store.listBuildpacks(q({ orderBy: 'position' }), {})).items.map((b) => b.stack),
        [null, 'jammy', 'cflinuxfs4'],
        'a failed create moves nothing',
      );
      const updated = await h.store.updateBuildpack(node.guid, {
        name: 'nodejs',
        enabled: false,
        locked: true,
        state: 'READY',
        filename: 'nodejs.zip',
        metadata: labels({ v: '1' }),
      });
      assert.equal(updated?.name, 'nodejs');
      assert.equal(updated?.stack, 'cflinuxfs4');
      assert.equal(updated?.enabled, false);
      assert.equal(updated?.locked, true);
      assert.equal(updated?.state, 'READY');
      assert.equal(updated?.filename, 'nodejs.zip');
      assert.deepEqual(updated?.metadata.labels, { v: '1' });
      assert.equal(updated?.position, 3);
      assert.deepEqual(await h.store.getBuildpack(node.guid), updated);
    });

    it('filters buildpacks by names, stacks and lifecycle', async () => {
      await h.fx.buildpack('node', 1, { stack: 'cflinuxfs4' });
      await h.fx.buildpack('node', 2, { stack: 'jammy', lifecycle: 'cnb' });
      await h.fx.buildpack('go', 3, { stack: null });
      const list = async (filter: Parameters<typeof h.store.listBuildpacks>[1]) =>
        (await h.store.listBuildpacks(q({ orderBy: 'position' }), filter)).items.map((b) => `${b.name}/${b.stack}`);
      assert.deepEqual(await list({ names: ['node'] }), ['node/cflinuxfs4', 'node/jammy']);
      assert.deepEqual(await list({ stacks: ['jammy'] }), ['node/jammy']);
      assert.deepEqual(await list({ lifecycle: 'cnb' }), ['node/jammy']);
      assert.deepEqual(await list({ names: ['go'], stacks: ['cflinuxfs4'] }), []);
      const page = await h.store.listBuildpacks(q({ orderBy: '-position', perPage: 2 }), {});
      assert.deepEqual([page.items.map((b) => b.name), page.total], [['go', 'node'], 3]);
      assert.deepEqual(
        (await h.store.listBuildpacks(q({ orderBy: 'name' }), {})).items.map((b) => b.name),
        ['go', 'node', 'node'],
      );
    });
  });

  describe('tokens', () => {
    it('keeps API tokens: create, read, list, touch, revoke once', async () => {
      const org = await h.fx.org('acme');
      const space = await h.fx.space(org, 'dev');
      const alice = await h.fx.user('alice');
      const bob = await h.fx.user('bob');
      const token = {
        guid: newGuid(),
        name: 'ci',
        userGuid: alice.guid,
        spaceGuid: space.guid,
        createdAt: h.fx.time(),
        secretHash: 'sha256:aa',
      };
      assert.deepEqual(await h.store.createApiToken(token), token);
      const second = { ...token, guid: newGuid(), name: 'deploy', createdAt: h.fx.time(), secretHash: 'sha256:bb' };
      await h.store.createApiToken(second);
      await h.store.createApiToken({ ...token, guid: newGuid(), userGuid: bob.guid, createdAt: h.fx.time() });
      assert.deepEqual(await h.store.getApiToken(token.guid), token);
      assert.deepEqual(
        (await h.store.listApiTokens(alice.guid)).map((t) => t.name),
        ['ci', 'deploy'],
      );
      await h.store.touchApiToken(token.guid, '2030-01-01T00:00:00.000Z');
      assert.equal((await h.store.getApiToken(token.guid))?.lastUsedAt, '2030-01-01T00:00:00.000Z');
      assert.equal(await h.store.revokeApiToken(token.guid, '2030-01-02T00:00:00.000Z'), true);
      assert.equal(await h.store.revokeApiToken(token.guid, '2030-01-03T00:00:00.000Z'), false, 'once');
      assert.equal((await h.store.getApiToken(token.guid))?.revokedAt, '2030-01-02T00:00:00.000Z');
      assert.equal((await h.store.getApiToken(second.guid))?.revokedAt, undefined);
      assert.equal(await h.store.revokeApiToken(newGuid(), '2030-01-02T00:00:00.000Z'), false);
      assert.equal(await h.store.getApiToken(newGuid()), undefined);
      await refused(h.store.createApiToken({ ...token, guid: newGuid(), userGuid: newGuid() }), 'NOT_FOUND');
      await refused(h.store.createApiToken({ ...token, guid: newGuid(), spaceGuid: newGuid() }), 'NOT_FOUND');
      // A token of a space that is gone acts nowhere.
      await h.store.deleteSpace(space.guid);
      const after = await h.store.getApiToken(second.guid);
      assert.ok(after === undefined || after.revokedAt !== undefined);
    });

    it('keeps refresh tokens: revoke one once, or every live one of a user', async () => {
      const alice = await h.fx.user('alice');
      const bob = await h.fx.user('bob');
      const token = (userGuid: string) => ({
        guid: newGuid(),
        userGuid,
        secretHash: `sha256:${newGuid()}`,
        createdAt: h.fx.time(),
        expiresAt: '2099-01-01T00:00:00.000Z',
      });
      const [a1, a2, a3, b1] = [token(alice.guid), token(alice.guid), token(alice.guid), token(bob.guid)];
      for (const t of [a1, a2, a3, b1]) await h.store.createRefreshToken(t);
      assert.deepEqual(await h.store.getRefreshToken(a1.guid), a1);
      assert.equal(await h.store.revokeRefreshToken(a1.guid, '2030-01-01T00:00:00.000Z'), true);
      assert.equal(
        await h.store.revokeRefreshToken(a1.guid, '2030-01-02T00:00:00.000Z'),
        false,
        'a rotation wins once',
      );
      assert.equal((await h.store.getRefreshToken(a1.guid))?.revokedAt, '2030-01-01T00:00:00.000Z');
      assert.equal(await h.store.revokeRefreshTokensOf(alice.guid, '2030-01-03T00:00:00.000Z'), 2);
      assert.equal((await h.store.getRefreshToken(a2.guid))?.revokedAt, '2030-01-03T00:00:00.000Z');
      assert.equal((await h.store.getRefreshToken(a1.guid))?.revokedAt, '2030-01-01T00:00:00.000Z', 'kept');
      assert.equal((await h.store.getRefreshToken(b1.guid))?.revokedAt, undefined, "another user's stays");
      assert.equal(await h.store.revokeRefreshTokensOf(alice.guid, '2030-01-04T00:00:00.000Z'), 0);
      assert.equal(await h.store.getRefreshToken(newGuid()), undefined);
      await refused(h.store.createRefreshToken(token(newGuid())), 'NOT_FOUND');
      const twice = await Promise.allSettled([
        h.store.revokeRefreshToken(b1.guid, '2030-01-05T00:00:00.000Z'),
        h.store.revokeRefreshToken(b1.guid, '2030-01-05T00:00:00.001Z'),
      ]);
      assert.deepEqual(twice.map((r) => r.status === 'fulfilled' && r.value).sort(), [false, true]);
    });
  });

  describe('jobs', () => {
    it('creates, updates and lists unfinished jobs', async () => {
      const t = h.fx.time();
      const job = {
        guid: newGuid(),
        createdAt: t,
        updatedAt: t,
        operation: 'organization.delete',
        state: 'PROCESSING' as const,
        errors: [],
        warnings: [],
        resourceGuid: newGuid(),
      };
      assert.deepEqual(await h.store.createJob(job), job);
      const t2 = h.fx.time();
      const other = { ...job, guid: newGuid(), createdAt: t2, updatedAt: t2, operation: 'space.delete' };
      delete (other as { resourceGuid?: string }).resourceGuid;
      await h.store.createJob(other);
      assert.deepEqual(await h.store.getJob(other.guid), other);
      assert.deepEqual(
        (await h.store.unfinishedJobs()).map((j) => j.guid),
        [job.guid, other.guid],
      );
      await new Promise((r) => setTimeout(r, 2));
      const failed = await h.store.updateJob(job.guid, {
        state: 'FAILED',
        errors: [{ code: 10008, title: 'CF-UnprocessableEntity', detail: 'nope' }],
        warnings: ['careful'],
      });
      assert.equal(failed?.state, 'FAILED');
      assert.deepEqual(failed?.errors, [{ code: 10008, title: 'CF-UnprocessableEntity', detail: 'nope' }]);
      assert.deepEqual(failed?.warnings, ['careful']);
      assert.equal(failed?.operation, 'organization.delete');
      assert.ok(failed!.updatedAt > job.updatedAt);
      assert.deepEqual(await h.store.getJob(job.guid), failed);
      assert.deepEqual(
        (await h.store.unfinishedJobs()).map((j) => j.guid),
        [other.guid],
      );
      await h.store.updateJob(other.guid, { state: 'COMPLETE' });
      assert.deepEqual(await h.store.unfinishedJobs(), []);
      assert.equal(await h.store.updateJob(newGuid(), { state: 'COMPLETE' }), undefined);
      assert.equal(await h.store.getJob(newGuid()), undefined);
    });
  });

  describe('shared settings', () => {
    it('stores the first value under a name and answers it ever after, calling create only when there is none', async () => {
      let calls = 0;
      const make = (value: string) => () => {
        calls++;
        return value;
      };
      assert.equal(await h.store.sharedSetting('token-key', make('first')), 'first');
      assert.equal(await h.store.sharedSetting('token-key', make('second')), 'first', 'the first writer wins');
      assert.equal(calls, 1, 'create is not called when a value is stored');
      assert.equal(await h.store.sharedSetting('worker-secret', make('other')), 'other', 'each name on its own');
      assert.equal(await h.store.sharedSetting('token-key', make('third')), 'first');
      await refused(
        h.store.sharedSetting('', () => 'x'),
        'INVALID_ARGUMENT',
        undefined,
        'name',
      );
    });

    it('gives every caller of one name at once the same value', async () => {
      const values = await Promise.all(
        Array.from({ length: 8 }, (_, i) => h.store.sharedSetting('signing-key', () => `key-${i}`)),
      );
      assert.equal(new Set(values).size, 1, `one value: ${values.join(', ')}`);
      assert.match(values[0]!, /^key-\d$/);
      assert.equal(await h.store.sharedSetting('signing-key', () => 'late'), values[0]);
    });
  });

  describe('two writers at once', () => {
    /** Exactly one of two attempts wins; the other is a CONFLICT. */
    async function oneWins(attempts: Promise<unknown>[]): Promise<void> {
      const results = await Promise.allSettled(attempts);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(won.length, 1, `one wins: ${lost.map((r) => String(r.reason)).join('; ')}`);
      assert.equal(lost.length, attempts.length - 1);
      for (const r of lost) assert.ok(isSlipwayError(r.reason, 'CONFLICT'), String(r.reason));
    }

    it('gives one CONFLICT for two creates of the same name', async () => {
      await oneWins([h.fx.org('acme'), h.fx.org('ACME')]);
      const org = (await h.store.findOrgBySlug('acme'))!;
      await oneWins([h.fx.space(org, 'dev'), h.fx.space(org, 'dev')]);
      const space = (await h.store.findSpaceBySlug(org.guid, 'dev'))!;
      await oneWins([h.fx.app(space, 'web'), h.fx.app(space, 'web')]);
      await oneWins([h.fx.user('alice'), h.fx.user('alice')]);
      const alice = (await h.store.findUser('alice'))!;
      await oneWins([h.fx.orgRole(alice, org), h.fx.orgRole(alice, org)]);
      await oneWins([h.fx.buildpack('node', 1), h.fx.buildpack('node', 1)]);
      assert.equal((await h.store.listOrgs(q(), {}, { kind: 'all' })).total, 1);
      assert.equal((await h.store.listApps(q(), {}, { kind: 'all' })).total, 1);
      assert.equal((await h.store.listRoles(q(), {}, { kind: 'all' })).total, 1);
    });

    it('keeps buildpack positions contiguous under concurrent inserts', async () => {
      await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((n, i) => h.fx.buildpack(n, (i % 3) + 1)));
      const positions = (await h.store.listBuildpacks(q({ orderBy: 'position' }), {})).items.map((b) => b.position);
      assert.deepEqual(positions, [1, 2, 3, 4, 5, 6]);
    });
  });
}
