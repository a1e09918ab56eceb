/**
 * The platform's HTTP router (Cloud Foundry's gorouter role): every request's Host and
 * path pick a route in the RoutingTable, the route's RUNNING instances are tried in
 * round-robin order on the host loopback, and what the app answers streams back.
 *
 * Built on undici 7's Agent (keep-alive pools per backend, driven through `dispatch`),
 * chosen by bench/router-overhead.ts: autocannon, 32 keep-alive connections, a node:http
 * backend answering 300 bytes, every contender in its own process; medians of 5 runs of
 * 5 s on a 2-core VM shared with other work (load 3.5-5.5, so read ratios, not rps):
 *
 *   contender               rps    p50 ms  p99 ms  rps/direct  proxy CPU us/req
 *   direct                  28758  1.09    2.73    1.00        -
 *   node:http + http.Agent   5954  4.90   15.46    0.21        108
 *   http-proxy 1.18.1        4515  6.36   20.08    0.16        141
 *   undici Pool.stream       8730  3.43   11.61    0.30         65
 *   undici Pool.dispatch    11108  2.68   10.41    0.39         51
 *   this router (dispatch)   8470  3.35   12.18    0.29         71  (lookup, headers, retry)
 *   nginx 1.22, 1 worker    16386  1.60    5.89    0.57         20  (peer, not a candidate)
 *
 * undici's dispatch costs half the CPU of node:http's client per request, and its
 * handler says exactly when an answer has started (the line between "retry on the next
 * backend" and "too late"). nginx is faster still, but as a separate process it would
 * need its configuration rewritten and reloaded on every instance change, and its
 * answers reworded; it stays the yardstick. Upgrades go over plain sockets (upgrade.ts),
 * as gorouter's do.
 *
 * Answers of its own, as gorouter words them, with X-Cf-Routererror:
 *   404 unknown_route   no route for the host (and path);
 *   503 no_endpoints    a route without a RUNNING instance;
 *   502 endpoint_failure every tried backend failed to connect or broke before answering;
 *   504 endpoint_failure no answer's head within `requestTimeoutMs` (default 900 s).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Backend, RouteLookup, RoutingTable } from '../../platform/run/routing-table.js';
import { parseAddr } from '../registry/serve.js';
import { Forwarder } from './forward.js';
import { clientIpOf, type ForwardedFor, requestIdOf, requestTarget } from './headers.js';
import { proxyUpgrade } from './upgrade.js';

export interface RouterOptions {
  /** host:port to listen on (port 0: any). */
  addr: string;
  table: Pick<RoutingTable, 'lookup' | 'markFailed'>;
  /** gorouter's endpoint timeout: how long a backend may take to start its answer (default 900 s). */
  requestTimeoutMs?: number;
  /** How long connecting to a backend may take before the next is tried (default 5 s, gorouter's dial timeout). */
  connectTimeoutMs?: number;
  /** Backends tried per request (default 3, as gorouter). */
  maxAttempts?: number;
  /** Request bodies up to this size can be sent again to another backend (default 64 KiB). */
  retryBodyLimit?: number;
  /** One line per request, as gorouter's access log (the app's RTR log lines). */
  onLog?: (entry: RouterLogEntry) => void;
}

export interface RouterLogEntry {
  requestId: string;
  method: string;
  host: string;
  path: string;
  status: number;
  /** Milliseconds from the request's arrival to the end of the answer (or the upgrade). */
  durationMs: number;
  clientIp: string;
  routeGuid?: string;
  backend?: Backend;
  attempts: number;
  /** Set when the router answered (unknown_route, no_endpoints, endpoint_failure) or the answer broke. */
  routerError?: string;
  error?: string;
  upgrade?: boolean;
}

export interface RunningRouter {
  url: string;
  port: number;
  /** Stops listening and cuts every connection, upgraded ones too. */
  close(): Promise<void>;
}

type RouterError = 'unknown_route' | 'no_endpoints' | 'endpoint_failure';

const REASONS: Record<number, string> = {
  404: 'Not Found',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

function errorAnswer(status: number, host: string, routerError: RouterError): string {
  const message =
    routerError === 'unknown_route'
      ? `Requested route ('${host}') does not exist.`
      : routerError === 'no_endpoints'
        ? `Requested route ('${host}') has no available endpoints.`
        : 'Registered endpoint failed to handle the request.';
  return `${status} ${REASONS[status]}: ${message}\n`;
}

/** The router's answer when the lookup gave no backend to try. */
function lookupError(found: Exclude<RouteLookup, { kind: 'ok' }>): { status: number; routerError: RouterError } {
  return found.kind === 'none'
    ? { status: 404, routerError: 'unknown_route' }
    : { status: 503, routerError: 'no_endpoints' };
}

export async function startRouter(options: RouterOptions): Promise<RunningRouter> {
  const { host, port } = parseAddr(options.addr);
  const timeoutMs = options.requestTimeoutMs ?? 900_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const maxAttempts = options.maxAttempts ?? 3;
  const { table, onLog } = options;
  const forwarder = new Forwarder({
    timeoutMs,
    connectTimeoutMs,
    maxAttempts,
    retryBodyLimit: options.retryBodyLimit ?? 64 * 1024,
  });
  const markFailed = (b: Backend) => table.markFailed(b.instanceGuid);
  const upgraded = new Set<Socket>();

  const begin = (req: IncomingMessage) => {
    const target = requestTarget(req);
    const fwd: ForwardedFor = {
      requestId: requestIdOf(req),
      scheme: 'http',
      clientIp: clientIpOf(req),
      startMs: Date.now(),
    };
    const shownHost = target.host.replace(/:\d+$/, '');
    return { target, fwd, shownHost, found: table.lookup(target.host, target.path), t0: performance.now() };
  };
  const log = (req: IncomingMessage, b: ReturnType<typeof begin>, e: Partial<RouterLogEntry> & { status: number }) =>
    onLog?.({
      requestId: b.fwd.requestId,
      method: req.method ?? 'GET',
      host: b.shownHost,
      path: b.target.path,
      durationMs: performance.now() - b.t0,
      clientIp: b.fwd.clientIp,
      routeGuid: b.found.kind === 'none' ? undefined : b.found.route.guid,
      attempts: 0,
      ...e,
    });

  const sendError = (
    res: ServerResponse,
    requestId: string,
    status: number,
    host: string,
    routerError: RouterError,
  ) => {
    const body = errorAnswer(status, host, routerError);
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-cf-routererror': routerError,
      'x-vcap-request-id': requestId,
    });
    res.end(body);
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const b = begin(req);
    if (b.found.kind !== 'ok') {
      const f = lookupError(b.found);
      req.resume();
      sendError(res, b.fwd.requestId, f.status, b.shownHost, f.routerError);
      log(req, b, { status: f.status, routerError: f.routerError });
      return;
    }
    const out = await forwarder.forward(req, res, b.found.backends, b.fwd, b.target.path, markFailed);
    switch (out.kind) {
      case 'answered':
        log(req, b, {
          status: out.status,
          backend: out.backend,
          attempts: out.attempts,
          ...(out.broken ? { routerError: 'endpoint_failure', error: out.broken } : {}),
        });
        return;
      case 'client-gone':
        log(req, b, { status: 499, backend: out.backend, attempts: out.attempts, error: 'the client went away' });
        return;
      case 'timeout':
      case 'failed': {
        const status = out.kind === 'timeout' ? 504 : 502;
        if (!res.headersSent && !res.destroyed)
          sendError(res, b.fwd.requestId, status, b.shownHost, 'endpoint_failure');
        // The body may be partly unread; this connection cannot carry another request.
        if (!req.complete) res.once('finish', () => req.socket.destroy());
        log(req, b, {
          status,
          backend: out.backend,
          attempts: out.attempts,
          routerError: 'endpoint_failure',
          error: out.kind === 'timeout' ? `no answer within ${timeoutMs} ms` : out.error,
        });
        return;
      }
    }
  };

  const onUpgrade = async (req: IncomingMessage, client: Socket, head: Buffer) => {
    client.on('error', () => client.destroy());
    const b = begin(req);
    const rawError = (status: number, routerError: RouterError) => {
      const body = errorAnswer(status, b.shownHost, routerError);
      client.end(
        `HTTP/1.1 ${status} ${REASONS[status]}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\nx-cf-routererror: ${routerError}\r\n` +
          `x-vcap-request-id: ${b.fwd.requestId}\r\nconnection: close\r\n\r\n${body}`,
      );
      log(req, b, { status, routerError, upgrade: true });
    };
    if (b.found.kind !== 'ok') {
      const f = lookupError(b.found);
      rawError(f.status, f.routerError);
      return;
    }
    const out = await proxyUpgrade(
      req,
      client,
      head,
      b.found.backends,
      b.fwd,
      b.target.path,
      { connectTimeoutMs, timeoutMs, maxAttempts },
      markFailed,
      (backend) => {
        upgraded.add(client).add(backend);
        backend.once('close', () => upgraded.delete(backend));
        client.once('close', () => upgraded.delete(client));
      },
    );
    if (out.kind === 'piped') {
      client.once('close', () =>
        log(req, b, { status: 101, backend: out.backend, attempts: out.attempts, upgrade: true }),
      );
    } else if (out.kind === 'timeout') rawError(504, 'endpoint_failure');
    else if (out.kind === 'failed') rawError(502, 'endpoint_failure');
    else client.destroy();
  };

  // requestTimeout 0: node's own 300 s limit on receiving a request would cut long uploads.
  const server = createServer({ requestTimeout: 0, keepAliveTimeout: 60_000 }, (req, res) => {
    onRequest(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy(err instanceof Error ? err : undefined);
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    onUpgrade(req, socket, head).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}`,
    port: address.port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const s of upgraded) s.destroy();
      await closed;
      await forwarder.close();
    },
  };
}
