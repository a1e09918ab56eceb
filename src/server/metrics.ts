import type { Handler, MiddlewareHandler } from 'hono';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RegistryEvent } from './registry/events.js';

/** A request event as the registry emits it, or as the server's own routes (token, healthz) record one. */
type RequestEvent = Omit<Extract<RegistryEvent, { type: 'request' }>, 'route'> & { route: string };
type MetricEvent = RegistryEvent | RequestEvent;

/**
 * The registry server's Prometheus metrics, on a private prom-client Registry (the
 * global one would mix in anything else loaded in the process, and tests would share
 * it). Fed by `observe`, the `onEvent` consumer of createRegistryApp, and by
 * `middleware()` for routes outside the registry app. Served by `handler()`.
 *
 * Labels stay few: the route kind (manifest, blob, upload, ...) rather than the path,
 * so a registry with 10,000 repositories still has a handful of series.
 *
 * @example
 * const metrics = new ServerMetrics();
 * const registry = createRegistryApp({ store, auth, onEvent: metrics.observe });
 * root.get('/metrics', metrics.handler());
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'method' | 'route' | 'status'>;
  readonly #duration: Histogram<'method' | 'route'>;
  readonly #bytesIn: Counter<'route'>;
  readonly #bytesOut: Counter<'route'>;
  readonly #uploadSessions: Gauge;
  readonly #uploads: Counter<'outcome'>;
  readonly #manifests: Counter<'action'>;
  readonly #gcRuns: Counter<'outcome'>;
  readonly #gcBlobs: Counter;
  readonly #gcBytes: Counter;
  #openUploads = 0;
  // The series each request feeds, by method, route and status: prom-client's labelled
  // children, so a request does not hash and check its labels again (it runs on every request).
  readonly #series = new Map<
    string,
    {
      requests: { inc(value?: number): void };
      duration: { observe(value: number): void };
      bytesIn: { inc(value?: number): void };
      bytesOut: { inc(value?: number): void };
    }
  >();

  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'slipway_registry_http_requests_total',
      help: 'HTTP requests answered, by method, route kind and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'slipway_registry_http_request_duration_seconds',
      help: 'Time to answer a request (until the handler returned a response)',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    this.#bytesIn = new Counter({
      name: 'slipway_registry_received_bytes_total',
      help: 'Request body bytes received (blobs, chunks, manifests)',
      labelNames: ['route'],
      registers,
    });
    this.#bytesOut = new Counter({
      name: 'slipway_registry_sent_bytes_total',
      help: 'Response body bytes sent, as announced by Content-Length',
      labelNames: ['route'],
      registers,
    });
    this.#uploadSessions = new Gauge({
      name: 'slipway_registry_upload_sessions',
      help: 'Blob upload sessions open now (started by this process)',
      registers,
    });
    this.#uploads = new Counter({
      name: 'slipway_registry_uploads_total',
      help: 'Blob upload sessions ended, by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.#manifests = new Counter({
      name: 'slipway_registry_manifests_total',
      help: 'Manifests pushed and deleted',
      labelNames: ['action'],
      registers,
    });
    this.#gcRuns = new Counter({
      name: 'slipway_registry_gc_runs_total',
      help: 'Garbage collection runs, by outcome',
      labelNames: ['outcome'],
      registers,
    });
    this.#gcBlobs = new Counter({
      name: 'slipway_registry_gc_blobs_removed_total',
      help: 'Blobs removed by garbage collection',
      registers,
    });
    this.#gcBytes = new Counter({
      name: 'slipway_registry_gc_freed_bytes_total',
      help: 'Bytes freed by garbage collection',
      registers,
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** The `onEvent` consumer: cheap and never throws, as the registry asks of listeners. */
  readonly observe = (event: MetricEvent): void => {
    try {
      this.#observe(event);
    } catch {
      // A metric that cannot be recorded must never fail a request.
    }
  };

  /**
   * Records requests to routes outside the registry app (`/token`, `/healthz`) under
   * the given route name, in the same series as the registry's own.
   */
  middleware(route: string): MiddlewareHandler {
    return async (c, next) => {
      const start = performance.now();
      await next();
      this.observe({
        type: 'request',
        method: c.req.method,
        route,
        status: c.res.status,
        durationMs: performance.now() - start,
        bytesIn: Number(c.req.header('content-length') ?? 0) || 0,
        bytesOut: Number(c.res.headers.get('content-length') ?? 0) || 0,
      });
    };
  }

  /** The `GET /metrics` handler, in Prometheus' text format. */
  handler(): Handler {
    return async (c) => c.body(await this.registry.metrics(), 200, { 'Content-Type': this.registry.contentType });
  }

  #observe(event: MetricEvent): void {
    switch (event.type) {
      case 'request': {
        const key = `${event.method} ${event.route} ${event.status}`;
        let series = this.#series.get(key);
        if (series === undefined) {
          const method = event.method.toUpperCase();
          const route = event.route;
          series = {
            requests: this.#requests.labels({ method, route, status: String(event.status) }),
            duration: this.#duration.labels({ method, route }),
            bytesIn: this.#bytesIn.labels({ route }),
            bytesOut: this.#bytesOut.labels({ route }),
          };
          this.#series.set(key, series);
        }
        series.requests.inc();
        series.duration.observe(event.durationMs / 1000);
        if (event.bytesIn > 0) series.bytesIn.inc(event.bytesIn);
        if (event.bytesOut > 0) series.bytesOut.inc(event.bytesOut);
        return;
      }
      case 'upload':
        if (event.action === 'started') this.#openUploads++;
        else {
          // Sessions resumed after a restart end without having started here: never below zero.
          this.#openUploads = Math.max(0, this.#openUploads - 1);
          this.#uploads.inc({ outcome: event.action });
        }
        this.#uploadSessions.set(this.#openUploads);
        return;
      case 'manifest':
        this.#manifests.inc({ action: event.action });
        return;
      case 'gc':
        this.#gcRuns.inc({ outcome: event.error === undefined ? 'ok' : 'error' });
        if (event.report) {
          this.#gcBlobs.inc(event.report.blobsRemoved);
          this.#gcBytes.inc(event.report.bytesFreed);
        }
        return;
    }
  }
}
