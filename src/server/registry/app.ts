import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Context, Next } from 'hono';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import type { LocalStore } from '../../store/local-store.js';
import type { Authenticator } from '../auth/types.js';
import { deleteBlob, getBlob } from './blob-routes.js';
import { SAME_NAMES, type Call, type RegistryContext, type RegistryLimits, type RepositoryNames } from './context.js';
import { apiBase, catalog, referrers, tagsList } from './discovery-routes.js';
import { errorBody, RegistryError, toRegistryError } from './errors.js';
import type { RegistryEvent } from './events.js';
import { ManifestCache } from './manifest-cache.js';
import { deleteManifest, getManifest, putManifest } from './manifest-routes.js';
import { parseRoute, type Route, type RouteKind } from './paths.js';
import { API_VERSION, partsOf, responseOf, type ReplyParts } from './respond.js';
import { cancelUpload, finishUpload, patchUpload, startUpload, uploadStatus } from './upload-routes.js';
import { settleUnreadBody } from './unread-body.js';
import { UploadSessions } from './upload-sessions.js';

export interface RegistryOptions {
  store: LocalStore;
  auth: Authenticator;
  limits?: Partial<RegistryLimits>;
  /** Metrics and logs: one event per request, upload and manifest change. Must not throw. */
  onEvent?: (event: RegistryEvent) => void;
  /** Bytes of manifests kept in memory for fast GETs. Default 32 MiB. */
  manifestCacheBytes?: number;
  /** Public names and stored repositories (default: the same). */
  names?: RepositoryNames;
  /** Send blob GETs to the object store (a presigned URL, 307) where it has one, as Distribution's redirect. */
  redirectBlobs?: boolean;
}

export type RegistryEnv = { Variables: { call: Call } };

/**
 * The registry's Hono app; `close()` parks open upload sessions (call it on shutdown).
 * `direct`, when set, answers the requests a pull is made of (manifest and blob GET and
 * HEAD) from Node's request without Hono: serve.ts offers it every request first, and
 * Hono answers those it declines (it returns false).
 */
export type RegistryApp = Hono<RegistryEnv> & {
  close(): Promise<void>;
  direct?: ((incoming: IncomingMessage, outgoing: ServerResponse) => boolean) | undefined;
};

type Handler<K extends RouteKind> = (
  reg: RegistryContext,
  call: Call<Extract<Route, { kind: K }>>,
) => Promise<Response>;
type HandlerTable = { [K in RouteKind]: Partial<Record<string, Handler<K>>> };

// Which method does what on each endpoint; HEAD is answered by the GET handler.
const HANDLERS: HandlerTable = {
  base: { GET: apiBase },
  catalog: { GET: catalog },
  tags: { GET: tagsList },
  manifest: { GET: getManifest, PUT: putManifest, DELETE: deleteManifest },
  blob: { GET: getBlob, DELETE: deleteBlob },
  uploads: { POST: startUpload },
  upload: { GET: uploadStatus, PATCH: patchUpload, PUT: finishUpload, DELETE: cancelUpload },
  referrers: { GET: referrers },
};

export const DEFAULT_LIMITS: RegistryLimits = {
  maxManifestBytes: 4 * 1024 * 1024,
  maxUploadBytes: Number.MAX_SAFE_INTEGER,
};

/**
 * The OCI Distribution Spec v1.1 registry on a LocalStore, as a Hono app. Handlers
 * translate HTTP to store calls; what a push or a mount means lives in the modules
 * beside them. Other routes (/healthz, /metrics, the token endpoint) may be added to
 * the returned app: it only claims /v2.
 *
 * @example
 * const app = createRegistryApp({ store: await LocalStore.open(), auth: allowAll });
 * const res = await app.request('/v2/team/app/tags/list');
 */
export function createRegistryApp(options: RegistryOptions): RegistryApp {
  const emit = options.onEvent ?? (() => undefined);
  const reg: RegistryContext = {
    store: options.store,
    auth: options.auth,
    names: options.names ?? SAME_NAMES,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    uploads: new UploadSessions(options.store, {
      maxUploadBytes: options.limits?.maxUploadBytes ?? DEFAULT_LIMITS.maxUploadBytes,
      onEvent: emit,
    }),
    manifests: new ManifestCache(options.manifestCacheBytes ?? 32 * 1024 * 1024),
    emit,
    redirectBlobs: options.redirectBlobs ?? false,
  };
  const app = new Hono<RegistryEnv>();
  if (options.onEvent !== undefined) app.use('/v2/*', requestEvents(options.onEvent));
  app.all('/v2', (c) => dispatch(reg, c));
  app.all('/v2/*', (c) => dispatch(reg, c));
  app.onError(async (err, c) =>
    errorResponse(err, await settleUnreadBody(isNodeBindings(c.env) ? c.env.incoming : undefined)),
  );
  return Object.assign(app, { close: () => reg.uploads.close(), direct: directHandler(reg, options.onEvent) });
}

// ---------------------------------------------------------------------------
// The direct path: manifest and blob GET/HEAD without Hono. Through Hono each costs a
// Request, routing, a middleware chain, a Response read back and, for HEAD, a second
// Response; a manifest GET is little else, so skipping them is most of its cost. The
// same handlers run and the same bytes go out (direct.test.ts compares both paths).

// What it takes: a path of a manifest or blob with nothing the URL would normalize
// (escapes, dot segments, a query) and a plain Host, so the request URL is the same
// string @hono/node-server would build. Anything else goes to Hono.
const DIRECT_PATH = /^\/v2\/[a-z0-9._/-]+\/(?:manifests|blobs)\/[A-Za-z0-9._:+-]+$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-9]\d{3}|[1-5]\d{4}))?$/;

function directHandler(reg: RegistryContext, onEvent: ((event: RegistryEvent) => void) | undefined) {
  return (incoming: IncomingMessage, outgoing: ServerResponse): boolean => {
    const { method, url: path } = incoming;
    const host = incoming.headers.host;
    if ((method !== 'GET' && method !== 'HEAD') || path === undefined || host === undefined) return false;
    if (!DIRECT_PATH.test(path) || DOT_SEGMENT.test(path) || !PLAIN_HOST.test(host)) return false;
    let route: Route | undefined;
    try {
      route = parseRoute(path);
    } catch {
      return false; // A bad name or digest: Hono answers the error.
    }
    if (route?.kind !== 'manifest' && route?.kind !== 'blob') return false;
    const scheme = (incoming.socket as TLSSocket | null)?.encrypted ? 'https' : 'http';
    void answerDirect(reg, route, incoming, outgoing, `${scheme}://${host}${path}`, onEvent);
    return true;
  };
}

async function answerDirect(
  reg: RegistryContext,
  route: Extract<Route, { kind: 'manifest' | 'blob' }>,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  url: string,
  onEvent: ((event: RegistryEvent) => void) | undefined,
): Promise<void> {
  const started = onEvent === undefined ? 0 : performance.now();
  const method = incoming.method!;
  const call: Call = {
    request: directRequest(incoming, url),
    route,
    repository: '',
    query: new URLSearchParams(),
    bytesIn: 0,
    bytesOut: 0,
    node: { incoming, outgoing },
  };
  const address = incoming.socket?.remoteAddress;
  if (address !== undefined) call.client = { address };
  let status: number;
  try {
    let response: Response;
    try {
      call.repository = await reg.names.stored(route.name);
      const handler = HANDLERS[route.kind].GET as Handler<RouteKind>;
      response = await handler(reg, call as Call<never>);
    } catch (err) {
      response = errorResponse(err, await settleUnreadBody(incoming));
    }
    status = response === RESPONSE_ALREADY_SENT ? call.sentStatus! : await writeResponse(outgoing, method, response);
  } catch (err) {
    // Nothing left to answer with (the connection broke mid-write, say): as @hono/node-server, end it.
    console.error('slipway registry: internal error:', err);
    outgoing.destroy();
    status = 500;
  }
  onEvent?.({
    type: 'request',
    method,
    route: route.kind,
    status: call.sentStatus ?? status,
    durationMs: performance.now() - started,
    bytesIn: call.bytesIn,
    bytesOut: call.bytesOut,
  });
}

/**
 * Writes a handler's Response as @hono/node-server would: its headers as given, a
 * body whole. A HEAD answer is the GET's with the header names lowercased and sorted,
 * as Hono makes it (a new Response from the GET's, whose Headers object does that).
 */
async function writeResponse(outgoing: ServerResponse, method: string, response: Response): Promise<number> {
  const parts: ReplyParts = partsOf(response) ?? {
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: response.body === null ? null : new Uint8Array(await response.arrayBuffer()),
  };
  if (method === 'HEAD') {
    outgoing.writeHead(parts.status, headOnly(parts.headers));
    outgoing.end();
    return parts.status;
  }
  outgoing.writeHead(parts.status, parts.headers);
  if (parts.body === null) outgoing.end();
  else outgoing.end(parts.body);
  return parts.status;
}

function headOnly(headers: Record<string, string>): Record<string, string> {
  const names = Object.keys(headers);
  const shape = names.join('\n');
  let order = headOrders.get(shape);
  if (order === undefined) {
    const lower = names.map((n) => [n, n.toLowerCase()] as [string, string]);
    // Two names differing only in case are one header to Headers: its values joined, as there.
    if (new Set(lower.map(([, l]) => l)).size !== lower.length) return mergedLowercase(headers);
    order = lower.sort((x, y) => (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0));
    // A handful of shapes (manifest, blob, 304, each error): bounded all the same.
    if (headOrders.size < 256) headOrders.set(shape, order);
  }
  const sorted: Record<string, string> = {};
  for (const [name, lower] of order) sorted[lower] = headers[name]!;
  return sorted;
}

/** Header names in the order a HEAD answer has them, by the names of the GET's headers in theirs. */
const headOrders = new Map<string, [string, string][]>();

function mergedLowercase(headers: Record<string, string>): Record<string, string> {
  const merged = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    const had = merged.get(key);
    merged.set(key, had === undefined ? value : `${had}, ${value}`);
  }
  const sorted: Record<string, string> = {};
  for (const key of [...merged.keys()].sort()) sorted[key] = merged.get(key)!;
  return sorted;
}

/**
 * The Request the handlers and the authenticator see: method, url and headers, read
 * from Node's request on demand (a full Request and Headers cost more than the rest
 * of a manifest GET). Body and signal are absent: GET and HEAD handlers read neither.
 */
function directRequest(incoming: IncomingMessage, url: string): Request {
  return { method: incoming.method, url, headers: new IncomingHeaders(incoming.rawHeaders) } as unknown as Request;
}

/** Headers (read-only) over Node's raw header list: `get` joins repeated ones with ", ", as Headers does. */
class IncomingHeaders {
  readonly #raw: string[];
  #full: Headers | undefined;

  constructor(raw: string[]) {
    this.#raw = raw;
  }

  get(name: string): string | null {
    const key = name.toLowerCase();
    let value: string | null = null;
    for (let i = 0; i < this.#raw.length; i += 2) {
      const n = this.#raw[i]!;
      if (n.length === key.length && n.toLowerCase() === key) {
        const v = this.#raw[i + 1]!.trim();
        value = value === null ? v : `${value}, ${v}`;
      }
    }
    return value;
  }

  has(name: string): boolean {
    return this.get(name) !== null;
  }

  // The rest of Headers' reading interface, from a real Headers made on first use.
  forEach(callback: (value: string, name: string, parent: Headers) => void): void {
    this.#headers().forEach(callback);
  }

  entries(): IterableIterator<[string, string]> {
    return this.#headers().entries();
  }

  keys(): IterableIterator<string> {
    return this.#headers().keys();
  }

  values(): IterableIterator<string> {
    return this.#headers().values();
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  #headers(): Headers {
    if (this.#full === undefined) {
      this.#full = new Headers();
      for (let i = 0; i < this.#raw.length; i += 2) this.#full.append(this.#raw[i]!, this.#raw[i + 1]!);
    }
    return this.#full;
  }
}

async function dispatch(reg: RegistryContext, c: Context<RegistryEnv>): Promise<Response> {
  const { path, query } = splitUrl(c.req.url);
  const route = parseRoute(path);
  if (route === undefined) throw new RegistryError('UNSUPPORTED', `no registry endpoint at ${path}`, { status: 404 });
  const repository = 'name' in route ? await reg.names.stored(route.name) : '';
  const call: Call = { request: c.req.raw, route, repository, query, bytesIn: 0, bytesOut: 0 };
  if (isNodeBindings(c.env)) {
    call.node = c.env;
    const address = c.env.incoming.socket?.remoteAddress;
    if (address !== undefined) call.client = { address };
  }
  c.set('call', call);
  const method = c.req.method === 'HEAD' ? 'GET' : c.req.method;
  const handler = (HANDLERS[route.kind] as Partial<Record<string, Handler<RouteKind>>>)[method];
  if (handler === undefined) throw new RegistryError('UNSUPPORTED', `${c.req.method} is not supported on ${path}`);
  return handler(reg, call as Call<never>);
}

/**
 * Path (still percent-encoded) and query of an absolute request URL, without a full
 * URL parse: this runs on every request.
 */
function splitUrl(url: string): { path: string; query: URLSearchParams } {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  const q = url.indexOf('?', start);
  return q < 0
    ? { path: url.slice(start), query: new URLSearchParams() }
    : { path: url.slice(start, q), query: new URLSearchParams(url.slice(q + 1)) };
}

function isNodeBindings(env: unknown): env is NonNullable<Call['node']> {
  const e = env as Partial<NonNullable<Call['node']>> | undefined;
  return typeof e?.incoming?.pipe === 'function' && typeof e.outgoing?.writeHead === 'function';
}

/**
 * The error as the spec's JSON body. Its Content-Length is set last: an error may carry
 * a handler's headers (an upload's Range and Location, with their `Content-Length: 0`),
 * and a length shorter than the body would leave the rest on the connection, read by
 * the client as an unsolicited response.
 */
function errorResponse(err: unknown, connection: Record<string, string>): Response {
  const error = toRegistryError(err);
  if (error.status >= 500) console.error('slipway registry: internal error:', err);
  const body = errorBody(error);
  const headers: Record<string, string> = { ...API_VERSION, 'Content-Type': 'application/json' };
  for (const [name, value] of Object.entries(error.headers))
    if (name.toLowerCase() !== 'content-length') headers[name] = value;
  return responseOf({
    status: error.status,
    headers: { ...headers, ...connection, 'Content-Length': String(Buffer.byteLength(body)) },
    body,
  });
}

/** Reports each request to onEvent once its response is ready (errors included). */
function requestEvents(onEvent: (event: RegistryEvent) => void) {
  return async (c: Context<RegistryEnv>, next: Next): Promise<void> => {
    const started = performance.now();
    await next();
    const call = c.get('call') as Call | undefined;
    onEvent({
      type: 'request',
      method: c.req.method,
      route: call?.route.kind ?? 'other',
      status: call?.sentStatus ?? c.res.status,
      durationMs: performance.now() - started,
      bytesIn: call?.bytesIn ?? 0,
      // Set by the handlers that send content; reading c.res.headers would cost every response its fast path.
      bytesOut: call?.bytesOut ?? 0,
    });
  };
}
