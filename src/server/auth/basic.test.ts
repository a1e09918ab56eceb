import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basicAuthenticator, parseBasicAuthorization } from './basic.js';
import { RegistryAuthError } from './errors.js';
import { PASSWORDS, basicHeader, guardedApp, sampleAuthorizer } from './testdata/users.js';

const app = guardedApp(basicAuthenticator(sampleAuthorizer()));
const check = (need: string | undefined, authorization?: string) =>
  app.request(
    need === undefined ? '/check' : `/check?need=${encodeURIComponent(need)}`,
    authorization === undefined ? {} : { headers: { Authorization: authorization } },
  );

type OciErrors = { errors: { code: string; message: string }[] };

describe('basic auth', () => {
  test('the version check without credentials is challenged, so clients send them later', async () => {
    const res = await check(undefined);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="slipway"');
    const body = (await res.json()) as OciErrors;
    assert.equal(body.errors[0]!.code, 'UNAUTHORIZED');
    assert.equal((await check(undefined, basicHeader('alice', PASSWORDS.alice))).status, 200);
  });

  test('anonymous pull per prefix: public/ without credentials, team/ needs a login', async () => {
    const pub = await check('repository:public/base:pull');
    assert.equal(pub.status, 200);
    assert.deepEqual(await pub.json(), { granted: [{ type: 'repository', name: 'public/base', actions: ['pull'] }] });
    const team = await check('repository:team/app:pull');
    assert.equal(team.status, 401);
    assert.equal(team.headers.get('www-authenticate'), 'Basic realm="slipway"');
    assert.equal((await check('repository:public/base:pull,push')).status, 401, 'anonymous never pushes');
  });

  test('containers/image sends Basic with an empty user when it has no credentials: that is anonymous', async () => {
    assert.equal((await check('repository:public/base:pull', 'Basic Og==')).status, 200);
    assert.equal((await check('repository:team/app:pull', 'Basic Og==')).status, 401);
  });

  test('signed in: the user is known and granted; wrong passwords are 401', async () => {
    const ok = await check('repository:team/app:pull,push', basicHeader('alice', PASSWORDS.alice));
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), {
      user: 'alice',
      granted: [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }],
    });
    for (const header of [basicHeader('alice', 'wrong'), basicHeader('mallory', 'x'), 'Basic !!!notbase64']) {
      const res = await check('repository:public/base:pull', header);
      assert.equal(res.status, 401, header);
      assert.equal(res.headers.get('www-authenticate'), 'Basic realm="slipway"');
      assert.doesNotMatch(await res.text(), /wrong/, 'the password is never echoed');
    }
  });

  test('signed in but not allowed is 403 DENIED with the refused actions in the detail', async () => {
    const res = await check('repository:team/app:pull,push', basicHeader('bob', PASSWORDS.bob));
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('www-authenticate'), null);
    assert.deepEqual(await res.json(), {
      errors: [
        {
          code: 'DENIED',
          // bob may pull team/: only the action refused is named
          message: 'user bob may not repository:team/app:push',
          detail: [{ Type: 'repository', Name: 'team/app', Action: 'push' }],
        },
      ],
    });
  });

  test('catalog: only users granted it', async () => {
    assert.equal((await check('registry:catalog:*', basicHeader('alice', PASSWORDS.alice))).status, 200);
    assert.equal((await check('registry:catalog:*', basicHeader('bob', PASSWORDS.bob))).status, 403);
    assert.equal((await check('registry:catalog:*')).status, 401);
  });

  test('a mount needs both repositories', async () => {
    const need = 'repository:public/base:pull repository:team/app:pull,push';
    assert.equal((await check(need, basicHeader('alice', PASSWORDS.alice))).status, 200);
    const res = await check(
      'repository:other/x:pull repository:team/app:pull,push',
      basicHeader('alice', PASSWORDS.alice),
    );
    assert.equal(res.status, 403);
    assert.match(((await res.json()) as OciErrors).errors[0]!.message, /other\/x:pull$/);
  });

  test('parseBasicAuthorization keeps colons in passwords and ignores other schemes', () => {
    assert.deepEqual(parseBasicAuthorization(basicHeader('u', 'a:b:c')), { user: 'u', password: 'a:b:c' });
    assert.equal(parseBasicAuthorization('Bearer x'), undefined);
    assert.equal(parseBasicAuthorization(null), undefined);
    assert.equal(parseBasicAuthorization(`Basic ${Buffer.from('nocolon').toString('base64')}`), 'malformed');
  });

  test('RegistryAuthError carries status, code and challenge for the routes', () => {
    const err = RegistryAuthError.unauthorized('authentication required', 'Basic realm="x"');
    assert.equal(err.status, 401);
    assert.equal(err.code, 'UNAUTHORIZED');
    assert.deepEqual(err.headers(), { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Basic realm="x"' });
    assert.equal(RegistryAuthError.denied('no').status, 403);
  });
});
