import { join } from 'node:path';
import { Hono } from 'hono';
import { defaultTokenKeyPath, loadOrCreateTokenKey, newTokenKeyJwk, parseTokenKey } from '../auth/token-key.js';
import { SlipwayError, isErrno } from '../errors.js';
import { DEFAULT_APPS_DOMAIN } from './defaults.js';
import type { StackSource } from '../platform/actions/stacks.js';
import { StackUpdates } from '../platform/actions/stack-updates.js';
import { StoreAppImages } from '../platform/app-images.js';
import { ensureBuiltinBuildpacks } from '../platform/staging/builtin-buildpacks.js';
import { Identity } from '../platform/identity/identity.js';
import { DEFAULT_INSTANCE_PULL_SECONDS, PlatformTokens } from '../platform/identity/tokens.js';
import { PlatformRegistry } from '../platform/registry-access.js';
import type { PlatformStore } from '../platform/store/platform-store.js';
import { LogRelay } from '../platform/log-relay.js';
import { kubernetesApiFromKubeconfig } from '../platform/run/kubernetes-backend.js';
import { checkNamespacePrefix } from '../platform/run/kubernetes-objects.js';
import { takeRunnerLock } from '../platform/run/runner-lock.js';
import { openPlatformStore } from '../platform/store/open-platform-store.js';
import type { WorkloadStore } from '../platform/store/workload-store.js';
import { WorkloadEngine } from '../platform/workload-engine.js';
import type { BuildNetwork } from '../sandbox/network.js';
import { latestVersion, listStackNames, repositoryOf } from '../stack/stack-catalog.js';
import type { LocalStore } from '../store/local-store.js';
import { bearerAuthenticator } from './auth/bearer.js';
import { LoginGuard } from './auth/login-guard.js';
import { createTokenApp } from './auth/token-routes.js';
import { TokenService } from './auth/token-service.js';
import { healthHandler, storeChecks } from './health.js';
import { ServerMetrics } from './metrics.js';
import { createRegistryApp, type RegistryApp } from './registry/app.js';
import { startGc } from './registry/gc.js';
import { serveRegistry } from './registry/serve.js';
import { type RouterLogEntry, startRouter, type RunningRouter } from './router/router.js';
import { createWorkerApp, loadOrCreateWorkerSecret, newWorkerSecret, shareWorkerSecret } from './staging/worker-api.js';
import { createUaaApp } from './uaa/app.js';
import { createV3App } from './v3/app.js';
import { createWebApp, isWebRequest } from './web/web-app.js';

export interface PlatformServerOptions {
  /** The image store; the platform's database and keys live in its home. */
  store: LocalStore;
  addr: string;
  tls?: { cert: Buffer; key: Buffer };
  /** The URL clients reach the API at (links, token realm); default the URL it listens on. */
  publicUrl?: string;
  /** The first start's admin password, from a file; else one is generated and returned once. */
  adminPasswordFile?: string;
  /** Access token lifetime (default 10 minutes). */
  accessTokenSeconds?: number;
  gcIntervalMs: number;
  gcGraceMs: number;
  /** A build whose worker sent no heartbeat this long goes to another worker (default 60 s). */
  claimStaleMs?: number;
  /** Blob GETs answered with a presigned URL of the object store (`--s3-redirect`). */
  redirectBlobs?: boolean;
  warn: (message: string) => void;
  /** The platform store to use (default SQLite in the store's home: the embedded default). */
  platformStore?: PlatformStore & { workloads: WorkloadStore };
  /** The shared domain of apps' default routes (APP.<domain>); default apps.localhost. */
  domain?: string;
  /**
   * Run apps here: stage builds, run instances, route to them at `routerAddr`. Without
   * it the API records what should run and nothing runs (an API-only server).
   */
  run?: {
    routerAddr: string;
    /** Builds staged at once in this process (0: by `slipway worker`s only). */
    buildWorkers?: number;
    buildNetwork?: BuildNetwork;
    /** Reconciler pass interval (default 1 s) and how long a stopping instance keeps serving (default 2 s). */
    intervalMs?: number;
    drainMs?: number;
    /** Instances as pods on a Kubernetes cluster (`--instances kubernetes`); default runc containers here. */
    kubernetes?: {
      kubeconfig: string;
      namespacePrefix: string;
      /** The registry as the cluster reaches it (`host[:port]`); default the public URL's host, else `addr`. */
      registryHost?: string;
    };
  };
}

export { DEFAULT_APPS_DOMAIN };

export interface RunningPlatformServer {
  url: string;
  /** The router's URL, when apps run here. */
  routerUrl?: string;
  /** The shared domain of default routes. */
  domain: string;
  /** Set on the first start: the admin user made then (the password only when generated: show it once). */
  admin?: { username: string; password?: string };
  close(): Promise<void>;
}

/**
 * `slipway serve`: the whole platform in one process, on one address: the registry
 * (/v2, authorized by the platform's roles, app images at ORG/SPACE/APP), the Cloud
 * Foundry v3 API (/ and /v3), UAA's login and token endpoints (/uaa), the registry's
 * token endpoint (/token), /healthz and /metrics.
 */
export async function startPlatformServer(o: PlatformServerOptions): Promise<RunningPlatformServer> {
  // A bad kubeconfig or prefix fails before anything is written (a first start's admin password is shown once).
  const k8s = o.run?.kubernetes;
  if (k8s) checkNamespacePrefix(k8s.namespacePrefix);
  const k8sApi = k8s ? kubernetesApiFromKubeconfig(k8s.kubeconfig) : undefined;
  // On PostgreSQL every node shares the platform's tables and its keys; on SQLite they are the home's.
  const database = o.store.database;
  const pstore = o.platformStore ?? (await openPlatformStore(database ?? join(o.store.home, 'platform.sqlite')));
  // One node of a shared database runs its apps (see runner-lock.ts).
  const runnerLock = database && o.run ? await takeRunnerLock(database) : undefined;
  const freshKey = database ? await newTokenKeyJwk() : undefined;
  const key = freshKey
    ? parseTokenKey(await pstore.sharedSetting('registry-token-key', () => freshKey))
    : await loadOrCreateTokenKey(defaultTokenKeyPath(o.store.home));
  const tokens = new PlatformTokens({
    key,
    issuer: 'slipway-uaa',
    ...(o.accessTokenSeconds ? { accessSeconds: o.accessTokenSeconds } : {}),
  });
  const identity = new Identity(pstore, tokens);
  const first = await identity.ensureAdmin(
    o.adminPasswordFile === undefined ? {} : { passwordFile: o.adminPasswordFile },
  );
  await ensureBuiltinBuildpacks(pstore);
  const registryAccess = new PlatformRegistry(pstore, identity);
  const metrics = new ServerMetrics();

  // The registry: Docker token auth (GET /v2/ challenges; clients log in at /token), roles decide per repository.
  const registryTokens = new TokenService({ key, authorizer: registryAccess, service: 'slipway' });
  const registry = createRegistryApp({
    store: o.store,
    auth: bearerAuthenticator(registryTokens, {
      refusals: 'explain',
      ...(o.publicUrl ? { realm: `${o.publicUrl.replace(/\/+$/, '')}/token` } : {}),
    }),
    names: registryAccess,
    onEvent: metrics.observe,
    ...(o.redirectBlobs ? { redirectBlobs: true } : {}),
  });
  const registryLogins = new LoginGuard(registryAccess);
  identity.onPasswordChange((username) => registryLogins.forget(username));
  const tokenApp = new Hono().route('/token', createTokenApp(registryTokens, { logins: registryLogins }));
  const domain = o.domain ?? DEFAULT_APPS_DOMAIN;
  const engine = new WorkloadEngine({
    platform: pstore,
    workloads: pstore.workloads,
    store: o.store,
    domain,
    ...(o.run?.buildWorkers !== undefined ? { buildWorkers: o.run.buildWorkers } : {}),
    ...(o.run?.buildNetwork ? { buildNetwork: o.run.buildNetwork } : {}),
    ...(o.run?.intervalMs !== undefined ? { intervalMs: o.run.intervalMs } : {}),
    ...(o.run?.drainMs !== undefined ? { drainMs: o.run.drainMs } : {}),
    ...(o.claimStaleMs !== undefined ? { claimStaleMs: o.claimStaleMs } : {}),
    ...(k8s && k8sApi
      ? {
          kubernetes: {
            api: k8sApi,
            namespacePrefix: k8s.namespacePrefix,
            registryHost: k8s.registryHost ?? (o.publicUrl ? new URL(o.publicUrl).host : o.addr),
            // The pods' pull secret: a token that pulls the app's own images only (see PlatformRegistry).
            pullCredential: async (app) => {
              const space = await pstore.getSpace(app.spaceGuid);
              if (!space) throw new SlipwayError('NOT_FOUND', `the space of app ${app.guid} is gone`);
              const expiresAt = Date.now() + DEFAULT_INSTANCE_PULL_SECONDS * 1000;
              const password = await tokens.issueInstancePull({
                appGuid: app.guid,
                spaceGuid: space.guid,
                orgGuid: space.orgGuid,
              });
              return { username: 'slipway-pull', password, expiresAt };
            },
          },
        }
      : {}),
    onError: (err) => o.warn(`${(err as Error).stack ?? err}`),
  });
  // Nodes on one database see each other's app logs (staging output, instances).
  const relay = database
    ? await LogRelay.start(database, engine.logs, { onError: (err) => o.warn(`app logs: ${(err as Error).message}`) })
    : undefined;
  const images = new StoreAppImages(o.store, (app) => {
    engine.logs.drop(app.guid);
    registryAccess.forgetNames();
  });
  const stackUpdates = new StackUpdates(o.store);
  const stacks = stackSource(o.store);
  const v3 = createV3App({
    store: pstore,
    workloads: pstore.workloads,
    services: engine.services,
    stackUpdates,
    authenticate: (request) => identity.callerFromAuthorization(request.headers.get('authorization')),
    stacks,
    images,
    ...(o.publicUrl ? { publicUrl: o.publicUrl.replace(/\/+$/, '') } : {}),
    onError: (err, where) =>
      o.warn(
        `internal error at ${typeof where === 'string' ? where : (where as Request).url}: ${(err as Error).stack ?? err}`,
      ),
  });
  await v3.jobs.resumeUnfinished();
  const orphans = await images.sweepOrphans(pstore);
  if (orphans.length > 0) o.warn(`removed the images of deleted apps: ${orphans.join(', ')}`);
  await v3.ready();
  const uaa = new Hono().route('/uaa', createUaaApp({ store: pstore, identity }));
  // The dashboard: the same stores, services, jobs and identity as the API, so the same policy decides.
  const web = createWebApp({
    store: pstore,
    workloads: pstore.workloads,
    services: engine.services,
    jobs: v3.jobs,
    stackUpdates,
    stacks,
    images: o.store,
    identity,
    onError: (err, where) => o.warn(`internal error at ${where}: ${(err as Error).stack ?? err}`),
  });
  // `slipway worker`s on other processes or hosts: this process's staging queue over HTTP, behind the worker secret.
  const secret = database
    ? shareWorkerSecret(o.store.home, await pstore.sharedSetting('worker-secret', () => newWorkerSecret()))
    : loadOrCreateWorkerSecret(o.store.home);
  const workerApi = new Hono().route(
    '/internal/v1',
    createWorkerApp({
      queue: engine.queue,
      findJob: (guid) => engine.queue.findJob(guid),
      packages: engine.packages,
      tokens,
      secret,
      store: o.store,
      onError: (err, where) => o.warn(`internal error at ${where}: ${(err as Error).stack ?? err}`),
    }),
  );

  const root = new Hono();
  root.use('*', async (c, next) => {
    await next();
    // A rename or delete through the API changes registry names (forget the cached ones) and may change routes.
    if (c.req.method !== 'GET' && c.req.path.startsWith('/v3/')) {
      registryAccess.forgetNames();
      await engine.refreshRoutes();
    }
  });
  root.get('/healthz', healthHandler(storeChecks(o.store)));
  root.get('/metrics', metrics.handler());
  root.all('*', (c) => {
    const path = c.req.path;
    const target =
      path === '/v2' || path.startsWith('/v2/')
        ? registry
        : path.startsWith('/token')
          ? tokenApp
          : path.startsWith('/uaa/')
            ? uaa
            : path.startsWith('/internal/v1/')
              ? workerApi
              : isWebRequest(c.req.raw)
                ? web
                : v3;
    return target.fetch(c.req.raw, c.env);
  });
  const app = Object.assign(root, { close: () => registry.close() }) as unknown as RegistryApp;

  const server = await serveRegistry({
    store: o.store,
    auth: bearerAuthenticator(registryTokens),
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
  let router: RunningRouter | undefined;
  if (o.run) {
    try {
      router = await startRouter({
        addr: o.run.routerAddr,
        table: engine.routing,
        onLog: (e) => {
          if (e.backend) engine.logs.write(e.backend.appGuid, 'RTR', String(e.backend.index), 'OUT', routerLine(e));
        },
      });
    } catch (err) {
      await server.close();
      if (isErrno(err, 'EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL'))
        throw new SlipwayError(
          'INVALID_ARGUMENT',
          `cannot listen on ${o.run.routerAddr}: ${(err as Error).message}; choose another --router-addr`,
          { cause: err },
        );
      throw err;
    }
    // Route URLs name the port the router got (--router-addr may say 0).
    engine.services.routerPort = router.port;
    await engine.start();
  }
  const gc =
    o.gcIntervalMs > 0
      ? startGc(o.store, {
          intervalMs: o.gcIntervalMs,
          graceMs: o.gcGraceMs,
          pruneUntagged: false,
          onEvent: metrics.observe,
        })
      : undefined;
  return {
    url: server.url,
    ...(router ? { routerUrl: router.url } : {}),
    domain,
    ...(first.created
      ? { admin: { username: first.username, ...(first.generated ? { password: first.password } : {}) } }
      : {}),
    async close() {
      await gc?.stop();
      await router?.close();
      await engine.close();
      await relay?.close();
      await runnerLock?.release();
      await server.close();
      await pstore.close();
    },
  };
}

/** Slipway's stacks (the store's catalog), as the v3 stacks resource lists them. */
function stackSource(store: LocalStore): StackSource {
  return {
    async list() {
      const out = [];
      for (const name of await listStackNames(store)) {
        const latest = await latestVersion(store, name);
        if (!latest) continue;
        out.push({
          name,
          description:
            latest.request?.source === 'debian'
              ? `Debian ${latest.request.suite}`
              : `${name} (${latest.request?.source ?? 'images'})`,
          version: latest.version,
          buildImage: `stacks/${repositoryOf(name, 'build')}@${latest.build.digest}`,
          runImage: `stacks/${repositoryOf(name, 'run')}@${latest.run.digest}`,
          default: name === 'default',
        });
      }
      return out;
    },
  };
}

/** A request as gorouter logs it into the app's RTR lines. */
function routerLine(e: RouterLogEntry): string {
  return `${e.host} - "${e.method} ${e.path}" ${e.status} ${Math.round(e.durationMs)}ms x_forwarded_for:"${e.clientIp}" vcap_request_id:"${e.requestId}"`;
}
