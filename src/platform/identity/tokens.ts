import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, type JWTPayload } from 'jose';
import { SlipwayError } from '../../errors.js';
import type { TokenKey } from '../../auth/token-key.js';
import type { User } from '../model.js';

/**
 * The platform's tokens, as UAA shapes them so the cf CLI reads them (it decodes the
 * JWT itself: `user_name`, `user_id`, `origin`, `exp`, `jti`): ES256 JWTs signed with
 * the store's key, base64url without padding.
 *
 * - access token: 10 minutes by default; carries who, never what they may do (roles
 *   are read at every request, so a role taken away is gone at once);
 * - refresh token: 30 days, one use (rotated), kept hashed in the store to be revocable;
 * - staging token: a build's, for one app's repository, 30 minutes;
 * - instance pull token: pulls one app's images and nothing else, for the image pull
 *   secret of its pods on a Kubernetes cluster (renewed while the app runs), a day.
 */

export const DEFAULT_ACCESS_SECONDS = 600;
export const DEFAULT_REFRESH_SECONDS = 30 * 24 * 3600;
export const DEFAULT_STAGING_SECONDS = 1800;
export const DEFAULT_INSTANCE_PULL_SECONDS = 24 * 3600;

/** What an access token says. */
export interface AccessClaims {
  userGuid: string;
  jti: string;
  expiresAt: number;
}

export interface StagingClaims {
  appGuid: string;
  spaceGuid: string;
  orgGuid: string;
  /** The public repository name it may push to. */
  repository: string;
  expiresAt: number;
}

export interface IssuedAccess {
  token: string;
  jti: string;
  expiresIn: number;
}

const KIND_ACCESS = 'access';
const KIND_REFRESH = 'refresh';
const KIND_STAGING = 'staging';
const KIND_INSTANCE_PULL = 'instance-pull';

export class PlatformTokens {
  readonly #key: TokenKey;
  readonly issuer: string;
  readonly accessSeconds: number;
  readonly refreshSeconds: number;
  readonly #verified = new Map<string, AccessClaims>();

  constructor(options: { key: TokenKey; issuer: string; accessSeconds?: number; refreshSeconds?: number }) {
    this.#key = options.key;
    this.issuer = options.issuer;
    this.accessSeconds = options.accessSeconds ?? DEFAULT_ACCESS_SECONDS;
    this.refreshSeconds = options.refreshSeconds ?? DEFAULT_REFRESH_SECONDS;
  }

  /** An access token for the user, with the scopes UAA would give it. */
  async issueAccess(user: User): Promise<IssuedAccess> {
    const jti = randomUUID().replaceAll('-', '');
    const token = await this.#sign(
      {
        slipway: KIND_ACCESS,
        user_id: user.guid,
        user_name: user.username,
        origin: user.origin,
        email: user.username,
        client_id: 'cf',
        cid: 'cf',
        azp: 'cf',
        grant_type: 'password',
        scope: scopesOf(user),
        zid: 'uaa',
        revocable: true,
        jti,
      },
      user.guid,
      this.accessSeconds,
      ['cloud_controller', 'openid', 'cf'],
    );
    return { token, jti, expiresIn: this.accessSeconds };
  }

  /** A refresh token whose `jti` is the stored record's guid. */
  issueRefresh(user: User, guid: string): Promise<string> {
    return this.#sign(
      {
        slipway: KIND_REFRESH,
        user_id: user.guid,
        user_name: user.username,
        origin: user.origin,
        client_id: 'cf',
        cid: 'cf',
        scope: scopesOf(user),
        revocable: true,
        jti: guid,
      },
      user.guid,
      this.refreshSeconds,
      ['cloud_controller', 'cf'],
    );
  }

  /** A staging run's token: pushes to `repository` only. */
  issueStaging(claims: Omit<StagingClaims, 'expiresAt'>, seconds = DEFAULT_STAGING_SECONDS): Promise<string> {
    return this.#sign(
      {
        slipway: KIND_STAGING,
        app_guid: claims.appGuid,
        space_guid: claims.spaceGuid,
        org_guid: claims.orgGuid,
        repository: claims.repository,
        jti: randomUUID(),
      },
      `staging:${claims.appGuid}`,
      seconds,
      ['slipway-registry'],
    );
  }

  /** A pull-only token for one app's images (its pods' image pull secret). */
  issueInstancePull(
    claims: Pick<StagingClaims, 'appGuid' | 'spaceGuid' | 'orgGuid'>,
    seconds = DEFAULT_INSTANCE_PULL_SECONDS,
  ): Promise<string> {
    return this.#sign(
      {
        slipway: KIND_INSTANCE_PULL,
        app_guid: claims.appGuid,
        space_guid: claims.spaceGuid,
        org_guid: claims.orgGuid,
        jti: randomUUID(),
      },
      `pull:${claims.appGuid}`,
      seconds,
      ['slipway-registry'],
    );
  }

  async verifyInstancePull(
    token: string,
  ): Promise<Pick<StagingClaims, 'appGuid' | 'spaceGuid' | 'orgGuid' | 'expiresAt'>> {
    const p = await this.#verify(token, KIND_INSTANCE_PULL);
    return {
      appGuid: String(p['app_guid']),
      spaceGuid: String(p['space_guid']),
      orgGuid: String(p['org_guid']),
      expiresAt: p.exp ?? 0,
    };
  }

  /** The claims of a valid access token; UNAUTHORIZED (CF's "Invalid Auth Token") otherwise. */
  async verifyAccess(token: string): Promise<AccessClaims> {
    const cached = this.#verified.get(token);
    if (cached && cached.expiresAt > Date.now() / 1000) return cached;
    if (cached) this.#verified.delete(token);
    const payload = await this.#verify(token, KIND_ACCESS);
    const claims = { userGuid: String(payload.sub), jti: String(payload.jti ?? ''), expiresAt: payload.exp ?? 0 };
    if (this.#verified.size >= 4096) this.#verified.delete(this.#verified.keys().next().value as string);
    this.#verified.set(token, claims);
    return claims;
  }

  /** The refresh record guid and user of a valid refresh token (its revocation is the store's to check). */
  async verifyRefresh(token: string): Promise<{ guid: string; userGuid: string }> {
    const payload = await this.#verify(token, KIND_REFRESH);
    return { guid: String(payload.jti), userGuid: String(payload.sub) };
  }

  async verifyStaging(token: string): Promise<StagingClaims> {
    const p = await this.#verify(token, KIND_STAGING);
    return {
      appGuid: String(p['app_guid']),
      spaceGuid: String(p['space_guid']),
      orgGuid: String(p['org_guid']),
      repository: String(p['repository']),
      expiresAt: p.exp ?? 0,
    };
  }

  /** The `jti` of any token we signed (logout revokes by it), without checking it further. */
  async jtiOf(token: string): Promise<string | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.#key.publicKey, { issuer: this.issuer });
      return typeof payload.jti === 'string' ? payload.jti : undefined;
    } catch {
      return undefined;
    }
  }

  /** Whether a string looks like one of our JWTs (three base64url parts), before any check. */
  static looksLikeJwt(value: string): boolean {
    return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(value);
  }

  #sign(claims: JWTPayload, subject: string, seconds: number, audience: string[]): Promise<string> {
    const iat = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: this.#key.kid })
      .setIssuer(this.issuer)
      .setSubject(subject)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + seconds)
      .sign(this.#key.privateKey);
  }

  async #verify(token: string, kind: string): Promise<JWTPayload> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#key.publicKey, { issuer: this.issuer, clockTolerance: 10 }));
    } catch (err) {
      throw new SlipwayError('UNAUTHORIZED', `Invalid Auth Token: ${(err as Error).message}`, { cause: err });
    }
    if (payload['slipway'] !== kind) throw new SlipwayError('UNAUTHORIZED', `Invalid Auth Token: not a ${kind} token`);
    return payload;
  }
}

/** UAA's scopes for a user: read and write for everyone, the admin scopes for global roles. */
export function scopesOf(user: User): string[] {
  const scopes = ['openid', 'cloud_controller.read', 'cloud_controller.write', 'uaa.user', 'password.write', 'scim.me'];
  if (user.globalRoles.includes('admin')) scopes.push('cloud_controller.admin', 'scim.read', 'scim.write', 'uaa.admin');
  if (user.globalRoles.includes('admin_read_only')) scopes.push('cloud_controller.admin_read_only');
  if (user.globalRoles.includes('global_auditor')) scopes.push('cloud_controller.global_auditor');
  return scopes;
}
