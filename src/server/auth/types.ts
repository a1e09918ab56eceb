/**
 * The registry's access-control contract. Routes say what access a request needs;
 * an Authenticator decides who is asking (anonymous, basic, bearer token) and, via an
 * Authorizer, what they may do. The platform issue replaces the users file with
 * org/space roles by providing another Authorizer: routes never change.
 */

export type { Access, Authorizer, Principal } from '../../auth/access.js';
import type { Access, Principal } from '../../auth/access.js';

/**
 * Checks a request against the access it needs. Returns the principal, or throws a
 * RegistryAuthError whose `challenge` the route layer sends as `WWW-Authenticate`
 * with a 401 (or a 403 DENIED when authenticated but not allowed).
 */
export interface Authenticator {
  /**
   * `client` is what the connection says of the caller (its peer address), never
   * taken from headers: password logins are limited per address.
   */
  check(request: Request, required: Access[], client?: ClientInfo): Promise<Principal>;
}

/** The caller as its connection shows it; absent for in-process requests. */
export interface ClientInfo {
  /** The peer's IP address. */
  address?: string;
}

/** Lets everyone do everything: anonymous serving on loopback, and route tests. */
export const allowAll: Authenticator = {
  async check(_request, required) {
    return { granted: required };
  },
};
