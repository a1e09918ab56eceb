import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, type Dispatcher } from 'undici';
import type { Backend } from '../../platform/run/routing-table.js';
import { backendRequestHeaders, clientResponseHeaders, type ForwardedFor } from './headers.js';
import { ReplayableBody } from './replayable-body.js';

/**
 * One request, forwarded to the backends of its route in turn, with undici's keep-alive
 * pools (the measured winner: see router.ts). A failed connection (refused, timed out)
 * is retried on the next backend whatever the method, since the app never saw it; a
 * connection that broke before any answer byte is retried when the method is idempotent
 * (RFC 9110 9.2.2: gorouter's rule, as the app may have acted on a POST). Either way the
 * body must still be replayable (ReplayableBody keeps its first `retryBodyLimit` bytes).
 * Once the answer's head is sent to the client nothing is retried: a break then cuts the
 * client's connection, as a truncated answer must not look whole.
 */

export interface ForwardOptions {
  /** Wait for the answer's head, and longest silence in its body (gorouter's endpoint timeout). */
  timeoutMs: number;
  maxAttempts: number;
  retryBodyLimit: number;
}

export type ForwardOutcome =
  | { kind: 'answered'; status: number; backend: Backend; attempts: number; broken?: string }
  | { kind: 'failed'; attempts: number; backend?: Backend; error: string }
  | { kind: 'timeout'; attempts: number; backend: Backend }
  | { kind: 'client-gone'; attempts: number; backend?: Backend };

const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);
const BROKEN_CONNECTIONS = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ECONNABORTED']);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

type AttemptResult =
  | { kind: 'answered'; status: number; broken?: string }
  | { kind: 'error'; code: string; message: string }
  | { kind: 'client-gone' };

export class Forwarder {
  readonly #agent: Agent;
  readonly #o: ForwardOptions;

  constructor(options: ForwardOptions & { connectTimeoutMs: number }) {
    this.#o = options;
    this.#agent = new Agent({
      // Per backend; a burst above it queues in undici rather than opening without bound.
      connections: 256,
      pipelining: 1,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connectTimeout: options.connectTimeoutMs,
    });
  }

  async close(): Promise<void> {
    await this.#agent.destroy();
  }

  /**
   * Sends `req` to `backends` in order (at most `maxAttempts`), answering `res` from the
   * first that answers; says how it went and leaves error answers to the caller.
   * `onFailed` hears of each backend whose connection failed.
   */
  async forward(
    req: IncomingMessage,
    res: ServerResponse,
    backends: Backend[],
    fwd: ForwardedFor,
    path: string,
    onFailed: (backend: Backend) => void,
  ): Promise<ForwardOutcome> {
    const length = req.headers['content-length'];
    const hasBody = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
    const body = hasBody ? new ReplayableBody(req, this.#o.retryBodyLimit) : undefined;
    const method = req.method ?? 'GET';
    let lastError = 'no backend';
    let backend: Backend | undefined;
    let attempts = 0;
    const refused = new Set<string>();
    for (let i = 0; attempts < this.#o.maxAttempts && refused.size < backends.length; i++) {
      backend = backends[i % backends.length]!;
      // A backend that refused will refuse again; one whose connection broke may answer on a new one.
      if (refused.has(backend.instanceGuid)) continue;
      attempts++;
      const r = await this.#attempt(req, res, backend, fwd, path, body);
      if (r.kind === 'answered') return { kind: 'answered', status: r.status, backend, attempts, broken: r.broken };
      if (r.kind === 'client-gone') return { kind: 'client-gone', attempts, backend };
      if (r.code === 'UND_ERR_HEADERS_TIMEOUT') return { kind: 'timeout', attempts, backend };
      lastError = `${r.code}: ${r.message}`;
      const connectFailed = CONNECT_FAILURES.has(r.code);
      const broke = BROKEN_CONNECTIONS.has(r.code);
      if (!connectFailed && !broke) break;
      onFailed(backend);
      if (connectFailed) refused.add(backend.instanceGuid);
      if (body && !body.replayable) break;
      if (broke && !IDEMPOTENT.has(method) && body?.sentWhole !== false) break;
    }
    return { kind: 'failed', attempts, backend, error: lastError };
  }

  #attempt(
    req: IncomingMessage,
    res: ServerResponse,
    backend: Backend,
    fwd: ForwardedFor,
    path: string,
    body: ReplayableBody | undefined,
  ): Promise<AttemptResult> {
    return new Promise((resolve) => {
      let controller: Dispatcher.DispatchController | undefined;
      let started = false;
      let settled = false;
      const settle = (r: AttemptResult) => {
        if (settled) return;
        settled = true;
        res.off('close', onClientClose);
        res.off('drain', onDrain);
        resolve(r);
      };
      const onClientClose = () => {
        if (res.writableFinished) return;
        controller?.abort(new Error('the client closed the connection'));
        settle({ kind: 'client-gone' });
      };
      const onDrain = () => controller?.resume();
      res.on('close', onClientClose);
      res.on('drain', onDrain);
      const handler: Dispatcher.DispatchHandler = {
        onRequestStart: (c) => {
          controller = c;
          if (settled) c.abort(new Error('the client closed the connection'));
        },
        onResponseStart: (_c, statusCode, headers, statusMessage) => {
          // Informational answers (103 Early Hints) are not passed on; the final one follows.
          if (settled || statusCode < 200) return;
          started = true;
          const out = clientResponseHeaders(headers, fwd.requestId);
          if (statusMessage) res.writeHead(statusCode, statusMessage, out);
          else res.writeHead(statusCode, out);
        },
        onResponseData: (c, chunk) => {
          if (!settled && !res.write(chunk)) c.pause();
        },
        onResponseEnd: () => {
          if (settled) return;
          res.end();
          settle({ kind: 'answered', status: res.statusCode });
        },
        onResponseError: (_c, err) => {
          if (settled) return;
          if (started) {
            // Too late for another backend: cut the client off so it sees the answer is short.
            res.destroy();
            settle({ kind: 'answered', status: res.statusCode, broken: describe(err) });
            return;
          }
          if (req.destroyed && !req.complete) {
            settle({ kind: 'client-gone' });
            return;
          }
          settle({ kind: 'error', code: codeOf(err), message: err.message });
        },
      };
      this.#agent.dispatch(
        {
          origin: `http://${backend.host}:${backend.port}`,
          path,
          method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
          headers: backendRequestHeaders(req, fwd, backend),
          body: body ? body.feed() : null,
        },
        handler,
      );
    });
  }
}

function codeOf(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  // undici wraps socket errors; the errno is the cause's.
  const inner = typeof e.cause?.code === 'string' ? e.cause.code : undefined;
  if (inner && (CONNECT_FAILURES.has(inner) || BROKEN_CONNECTIONS.has(inner))) return inner;
  return typeof e.code === 'string' ? e.code : 'UNKNOWN';
}

function describe(err: unknown): string {
  return `${codeOf(err)}: ${err instanceof Error ? err.message : String(err)}`;
}
