import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { isSlipwayError } from '../../errors.js';
import { parseBasicAuthorization } from './basic.js';
import { LoginGuard } from './login-guard.js';
import { formatScopes, parseScopes } from '../../auth/scope.js';
import type { IssuedToken, TokenService } from './token-service.js';

/** Token requests are a few parameters; anything bigger is not one. */
const MAX_FORM_BYTES = 64 * 1024;

class TokenRequestError extends Error {
  constructor(
    readonly status: 400 | 401 | 429,
    readonly oauthError: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * The token endpoint (Docker's token authentication spec and its OAuth2 variant),
 * mounted at `/token` by the server:
 * - `GET ?service=S&scope=A&scope=B` with Basic auth or none (anonymous), as skopeo,
 *   podman and docker ask; `offline_token=true` (docker login) adds a `refresh_token`.
 * - `POST` form `grant_type=password&username=U&password=P&service=S&scope=A B`, or
 *   `grant_type=refresh_token&refresh_token=R`, as containerd asks first.
 * Every scope parameter may hold several scopes separated by spaces. The answer is
 * `{token, access_token, expires_in, issued_at}` (plus `scope` for OAuth2), granting
 * what the Authorizer allows of the requested access, possibly nothing.
 *
 * @example
 * root.route('/token', createTokenApp(tokens));
 */
export function createTokenApp(tokens: TokenService, options: { realm?: string; logins?: LoginGuard } = {}): Hono {
  const app = new Hono();
  const basicChallenge = `Basic realm="${options.realm ?? 'slipway'}"`;
  const logins = options.logins ?? new LoginGuard(tokens.authorizer);

  app.get('/', async (c) => {
    const params = new URL(c.req.url).searchParams;
    checkService(tokens, params.get('service'));
    const user = await basicUser(logins, peerAddress(c), c.req.header('authorization'));
    const issued = await tokens.issue(user, parseScopes(params.getAll('scope')));
    const refresh =
      user !== undefined && params.get('offline_token') === 'true' ? await tokens.issueRefreshToken(user) : undefined;
    return answer(c, issued, refresh, false);
  });

  app.post(
    '/',
    bodyLimit({
      maxSize: MAX_FORM_BYTES,
      onError: () => oauthError(new TokenRequestError(400, 'invalid_request', 'the request body is too large')),
    }),
    async (c) => {
      const form = await readForm(c);
      checkService(tokens, form.get('service'));
      const user = await grantUser(tokens, logins, peerAddress(c), form);
      const issued = await tokens.issue(user, parseScopes(form.getAll('scope')));
      const offline = form.get('access_type') === 'offline' && form.get('grant_type') === 'password';
      return answer(c, issued, offline && user !== undefined ? await tokens.issueRefreshToken(user) : undefined, true);
    },
  );

  app.onError((err, c) => {
    if (!(err instanceof TokenRequestError))
      return c.json({ errors: [{ code: 'UNKNOWN', message: `the token service failed: ${err.message}` }] }, 500);
    if (c.req.method === 'POST') return oauthError(err);
    const headers: Record<string, string> = { 'Cache-Control': 'no-store', ...err.headers };
    if (err.status === 401) headers['WWW-Authenticate'] = basicChallenge;
    const code = err.status === 401 ? 'UNAUTHORIZED' : err.status === 429 ? 'TOOMANYREQUESTS' : 'UNSUPPORTED';
    return c.json({ errors: [{ code, message: err.message }] }, err.status, headers);
  });
  return app;
}

function answer(c: Context, issued: IssuedToken, refreshToken: string | undefined, oauth: boolean): Response {
  const body: Record<string, unknown> = {
    token: issued.token,
    access_token: issued.token,
    expires_in: issued.expiresIn,
    issued_at: issued.issuedAt.toISOString(),
  };
  if (oauth) body['scope'] = formatScopes(issued.access);
  if (refreshToken !== undefined) body['refresh_token'] = refreshToken;
  // RFC 6749 5.1: token responses must not be cached.
  return c.json(body, 200, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
}

/** A client naming another service holds a token request meant for another server. */
function checkService(tokens: TokenService, service: string | null): void {
  if (service !== null && service !== '' && service !== tokens.service) {
    throw new TokenRequestError(400, 'invalid_request', `this token service is "${tokens.service}", not "${service}"`);
  }
}

/** The user of the GET request's Basic credentials; undefined when anonymous; 401 when wrong. */
async function basicUser(
  logins: LoginGuard,
  address: string | undefined,
  header: string | undefined,
): Promise<string | undefined> {
  const credentials = parseBasicAuthorization(header);
  if (credentials === 'malformed')
    throw new TokenRequestError(401, 'invalid_client', 'the Basic credentials cannot be decoded');
  if (credentials === undefined || credentials.user === '') return undefined;
  return checkPassword(logins, address, credentials.user, credentials.password);
}

/** The user an OAuth2 POST proves, by password or by refresh token. */
async function grantUser(
  tokens: TokenService,
  logins: LoginGuard,
  address: string | undefined,
  form: URLSearchParams,
): Promise<string | undefined> {
  const grantType = form.get('grant_type');
  if (grantType === 'password') {
    const user = form.get('username');
    const password = form.get('password');
    if (!user || password === null)
      throw new TokenRequestError(400, 'invalid_request', 'grant_type=password needs username and password');
    return checkPassword(logins, address, user, password);
  }
  if (grantType === 'refresh_token') {
    const token = form.get('refresh_token');
    if (!token) throw new TokenRequestError(400, 'invalid_request', 'grant_type=refresh_token needs refresh_token');
    return tokens.verifyRefreshToken(token).catch(() => {
      throw new TokenRequestError(401, 'invalid_grant', 'the refresh token is not valid or has expired: log in again');
    });
  }
  throw new TokenRequestError(
    400,
    'unsupported_grant_type',
    `grant_type must be password or refresh_token, not "${grantType ?? ''}"`,
  );
}

/** The subject the password proves; 401 when it is wrong, 429 (Retry-After) when this address or user must wait. */
async function checkPassword(
  logins: LoginGuard,
  address: string | undefined,
  user: string,
  password: string,
): Promise<string> {
  let subject: string | undefined;
  try {
    subject = await logins.login(address, user, password);
  } catch (err) {
    if (!isSlipwayError(err, 'TOO_MANY_REQUESTS')) throw err;
    const seconds = Number(err.detail?.['retryAfterSeconds'] ?? 1);
    // RFC 6749 has no code for this; temporarily_unavailable is its nearest ("try again later").
    throw new TokenRequestError(429, 'temporarily_unavailable', err.message, { 'Retry-After': String(seconds) });
  }
  // The message never says whether the user exists, nor echoes the password.
  if (subject === undefined) throw new TokenRequestError(401, 'invalid_grant', 'invalid user name or password');
  return subject;
}

/** The peer address of the connection (not a header a client could set), when served over a socket. */
function peerAddress(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress;
}

/** The form of a POST, as URLSearchParams (repeated `scope` fields kept). */
async function readForm(c: Context): Promise<URLSearchParams> {
  const type = c.req.header('content-type') ?? '';
  if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    throw new TokenRequestError(400, 'invalid_request', 'the token request must be application/x-www-form-urlencoded');
  }
  return new URLSearchParams(await c.req.text());
}

function oauthError(err: TokenRequestError): Response {
  return new Response(JSON.stringify({ error: err.oauthError, error_description: err.message }), {
    status: err.status,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...err.headers },
  });
}
