import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Deployment } from 'kubernetes-models/apps/v1';
import { isSlipwayError } from '../../errors.js';
import { AppLogs } from '../logs.js';
import { newGuid } from '../model.js';
import type { Instance } from '../workload.js';
import { SqlitePlatformStore } from '../store/sqlite-platform-store.js';
import { WorkloadFixture } from '../store/workload-store-fixture.js';
import { RunnerStats } from './instance-stats.js';
import { kubernetesApiFromKubeconfig } from './kubernetes-backend.js';
import { KubernetesReconciler } from './kubernetes-reconciler.js';
import { RoutingTable } from './routing-table.js';

/**
 * The backend's calls through @kubernetes/client-node, against a fake API server in
 * this process (node:http): it answers discovery, keeps what is applied by path, lists
 * by label and deletes, and records every request. It is a stand-in only because no
 * real API server can run on this machine (no kube-apiserver in Debian 12 or on npm):
 * it shows the requests the backend makes and how it takes a refusal, not that a
 * cluster accepts them (the objects are checked against the OpenAPI schema instead).
 */

interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  contentType?: string;
}

type Obj = { kind?: string; metadata?: { name?: string; namespace?: string; labels?: Record<string, string> } };

class FakeApiServer {
  readonly objects = new Map<string, Obj>();
  readonly requests: Recorded[] = [];
  failNext: { method: string; status: number } | undefined;
  #server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const u = new URL(req.url ?? '/', 'http://x');
        this.requests.push({
          method: req.method ?? '',
          path: u.pathname,
          query: u.searchParams,
          ...(req.headers['content-type'] ? { contentType: req.headers['content-type'] } : {}),
        });
        const send = (status: number, value: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(value));
        };
        if (this.failNext && this.failNext.method === req.method) {
          const { status } = this.failNext;
          this.failNext = undefined;
          return send(status, { kind: 'Status', status: 'Failure', message: 'injected', code: status });
        }
        const discovery = DISCOVERY[u.pathname];
        if (req.method === 'GET' && discovery) return send(200, discovery);
        if (req.method === 'PATCH') {
          const o = JSON.parse(body) as Obj;
          this.objects.set(u.pathname, o);
          return send(200, o);
        }
        if (req.method === 'DELETE') {
          if (!this.objects.delete(u.pathname)) return send(404, { kind: 'Status', code: 404, reason: 'NotFound' });
          return send(200, { kind: 'Status', status: 'Success' });
        }
        if (req.method === 'GET') {
          const selector = u.searchParams.get('labelSelector') ?? '';
          const want = selector ? selector.split(',').map((kv) => kv.split('=')) : [];
          const items = [...this.objects.entries()]
            .filter(([path]) => path.startsWith(`${u.pathname}/`) && !path.slice(u.pathname.length + 1).includes('/'))
            .map(([, o]) => o)
            .filter((o) => want.every(([k, v]) => o.metadata?.labels?.[k!] === v));
          return send(200, { kind: 'List', apiVersion: 'v1', metadata: {}, items });
        }
        send(405, {});
      });
    });
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((r) => this.#server?.close(() => r()));
  }

  of(method: string): Recorded[] {
    return this.requests.filter((r) => r.method === method);
  }
}

const resource = (name: string, kind: string, namespaced: boolean) => ({
  name,
  kind,
  namespaced,
  singularName: '',
  verbs: ['get', 'list', 'patch', 'delete'],
});
const DISCOVERY: Record<string, unknown> = {
  '/api/v1': {
    kind: 'APIResourceList',
    groupVersion: 'v1',
    resources: [
      resource('namespaces', 'Namespace', false),
      resource('pods', 'Pod', true),
      resource('services', 'Service', true),
      resource('secrets', 'Secret', true),
    ],
  },
  '/apis/apps/v1': {
    kind: 'APIResourceList',
    groupVersion: 'apps/v1',
    resources: [resource('deployments', 'Deployment', true)],
  },
};

describe('KubernetesReconciler (against a fake API server: no real one can run here)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-k8s-'));
  const api = new FakeApiServer();
  let store: SqlitePlatformStore;
  let fx: WorkloadFixture;
  const errors: unknown[] = [];
  let reconciler: KubernetesReconciler;
  let running = new Map<string, Instance[]>();

  before(async () => {
    await api.start();
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        // Plain HTTP: client-node allows it only with TLS checks off (nothing to check on a fake).
        clusters: [{ name: 'fake', cluster: { server: api.url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user: { token: 'abc' } }],
        contexts: [{ name: 'c', context: { cluster: 'fake', user: 'u' } }],
        'current-context': 'c',
      }),
    );
    store = await SqlitePlatformStore.open(join(dir, 'platform.sqlite'));
    fx = new WorkloadFixture(store, store.workloads);
    reconciler = new KubernetesReconciler({
      platform: store,
      workloads: store.workloads,
      api: kubernetesApiFromKubeconfig(kubeconfig),
      logs: new AppLogs(),
      registryHost: 'registry.example:9000',
      namespacePrefix: 'slipway-',
      pullCredential: async (app) => ({
        username: 'slipway-pull',
        password: `token-for-${app.guid}`,
        expiresAt: Date.now() + 3600_000,
      }),
      onError: (err) => errors.push(err),
      onInstances: (r) => (running = r),
    });
  });
  after(async () => {
    await reconciler.close();
    await store.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies the objects of a started app, reads its pods back, deletes them when it stops', async () => {
    const org = await fx.org('acme');
    const space = await fx.space(org, 'dev');
    const app = await fx.app(space, 'web-shop');
    const droplet = await fx.droplet(app);
    await store.updateApp(app.guid, { state: 'STARTED', currentDropletGuid: droplet.guid });
    const web = await fx.process(app, 'web', { instances: 2 });

    await reconciler.converge();
    assert.deepEqual(errors, []);
    const patches = api.of('PATCH');
    const ns = `slipway-${space.guid}`;
    const paths = patches.map((r) => r.path);
    assert.equal(paths[0], `/api/v1/namespaces/${ns}`);
    assert.ok(paths.some((p) => p.startsWith(`/api/v1/namespaces/${ns}/secrets/`)));
    const depPath = paths.find((p) => p.startsWith(`/apis/apps/v1/namespaces/${ns}/deployments/`))!;
    assert.ok(depPath);
    assert.ok(paths.some((p) => p.startsWith(`/api/v1/namespaces/${ns}/services/`)));
    for (const r of patches) {
      assert.equal(r.contentType, 'application/apply-patch+yaml');
      assert.equal(r.query.get('fieldManager'), 'slipway');
      assert.equal(r.query.get('force'), 'true');
    }
    // What went over the wire still validates (client-node's serializer kept it whole).
    const sent = api.objects.get(depPath) as { spec: { replicas: number } };
    new Deployment(sent as never).validate();
    assert.equal(sent.spec.replicas, 2);

    // Unchanged: not sent again.
    await reconciler.converge();
    assert.equal(api.of('PATCH').length, patches.length);

    // The "cluster" runs two pods, one ready.
    const labels = {
      'app.kubernetes.io/managed-by': 'slipway',
      'slipway.dev/process-guid': web.guid,
      'slipway.dev/app-guid': app.guid,
      'slipway.dev/droplet-guid': droplet.guid,
    };
    const pod = (name: string, ready: boolean) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: ns, uid: `uid-${name}`, labels, creationTimestamp: '2026-01-01T00:00:00Z' },
      status: {
        phase: 'Running',
        podIP: '10.0.0.9',
        conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      },
    });
    api.objects.set(`/api/v1/namespaces/${ns}/pods/a`, pod('a', true));
    api.objects.set(`/api/v1/namespaces/${ns}/pods/b`, pod('b', false));
    await reconciler.converge();
    assert.deepEqual(errors, []);
    const instances = await store.workloads.instancesOf(web.guid);
    assert.deepEqual(
      instances.map((i) => [i.containerName, i.index, i.state]),
      [
        ['a', 0, 'RUNNING'],
        ['b', 1, 'STARTING'],
      ],
    );
    // The router gets the ready pod, reached through the process's Service (cluster DNS), not the pod IP.
    assert.deepEqual(
      running.get(app.guid)?.map((i) => i.containerName),
      ['a'],
    );
    const servicePath = paths.find((p) => p.startsWith(`/api/v1/namespaces/${ns}/services/`))!;
    const service = servicePath.slice(servicePath.lastIndexOf('/') + 1);
    assert.deepEqual(reconciler.routeAddress(running.get(app.guid)![0]!), { host: `${service}.${ns}.svc`, port: 8080 });
    const table = new RoutingTable({ addressOf: (i) => reconciler.routeAddress(i) });
    table.setInstances(running);
    const domain = await fx.domain('apps.example.com');
    const route = await fx.route(space, domain, 'shop');
    await store.workloads.addDestinations(route.guid, [
      { guid: newGuid(), routeGuid: route.guid, appGuid: app.guid, processType: 'web', port: null, protocol: 'http1' },
    ]);
    table.setRoutes(await store.workloads.routingTable());
    const found = table.lookup('shop.apps.example.com', '/');
    assert.equal(found.kind, 'ok');
    assert.deepEqual(found.kind === 'ok' ? found.backends.map((b) => `${b.host}:${b.port}`) : [], [
      `${service}.${ns}.svc:8080`,
    ]);
    const stats = await new RunnerStats(store.workloads, reconciler).stats(web);
    assert.deepEqual(
      stats.map((s) => [s.state, s.host, s.port]),
      [
        ['RUNNING', '10.0.0.9', 8080],
        ['STARTING', '10.0.0.9', 8080],
      ],
    );

    // Stopped: its Deployment, Service and Secret go (the namespace stays with the space); pods gone, records gone.
    await store.updateApp(app.guid, { state: 'STOPPED' });
    api.objects.delete(`/api/v1/namespaces/${ns}/pods/a`);
    api.objects.delete(`/api/v1/namespaces/${ns}/pods/b`);
    await reconciler.converge();
    assert.deepEqual(errors, []);
    const deleted = api.of('DELETE').map((r) => r.path);
    assert.equal(deleted.length, 3);
    assert.ok(deleted.includes(depPath));
    assert.ok(api.objects.has(`/api/v1/namespaces/${ns}`));
    assert.deepEqual(await store.workloads.instancesOf(web.guid), []);
  });

  it('a refusal from the API server is a SlipwayError for onError, and the next pass tries again', async () => {
    const org = await fx.org('beta');
    const space = await fx.space(org, 'prod');
    const app = await fx.app(space, 'api');
    const droplet = await fx.droplet(app);
    await store.updateApp(app.guid, { state: 'STARTED', currentDropletGuid: droplet.guid });
    await fx.process(app, 'web');
    errors.length = 0;
    api.failNext = { method: 'PATCH', status: 500 };
    await reconciler.converge();
    assert.equal(errors.length, 1);
    assert.ok(isSlipwayError(errors[0], 'UNAVAILABLE'), String(errors[0]));
    assert.match((errors[0] as Error).message, /HTTP 500/);
    errors.length = 0;
    const before = api.of('PATCH').length;
    await reconciler.converge();
    assert.deepEqual(errors, []);
    assert.ok(api.of('PATCH').length > before);
  });
});
