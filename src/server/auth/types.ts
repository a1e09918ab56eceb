/**
 * The registry's access-control contract. Routes say what access a request needs;
 * an Authenticator decides who is asking (anonymous, basic, bearer token) and, via an
 * Authorizer, what they may do. The platform issue replaces the users file with
 * org/space roles by providing another Authorizer: routes never change.
 */

/** One access request, as in a token scope `repository:team/app:pull,push`. */
export interface Access {
  type: 'repository' | 'registry';
  /** A repository name, or "catalog" for `registry:catalog:*`. */
  name: string;
  actions: string[];
}

export interface Principal {
  /** The user name, absent when anonymous. */
  user?: string;
  /** Access granted for this request (the token's claims, or what basic auth allowed). */
  granted: Access[];
}

/** Decides which of the requested actions a user (or anonymous, user undefined) may have. */
export interface Authorizer {
  authorize(user: string | undefined, requested: Access): Promise<Access>;
  /** Checks a user's password; false when unknown or wrong. */
  verifyPassword(user: string, password: string): Promise<boolean>;
}

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
