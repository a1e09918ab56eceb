import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { digestOf } from '../oci/digest.js';
import { LocalStore } from '../store/local-store.js';
import { allowAll } from './auth/types.js';
import { healthHandler, storeChecks } from './health.js';
import { ServerMetrics } from './metrics.js';
import { createRegistryApp } from './registry/app.js';

/** The value of one series in Prometheus' text format, or 0 when it is absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('metrics and health', () => {
  let dir: string;
  let store: LocalStore;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-metrics-'));
    store = await LocalStore.open(join(dir, 'home'));
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('registry requests move the request counters and byte counters', async () => {
    const metrics = new ServerMetrics({ processMetrics: false });
    const app = createRegistryApp({ store, auth: allowAll, onEvent: metrics.observe });
    app.get('/metrics', metrics.handler());
    try {
      assert.equal((await app.request('/v2/')).status, 200);
      assert.equal((await app.request('/v2/')).status, 200);
      assert.equal((await app.request('/v2/team/app/manifests/missing')).status, 404);
      const blob = Buffer.from('hello metrics');
      const digest = digestOf(blob);
      const push = await app.request(`/v2/team/app/blobs/uploads/?digest=${digest}`, {
        method: 'POST',
        body: blob,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(blob.length) },
      });
      assert.equal(push.status, 201);
      assert.equal((await app.request(`/v2/team/app/blobs/${digest}`)).status, 200);

      const res = await app.request('/metrics');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      assert.equal(sample(text, 'slipway_registry_http_requests_total{method="GET",route="base",status="200"}'), 2);
      assert.equal(sample(text, 'slipway_registry_http_requests_total{method="GET",route="manifest",status="404"}'), 1);
      assert.equal(sample(text, 'slipway_registry_received_bytes_total{route="uploads"}'), blob.length);
      assert.equal(sample(text, 'slipway_registry_sent_bytes_total{route="blob"}'), blob.length);
      assert.equal(sample(text, 'slipway_registry_http_request_duration_seconds_count{method="GET",route="base"}'), 2);
    } finally {
      await app.close();
    }
  });

  test('upload sessions are a gauge; GC runs and manifests are counted', async () => {
    const metrics = new ServerMetrics({ processMetrics: false });
    const text = () => metrics.registry.metrics();
    metrics.observe({ type: 'upload', action: 'started', repository: 'a' });
    metrics.observe({ type: 'upload', action: 'started', repository: 'a' });
    assert.equal(sample(await text(), 'slipway_registry_upload_sessions'), 2);
    metrics.observe({ type: 'upload', action: 'completed', repository: 'a', bytes: 10 });
    metrics.observe({ type: 'upload', action: 'cancelled', repository: 'a' });
    metrics.observe({ type: 'upload', action: 'failed', repository: 'a' });
    assert.equal(
      sample(await text(), 'slipway_registry_upload_sessions'),
      0,
      'a session resumed after a restart never drives it negative',
    );
    assert.equal(sample(await text(), 'slipway_registry_uploads_total{outcome="completed"}'), 1);
    metrics.observe({
      type: 'gc',
      report: { blobsRemoved: 3, bytesFreed: 300, ingestsRemoved: 0 },
      prunedManifests: 1,
      durationMs: 5,
    });
    metrics.observe({ type: 'gc', prunedManifests: 0, durationMs: 1, error: new Error('disk') });
    const after = await text();
    assert.equal(sample(after, 'slipway_registry_gc_runs_total{outcome="ok"}'), 1);
    assert.equal(sample(after, 'slipway_registry_gc_runs_total{outcome="error"}'), 1);
    assert.equal(sample(after, 'slipway_registry_gc_freed_bytes_total'), 300);
    metrics.observe({ type: 'manifest', action: 'pushed', repository: 'a', digest: digestOf('manifest') });
    assert.equal(sample(await text(), 'slipway_registry_manifests_total{action="pushed"}'), 1);
  });

  test('routes outside the registry are counted through the middleware; process metrics are on by default', async () => {
    const metrics = new ServerMetrics();
    const app = new Hono();
    app.use('/token', metrics.middleware('token'));
    app.get('/token', (c) => c.json({ token: 'x' }));
    await app.request('/token');
    const text = await metrics.registry.metrics();
    assert.equal(sample(text, 'slipway_registry_http_requests_total{method="GET",route="token",status="200"}'), 1);
    assert.match(text, /^process_resident_memory_bytes /m);
  });

  test('/healthz: 200 when the store answers, 503 naming the failing probe', async () => {
    const app = new Hono();
    app.get('/healthz', healthHandler(storeChecks(store)));
    app.get(
      '/sick',
      healthHandler({
        ...storeChecks(store),
        metadata: async () => {
          throw new Error('database is locked');
        },
      }),
    );
    app.get('/hung', healthHandler({ slow: () => new Promise(() => undefined) }, { timeoutMs: 50 }));
    const ok = await app.request('/healthz');
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { status: 'ok', checks: { metadata: 'ok', blobs: 'ok' } });
    const sick = await app.request('/sick');
    assert.equal(sick.status, 503);
    assert.deepEqual(await sick.json(), {
      status: 'unavailable',
      checks: { metadata: 'database is locked', blobs: 'ok' },
    });
    const hung = await app.request('/hung');
    assert.equal(hung.status, 503);
    assert.match(JSON.stringify(await hung.json()), /no answer within 50 ms/);
  });

  test('/healthz fails when the store is closed', async () => {
    const other = await LocalStore.open(join(dir, 'closed'));
    await other.close();
    const app = new Hono();
    app.get('/healthz', healthHandler(storeChecks(other)));
    assert.equal((await app.request('/healthz')).status, 503);
  });
});
