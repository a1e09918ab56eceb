import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PasswordChecker, hashPassword, needsRehash } from '../../auth/password.js';
import { SlipwayError } from '../../errors.js';
import { emptyMetadata, newGuid, now, type User } from '../model.js';
import type { Caller } from '../policy.js';
import type { PlatformStore } from '../store/platform-store.js';
import { API_TOKEN_PREFIX, parseApiToken, secretMatches, sha256 } from './api-tokens.js';
import { PlatformTokens, scopesOf } from './tokens.js';

/** The answer of a successful login or refresh, in UAA's shape (RFC 6749 plus UAA's `jti`). */
export interface TokenGrant {
  access_token: string;
  refresh_token: string;
  token_type: 'bearer';
  expires_in: number;
  scope: string;
  jti: string;
}

/**
 * Who a request is: passwords, OAuth2 grants, API tokens and staging tokens turned
 * into a `Caller` (with the user's roles, read afresh from the store every time) for
 * the policy. Shared by the v3 API, the UAA endpoints and the registry.
 */
export class Identity {
  readonly tokens: PlatformTokens;
  readonly #store: PlatformStore;
  readonly #passwords = new PasswordChecker();
  readonly #passwordListeners = new Set<(username: string) => void>();

  constructor(store: PlatformStore, tokens: PlatformTokens) {
    this.#store = store;
    this.tokens = tokens;
  }

  /** The user whose password this is (origin uaa), undefined when unknown or wrong; an old bcrypt hash is rehashed. */
  async passwordLogin(username: string, password: string): Promise<User | undefined> {
    const user = await this.#store.findUser(username, 'uaa');
    const credentials = user ? await this.#store.credentials(user.guid) : undefined;
    const ok = await this.#passwords.verify(password, credentials?.passwordHash);
    if (!ok || !user) return undefined;
    if (credentials?.passwordHash && needsRehash(credentials.passwordHash)) {
      await this.#store.setPasswordHash(user.guid, await hashPassword(password));
    }
    return user;
  }

  /**
   * Sets a user's password: the old one stops working at once (caches of good logins are
   * told: `onPasswordChange`) and the user's refresh tokens are revoked (other sessions end).
   */
  async changePassword(user: User, password: string): Promise<void> {
    await this.#store.setPasswordHash(user.guid, await hashPassword(password));
    await this.#store.revokeRefreshTokensOf(user.guid, now());
    for (const listener of this.#passwordListeners) listener(user.username);
  }

  /** Called with the user name whenever a password changes. */
  onPasswordChange(listener: (username: string) => void): void {
    this.#passwordListeners.add(listener);
  }

  /** An access token and a fresh refresh token for a user who just proved who they are. */
  async grant(user: User): Promise<TokenGrant> {
    const access = await this.tokens.issueAccess(user);
    const guid = newGuid();
    const refresh = await this.tokens.issueRefresh(user, guid);
    const created = now();
    await this.#store.createRefreshToken({
      guid,
      userGuid: user.guid,
      secretHash: sha256(refresh),
      createdAt: created,
      expiresAt: new Date(Date.now() + this.tokens.refreshSeconds * 1000).toISOString(),
    });
    return {
      access_token: access.token,
      refresh_token: refresh,
      token_type: 'bearer',
      expires_in: access.expiresIn,
      scope: scopesOf(user).join(' '),
      jti: access.jti,
    };
  }

  /** The refresh grant: the old refresh token is used up (revoked), a new pair issued. UNAUTHORIZED when it is bad. */
  async refresh(refreshToken: string): Promise<TokenGrant> {
    const { guid, userGuid } = await this.tokens.verifyRefresh(refreshToken);
    const record = await this.#store.getRefreshToken(guid);
    const valid =
      record && !record.revokedAt && record.userGuid === userGuid && record.secretHash === sha256(refreshToken);
    if (!valid) throw new SlipwayError('UNAUTHORIZED', 'The refresh token expired, was revoked, or is not known');
    const user = await this.#store.getUser(userGuid);
    if (!user) throw new SlipwayError('UNAUTHORIZED', 'The refresh token belongs to a user who is gone');
    if (!(await this.#store.revokeRefreshToken(guid, now())))
      throw new SlipwayError('UNAUTHORIZED', 'The refresh token was used already');
    return this.grant(user);
  }

  /**
   * Logout: revokes the refresh token with this `jti` (an access token's jti is let
   * expire: ten minutes). Only its own user or an admin may; for anyone else it is as
   * if the token did not exist (false).
   */
  async revoke(jti: string, by: { userGuid: string; admin: boolean }): Promise<boolean> {
    const record = await this.#store.getRefreshToken(jti);
    if (!record || (record.userGuid !== by.userGuid && !by.admin)) return false;
    return this.#store.revokeRefreshToken(jti, now());
  }

  /**
   * The caller an `Authorization` header proves: `bearer <JWT>` (a user's access token)
   * or `bearer swt_...` (an API token); anonymous without one. UNAUTHORIZED for a bad
   * or expired token, a revoked API token, a user who is gone.
   */
  async callerFromAuthorization(header: string | null | undefined): Promise<Caller> {
    if (!header) return { kind: 'anonymous' };
    const m = /^bearer\s+(\S+)\s*$/i.exec(header);
    if (!m)
      throw new SlipwayError('UNAUTHORIZED', 'Invalid Auth Token: the Authorization header must be "bearer TOKEN"');
    const token = m[1]!;
    if (token.startsWith(API_TOKEN_PREFIX)) return this.#apiTokenCaller(token);
    const claims = await this.tokens.verifyAccess(token);
    return this.#userCaller(claims.userGuid);
  }

  /**
   * A registry login (Basic, or the token endpoint): an API token, a staging token or a
   * user's access token as the password (any user name), or a user's own password. The subject
   * the registry will name in its tokens; undefined when wrong.
   */
  async registryLogin(username: string, password: string): Promise<string | undefined> {
    if (password.startsWith(API_TOKEN_PREFIX)) {
      const caller = await this.#apiTokenCaller(password).catch(() => undefined);
      return caller?.kind === 'api-token' ? `apitoken:${caller.tokenGuid}` : undefined;
    }
    if (PlatformTokens.looksLikeJwt(password)) {
      const staging = await this.tokens.verifyStaging(password).catch(() => undefined);
      if (staging) return `staging:${password}`;
      const pull = await this.tokens.verifyInstancePull(password).catch(() => undefined);
      if (pull) return `pull:${password}`;
      // A user's access token (`podman login -p "$(slipway cf oauth-token)"`): that user.
      const access = await this.tokens.verifyAccess(password).catch(() => undefined);
      if (access && (await this.#store.getUser(access.userGuid))) return `user:${access.userGuid}`;
    }
    const user = await this.passwordLogin(username, password);
    return user ? `user:${user.guid}` : undefined;
  }

  /** The caller a registry subject stands for (see registryLogin); anonymous for none or one no longer valid. */
  async callerForSubject(subject: string | undefined): Promise<Caller> {
    if (!subject) return { kind: 'anonymous' };
    try {
      if (subject.startsWith('user:')) return await this.#userCaller(subject.slice(5));
      if (subject.startsWith('apitoken:')) return await this.#apiTokenCallerByGuid(subject.slice(9));
      if (subject.startsWith('staging:')) {
        const s = await this.tokens.verifyStaging(subject.slice(8));
        return {
          kind: 'staging',
          appGuid: s.appGuid,
          spaceGuid: s.spaceGuid,
          orgGuid: s.orgGuid,
          repository: s.repository,
        };
      }
      if (subject.startsWith('pull:')) {
        const p = await this.tokens.verifyInstancePull(subject.slice(5));
        return {
          kind: 'staging',
          appGuid: p.appGuid,
          spaceGuid: p.spaceGuid,
          orgGuid: p.orgGuid,
          repository: `apps/${p.appGuid}`,
          pullOnly: true,
        };
      }
    } catch {
      // a user deleted, a token revoked or expired since: nobody
    }
    return { kind: 'anonymous' };
  }

  /**
   * The first start: with no user at all, creates `admin` (global admin) with the
   * password in `passwordFile`, else a generated one, returned to be shown once.
   */
  async ensureAdmin(
    options: { username?: string; passwordFile?: string } = {},
  ): Promise<{ created: false } | { created: true; username: string; password: string; generated: boolean }> {
    if ((await this.#store.countUsers()) > 0) return { created: false };
    const username = options.username ?? 'admin';
    const fromFile =
      options.passwordFile === undefined ? undefined : (await readFile(options.passwordFile, 'utf8')).trim();
    if (fromFile === '')
      throw new SlipwayError('INVALID_ARGUMENT', `the admin password file ${options.passwordFile} is empty`);
    const password = fromFile ?? randomBytes(18).toString('base64url');
    const t = now();
    await this.#store.createUser(
      {
        guid: newGuid(),
        username,
        origin: 'uaa',
        globalRoles: ['admin'],
        createdAt: t,
        updatedAt: t,
        metadata: emptyMetadata(),
      },
      { passwordHash: await hashPassword(password) },
    );
    return { created: true, username, password, generated: fromFile === undefined };
  }

  async #userCaller(userGuid: string): Promise<Caller> {
    const user = await this.#store.getUser(userGuid);
    if (!user) throw new SlipwayError('UNAUTHORIZED', 'Invalid Auth Token: the user is gone');
    return { kind: 'user', user, roles: await this.#store.rolesOf(user.guid) };
  }

  async #apiTokenCaller(token: string): Promise<Caller> {
    const parsed = parseApiToken(token);
    const record = parsed ? await this.#store.getApiToken(parsed.guid) : undefined;
    if (!parsed || !record || !secretMatches(record, parsed.secret))
      throw new SlipwayError('UNAUTHORIZED', 'Invalid Auth Token: unknown API token');
    const caller = await this.#apiTokenCallerByGuid(record.guid);
    await this.#store.touchApiToken(record.guid, now());
    return caller;
  }

  async #apiTokenCallerByGuid(guid: string): Promise<Caller> {
    const record = await this.#store.getApiToken(guid);
    if (!record || record.revokedAt)
      throw new SlipwayError('UNAUTHORIZED', 'Invalid Auth Token: the API token was revoked');
    const user = await this.#store.getUser(record.userGuid);
    if (!user) throw new SlipwayError('UNAUTHORIZED', 'Invalid Auth Token: the user is gone');
    return {
      kind: 'api-token',
      user,
      roles: await this.#store.rolesOf(user.guid),
      spaceGuid: record.spaceGuid,
      tokenGuid: record.guid,
    };
  }
}
