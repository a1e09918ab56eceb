import { isIP } from 'node:net';
import type { Hono } from 'hono';
import { SlipwayError } from '../../errors.js';
import { basicAuthenticator } from './basic.js';
import { bearerAuthenticator } from './bearer.js';
import { FileAuthorizer } from './file-authorizer.js';
import { LoginGuard } from './login-guard.js';
import type { LoginLimits } from './login-limiter.js';
import { defaultTokenKeyPath, loadOrCreateTokenKey } from '../../auth/token-key.js';
import { createTokenApp } from './token-routes.js';
import { TokenService } from './token-service.js';
import { allowAll, type Authenticator } from './types.js';
import { defaultUsersPath } from '../../auth/users-file.js';

export type AuthMode = 'none' | 'basic' | 'token';
export const AUTH_MODES: readonly AuthMode[] = ['none', 'basic', 'token'];

export interface AuthSetupOptions {
  mode: AuthMode;
  /** The store home: the users file and the token key live under `registry/` there by default. */
  home: string;
  usersPath?: string;
  tokenKeyPath?: string;
  /** The token service name (`service=` and the tokens' `aud`); default "slipway". */
  service?: string;
  /** The token endpoint's public URL; default `/token` on the origin each request came to. */
  realm?: string;
  tokenExpirySeconds?: number;
  /** Told when an edited users file cannot be used (the last good one stays). */
  onUsersFileError?: (err: unknown) => void;
  /** Told when a password rehashed to argon2id at login cannot be written to the users file. */
  onRehashError?: (err: unknown) => void;
  /** Limits on failed password logins; default DEFAULT_LOGIN_LIMITS. */
  loginLimits?: Partial<LoginLimits>;
}

/** What the server mounts: the authenticator for the routes, and the token endpoint in token mode. */
export interface AuthSetup {
  mode: AuthMode;
  authenticator: Authenticator;
  /** Mount at `/token` (token mode only). */
  tokenApp?: Hono;
  /** The users file in force (basic and token modes). */
  usersPath?: string;
}

/**
 * Builds the authentication a `--auth` mode asks for: nothing, Basic over the users
 * file, or the token service (its signing key generated under the home on first start).
 *
 * @example
 * const auth = await setupAuth({ mode: 'token', home: store.home });
 * app.route('/token', auth.tokenApp!);
 */
export async function setupAuth(options: AuthSetupOptions): Promise<AuthSetup> {
  if (options.mode === 'none') return { mode: 'none', authenticator: allowAll };
  const usersPath = options.usersPath ?? defaultUsersPath(options.home);
  const authorizer = await FileAuthorizer.open(usersPath, {
    ...(options.onUsersFileError ? { onReloadError: options.onUsersFileError } : {}),
    ...(options.onRehashError ? { onRehashError: options.onRehashError } : {}),
  });
  // One guard for every password login of the server, so limits and remembered successes are shared.
  const logins = new LoginGuard(authorizer, options.loginLimits ? { limits: options.loginLimits } : {});
  if (options.mode === 'basic')
    return { mode: 'basic', authenticator: basicAuthenticator(authorizer, { logins }), usersPath };
  const key = await loadOrCreateTokenKey(options.tokenKeyPath ?? defaultTokenKeyPath(options.home));
  const tokens = new TokenService({
    key,
    authorizer,
    service: options.service ?? 'slipway',
    ...(options.tokenExpirySeconds === undefined ? {} : { expirySeconds: options.tokenExpirySeconds }),
  });
  const realm = options.realm === undefined ? {} : { realm: options.realm };
  return {
    mode: 'token',
    // A signed-in user whom a new token would not help gets 403 DENIED naming the refused
    // action, not a 401 that sends them to log in again (as the platform answers).
    authenticator: bearerAuthenticator(tokens, { ...realm, refusals: 'explain' }),
    tokenApp: createTokenApp(tokens, { logins }),
    usersPath,
  };
}

/**
 * The auth mode to serve with. Without `--auth`, anonymous serving is allowed only on
 * a loopback address (a laptop's local registry); anywhere else anyone who can reach
 * the port could push and delete, so that takes an explicit `--auth none`.
 */
export function chooseAuthMode(host: string, requested: string | undefined): AuthMode {
  if (requested !== undefined) {
    if (!(AUTH_MODES as readonly string[]).includes(requested)) {
      throw new SlipwayError('INVALID_ARGUMENT', `--auth must be one of ${AUTH_MODES.join(', ')}, not "${requested}"`);
    }
    return requested as AuthMode;
  }
  if (isLoopback(host)) return 'none';
  throw new SlipwayError(
    'INVALID_ARGUMENT',
    `refusing to serve ${host} without authentication: anyone who can reach it could push and delete images. ` +
      'Use --auth token or --auth basic with a users file (slipway registry user add), ' +
      'or --auth none if an open registry on this address is really what you want.',
  );
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}
