import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { SlipwayError, isRetryable } from '../../errors.js';
import { cfApiError, uaaApiError } from './api-errors.js';
import type { CfConfig } from './config.js';
import { type HttpAnswer, send } from './http.js';
import { needsRefresh } from './token.js';

/** CF's list envelope, as far as the client reads it. */
interface ListPage<T> {
  pagination?: { next?: { href?: string } | null };
  resources?: T[];
  included?: Record<string, unknown[]>;
}

export interface ListResult<T> {
  resources: T[];
  /** `included` of every page, merged by key (e.g. `users` of `GET /v3/roles?include=user`). */
  included: Record<string, unknown[]>;
}

/** CF's job (GET /v3/jobs/:guid). */
export interface CfJob {
  guid: string;
  state: string;
  operation?: string;
  errors?: { code?: number; title?: string; detail?: string }[];
  warnings?: { detail?: string }[];
}

/** The root document's links the CLI keeps (GET /). */
export interface RootInfo {
  apiVersion: string;
  loginUrl: string;
  uaaUrl: string;
}

/** UAA's token answer. */
export interface TokenAnswer {
  access_token: string;
  refresh_token?: string;
  token_type?: string;
  expires_in?: number;
}

/** A query: each key one value, several values joined by commas (the cf CLI's encoding). */
export type Query = Record<string, string | number | string[] | undefined>;

export interface CfClientOptions {
  /** Called with the config after a token refresh changed its tokens (to save them). */
  onTokens?: (config: CfConfig) => Promise<void>;
  /** X-Cf-Warnings of answers and warnings of jobs. */
  onWarning?: (warning: string) => void;
  /** First wait between job polls; doubles up to 3 s (the cf CLI's interval). */
  pollStartMs?: number;
  /** Give up waiting for a job after this long (default 10 minutes). */
  jobTimeoutMs?: number;
}

const USER_AGENT = 'slipway-cf/0.1.0';
/** The `cf` client with an empty secret: Basic base64("cf:"). */
const CF_CLIENT_BASIC = `Basic ${Buffer.from('cf:').toString('base64')}`;
const RETRIES = 2;

/**
 * The Cloud Controller v3 and UAA client of `slipway cf`, speaking as the cf CLI does:
 * JSON with a bearer token that is refreshed (refresh grant of the `cf` client) before
 * a request when it expires in less than 60 s; CF error JSON becomes a SlipwayError
 * with CF's detail as its message; lists follow `pagination.next.href` (absolute
 * URLs, as given); deletes follow their job's `Location` to COMPLETE or FAILED; GETs
 * are retried on a dropped connection or a 5xx gateway answer, POSTs never.
 *
 * @example
 * const client = new CfClient(config, { onTokens: (c) => writeCfConfig(path, c), onWarning: console.error });
 * const { resources } = await client.list<{ name: string }>('/v3/organizations', { order_by: 'name' });
 */
export class CfClient {
  readonly config: CfConfig;
  readonly #o: CfClientOptions;

  constructor(config: CfConfig, options: CfClientOptions = {}) {
    this.config = config;
    this.#o = options;
  }

  // -- the Cloud Controller --------------------------------------------------------

  /** GET / of an API URL, without a token: the versions and the login and UAA links. */
  async rootInfo(api: string): Promise<RootInfo> {
    const url = `${api.replace(/\/+$/, '')}/`;
    const answer = await this.#send('GET', url, { accept: 'application/json' });
    if (answer.status === 404 && !isJson(answer.text))
      throw new SlipwayError('NOT_FOUND', `API endpoint not found at ${api}: is it a Slipway or Cloud Foundry API?`);
    if (answer.status >= 400) throw cfApiError('GET', url, answer.status, answer.text);
    const body = parseJson(answer.text, 'GET', url) as {
      links?: Record<string, { href?: string; meta?: { version?: string } } | null>;
    };
    const links = body.links ?? {};
    const loginUrl = links.login?.href ?? links.uaa?.href;
    const uaaUrl = links.uaa?.href ?? loginUrl;
    if (!loginUrl || !uaaUrl)
      throw new SlipwayError(
        'INVALID_DOCUMENT',
        `${url} has no links.login or links.uaa: ${api} is not a Cloud Foundry API (or lacks its login server)`,
      );
    return { apiVersion: links.cloud_controller_v3?.meta?.version ?? '', loginUrl, uaaUrl };
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.#cc<T>('GET', this.url(path, query));
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.#cc<T>('POST', this.url(path), body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.#cc<T>('PATCH', this.url(path), body);
  }

  /** DELETE, then waits for the job its `Location` names (none: the delete is done). */
  async delete(path: string): Promise<void> {
    const { headers } = await this.#ccAnswer('DELETE', this.url(path));
    const location = headers.location;
    if (typeof location === 'string' && location !== '') await this.pollJob(location);
  }

  /**
   * One request as the caller shapes it: a raw body (YAML of a manifest, a streamed
   * multipart upload) with its content type, or JSON; the answer's JSON (`{}` when
   * empty) and its `Location` (a job). CF errors throw as for every call.
   */
  async request<T>(
    method: string,
    path: string,
    options: { query?: Query; json?: unknown; body?: string | Readable; contentType?: string } = {},
  ): Promise<{ status: number; body: T; location?: string }> {
    const url = this.url(path, options.query);
    const answer = await this.#ccAnswer(
      method,
      url,
      options.json,
      options.body === undefined
        ? undefined
        : { body: options.body, contentType: options.contentType ?? 'application/json' },
    );
    const location = answer.headers.location;
    return {
      status: answer.status,
      body: (answer.text.trim() === '' ? {} : parseJson(answer.text, method, url)) as T,
      ...(typeof location === 'string' && location !== '' ? { location } : {}),
    };
  }

  /** Every page of a list: `next.href` followed as given, `included` merged. */
  async list<T>(path: string, query?: Query): Promise<ListResult<T>> {
    const resources: T[] = [];
    const included: Record<string, unknown[]> = {};
    let next: string | undefined = this.url(path, query);
    const seen = new Set<string>();
    while (next) {
      if (seen.has(next))
        throw new SlipwayError('INVALID_DOCUMENT', `${next}: pagination.next.href points back to itself`);
      seen.add(next);
      const page: ListPage<T> = await this.#cc<ListPage<T>>('GET', next);
      resources.push(...(page.resources ?? []));
      for (const [key, items] of Object.entries(page.included ?? {}))
        if (Array.isArray(items)) (included[key] ??= []).push(...items);
      next = page.pagination?.next?.href || undefined;
    }
    return { resources, included };
  }

  /** The first resource of a list (`page=1&per_page=1`), as the cf CLI's name lookups ask. */
  async first<T>(path: string, query: Query = {}): Promise<T | undefined> {
    const page = await this.get<ListPage<T>>(path, { ...query, page: 1, per_page: 1 });
    return page.resources?.[0];
  }

  /** Polls a job until COMPLETE (done) or FAILED (its first error, as the cf CLI words it). */
  async pollJob(location: string): Promise<CfJob> {
    const deadline = Date.now() + (this.#o.jobTimeoutMs ?? 600_000);
    let wait = this.#o.pollStartMs ?? 100;
    for (;;) {
      const job = await this.#cc<CfJob>('GET', location);
      for (const w of job.warnings ?? []) if (w.detail) this.#o.onWarning?.(w.detail);
      if (job.state === 'COMPLETE') return job;
      if (job.state === 'FAILED') {
        const first = job.errors?.[0];
        throw new SlipwayError(
          'TOOL_FAILED',
          first?.detail ? `Job (${job.guid}) failed: ${first.detail}` : `Job (${job.guid}) failed with no error`,
          { detail: { job } },
        );
      }
      if (Date.now() > deadline)
        throw new SlipwayError(
          'IO_ERROR',
          `Job (${job.guid}) is still ${job.state} after ${Math.round((this.#o.jobTimeoutMs ?? 600_000) / 1000)} s; check it later with GET ${location}`,
        );
      await sleep(wait);
      wait = Math.min(wait * 2, 3000);
    }
  }

  /** The API URL joined with a path (or a server-given absolute URL as is), and the query. */
  url(path: string, query?: Query): string {
    if (/^https?:\/\//.test(path)) {
      const q = encodeQuery(query);
      return q === '' ? path : `${path}${path.includes('?') ? `&${q.slice(1)}` : q}`;
    }
    const base = this.#need(this.config.api, "No API endpoint set. Use 'slipway cf login -a API_URL' to target one.");
    return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+|\/+$/g, '')}${encodeQuery(query)}`;
  }

  async #cc<T>(method: string, url: string, body?: unknown): Promise<T> {
    const { text } = await this.#ccAnswer(method, url, body);
    return (text.trim() === '' ? {} : parseJson(text, method, url)) as T;
  }

  async #ccAnswer(
    method: string,
    url: string,
    body?: unknown,
    raw?: { body: string | Readable; contentType: string },
  ): Promise<HttpAnswer> {
    const token = await this.accessToken();
    const answer = await this.#send(
      method,
      url,
      {
        accept: 'application/json',
        'content-type': raw?.contentType ?? 'application/json',
        authorization: `bearer ${token}`,
      },
      raw ? raw.body : body === undefined ? undefined : JSON.stringify(body),
    );
    this.#warnings(answer);
    if (answer.status >= 400) throw cfApiError(method, url, answer.status, answer.text);
    return answer;
  }

  // -- UAA ---------------------------------------------------------------------------

  /** GET <login>/login: the prompts the login server asks for. */
  async loginPrompts(): Promise<Record<string, [string, string]>> {
    const url = `${this.#loginUrl()}/login`;
    const answer = await this.#send('GET', url, { accept: 'application/json' });
    if (answer.status >= 400) throw uaaApiError('GET', url, answer.status, answer.text);
    const body = parseJson(answer.text, 'GET', url) as { prompts?: Record<string, [string, string]> };
    return body.prompts ?? {};
  }

  /** The password grant of the `cf` client: the tokens are kept in the config (not saved). */
  async passwordGrant(username: string, password: string): Promise<TokenAnswer> {
    const answer = await this.#tokenRequest({ grant_type: 'password', username, password });
    this.config.accessToken = answer.access_token;
    if (answer.refresh_token) this.config.refreshToken = answer.refresh_token;
    return answer;
  }

  /** The refresh grant: new tokens, saved through `onTokens`. */
  async refresh(): Promise<void> {
    const refreshToken = this.config.refreshToken;
    if (!refreshToken)
      throw new SlipwayError(
        'UNAUTHORIZED',
        "The access token expired and there is no refresh token. Use 'slipway cf login' to log in again.",
      );
    const answer = await this.#tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshToken });
    this.config.accessToken = answer.access_token;
    if (answer.refresh_token) this.config.refreshToken = answer.refresh_token;
    await this.#o.onTokens?.(this.config);
  }

  /** The access token to send: refreshed first when it expires in less than 60 s (or is not a JWT). */
  async accessToken(): Promise<string> {
    const { accessToken, refreshToken } = this.config;
    if (!accessToken && !refreshToken)
      throw new SlipwayError('UNAUTHORIZED', "Not logged in. Use 'slipway cf login' to log in.");
    if (needsRefresh(accessToken)) await this.refresh();
    return this.config.accessToken ?? '';
  }

  /** DELETE <login>/oauth/token/revoke/:jti (logout); the answer does not matter. */
  async revoke(jti: string): Promise<void> {
    const url = `${this.#loginUrl()}/oauth/token/revoke/${encodeURIComponent(jti)}`;
    await this.#send('DELETE', url, {
      accept: 'application/json',
      authorization: `bearer ${this.config.accessToken ?? ''}`,
    });
  }

  /** A JSON request to UAA with the user's token; an invalid_token answer refreshes and retries once. */
  async uaa<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.#uaaUrl()}/${path.replace(/^\/+/, '')}`;
    for (let attempt = 0; ; attempt++) {
      const token = await this.accessToken();
      const answer = await this.#send(
        method,
        url,
        { accept: 'application/json', 'content-type': 'application/json', authorization: `bearer ${token}` },
        body === undefined ? undefined : JSON.stringify(body),
      );
      if (answer.status === 401 && attempt === 0 && isUaaError(answer.text, 'invalid_token')) {
        await this.refresh();
        continue;
      }
      if (answer.status >= 400) throw uaaApiError(method, url, answer.status, answer.text);
      return (answer.text.trim() === '' ? {} : parseJson(answer.text, method, url)) as T;
    }
  }

  async #tokenRequest(form: Record<string, string>): Promise<TokenAnswer> {
    const url = `${this.#loginUrl()}/oauth/token`;
    const body = new URLSearchParams(Object.entries(form).sort(([a], [b]) => a.localeCompare(b))).toString();
    const answer = await this.#send(
      'POST',
      url,
      {
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded',
        authorization: CF_CLIENT_BASIC,
      },
      body,
    );
    if (answer.status >= 400) throw uaaApiError('POST', url, answer.status, answer.text);
    const token = parseJson(answer.text, 'POST', url) as Partial<TokenAnswer>;
    if (typeof token.access_token !== 'string' || token.access_token === '')
      throw new SlipwayError('INVALID_DOCUMENT', `POST ${url}: the answer has no access_token`);
    return token as TokenAnswer;
  }

  #loginUrl(): string {
    return this.#need(this.config.loginUrl, "No login server known. Use 'slipway cf login -a API_URL' to log in.");
  }

  #uaaUrl(): string {
    return this.#need(this.config.uaaUrl, "No UAA server known. Use 'slipway cf login -a API_URL' to log in.");
  }

  #need(value: string | undefined, message: string): string {
    if (!value) throw new SlipwayError('INVALID_ARGUMENT', message);
    return value.replace(/\/+$/, '');
  }

  #warnings(answer: HttpAnswer): void {
    const raw = answer.headers['x-cf-warnings'];
    for (const header of Array.isArray(raw) ? raw : raw ? [raw] : [])
      for (const item of header.split(',')) {
        const text = safeDecode(item.replace(/\+/g, ' ')).trim();
        if (text) this.#o.onWarning?.(text);
      }
  }

  /** One request; a non-POST is tried again on a dropped connection or a 500/502/503/504 (twice, as the cf CLI). */
  async #send(
    method: string,
    url: string,
    headers: Record<string, string>,
    body?: string | Readable,
  ): Promise<HttpAnswer> {
    for (let attempt = 0; ; attempt++) {
      // A streamed body cannot be sent twice.
      const canRetry = method !== 'POST' && typeof body !== 'object' && attempt < RETRIES;
      try {
        const answer = await send({
          method,
          url,
          headers: { 'user-agent': USER_AGENT, ...headers },
          ...(body === undefined ? {} : { body }),
          ...(this.config.skipSslValidation ? { insecure: true } : {}),
        });
        if (canRetry && [500, 502, 503, 504].includes(answer.status)) continue;
        return answer;
      } catch (err) {
        if (canRetry && isRetryable(err)) continue;
        throw err;
      }
    }
  }
}

/** Go's url.Values.Encode as the cf CLI uses it: keys sorted, values joined by commas; a comma inside a name is %252C. */
export function encodeQuery(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [String(value)];
    params.append(key, values.map((v) => (key === 'names' ? v.replaceAll(',', '%2C') : v)).join(','));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

function parseJson(text: string, method: string, url: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SlipwayError('INVALID_DOCUMENT', `${method} ${url}: the answer is not JSON: ${text.slice(0, 200)}`, {
      cause: err,
    });
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function isUaaError(text: string, error: string): boolean {
  try {
    return (JSON.parse(text) as { error?: unknown }).error === error;
  } catch {
    return false;
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
