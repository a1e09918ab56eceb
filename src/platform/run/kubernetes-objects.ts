import { createHash } from 'node:crypto';
import type { V1Deployment, V1EnvVar, V1Namespace, V1Probe, V1Secret, V1Service } from '@kubernetes/client-node';
import { SlipwayError } from '../../errors.js';
import { CNB_LAUNCHER, CNB_PROCESS_DIR } from '../../runtime/process-command.js';
import { appRepository } from '../app-images.js';
import type { App, Organization, Space } from '../model.js';
import type { Droplet, HealthCheck, Process } from '../workload.js';
import { APP_PORT } from './app-network.js';
import { instanceEnv } from './instance-runner.js';

/**
 * What the Kubernetes backend writes for a started app, as pure functions (no cluster
 * here): one Namespace per space, per process a Deployment (replicas = instances,
 * rolling by max_in_flight, ready by the health check) and a ClusterIP Service, and per
 * app an image pull Secret holding a pull-only credential for the app's own
 * repository. Names are DNS-1123 labels (Services' DNS-1035: they start with a letter).
 */

export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGER = 'slipway';
export const APP_LABEL = 'slipway.dev/app-guid';
export const PROCESS_LABEL = 'slipway.dev/process-guid';
export const PROCESS_TYPE_LABEL = 'slipway.dev/process-type';
export const DROPLET_LABEL = 'slipway.dev/droplet-guid';
export const SPACE_LABEL = 'slipway.dev/space-guid';
/** On the pod template: a change (a restart, a rolling deployment at the same droplet) rolls the pods. */
export const VERSION_ANNOTATION = 'slipway.dev/process-version';

/** A pull credential as a docker config holds it: a user name and password the registry's token endpoint accepts. */
export interface PullCredential {
  username: string;
  password: string;
}

export interface ProcessObjectsInput {
  app: App;
  space: Space;
  org: Organization;
  process: Process;
  droplet: Droplet;
  /** The registry the cluster pulls from, as `host[:port]`. */
  registryHost: string;
  namespacePrefix: string;
  /** The active deployment's max_in_flight (CF's default 1 without one). */
  maxInFlight?: number;
}

const LABEL_MAX = 63;
/** Space GUIDs are 36 characters: the prefix may take the rest of a label. */
const PREFIX_MAX = LABEL_MAX - 36;
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Throws INVALID_ARGUMENT unless `prefix` + a space GUID is a namespace name. */
export function checkNamespacePrefix(prefix: string): void {
  if (prefix.length > PREFIX_MAX || !/^([a-z0-9][-a-z0-9]*)?$/.test(prefix))
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `--namespace-prefix must be at most ${PREFIX_MAX} lower-case letters, digits and '-', starting with a letter or digit, not "${prefix}"`,
    );
}

/** One namespace per space: its apps' objects and their pull secrets stay with the space's apps. */
export function namespaceName(prefix: string, space: Pick<Space, 'guid'>): string {
  checkNamespacePrefix(prefix);
  return `${prefix}${space.guid}`.toLowerCase();
}

/**
 * `parts` joined by '-', lower-cased, anything else '-', cut to fit `max` with a hash of
 * the whole kept at the end when cut (so two long names differing late stay apart);
 * starts with a letter (Services are DNS-1035 labels).
 */
export function dnsName(parts: string[], max = LABEL_MAX): string {
  const whole = parts.join('-');
  let name = whole
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  if (!/^[a-z]/.test(name)) name = `s-${name}`;
  if (name.length > max) {
    const hash = createHash('sha256').update(whole).digest('hex').slice(0, 8);
    name = `${name.slice(0, max - 9).replace(/-+$/, '')}-${hash}`;
  }
  return name.replace(/-+$/, '') || 's';
}

/** A label value: at most 63 of [A-Za-z0-9_.-], alphanumeric at both ends. */
export function labelValue(value: string): string {
  return value
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .slice(0, LABEL_MAX)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

/** The Deployment's and Service's name: the app's and process type's names, and the process GUID's start (unique in a space). */
export function processObjectName(app: Pick<App, 'name'>, process: Pick<Process, 'guid' | 'type'>): string {
  return dnsName([app.name.slice(0, 40), process.type.slice(0, 20), process.guid.slice(0, 8)]);
}

export function pullSecretName(app: Pick<App, 'name' | 'guid'>): string {
  return dnsName([app.name.slice(0, 40), 'pull', app.guid.slice(0, 8)]);
}

/** The image the cluster pulls: the droplet by digest in the app's own repository. */
export function dropletImage(registryHost: string, appGuid: string, droplet: Pick<Droplet, 'digest'>): string {
  return `${registryHost}/${appRepository(appGuid)}@${droplet.digest}`;
}

function managedLabels(app: App, space: Space): Record<string, string> {
  return {
    [MANAGED_BY]: MANAGER,
    [APP_LABEL]: app.guid,
    [SPACE_LABEL]: space.guid,
    'app.kubernetes.io/name': labelValue(app.name) || 'app',
  };
}

/** The pods of one process: what the Deployment selects and the Service sends to (never changes for a process). */
export function podSelector(process: Pick<Process, 'guid'>): Record<string, string> {
  return { [MANAGED_BY]: MANAGER, [PROCESS_LABEL]: process.guid };
}

export function namespaceObject(prefix: string, space: Space, org: Organization): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespaceName(prefix, space),
      labels: {
        [MANAGED_BY]: MANAGER,
        [SPACE_LABEL]: space.guid,
        'slipway.dev/org-guid': org.guid,
        // The restricted Pod Security Standard: what every pod here meets (see securityContext).
        'pod-security.kubernetes.io/enforce': 'restricted',
      },
      annotations: { 'slipway.dev/space': `${org.name}/${space.name}` },
    },
  };
}

/** `kubernetes.io/dockerconfigjson`: {"auths": {HOST: {"auth": base64(user:password)}}}, so the kubelet logs in as the app's puller. */
export function pullSecretObject(
  prefix: string,
  app: App,
  space: Space,
  registryHost: string,
  credential: PullCredential,
): V1Secret {
  const auth = Buffer.from(`${credential.username}:${credential.password}`).toString('base64');
  const config = { auths: { [registryHost]: { username: credential.username, password: credential.password, auth } } };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/dockerconfigjson',
    metadata: {
      name: pullSecretName(app),
      namespace: namespaceName(prefix, space),
      labels: managedLabels(app, space),
    },
    data: { '.dockerconfigjson': Buffer.from(JSON.stringify(config)).toString('base64') },
  };
}

/** The health check as a readiness probe; `process` has none (a running container is ready, as CF's process check). */
export function readinessProbe(check: HealthCheck): V1Probe | undefined {
  const timing = {
    timeoutSeconds: Math.max(1, check.invocationTimeout ?? 1),
    periodSeconds: 2,
    failureThreshold: 3,
  };
  if (check.type === 'process') return undefined;
  if (check.type === 'http') {
    const endpoint = check.endpoint ?? '/';
    return { httpGet: { path: endpoint.startsWith('/') ? endpoint : `/${endpoint}`, port: APP_PORT }, ...timing };
  }
  return { tcpSocket: { port: APP_PORT }, ...timing };
}

/** Whether the droplet starts through the CNB launcher (a buildpack build) rather than a docker image's own entrypoint. */
function launcherImage(droplet: Droplet): boolean {
  try {
    const entry = (JSON.parse(droplet.executionMetadata || '{}') as { entrypoint?: unknown }).entrypoint;
    const first = Array.isArray(entry) ? entry[0] : undefined;
    if (typeof first === 'string') return first === CNB_LAUNCHER || first.startsWith(`${CNB_PROCESS_DIR}/`);
  } catch {
    // not JSON: decide by the buildpacks below
  }
  return droplet.buildpacks.length > 0;
}

/** The runc runner's environment, less what differs per pod (its GUID and IP come from the downward API). */
function containerEnv(input: ProcessObjectsInput): V1EnvVar[] {
  const env = new Map<string, V1EnvVar>();
  // A Deployment's pods share one template: there is no per-pod index (a StatefulSet would have one), so 0.
  for (const line of instanceEnv({ ...input, index: 0 }, '')) {
    const eq = line.indexOf('=');
    const name = line.slice(0, eq);
    // Later wins, as in a process environment; server-side apply refuses a name twice.
    env.delete(name);
    env.set(name, { name, value: line.slice(eq + 1) });
  }
  env.set('CF_INSTANCE_GUID', { name: 'CF_INSTANCE_GUID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } });
  env.set('CF_INSTANCE_INTERNAL_IP', {
    name: 'CF_INSTANCE_INTERNAL_IP',
    valueFrom: { fieldRef: { fieldPath: 'status.podIP' } },
  });
  return [...env.values()];
}

export function deploymentObject(input: ProcessObjectsInput): V1Deployment {
  const { app, space, process, droplet } = input;
  const labels = { ...managedLabels(app, space), [PROCESS_LABEL]: process.guid };
  const podLabels = {
    ...labels,
    [PROCESS_TYPE_LABEL]: labelValue(process.type) || 'process',
    [DROPLET_LABEL]: droplet.guid,
  };
  const launcher = launcherImage(droplet);
  const start = process.command
    ? launcher
      ? { command: [CNB_LAUNCHER], args: ['--', '/bin/sh', '-c', process.command] }
      : { command: ['/bin/sh', '-c', process.command] }
    : launcher
      ? { command: [`${CNB_PROCESS_DIR}/${process.type}`] }
      : {};
  const probe = readinessProbe(process.healthCheck);
  const memory = `${process.memoryMb}Mi`;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: processObjectName(app, process),
      namespace: namespaceName(input.namespacePrefix, space),
      labels: { ...labels, [PROCESS_TYPE_LABEL]: podLabels[PROCESS_TYPE_LABEL] },
    },
    spec: {
      replicas: process.instances,
      selector: { matchLabels: podSelector(process) },
      // New pods max_in_flight at a time; an old one goes only once a new one is ready (CF's rolling deployment).
      strategy: {
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: Math.max(1, input.maxInFlight ?? 1), maxUnavailable: 0 },
      },
      revisionHistoryLimit: 2,
      template: {
        metadata: { labels: podLabels, annotations: { [VERSION_ANNOTATION]: process.version ?? '' } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          imagePullSecrets: [{ name: pullSecretName(app) }],
          terminationGracePeriodSeconds: 10,
          containers: [
            {
              name: dnsName([process.type]),
              image: dropletImage(input.registryHost, app.guid, droplet),
              imagePullPolicy: 'IfNotPresent',
              ...start,
              env: containerEnv(input),
              ports: [{ name: 'http', containerPort: APP_PORT, protocol: 'TCP' }],
              ...(probe ? { readinessProbe: probe } : {}),
              resources: {
                requests: { memory },
                limits: { memory, 'ephemeral-storage': `${process.diskMb}Mi` },
              },
              securityContext: {
                runAsNonRoot: true,
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
            },
          ],
        },
      },
    },
  };
}

/** The router's way to a process's pods: port 8080 of the Service to the app's 8080. */
export function serviceObject(input: ProcessObjectsInput): V1Service {
  const { app, space, process } = input;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: processObjectName(app, process),
      namespace: namespaceName(input.namespacePrefix, space),
      labels: { ...managedLabels(app, space), [PROCESS_LABEL]: process.guid },
    },
    spec: {
      type: 'ClusterIP',
      selector: podSelector(process),
      ports: [{ name: 'http', port: APP_PORT, targetPort: APP_PORT, protocol: 'TCP' }],
    },
  };
}
