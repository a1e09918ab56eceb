import { SlipwayError } from '../../errors.js';

/** Credentials for one registry: none (anonymous), or a user and password. */
export interface Credentials {
  username: string;
  password: string;
}

/** One `WWW-Authenticate` challenge: its scheme and its parameters (names lowercased). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header into its challenges (RFC 7235): quoted values
 * may hold commas and escaped quotes; several challenges may share one header.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const token = () => {
    const s = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i]!)) i++;
    return header.slice(s, i);
  };
  let current: Challenge | undefined;
  while (i < n) {
    skipWs();
    if (header[i] === ',') {
      i++;
      continue;
    }
    const start = i;
    const name = token();
    if (!name) {
      i++;
      continue;
    }
    skipWs();
    if (header[i] === '=' && current) {
      i++;
      skipWs();
      let value: string;
      if (header[i] === '"') {
        i++;
        value = '';
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++; // closing quote
      } else {
        const s = i;
        while (i < n && header[i] !== ',' && header[i] !== ' ') i++;
        value = header.slice(s, i);
      }
      current.params[name.toLowerCase()] = value;
    } else {
      // a new scheme (possibly followed by token68, which we do not need)
      void start;
      current = { scheme: name.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

export interface AuthOptions {
  credentials?: Credentials;
  /** The fetch to use for the token realm (tests). */
  fetch?: typeof fetch;
  /**
   * How tokens are asked for: `get` (skopeo, podman: GET with Basic credentials) or
   * `oauth2` (containerd: an OAuth2 password-grant POST first, falling back to GET
   * on 400/401/404/405). Anonymous requests always use GET. Default `get`.
   */
  tokenFlow?: 'get' | 'oauth2';
  /** Clock (ms), for tests. */
  now?: () => number;
}

/**
 * Authorization for one registry. `authorize(scopes)` gives the header to send up
 * front (a cached token for these scopes, or Basic once the registry asked for it);
 * `challenge(res, scopes)` handles a 401 and says whether a retry may succeed.
 */
export class RegistryAuth {
  readonly #credentials: Credentials | undefined;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #tokenFlow: 'get' | 'oauth2';
  readonly #tokens = new Map<string, CachedToken>();
  #basic = false;
  readonly #inflight = new Map<string, Promise<boolean>>();
  #bearer: { realm: string; service: string | undefined } | undefined;

  constructor(options: AuthOptions = {}) {
    this.#credentials = options.credentials;
    this.#fetch = options.fetch ?? fetch;
    this.#now = options.now ?? Date.now;
    this.#tokenFlow = options.tokenFlow ?? 'get';
  }

  /** The user name of the credentials in use; undefined when anonymous. */
  get username(): string | undefined {
    return this.#credentials?.username;
  }

  /** The Authorization header to send for a request needing `scopes`, if any is known. */
  authorize(scopes: readonly string[]): string | undefined {
    if (this.#bearer) {
      const cached = this.#tokens.get(scopeKey(scopes));
      if (cached && cached.expiresAt > this.#now()) return `Bearer ${cached.token}`;
      return undefined;
    }
    if (this.#basic && this.#credentials) return basicHeader(this.#credentials);
    return undefined;
  }

  /**
   * Fetches a token for `scopes` up front when the registry is known to use tokens
   * and none is cached, so a request (a streamed upload above all) is not sent only
   * to be refused.
   */
  async prepare(scopes: readonly string[]): Promise<void> {
    if (!this.#bearer || this.authorize(scopes) !== undefined) return;
    await this.#once(`prepare ${scopeKey(scopes)}`, async () => {
      this.#tokens.set(scopeKey(scopes), await this.#fetchToken(scopes));
      return true;
    });
  }

  /**
   * Runs `fn` once for requests that need the same thing at the same time (blobs go up
   * in parallel, and all are refused at once before the first token): one token fetch, not one per request.
   */
  #once(key: string, fn: () => Promise<boolean>): Promise<boolean> {
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = fn().finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  /**
   * Handles a 401: learns the scheme from `WWW-Authenticate`, fetches a token for the
   * scopes (the challenge's own scope included) and returns true when the request is
   * worth retrying once with `authorize(scopes)`.
   */
  challenge(header: string | null, scopes: readonly string[]): Promise<boolean> {
    return this.#once(`challenge ${header ?? ''} ${scopeKey(scopes)}`, () => this.#challenge(header, scopes));
  }

  async #challenge(header: string | null, scopes: readonly string[]): Promise<boolean> {
    const challenges = parseChallenges(header ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer?.params.realm) {
      this.#bearer = { realm: bearer.params.realm, service: bearer.params.service };
      const wanted = [...scopes];
      for (const s of (bearer.params.scope ?? '').split(' ')) if (s && !wanted.includes(s)) wanted.push(s);
      const key = scopeKey(scopes);
      this.#tokens.delete(key);
      const token = await this.#fetchToken(wanted);
      this.#tokens.set(key, token);
      return true;
    }
    if (challenges.some((c) => c.scheme === 'basic') && this.#credentials && !this.#basic) {
      this.#basic = true;
      return true;
    }
    return false;
  }

  async #fetchToken(scopes: readonly string[]): Promise<CachedToken> {
    const { realm, service } = this.#bearer!;
    const url = new URL(realm);
    if (service) url.searchParams.set('service', service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.#credentials) headers.Authorization = basicHeader(this.#credentials);
    const started = this.#now();
    let res: Response;
    try {
      if (this.#tokenFlow === 'oauth2' && this.#credentials) {
        const form = new URLSearchParams({
          grant_type: 'password',
          username: this.#credentials.username,
          password: this.#credentials.password,
          client_id: 'slipway',
        });
        if (service) form.set('service', service);
        if (scopes.length > 0) form.set('scope', scopes.join(' '));
        res = await this.#fetch(realm, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
          body: form.toString(),
        });
        if ([400, 401, 404, 405].includes(res.status)) {
          await res.body?.cancel();
          res = await this.#fetch(url, { headers });
        }
      } else {
        res = await this.#fetch(url, { headers });
      }
    } catch (err) {
      throw new SlipwayError(
        'IO_ERROR',
        `token request to ${url.origin}${url.pathname} failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
    const text = await res.text();
    if (!res.ok) {
      throw new SlipwayError(
        'IO_ERROR',
        `token request to ${url.origin}${url.pathname} was refused (HTTP ${res.status})${this.#credentials ? ': check the user name and password' : ': log in first'}: ${text.slice(0, 200)}`,
        {
          detail: { status: res.status, realm },
        },
      );
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch (err) {
      throw new SlipwayError('IO_ERROR', `token endpoint ${url.origin}${url.pathname} did not answer JSON`, {
        cause: err,
      });
    }
    const token =
      typeof body.token === 'string'
        ? body.token
        : typeof body.access_token === 'string'
          ? body.access_token
          : undefined;
    if (!token) throw new SlipwayError('IO_ERROR', `token endpoint ${url.origin}${url.pathname} answered no token`);
    const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    // renew a little early so a token does not expire in flight
    return { token, expiresAt: started + Math.max(1, expiresIn - 5) * 1000 };
  }
}

function scopeKey(scopes: readonly string[]): string {
  return [...scopes].sort().join(' ');
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}
