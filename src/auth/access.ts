/**
 * The registry's access model, below every face: what a request may do to which
 * repository (`repository:team/app:pull,push`), and who decides it. The toolkit's
 * users file and the platform's roles are two Authorizers of the same contract.
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
