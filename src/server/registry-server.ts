import { SlipwayError, isErrno } from '../errors.js';
import type { LocalStore } from '../store/local-store.js';
import { chooseAuthMode, isLoopback, setupAuth, type AuthMode, type AuthSetup } from './auth/setup.js';
import { healthHandler, storeChecks } from './health.js';
import { ServerMetrics } from './metrics.js';
import { createRegistryApp, type RegistryApp } from './registry/app.js';
import { startGc } from './registry/gc.js';
import { parseAddr, serveRegistry } from './registry/serve.js';

export interface RegistryServerOptions {
  store: LocalStore;
  /** host:port to listen on. */
  addr: string;
  /** none, basic or token; default: none on loopback, refused elsewhere. */
  auth?: string;
  usersPath?: string;
  tls?: { cert: Buffer; key: Buffer };
  tokenExpirySeconds: number;
  service: string;
  /** The URL clients reach the server at (the token realm is derived from it). */
  publicUrl?: string;
  /** Online GC every this many ms (0: none), keeping blobs younger than graceMs. */
  gcIntervalMs: number;
  gcGraceMs: number;
  gcUntagged?: boolean;
  maxUploadBytes?: number;
  /** Warnings for the operator (a users file that cannot be reloaded, plain HTTP with passwords). */
  warn: (message: string) => void;
}

export interface RunningRegistryServer {
  url: string;
  auth: AuthMode;
  usersPath?: string;
  close(): Promise<void>;
}

/**
 * `slipway registry serve`: the registry routes over the store, with its auth (the users
 * file, basic or token), the token endpoint, /healthz, /metrics and online GC.
 */
export async function startRegistryServer(o: RegistryServerOptions): Promise<RunningRegistryServer> {
  const { host } = parseAddr(o.addr);
  const mode = chooseAuthMode(host, o.auth);
  const auth = await setupAuth({
    mode,
    home: o.store.home,
    tokenExpirySeconds: o.tokenExpirySeconds,
    service: o.service,
    ...(o.usersPath === undefined ? {} : { usersPath: o.usersPath }),
    ...(o.publicUrl === undefined ? {} : { realm: `${o.publicUrl.replace(/\/+$/, '')}/token` }),
    onUsersFileError: (err) =>
      o.warn(`the users file changed but cannot be used, keeping the previous one: ${(err as Error).message}`),
    onRehashError: (err) => o.warn((err as Error).message),
  });
  const metrics = new ServerMetrics();
  const app = createRegistryApp({
    store: o.store,
    auth: auth.authenticator,
    onEvent: metrics.observe,
    ...(o.maxUploadBytes === undefined ? {} : { limits: { maxUploadBytes: o.maxUploadBytes } }),
  });
  mountServerRoutes(app, auth, metrics, o.store);
  const server = await serveRegistry({
    store: o.store,
    auth: auth.authenticator,
    addr: o.addr,
    app,
    ...(o.tls ? { tls: o.tls } : {}),
  }).catch((err: unknown) => {
    if (isErrno(err, 'EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL'))
      throw new SlipwayError(
        'INVALID_ARGUMENT',
        `cannot listen on ${o.addr}: ${(err as Error).message}; choose another --addr`,
        { cause: err },
      );
    throw err;
  });
  const gc =
    o.gcIntervalMs > 0
      ? startGc(o.store, {
          intervalMs: o.gcIntervalMs,
          graceMs: o.gcGraceMs,
          pruneUntagged: o.gcUntagged ?? false,
          onEvent: metrics.observe,
        })
      : undefined;
  if (mode !== 'none' && !o.tls && !isLoopback(host))
    o.warn(
      'passwords and tokens travel unencrypted over plain HTTP; serve with --tls-cert/--tls-key or behind a TLS proxy',
    );
  return {
    url: server.url,
    auth: mode,
    ...(auth.usersPath ? { usersPath: auth.usersPath } : {}),
    close: async () => {
      await gc?.stop();
      await server.close();
    },
  };
}

/** The routes beside /v2: the token endpoint (token mode), /healthz and /metrics. */
function mountServerRoutes(app: RegistryApp, auth: AuthSetup, metrics: ServerMetrics, store: LocalStore): void {
  if (auth.tokenApp) {
    app.use('/token', metrics.middleware('token'));
    app.route('/token', auth.tokenApp);
  }
  app.use('/healthz', metrics.middleware('healthz'));
  app.get('/healthz', healthHandler(storeChecks(store)));
  app.get('/metrics', metrics.handler());
}
