import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Namespace, Secret, Service } from 'kubernetes-models/v1';
import type { App, Organization, Space } from '../model.js';
import type { Droplet, HealthCheck, Process } from '../workload.js';
import { podState, podsToInstances } from './kubernetes-backend.js';
import {
  checkNamespacePrefix,
  DNS_LABEL,
  deploymentObject,
  namespaceObject,
  type ProcessObjectsInput,
  pullSecretObject,
  serviceObject,
} from './kubernetes-objects.js';

/**
 * No Kubernetes API server can run on this machine (Debian 12 packages kubectl and
 * etcd but no kube-apiserver; npm has no runnable one): the objects the backend writes
 * are checked against the Kubernetes OpenAPI schema instead, through kubernetes-models'
 * validate() (JSON schemas generated from the official spec). That checks types,
 * required fields and enums, not names (checked here against DNS-1123) nor what an API
 * server's admission would add.
 */

const meta = {
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
  metadata: { labels: {}, annotations: {} },
};
const org: Organization = {
  ...meta,
  guid: '0f0e0d0c-0000-4000-8000-000000000001',
  name: 'Acme',
  slug: 'acme',
  suspended: false,
};
const space: Space = {
  ...meta,
  guid: '5a5a5a5a-0000-4000-8000-000000000002',
  name: 'Dev',
  slug: 'dev',
  orgGuid: org.guid,
};
const app = (name = 'web-shop'): App => ({
  ...meta,
  guid: 'a1b2c3d4-0000-4000-8000-000000000003',
  name,
  slug: name.toLowerCase(),
  spaceGuid: space.guid,
  state: 'STARTED',
  lifecycle: { type: 'buildpack', data: { buildpacks: [], stack: 'default' } },
  environmentVariables: { GREETING: 'hi', PORT: '1234' },
  currentDropletGuid: 'd0d0d0d0-0000-4000-8000-000000000004',
});
const droplet: Droplet = {
  ...meta,
  guid: 'd0d0d0d0-0000-4000-8000-000000000004',
  appGuid: app().guid,
  state: 'STAGED',
  digest: `sha256:${'ab'.repeat(32)}`,
  processTypes: { web: 'node server.js' },
  buildpacks: [{ name: 'nodejs', buildpackName: 'nodejs', detectOutput: null, version: '1.0.0' }],
  stack: 'default',
  stackVersion: '1',
  executionMetadata: '{"entrypoint":["/cnb/lifecycle/launcher"]}',
};
const process_ = (healthCheck: HealthCheck, instances: number, extra: Partial<Process> = {}): Process => ({
  ...meta,
  guid: 'e5e5e5e5-0000-4000-8000-000000000005',
  appGuid: app().guid,
  type: 'web',
  command: null,
  instances,
  memoryMb: 256,
  diskMb: 1024,
  healthCheck,
  version: 'v2',
  ...extra,
});
const input = (p: Process, a = app(), maxInFlight?: number): ProcessObjectsInput => ({
  app: a,
  space,
  org,
  process: p,
  droplet,
  registryHost: 'registry.example:9000',
  namespacePrefix: 'slipway-',
  ...(maxInFlight !== undefined ? { maxInFlight } : {}),
});

const container = (d: ReturnType<typeof deploymentObject>) => d.spec!.template.spec!.containers[0]!;

describe('Kubernetes objects', () => {
  it('validate against the OpenAPI schema, and a broken one does not', () => {
    const cases = [
      process_({ type: 'port' }, 3),
      process_({ type: 'http', endpoint: 'healthz', invocationTimeout: 5 }, 0),
      process_({ type: 'process' }, 1, { type: 'worker', command: 'node worker.js' }),
    ];
    for (const p of cases) {
      new Deployment(deploymentObject(input(p)) as never).validate();
      new Service(serviceObject(input(p)) as never).validate();
    }
    new Namespace(namespaceObject('slipway-', space, org) as never).validate();
    new Secret(
      pullSecretObject('slipway-', app(), space, 'registry.example:9000', { username: 'u', password: 'p' }) as never,
    ).validate();
    // The validation can fail: replicas as a string, a probe port as an object.
    const broken = deploymentObject(input(cases[0]!)) as unknown as { spec: { replicas: unknown } };
    broken.spec.replicas = 'three';
    assert.throws(() => new Deployment(broken as never).validate(), /replicas/);
    const badProbe = deploymentObject(input(cases[0]!));
    (container(badProbe).readinessProbe!.tcpSocket as { port: unknown }).port = { number: 8080 };
    assert.throws(() => new Deployment(badProbe as never).validate());
    assert.throws(() => new Service({ spec: { ports: [{ port: 'http' }] } } as never).validate());
  });

  it('a Deployment: replicas, rolling by max_in_flight, the probe, limits, the security context, the pull secret', () => {
    const d = deploymentObject(input(process_({ type: 'port' }, 3), app(), 2));
    assert.equal(d.spec!.replicas, 3);
    assert.deepEqual(d.spec!.strategy, { type: 'RollingUpdate', rollingUpdate: { maxSurge: 2, maxUnavailable: 0 } });
    const c = container(d);
    assert.deepEqual(c.readinessProbe?.tcpSocket, { port: 8080 });
    assert.equal(c.image, `registry.example:9000/apps/${app().guid}@${droplet.digest}`);
    assert.deepEqual(c.command, ['/cnb/process/web']);
    assert.deepEqual(c.resources?.limits, { memory: '256Mi', 'ephemeral-storage': '1024Mi' });
    assert.deepEqual(c.securityContext, {
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.equal(
      d.spec!.template.spec!.imagePullSecrets![0]!.name,
      pullSecretObject('slipway-', app(), space, 'h', { username: 'u', password: 'p' }).metadata!.name,
    );
    assert.equal(d.spec!.template.metadata!.annotations!['slipway.dev/process-version'], 'v2');
    // The runc runner's environment: the platform's PORT wins over the app's, each name once.
    const env = new Map(c.env!.map((e) => [e.name, e]));
    assert.equal(env.get('PORT')!.value, '8080');
    assert.equal(env.get('GREETING')!.value, 'hi');
    assert.equal(c.env!.filter((e) => e.name === 'PORT').length, 1);
    assert.equal(env.get('MEMORY_LIMIT')!.value, '256m');
    assert.deepEqual(env.get('CF_INSTANCE_GUID')!.valueFrom, { fieldRef: { fieldPath: 'metadata.uid' } });
    assert.equal(JSON.parse(env.get('VCAP_APPLICATION')!.value!).application_id, app().guid);

    // No deployment: one at a time; 0 instances is 0 replicas.
    const idle = deploymentObject(input(process_({ type: 'http', endpoint: 'healthz' }, 0)));
    assert.equal(idle.spec!.replicas, 0);
    assert.equal(idle.spec!.strategy!.rollingUpdate!.maxSurge, 1);
    assert.deepEqual(container(idle).readinessProbe?.httpGet, { path: '/healthz', port: 8080 });
    // A process check has no probe; a start command goes through the launcher.
    const worker = deploymentObject(input(process_({ type: 'process' }, 1, { command: 'node worker.js' })));
    assert.equal(container(worker).readinessProbe, undefined);
    assert.deepEqual(container(worker).command, ['/cnb/lifecycle/launcher']);
    assert.deepEqual(container(worker).args, ['--', '/bin/sh', '-c', 'node worker.js']);
  });

  it('a Service selects exactly the Deployment pods', () => {
    const p = process_({ type: 'port' }, 2);
    const d = deploymentObject(input(p));
    const s = serviceObject(input(p));
    assert.equal(s.spec!.type, 'ClusterIP');
    assert.deepEqual(s.spec!.ports, [{ name: 'http', port: 8080, targetPort: 8080, protocol: 'TCP' }]);
    assert.deepEqual(s.spec!.selector, d.spec!.selector!.matchLabels);
    const podLabels = d.spec!.template.metadata!.labels!;
    for (const [k, v] of Object.entries(s.spec!.selector!)) assert.equal(podLabels[k], v);
    assert.equal(s.metadata!.namespace, d.metadata!.namespace);
  });

  it('a pull secret: a dockerconfigjson for the registry host with the pull credential', () => {
    const secret = pullSecretObject('slipway-', app(), space, 'registry.example:9000', {
      username: 'slipway-pull',
      password: 'eyJ.tok.en',
    });
    assert.equal(secret.type, 'kubernetes.io/dockerconfigjson');
    const config = JSON.parse(Buffer.from(secret.data!['.dockerconfigjson']!, 'base64').toString());
    const entry = config.auths['registry.example:9000'];
    assert.equal(Buffer.from(entry.auth, 'base64').toString(), 'slipway-pull:eyJ.tok.en');
    assert.deepEqual(Object.keys(config.auths), ['registry.example:9000']);
  });

  it('names are DNS-1123 labels, a long app name too; the prefix is checked', () => {
    const long = app(`My Very_Long.App name ${'x'.repeat(80)} (prod)`);
    const p = process_({ type: 'port' }, 1, { type: 'Web_Worker.2' });
    const names = [
      namespaceObject('slipway-', space, org).metadata!.name!,
      deploymentObject(input(p, long)).metadata!.name!,
      serviceObject(input(p, long)).metadata!.name!,
      pullSecretObject('slipway-', long, space, 'h', { username: 'u', password: 'p' }).metadata!.name!,
      container(deploymentObject(input(p, long))).name,
    ];
    for (const n of names) {
      assert.match(n, DNS_LABEL, n);
      assert.ok(n.length <= 63, n);
    }
    // Services are DNS-1035: a letter first.
    assert.match(serviceObject(input(p, app('1st-app'))).metadata!.name!, /^[a-z]/);
    assert.equal(namespaceObject('slipway-', space, org).metadata!.name, `slipway-${space.guid}`);
    new Deployment(deploymentObject(input(p, long)) as never).validate();
    for (const label of Object.values(deploymentObject(input(p, long)).spec!.template.metadata!.labels!))
      assert.match(label, /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/);
    assert.throws(() => checkNamespacePrefix('Slipway_'), /namespace-prefix/);
    assert.throws(() => checkNamespacePrefix('x'.repeat(28)), /namespace-prefix/);
    checkNamespacePrefix('');
  });
});

describe('pods as instances', () => {
  const pod = (name: string, status: V1Pod['status'], extra: Partial<V1Pod['metadata']> = {}): V1Pod => ({
    metadata: {
      name,
      uid: `uid-${name}`,
      creationTimestamp: new Date(`2026-01-01T00:00:0${name.slice(-1)}Z`),
      labels: {
        'app.kubernetes.io/managed-by': 'slipway',
        'slipway.dev/process-guid': 'p1',
        'slipway.dev/app-guid': 'a1',
        'slipway.dev/droplet-guid': 'd1',
      },
      annotations: { 'slipway.dev/process-version': 'v2' },
      ...extra,
    },
    status,
  });
  const ready = { type: 'Ready', status: 'True', lastTransitionTime: new Date('2026-01-01T00:01:00Z') };

  it('maps phase, readiness and restarts to CF states', () => {
    assert.equal(podState(pod('a1', { phase: 'Running', conditions: [ready] })).state, 'RUNNING');
    assert.equal(podState(pod('a2', { phase: 'Pending' })).state, 'STARTING');
    assert.equal(
      podState(pod('a3', { phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }] })).state,
      'STARTING',
    );
    const loop = podState(
      pod('a4', {
        phase: 'Running',
        containerStatuses: [
          {
            name: 'web',
            image: 'i',
            imageID: '',
            ready: false,
            restartCount: 5,
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 5m0s' } },
          },
        ],
      }),
    );
    assert.deepEqual(loop, { state: 'CRASHED', restarts: 5, details: 'CrashLoopBackOff: back-off 5m0s' });
    const restarted = podState(
      pod('a5', {
        phase: 'Running',
        containerStatuses: [
          {
            name: 'web',
            image: 'i',
            imageID: '',
            ready: false,
            restartCount: 1,
            lastState: { terminated: { exitCode: 1 } },
          },
        ],
      }),
    );
    assert.equal(restarted.state, 'CRASHED');
    assert.match(restarted.details!, /status 1/);
    assert.equal(podState(pod('a6', { phase: 'Failed', reason: 'Evicted' })).state, 'CRASHED');
    assert.equal(podState(pod('a7', { phase: 'Succeeded' })).state, 'DOWN');
    assert.equal(podState(pod('a8', { phase: 'Unknown' })).state, 'DOWN');
    assert.equal(podState(pod('a9', { phase: 'Running' }, { deletionTimestamp: new Date() })).state, 'STOPPING');
  });

  it('a process pods become its instance records, indexed by age, others ignored', () => {
    const pods = [
      pod('p2', { phase: 'Pending' }),
      pod('p1', { phase: 'Running', conditions: [ready], podIP: '10.1.0.7' }),
      pod('p3', { phase: 'Running', conditions: [ready] }, { deletionTimestamp: new Date('2026-01-01T00:02:00Z') }),
      {
        ...pod('p4', { phase: 'Running' }),
        metadata: { ...pod('p4', {}).metadata, labels: { 'slipway.dev/process-guid': 'other' } },
      },
    ];
    const got = podsToInstances({ guid: 'p1', type: 'web', appGuid: 'a1' }, pods);
    assert.deepEqual(
      got.map((i) => [i.containerName, i.index, i.state]),
      [
        ['p1', 0, 'RUNNING'],
        ['p2', 1, 'STARTING'],
        ['p3', 2, 'STOPPING'],
      ],
    );
    assert.equal(got[0]!.guid, 'uid-p1');
    assert.equal(got[0]!.since, '2026-01-01T00:01:00.000Z');
    assert.equal(got[0]!.dropletGuid, 'd1');
    assert.equal(got[0]!.processVersion, 'v2');
    assert.equal(got[0]!.host, 'kubernetes');
  });
});
