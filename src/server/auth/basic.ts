import { RegistryAuthError } from './errors.js';
import { covers, formatScopes, hiddenAmong, missingAccess } from '../../auth/scope.js';
import { SlipwayError } from '../../errors.js';
import { LoginGuard } from './login-guard.js';
import type { Access, Authenticator, Authorizer, ClientInfo, Principal } from './types.js';

export interface Credentials {
  user: string;
  password: string;
}

/**
 * The user and password of an `Authorization: Basic ...` header; undefined when the
 * header is absent or of another scheme, 'malformed' when it is Basic but unreadable.
 */
export function parseBasicAuthorization(header: string | null | undefined): Credentials | 'malformed' | undefined {
  const match = header ? /^Basic\s+(\S*)\s*$/i.exec(header) : null;
  if (!match) return undefined;
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/**
 * Checks Basic credentials and asks the Authorizer for every access a request needs.
 * An empty user name counts as anonymous (containers/image sends `Basic Og==` when it
 * has no credentials). Passwords go through the login guard (a recent success is
 * answered from memory; failures are limited per client address and user). The outcomes:
 * - wrong password, or anonymous asking for something anonymous may not do: 401 with
 *   `WWW-Authenticate: Basic realm="slipway"` so the client logs in;
 * - too many failed logins from this address or for this user: TOO_MANY_REQUESTS
 *   (429 with Retry-After), before the password is looked at;
 * - signed in and still not allowed: 403 DENIED;
 * - `required` empty (the `GET /v2/` version check) and no credentials: 401, because
 *   clients only send credentials later if this check challenged them.
 */
export function basicAuthenticator(
  authorizer: Authorizer,
  options: { realm?: string; logins?: LoginGuard } = {},
): Authenticator {
  const challenge = `Basic realm="${options.realm ?? 'slipway'}"`;
  const logins = options.logins ?? new LoginGuard(authorizer);
  return {
    async check(request: Request, required: Access[], client?: ClientInfo): Promise<Principal> {
      const user = await signedInUser(logins, request, challenge, required, client?.address);
      if (required.length === 0 && user === undefined)
        throw RegistryAuthError.unauthorized('authentication required', challenge);
      const granted = await Promise.all(required.map((r) => authorizer.authorize(user, r)));
      const missing = missingAccess(granted, required);
      if (missing.length === 0) return user === undefined ? { granted } : { user, granted };
      if (user !== undefined) throwIfHidden(granted, missing);
      if (user === undefined)
        throw RegistryAuthError.unauthorized(
          `authentication required for ${formatScopes(missing)}`,
          challenge,
          missing,
        );
      const exact = refusedActions(granted, missing);
      throw RegistryAuthError.denied(`user ${user} may not ${formatScopes(exact)}`, exact);
    },
  };
}

/** The user the header proves, undefined when anonymous; 401 when the credentials are wrong. */
async function signedInUser(
  logins: LoginGuard,
  request: Request,
  challenge: string,
  required: Access[],
  address: string | undefined,
): Promise<string | undefined> {
  const credentials = parseBasicAuthorization(request.headers.get('authorization'));
  if (credentials === 'malformed')
    throw RegistryAuthError.unauthorized('the Basic credentials cannot be decoded', challenge, required);
  if (credentials === undefined || credentials.user === '') return undefined;
  const subject = await logins.login(address, credentials.user, credentials.password);
  // The message never repeats the password, nor says whether the user exists.
  if (subject === undefined) throw RegistryAuthError.unauthorized('invalid user name or password', challenge, required);
  return subject;
}

/** NAME_UNKNOWN (404) when a refused repository is one the caller may not know exists. */
export function throwIfHidden(granted: Access[], missing: Access[]): void {
  const hidden = hiddenAmong(granted, missing);
  if (hidden)
    throw new SlipwayError('NAME_UNKNOWN', `repository name not known to registry: ${hidden.name}`, {
      detail: { name: hidden.name },
    });
}

/**
 * Of each refused access, only the actions `granted` lacks: a push refused to a user
 * who may pull says `repository:team/app:push`, not `pull,push`.
 */
export function refusedActions(granted: Access[], refused: Access[]): Access[] {
  return refused.map((r) => {
    const actions = r.actions.filter((action) => !covers(granted, { type: r.type, name: r.name, actions: [action] }));
    return { type: r.type, name: r.name, actions: actions.length > 0 ? actions : r.actions };
  });
}
