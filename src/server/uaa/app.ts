import { Hono, type Context } from 'hono';
import { isSlipwayError } from '../../errors.js';
import type { Identity } from '../../platform/identity/identity.js';
import { emptyMetadata, newGuid, now, type User } from '../../platform/model.js';
import { Permissions } from '../../platform/policy.js';
import type { PlatformStore } from '../../platform/store/platform-store.js';
import { hashPassword } from '../../auth/password.js';
import { LoginGuard } from '../auth/login-guard.js';
import type { LoginLimits } from '../auth/login-limiter.js';

export interface UaaOptions {
  store: PlatformStore;
  identity: Identity;
  loginLimits?: Partial<LoginLimits>;
}

type UaaEnv = { Bindings: { incoming?: { socket?: { remoteAddress?: string } } } };

/**
 * The part of UAA (Cloud Foundry's identity server) the cf CLI talks to, mounted at
 * `/uaa`: the login prompts, the OAuth2 token endpoint (password and refresh_token
 * grants for the `cf` client), SCIM users (list by filter, create) and logout's token
 * revocation. Passwords go through the same login guard as the registry's (limits per
 * address and user, argon2id off the event loop).
 */
export function createUaaApp(options: UaaOptions): Hono<UaaEnv> {
  const { store, identity } = options;
  const logins = new LoginGuard(
    {
      login: async (user, password) => (await identity.passwordLogin(user, password))?.guid,
      authorize: async (_s, r) => r,
    },
    options.loginLimits ? { limits: options.loginLimits } : {},
  );
  identity.onPasswordChange((username) => logins.forget(username));
  const app = new Hono<UaaEnv>();

  app.get('/login', (c) => {
    const base = baseOf(c);
    return c.json({
      app: { version: '77.0.0' },
      links: { uaa: base, login: base },
      zone_name: 'uaa',
      // Only these two: the cf CLI asks every other prompt interactively.
      prompts: { username: ['text', 'Email'], password: ['password', 'Password'] },
    });
  });

  app.post('/oauth/token', async (c) => {
    const form = new URLSearchParams(await c.req.text());
    const grant = form.get('grant_type');
    try {
      if (grant === 'password') {
        const username = form.get('username') ?? '';
        const password = form.get('password') ?? '';
        const address = c.env?.incoming?.socket?.remoteAddress;
        const guid = username && password ? await logins.login(address, username, password) : undefined;
        const user = guid ? await store.getUser(guid) : undefined;
        if (!user) return uaaError(c, 401, 'unauthorized', 'Bad credentials');
        return c.json(await identity.grant(user));
      }
      if (grant === 'refresh_token') return c.json(await identity.refresh(form.get('refresh_token') ?? ''));
      return uaaError(
        c,
        400,
        'unsupported_grant_type',
        `grant_type "${grant ?? ''}" is not supported: use password or refresh_token`,
      );
    } catch (err) {
      if (isSlipwayError(err, 'TOO_MANY_REQUESTS')) {
        const seconds = Math.max(1, Math.ceil(Number(err.detail?.['retryAfterSeconds'] ?? 1)));
        c.header('Retry-After', String(seconds));
        return uaaError(c, 429, 'too_many_requests', `Too many failed logins; try again in ${seconds} seconds.`);
      }
      if (isSlipwayError(err, 'UNAUTHORIZED')) return uaaError(c, 401, 'invalid_token', err.message);
      throw err;
    }
  });

  // The cf CLI's logout sends the token it revokes as the bearer (its refresh token);
  // an access token of its user or of an admin may revoke it too.
  app.delete('/oauth/token/revoke/:jti', async (c) => {
    const jti = c.req.param('jti');
    const bearer = /^bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
    const own = bearer ? await identity.tokens.verifyRefresh(bearer).catch(() => undefined) : undefined;
    const perms = own ? undefined : await callerPermissions(identity, c);
    if (!own && !perms) return uaaError(c, 401, 'invalid_token', 'a valid access or refresh token is needed');
    const by = own
      ? { userGuid: own.userGuid, admin: false }
      : { userGuid: perms!.user!.guid, admin: perms!.isAdmin() };
    if (own && own.guid !== jti) return uaaError(c, 403, 'access_denied', 'a refresh token may revoke only itself');
    if (!(await identity.revoke(jti, by))) return uaaError(c, 404, 'not_found', `Token ${jti} was not found`);
    return c.json({});
  });

  app.get('/userinfo', async (c) => {
    const perms = await callerPermissions(identity, c);
    if (!perms) return uaaError(c, 401, 'invalid_token', 'a valid access token is needed');
    const u = perms.user!;
    return c.json({ user_id: u.guid, sub: u.guid, user_name: u.username, email: u.username, origin: u.origin });
  });

  app.get('/Users', async (c) => {
    const perms = await callerPermissions(identity, c);
    if (!perms) return uaaError(c, 401, 'invalid_token', 'a valid access token is needed');
    if (!perms.isAdmin()) return uaaError(c, 403, 'insufficient_scope', 'Insufficient scope for this resource');
    const { userName, origin } = parseFilter(c.req.query('filter') ?? '');
    const found =
      userName === undefined ? [] : [await store.findUser(userName, origin)].filter((u): u is User => u !== undefined);
    return c.json({
      resources: found.map(scimUser),
      startIndex: 1,
      itemsPerPage: found.length,
      totalResults: found.length,
      schemas: ['urn:scim:schemas:core:1.0'],
    });
  });

  app.post('/Users', async (c) => {
    const perms = await callerPermissions(identity, c);
    if (!perms) return uaaError(c, 401, 'invalid_token', 'a valid access token is needed');
    if (!perms.isAdmin()) return uaaError(c, 403, 'insufficient_scope', 'Insufficient scope for this resource');
    const body = (await c.req.json().catch(() => ({}))) as { userName?: unknown; password?: unknown; origin?: unknown };
    const userName = typeof body.userName === 'string' ? body.userName.trim() : '';
    const origin = typeof body.origin === 'string' && body.origin !== '' ? body.origin : 'uaa';
    if (!userName) return uaaError(c, 400, 'invalid_scim_resource', 'A username must be provided.');
    if (origin !== 'uaa')
      return uaaError(
        c,
        400,
        'invalid_scim_resource',
        `origin "${origin}" is not known: this platform has users of origin uaa only`,
      );
    if (typeof body.password !== 'string' || body.password === '')
      return uaaError(c, 400, 'invalid_password', 'Password must be at least 1 character in length.');
    if (await store.findUser(userName, origin))
      return uaaError(c, 409, 'scim_resource_already_exists', `Username already in use: ${userName}`);
    const t = now();
    try {
      const user = await store.createUser(
        {
          guid: newGuid(),
          username: userName,
          origin,
          globalRoles: [],
          createdAt: t,
          updatedAt: t,
          metadata: emptyMetadata(),
        },
        { passwordHash: await hashPassword(body.password) },
      );
      return c.json(scimUser(user), 201);
    } catch (err) {
      if (isSlipwayError(err, 'CONFLICT'))
        return uaaError(c, 409, 'scim_resource_already_exists', `Username already in use: ${userName}`);
      throw err;
    }
  });

  // UAA's password change: the user's own with the old password, or an admin's for anyone.
  app.put('/Users/:id/password', async (c) => {
    const perms = await callerPermissions(identity, c);
    if (!perms) return uaaError(c, 401, 'invalid_token', 'a valid access token is needed');
    const id = c.req.param('id');
    const self = perms.user?.guid === id;
    if (!self && !perms.isAdmin())
      return uaaError(c, 403, 'insufficient_scope', 'Insufficient scope for this resource');
    const body = (await c.req.json().catch(() => ({}))) as { oldPassword?: unknown; password?: unknown };
    if (typeof body.password !== 'string' || body.password === '')
      return uaaError(c, 422, 'invalid_password', 'Password must be at least 1 character in length.');
    const user = await store.getUser(id);
    if (!user) return uaaError(c, 404, 'scim_resource_not_found', `User ${id} does not exist`);
    if (
      self &&
      (typeof body.oldPassword !== 'string' || !(await identity.passwordLogin(user.username, body.oldPassword)))
    ) {
      return uaaError(c, 401, 'unauthorized', 'Old password is incorrect');
    }
    await identity.changePassword(user, body.password);
    return c.json({ status: 'ok', message: 'password updated' });
  });

  return app;
}

/** The caller of a UAA request that needs a token; undefined when there is none or it is bad. */
async function callerPermissions(identity: Identity, c: Context<UaaEnv>): Promise<Permissions | undefined> {
  try {
    const caller = await identity.callerFromAuthorization(c.req.header('authorization'));
    return caller.kind === 'user' ? new Permissions(caller) : undefined;
  } catch {
    return undefined;
  }
}

function uaaError(
  c: Context<UaaEnv>,
  status: 400 | 401 | 403 | 404 | 409 | 422 | 429,
  error: string,
  description: string,
): Response {
  return c.json({ error, error_description: description }, status);
}

/** `userName eq "x" and origin eq "uaa"` (SCIM filters as the cf CLI writes them). */
function parseFilter(filter: string): { userName?: string; origin?: string } {
  const out: { userName?: string; origin?: string } = {};
  for (const m of filter.matchAll(/(userName|origin)\s+eq\s+"((?:[^"\\]|\\.)*)"/gi)) {
    const value = m[2]!.replace(/\\(.)/g, '$1');
    if (m[1]!.toLowerCase() === 'username') out.userName = value;
    else out.origin = value;
  }
  return out;
}

function scimUser(u: User): Record<string, unknown> {
  return {
    id: u.guid,
    userName: u.username,
    origin: u.origin,
    name: { familyName: u.username, givenName: u.username },
    emails: [{ value: u.username, primary: true }],
    active: true,
    verified: true,
    zoneId: 'uaa',
    meta: { created: u.createdAt, lastModified: u.updatedAt, version: 0 },
    schemas: ['urn:scim:schemas:core:1.0'],
  };
}

function baseOf(c: Context): string {
  const url = new URL(c.req.url);
  const proto = c.req.header('x-forwarded-proto') ?? url.protocol.slice(0, -1);
  const host = c.req.header('x-forwarded-host') ?? c.req.header('host') ?? url.host;
  return `${proto}://${host}/uaa`;
}
