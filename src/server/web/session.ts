import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Identity, TokenGrant } from '../../platform/identity/identity.js';
import type { Caller } from '../../platform/policy.js';
import { LoginGuard } from '../auth/login-guard.js';

/**
 * Signing in to the dashboard with the platform's users: the password goes through the
 * same login guard as UAA's and the registry's (limits per address and user), and the
 * session is the same pair of tokens the cf CLI gets (an access token, a refresh token
 * rotated on use), kept in HttpOnly, SameSite=Strict cookies. Each request's caller is
 * what Identity makes of the access token: the API's own authentication.
 */

const ACCESS = 'slipway_at';
const REFRESH = 'slipway_rt';

export class WebSessions {
  readonly #logins: LoginGuard;

  constructor(private readonly identity: Identity) {
    this.#logins = new LoginGuard({
      login: async (user, password) => (await identity.passwordLogin(user, password))?.guid,
      authorize: async (_s, r) => r,
    });
    identity.onPasswordChange((username) => this.#logins.forget(username));
  }

  /** The user's guid when the password is right (and the limits allow the attempt), else undefined. */
  async signIn(
    c: Context,
    username: string,
    password: string,
    userOf: (guid: string) => Promise<Parameters<Identity['grant']>[0] | undefined>,
  ): Promise<boolean> {
    const address = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket
      ?.remoteAddress;
    const guid = username && password ? await this.#logins.login(address, username, password) : undefined;
    const user = guid ? await userOf(guid) : undefined;
    if (!user) return false;
    this.#store(c, await this.identity.grant(user));
    return true;
  }

  /** Ends the session: its refresh token is revoked (the access token lapses within its lifetime, as UAA's). */
  async signOut(c: Context): Promise<void> {
    const refresh = getCookie(c, REFRESH);
    const claims = refresh ? await this.identity.tokens.verifyRefresh(refresh).catch(() => undefined) : undefined;
    if (claims) await this.identity.revoke(claims.guid, { userGuid: claims.userGuid, admin: false });
    this.#clear(c);
  }

  #clear(c: Context): void {
    deleteCookie(c, ACCESS, { path: '/' });
    deleteCookie(c, REFRESH, { path: '/' });
  }

  /** The caller of this request: its access token's user, refreshed once when it expired; anonymous without a session. */
  async caller(c: Context): Promise<Caller> {
    const access = getCookie(c, ACCESS);
    if (access) {
      const caller = await this.identity.callerFromAuthorization(`bearer ${access}`).catch(() => undefined);
      if (caller) return caller;
    }
    const refresh = getCookie(c, REFRESH);
    if (!refresh) return { kind: 'anonymous' };
    const grant = await this.identity.refresh(refresh).catch(() => undefined);
    if (!grant) {
      this.#clear(c);
      return { kind: 'anonymous' };
    }
    this.#store(c, grant);
    return this.identity
      .callerFromAuthorization(`bearer ${grant.access_token}`)
      .catch(() => ({ kind: 'anonymous' }) as const);
  }

  #store(c: Context, grant: TokenGrant): void {
    const secure = new URL(c.req.url).protocol === 'https:';
    const common = { path: '/', httpOnly: true, sameSite: 'Strict' as const, secure };
    setCookie(c, ACCESS, grant.access_token, { ...common, maxAge: grant.expires_in });
    setCookie(c, REFRESH, grant.refresh_token, { ...common, maxAge: this.identity.tokens.refreshSeconds });
  }
}
