import type { Context, Next } from 'hono';
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
import { API_VERSION } from './respond.js';
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

/** The registry's Hono app; `close()` parks open upload sessions (call it on shutdown). */
export type RegistryApp = Hono<RegistryEnv> & { close(): Promise<void> };

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
  return Object.assign(app, { close: () => reg.uploads.close() });
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
  return new Response(body, {
    status: error.status,
    headers: { ...headers, ...connection, 'Content-Length': String(Buffer.byteLength(body)) },
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
