import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../oci/digest.js';
import type { Access, Authenticator } from '../auth/types.js';
import { errorCode, harness, randomLayer, type Harness } from './testdata/client.js';

/** An authenticator that records what each request asks, and refuses what it is told to. */
class RecordingAuth implements Authenticator {
  asked: Access[][] = [];
  refuse: ((access: Access) => 401 | 403 | undefined) | undefined;

  async check(_request: Request, required: Access[]) {
    this.asked.push(required);
    for (const access of required) {
      const status = this.refuse?.(access);
      if (status !== undefined) {
        // The shape of src/server/auth's RegistryAuthError: a status and the challenge to send.
        throw Object.assign(new Error(status === 401 ? 'authentication required' : 'not allowed'), {
          name: 'RegistryAuthError',
          status,
          challenge: `Bearer realm="https://auth.example/token",service="slipway",scope="${access.type}:${access.name}:${access.actions.join(',')}"`,
        });
      }
    }
    return { user: 'tester', granted: required };
  }
}

let h: Harness;
const auth = new RecordingAuth();

before(async () => {
  h = await harness({ auth });
  await h.client.pushImage('team/app', 'v1', [randomLayer()]);
});
after(() => h.dispose());

async function scopesOf(method: string, path: string): Promise<string[]> {
  auth.asked = [];
  await h.client.req(method, path);
  return auth.asked.flat().map((a) => `${a.type}:${a.name}:${a.actions.join(',')}`);
}

describe('access control', () => {
  it('asks pull for reads, pull+push for writes, delete for deletes, registry:catalog:* for the catalog', async () => {
    const d = digestOf('x');
    const cases: [string, string, string[]][] = [
      ['GET', '/v2/', []],
      ['GET', '/v2/_catalog', ['registry:catalog:*']],
      ['GET', '/v2/team/app/tags/list', ['repository:team/app:list']],
      ['HEAD', '/v2/team/app/manifests/v1', ['repository:team/app:pull']],
      ['GET', `/v2/team/app/blobs/${d}`, ['repository:team/app:pull']],
      ['GET', `/v2/team/app/referrers/${d}`, ['repository:team/app:pull']],
      ['PUT', '/v2/team/app/manifests/v2', ['repository:team/app:pull,push']],
      ['POST', '/v2/team/app/blobs/uploads/', ['repository:team/app:pull,push']],
      ['DELETE', '/v2/team/app/manifests/v1', ['repository:team/app:delete']],
      ['DELETE', `/v2/team/app/blobs/${d}`, ['repository:team/app:delete']],
    ];
    for (const [method, path, scopes] of cases)
      assert.deepEqual(await scopesOf(method, path), scopes, `${method} ${path}`);
  });

  it('asks pull on the source of a mount as well', async () => {
    const scopes = await scopesOf('POST', `/v2/team/copy/blobs/uploads/?mount=${digestOf('y')}&from=team/app`);
    assert.deepEqual(scopes, ['repository:team/copy:pull,push', 'repository:team/app:pull']);
  });

  it('answers 401 UNAUTHORIZED with the challenge as WWW-Authenticate', async () => {
    auth.refuse = () => 401;
    try {
      const res = await h.client.req('GET', '/v2/team/app/manifests/v1');
      assert.equal(res.status, 401);
      assert.equal(await errorCode(res), 'UNAUTHORIZED');
      assert.equal(
        res.headers.get('www-authenticate'),
        'Bearer realm="https://auth.example/token",service="slipway",scope="repository:team/app:pull"',
      );
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
      assert.equal((await h.client.req('GET', '/v2/')).status, 200, 'GET /v2/ asks no access of this authenticator');
    } finally {
      auth.refuse = undefined;
    }
  });

  it('answers 403 DENIED when the user may not do it', async () => {
    auth.refuse = (a) => (a.actions.includes('push') ? 403 : undefined);
    try {
      const res = await h.client.req('POST', '/v2/team/app/blobs/uploads/');
      assert.equal(res.status, 403);
      assert.equal(await errorCode(res), 'DENIED');
      assert.equal((await h.client.req('GET', '/v2/team/app/tags/list')).status, 200, 'pull is still allowed');
    } finally {
      auth.refuse = undefined;
    }
  });

  it('checks access before touching the store: a refused push leaves no upload session', async () => {
    auth.refuse = () => 401;
    try {
      const before = (await h.store.blobs.listIngests()).length;
      assert.equal((await h.client.req('POST', '/v2/team/app/blobs/uploads/')).status, 401);
      assert.equal((await h.store.blobs.listIngests()).length, before);
    } finally {
      auth.refuse = undefined;
    }
  });
});
