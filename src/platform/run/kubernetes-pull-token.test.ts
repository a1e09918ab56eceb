import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { generateTokenKey } from '../../auth/token-key.js';
import { Identity } from '../identity/identity.js';
import { PlatformTokens } from '../identity/tokens.js';
import { PlatformRegistry } from '../registry-access.js';
import { SqlitePlatformStore } from '../store/sqlite-platform-store.js';
import { WorkloadFixture } from '../store/workload-store-fixture.js';

/** The pods' image pull secret holds an instance pull token: it pulls its own app's images and does nothing else. */
describe('instance pull tokens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-pull-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("log in to the registry and pull the app's own repository, by its stored name or its public one, only", async () => {
    const store = await SqlitePlatformStore.open(join(dir, 'platform.sqlite'));
    try {
      const fx = new WorkloadFixture(store, store.workloads);
      const org = await fx.org('acme');
      const space = await fx.space(org, 'dev');
      const app = await fx.app(space, 'web');
      const other = await fx.app(space, 'other');
      const tokens = new PlatformTokens({ key: await generateTokenKey(), issuer: 'slipway-uaa' });
      const identity = new Identity(store, tokens);
      const registry = new PlatformRegistry(store, identity);
      const token = await tokens.issueInstancePull({ appGuid: app.guid, spaceGuid: space.guid, orgGuid: org.guid });

      const subject = await identity.registryLogin('slipway-pull', token);
      assert.equal(subject, `pull:${token}`);
      const ask = (name: string) =>
        registry.authorize(subject, { type: 'repository', name, actions: ['pull', 'push', 'delete'] });
      assert.deepEqual((await ask(`apps/${app.guid}`)).actions, ['pull']);
      assert.deepEqual((await ask('acme/dev/web')).actions, ['pull']);
      assert.equal((await ask(`apps/${other.guid}`)).hidden, true);
      assert.equal((await ask('acme/dev/other')).hidden, true);
      // Not a staging token nor an access token: the API does not take it.
      assert.equal((await identity.callerForSubject(subject)).kind, 'staging');
      await assert.rejects(identity.callerFromAuthorization(`bearer ${token}`), /Invalid Auth Token/);
      // A forged one (another key) logs in as nobody.
      const forged = await new PlatformTokens({
        key: await generateTokenKey(),
        issuer: 'slipway-uaa',
      }).issueInstancePull({ appGuid: app.guid, spaceGuid: space.guid, orgGuid: org.guid });
      assert.equal(await identity.registryLogin('slipway-pull', forged), undefined);
    } finally {
      await store.close();
    }
  });
});
