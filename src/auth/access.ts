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
  /**
   * In an authorizer's answer: the caller may not even know the repository exists
   * (the registry then answers 404 NAME_UNKNOWN, not 403): the platform's rule for
   * repositories of spaces the caller cannot read.
   */
  hidden?: boolean;
}

export interface Principal {
  /** The user name, absent when anonymous. */
  user?: string;
  /** Access granted for this request (the token's claims, or what basic auth allowed). */
  granted: Access[];
}

/**
 * Decides which of the requested actions a subject (or anonymous, undefined) may
 * have. A subject is what `login` answered: the user name for the users file, an
 * identity such as `user:GUID` or `apitoken:GUID` for the platform.
 */
export interface Authorizer {
  authorize(subject: string | undefined, requested: Access): Promise<Access>;
  /** Checks a password (or a token given as one); the subject it proves, undefined when unknown or wrong. */
  login(user: string, password: string): Promise<string | undefined>;
  /**
   * Whether a subject a login proved a moment ago still stands (a revoked token or a
   * deleted user does not): a cheap check where `login` is dear. Absent: it does.
   */
  stillValid?(subject: string): Promise<boolean>;
}
