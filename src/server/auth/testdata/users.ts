import { Hono } from 'hono';
import bcrypt from 'bcryptjs';
import { isRegistryAuthError } from '../errors.js';
import { FileAuthorizer } from '../file-authorizer.js';
import { parseScopes } from '../../../auth/scope.js';
import type { Authenticator } from '../types.js';
import type { UsersFile } from '../../../auth/users-file.js';

/** Test passwords: hashed with the lowest bcrypt cost so tests stay fast. */
export const PASSWORDS = { alice: 'alice-secret', bob: 'bob-secret' } as const;

/**
 * alice may pull, push and delete under team/ and list the catalog; bob may pull
 * team/; everyone may pull public/.
 */
export function sampleUsers(): UsersFile {
  return {
    users: {
      alice: {
        passwordHash: bcrypt.hashSync(PASSWORDS.alice, 4),
        grants: [{ prefix: 'team/', actions: ['pull', 'push', 'delete'] }],
        catalog: true,
      },
      bob: { passwordHash: bcrypt.hashSync(PASSWORDS.bob, 4), grants: [{ prefix: 'team/', actions: ['pull'] }] },
    },
    anonymous: { grants: [{ prefix: 'public/', actions: ['pull'] }] },
  };
}

export function sampleAuthorizer(): FileAuthorizer {
  return new FileAuthorizer(sampleUsers());
}

export function basicHeader(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/**
 * A stand-in for the registry routes: `GET /check?need=SCOPE` asks the authenticator
 * for the scopes in `need` and answers the principal, or the auth error as routes do.
 */
export function guardedApp(auth: Authenticator): Hono {
  const app = new Hono();
  app.get('/check', async (c) => {
    const required = parseScopes(new URL(c.req.url).searchParams.getAll('need'));
    try {
      return c.json(await auth.check(c.req.raw, required));
    } catch (err) {
      if (isRegistryAuthError(err)) return err.toResponse();
      throw err;
    }
  });
  return app;
}
