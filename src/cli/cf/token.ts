/**
 * The claims of an access token that the cf CLI reads locally, without checking the
 * signature (the server does): who is logged in, and when the token expires.
 */
export interface TokenClaims {
  exp?: number;
  user_name?: string;
  user_id?: string;
  origin?: string;
  client_id?: string;
  jti?: string;
  revocable?: boolean;
}

/** The payload of a compact JWT; undefined when it is not one. */
export function decodeJwt(token: string | undefined): TokenClaims | undefined {
  const parts = token?.split('.');
  if (parts?.length !== 3 || !parts[1]) return undefined;
  try {
    const value = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as TokenClaims) : undefined;
  } catch {
    return undefined;
  }
}

/** The user a token names: CF's current user (a client's token names the client). */
export interface CurrentUser {
  name: string;
  guid: string;
  origin: string;
  isClient: boolean;
}

export function currentUserOf(accessToken: string | undefined): CurrentUser | undefined {
  const c = decodeJwt(accessToken);
  if (!c) return undefined;
  if (typeof c.user_name === 'string')
    return { name: c.user_name, guid: String(c.user_id ?? ''), origin: String(c.origin ?? ''), isClient: false };
  if (typeof c.client_id === 'string') return { name: c.client_id, guid: c.client_id, origin: '', isClient: true };
  return undefined;
}

/** True when the token must be refreshed before use: not a JWT, no expiry, or less than `marginSeconds` left (the cf CLI's 60). */
export function needsRefresh(accessToken: string | undefined, nowMs = Date.now(), marginSeconds = 60): boolean {
  const exp = decodeJwt(accessToken)?.exp;
  return typeof exp !== 'number' || exp * 1000 - nowMs < marginSeconds * 1000;
}
