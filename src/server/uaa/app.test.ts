import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../../auth/password.js';
import { loadOrCreateTokenKey } from '../../auth/token-key.js';
import { Identity } from '../../platform/identity/identity.js';
import { PlatformTokens } from '../../platform/identity/tokens.js';
import { emptyMetadata, newGuid, now } from '../../platform/model.js';
import { SqlitePlatformStore } from '../../platform/store/sqlite-platform-store.js';
import { createUaaApp } from './app.js';

interface Grant {
  access_token: string;
  refresh_token: string;
}

describe('UAA endpoints', () => {
  let dir: string;
  let store: SqlitePlatformStore;
  let uaa: ReturnType<typeof createUaaApp>;

  const token = async (form: Record<string, string>) =>
    uaa.request('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'cf', ...form }).toString(),
    });
  const login = async (username: string, password: string) => {
    const r = await token({ grant_type: 'password', username, password });
    return { status: r.status, grant: r.status === 200 ? ((await r.json()) as Grant) : undefined };
  };
  const revoke = (jti: string, bearer: string) =>
    uaa.request(`/oauth/token/revoke/${jti}`, { method: 'DELETE', headers: { authorization: `bearer ${bearer}` } });
  const jtiOf = (jwt: string) =>
    (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-uaa-'));
    store = await SqlitePlatformStore.open(join(dir, 'platform.sqlite'));
    const tokens = new PlatformTokens({ key: await loadOrCreateTokenKey(join(dir, 'key')), issuer: 'test' });
    const identity = new Identity(store, tokens);
    for (const [username, password, roles] of [
      ['alice', 'alice-1', []],
      ['mallory', 'mallory-1', []],
      ['root', 'root-1', ['admin']],
    ] as const) {
      const at = now();
      await store.createUser(
        {
          guid: newGuid(),
          username,
          origin: 'uaa',
          globalRoles: [...roles],
          metadata: emptyMetadata(),
          createdAt: at,
          updatedAt: at,
        },
        { passwordHash: await hashPassword(password) },
      );
    }
    uaa = createUaaApp({ store, identity });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a password change refuses the old password at once, though it logged in a moment ago', async () => {
    const first = await login('alice', 'alice-1');
    assert.equal(first.status, 200);
    const alice = (await store.findUser('alice', 'uaa'))!;
    const r = await uaa.request(`/Users/${alice.guid}/password`, {
      method: 'PUT',
      headers: { authorization: `bearer ${first.grant!.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ oldPassword: 'alice-1', password: 'alice-2' }),
    });
    assert.equal(r.status, 200);
    assert.equal((await login('alice', 'alice-1')).status, 401);
    assert.equal((await login('alice', 'alice-2')).status, 200);
    // The sessions of the old password end: its refresh token no longer works.
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: first.grant!.refresh_token });
    assert.equal(refreshed.status, 401);
  });

  it("revocation: a refresh token revokes itself (the cf CLI's logout), nobody else's", async () => {
    const alice = (await login('alice', 'alice-2')).grant!;
    const mallory = (await login('mallory', 'mallory-1')).grant!;
    const jti = jtiOf(alice.refresh_token);
    assert.equal((await revoke(jti, 'not-a-token')).status, 401);
    assert.equal((await revoke(jti, mallory.access_token)).status, 404, "another user's token is not theirs to know");
    assert.equal((await revoke(jti, mallory.refresh_token)).status, 403);
    const still = await token({ grant_type: 'refresh_token', refresh_token: alice.refresh_token });
    assert.equal(still.status, 200, 'the failed revocations left it working');
    const renewed = (await still.json()) as Grant;
    assert.equal((await revoke(jtiOf(renewed.refresh_token), renewed.refresh_token)).status, 200);
    assert.equal((await token({ grant_type: 'refresh_token', refresh_token: renewed.refresh_token })).status, 401);
  });

  it("an admin's access token revokes anyone's refresh token", async () => {
    const alice = (await login('alice', 'alice-2')).grant!;
    const root = (await login('root', 'root-1')).grant!;
    assert.equal((await revoke(jtiOf(alice.refresh_token), root.access_token)).status, 200);
    assert.equal((await token({ grant_type: 'refresh_token', refresh_token: alice.refresh_token })).status, 401);
  });
});
