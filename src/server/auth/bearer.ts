import { RegistryAuthError } from './errors.js';
import { formatScopes, missingAccess } from '../../auth/scope.js';
import { refusedActions, throwIfHidden } from './basic.js';
import type { TokenService } from './token-service.js';
import type { Access, Authenticator, Principal } from './types.js';

export interface BearerOptions {
  /**
   * The token endpoint's absolute URL. Default: `/token` on the origin the request
   * came to (its Host header and scheme), right for clients that reach the server
   * directly; behind a proxy give the public URL.
   */
  realm?: string;
  /**
   * How a valid token that lacks an action is refused. `challenge` (default, as
   * Distribution): 401 insufficient_scope. `explain` (the platform): the Authorizer is
   * asked again, and a signed-in caller who may not have it gets 403 DENIED, or 404
   * NAME_UNKNOWN for a repository they may not know of; 401 only when a new token
   * would help.
   */
  refusals?: 'challenge' | 'explain';
}

/**
 * Checks `Authorization: Bearer <jwt>` against the access a request needs, answering
 * as Docker and OCI clients expect (see STACK.md "Token auth"):
 * - no token: 401 `Bearer realm="...",service="...",scope="repository:NAME:pull,push"`
 *   naming the scope the request needs, so the client fetches a token for it;
 * - a bad, expired or foreign token: 401 with `error="invalid_token"`;
 * - a valid token without the needed actions: 401 with `error="insufficient_scope"`
 *   (a client may then ask for a token with more scope, e.g. after logging in).
 * `required` empty is the `GET /v2/` version check: any valid token passes, no token
 * gets the challenge without a scope.
 */
export function bearerAuthenticator(tokens: TokenService, options: BearerOptions = {}): Authenticator {
  const challenge = (request: Request, required: Access[], error?: string): string => {
    const realm = options.realm ?? `${new URL(request.url).origin}/token`;
    let value = `Bearer realm="${realm}",service="${tokens.service}"`;
    if (required.length > 0) value += `,scope="${formatScopes(required)}"`;
    return error === undefined ? value : `${value},error="${error}"`;
  };
  return {
    async check(request: Request, required: Access[]): Promise<Principal> {
      const token = bearerToken(request.headers.get('authorization'));
      if (token === undefined)
        throw RegistryAuthError.unauthorized('authentication required', challenge(request, required), required);
      let claims: Awaited<ReturnType<typeof tokens.verify>>;
      try {
        claims = await tokens.verify(token);
      } catch (err) {
        throw RegistryAuthError.unauthorized(
          `the token is not valid: ${(err as Error).message}`,
          challenge(request, required, 'invalid_token'),
          required,
          err,
        );
      }
      const missing = missingAccess(claims.access, required);
      if (missing.length > 0 && claims.user !== undefined && options.refusals === 'explain') {
        throwIfHidden(claims.access, missing);
        // Signed in, and a new token would not help either: 403 DENIED (or 404 for what the user may not know of).
        const now = await tokens.authorizeAll(claims.user, missing);
        throwIfHidden(now, missing);
        const refused = missingAccess(now, missing);
        if (refused.length > 0) {
          const exact = refusedActions(now, refused);
          throw RegistryAuthError.denied(`not allowed: ${formatScopes(exact)}`, exact);
        }
      }
      if (missing.length > 0) {
        throw RegistryAuthError.unauthorized(
          `the token does not grant ${formatScopes(missing)}`,
          challenge(request, required, 'insufficient_scope'),
          missing,
        );
      }
      return claims.user === undefined ? { granted: claims.access } : { user: claims.user, granted: claims.access };
    },
  };
}

/** The token of a Bearer Authorization header, or undefined. */
function bearerToken(header: string | null): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}
