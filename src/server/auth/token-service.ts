import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, type JWTPayload } from 'jose';
import type { TokenKey } from '../../auth/token-key.js';
import type { Access, Authorizer } from './types.js';

export interface TokenServiceOptions {
  key: TokenKey;
  authorizer: Authorizer;
  /** The `service` clients name in token requests, and the tokens' `aud`. */
  service: string;
  /** The tokens' `iss`; default "slipway". */
  issuer?: string;
  /** Access token lifetime; default 300 s, as Distribution's token servers. */
  expirySeconds?: number;
  /** Refresh token (`offline_token=true`, `access_type=offline`) lifetime; default 7 days. */
  refreshExpirySeconds?: number;
  /** Clock skew allowed when checking `exp` and `nbf` (several server nodes); default 10 s. */
  clockToleranceSeconds?: number;
}

/** A signed access token and its timing, as the token endpoint answers it. */
export interface IssuedToken {
  token: string;
  expiresIn: number;
  issuedAt: Date;
  access: Access[];
}

/** What a verified access token says. */
export interface TokenClaims {
  /** Absent for an anonymous token. */
  user?: string;
  access: Access[];
  expiresAt: number;
}

/** Told apart from access tokens by this claim, so a refresh token never opens the registry. */
const REFRESH_USE = 'refresh';
const MAX_CACHED = 4096;

/**
 * Issues and checks the registry's JWTs in Docker's token format: an ES256-signed JWT
 * with `iss`, `aud` (the service), `sub` (the user, "" when anonymous), `exp`, `nbf`,
 * `iat`, `jti` and the granted `access: [{type, name, actions}]`, which the Authorizer
 * limits to what the user may do (never more than asked).
 *
 * Verified tokens are cached until they expire: a client reuses one token for every
 * request of a push, and an ECDSA verify costs more than serving a manifest.
 *
 * @example
 * const tokens = new TokenService({ key, authorizer, service: 'registry.example' });
 * const issued = await tokens.issue('alice', [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
 */
export class TokenService {
  readonly service: string;
  readonly issuer: string;
  readonly expirySeconds: number;
  readonly refreshExpirySeconds: number;
  readonly authorizer: Authorizer;
  readonly #key: TokenKey;
  readonly #tolerance: number;
  readonly #verified = new Map<string, TokenClaims>();

  constructor(options: TokenServiceOptions) {
    this.#key = options.key;
    this.authorizer = options.authorizer;
    this.service = options.service;
    this.issuer = options.issuer ?? 'slipway';
    this.expirySeconds = options.expirySeconds ?? 300;
    this.refreshExpirySeconds = options.refreshExpirySeconds ?? 7 * 24 * 3600;
    this.#tolerance = options.clockToleranceSeconds ?? 10;
  }

  /** The part of `requested` the user (undefined: anonymous) may have; accesses with no action left are dropped. */
  async grant(user: string | undefined, requested: Access[]): Promise<Access[]> {
    const granted = await Promise.all(requested.map((r) => this.authorizer.authorize(user, r)));
    // A hidden repository stays in the token (with no action), so its routes answer 404, not 401.
    return granted.filter((a) => a.actions.length > 0 || a.hidden);
  }

  /** What the Authorizer answers for each access now, hidden ones included (the registry's refusals ask it). */
  authorizeAll(user: string | undefined, requested: Access[]): Promise<Access[]> {
    return Promise.all(requested.map((r) => this.authorizer.authorize(user, r)));
  }

  /** Grants what the user may of `requested` and signs it into an access token. */
  async issue(user: string | undefined, requested: Access[]): Promise<IssuedToken> {
    const access = await this.grant(user, requested);
    const issuedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
    const token = await this.#sign({ access }, user, issuedAt, this.expirySeconds);
    return { token, expiresIn: this.expirySeconds, issuedAt, access };
  }

  /** A long-lived token that stands for the user's password at the token endpoint only. */
  issueRefreshToken(user: string): Promise<string> {
    return this.#sign({ token_use: REFRESH_USE }, user, new Date(), this.refreshExpirySeconds);
  }

  /** The claims of a valid access token; throws (a jose error) when it is bad, expired or a refresh token. */
  async verify(token: string): Promise<TokenClaims> {
    const cached = this.#verified.get(token);
    if (cached && cached.expiresAt > Date.now() / 1000 - this.#tolerance) return cached;
    if (cached) this.#verified.delete(token);
    const payload = await this.#verifyJwt(token);
    if (payload['token_use'] === REFRESH_USE) throw new Error('a refresh token is not an access token');
    const claims: TokenClaims = { access: parseAccessClaim(payload['access']), expiresAt: payload.exp ?? 0 };
    if (payload.sub) claims.user = payload.sub;
    this.#remember(token, claims);
    return claims;
  }

  /** The user a valid refresh token stands for; throws when it is bad or expired. */
  async verifyRefreshToken(token: string): Promise<string> {
    const payload = await this.#verifyJwt(token);
    if (payload['token_use'] !== REFRESH_USE || !payload.sub) throw new Error('not a refresh token');
    return payload.sub;
  }

  #sign(claims: JWTPayload, user: string | undefined, issuedAt: Date, lifetimeSeconds: number): Promise<string> {
    const iat = Math.floor(issuedAt.getTime() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: this.#key.kid })
      .setIssuer(this.issuer)
      .setAudience(this.service)
      .setSubject(user ?? '')
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(iat + lifetimeSeconds)
      .setJti(randomUUID())
      .sign(this.#key.privateKey);
  }

  async #verifyJwt(token: string): Promise<JWTPayload> {
    const { payload } = await jwtVerify(token, this.#key.publicKey, {
      algorithms: ['ES256'],
      issuer: this.issuer,
      audience: this.service,
      clockTolerance: this.#tolerance,
      requiredClaims: ['exp', 'iat', 'nbf', 'jti'],
    });
    return payload;
  }

  #remember(token: string, claims: TokenClaims): void {
    this.#verified.set(token, claims);
    // Insertion order: the first entries are the oldest.
    while (this.#verified.size > MAX_CACHED) this.#verified.delete(this.#verified.keys().next().value as string);
  }
}

/** The `access` claim as Access values; anything malformed grants nothing. */
function parseAccessClaim(claim: unknown): Access[] {
  if (!Array.isArray(claim)) return [];
  return claim.flatMap((entry): Access[] => {
    const e = entry as { type?: unknown; name?: unknown; actions?: unknown; hidden?: unknown };
    if ((e.type !== 'repository' && e.type !== 'registry') || typeof e.name !== 'string' || !Array.isArray(e.actions))
      return [];
    const actions = e.actions.filter((a): a is string => typeof a === 'string');
    return [{ type: e.type, name: e.name, actions, ...(e.hidden === true ? { hidden: true } : {}) }];
  });
}
