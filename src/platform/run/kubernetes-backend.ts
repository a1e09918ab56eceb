import { readFileSync } from 'node:fs';
import {
  ApiException,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  type V1Pod,
} from '@kubernetes/client-node';
import { SlipwayError } from '../../errors.js';
import type { Instance, InstanceState, Process } from '../workload.js';
import {
  APP_LABEL,
  DROPLET_LABEL,
  MANAGED_BY,
  MANAGER,
  PROCESS_LABEL,
  VERSION_ANNOTATION,
} from './kubernetes-objects.js';

/**
 * The Kubernetes API as the backend uses it, through `@kubernetes/client-node`: objects
 * written by server-side apply (field manager "slipway", forced: the platform owns what
 * it writes), listed and deleted by label, pods read back and turned into instance
 * records. The interface lets the reconciler be driven without a cluster.
 */

export interface KubernetesApi {
  /** Creates or updates the object to be as given (server-side apply). */
  apply(object: KubernetesObject): Promise<void>;
  /** Deletes it; one already gone is no error. */
  delete(object: KubernetesObject): Promise<void>;
  /** Objects of a kind matching a label selector, in a namespace (none: cluster-wide, or a cluster-scoped kind). */
  list(apiVersion: string, kind: string, labelSelector: string, namespace?: string): Promise<KubernetesObject[]>;
}

/** The field manager Slipway's applies are recorded under. */
export const FIELD_MANAGER = 'slipway';

/** A KubernetesApi over a kubeconfig file. INVALID_ARGUMENT when it cannot be read or names no cluster. */
export function kubernetesApiFromKubeconfig(file: string): KubernetesApi {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SlipwayError('INVALID_ARGUMENT', `cannot read the kubeconfig ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const kc = new KubeConfig();
  try {
    kc.loadFromString(text);
  } catch (err) {
    throw new SlipwayError('INVALID_ARGUMENT', `the kubeconfig ${file} is not valid: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!kc.getCurrentCluster())
    throw new SlipwayError('INVALID_ARGUMENT', `the kubeconfig ${file} has no current context with a cluster`);
  return new ClientNodeApi(KubernetesObjectApi.makeApiClient(kc));
}

export class ClientNodeApi implements KubernetesApi {
  constructor(private readonly api: KubernetesObjectApi) {}

  async apply(object: KubernetesObject): Promise<void> {
    await this.#call(`apply ${describe(object)}`, () =>
      this.api.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
    );
  }

  async delete(object: KubernetesObject): Promise<void> {
    try {
      await this.api.delete(object, undefined, undefined, undefined, undefined, 'Background');
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return;
      throw unavailable(`delete ${describe(object)}`, err);
    }
  }

  async list(apiVersion: string, kind: string, labelSelector: string, namespace?: string): Promise<KubernetesObject[]> {
    const out = await this.#call(`list ${kind}`, () =>
      this.api.list(apiVersion, kind, namespace, undefined, undefined, undefined, undefined, labelSelector),
    );
    return out.items;
  }

  async #call<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw unavailable(what, err);
    }
  }
}

function describe(o: KubernetesObject): string {
  return `${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? ''}`;
}

function unavailable(what: string, err: unknown): SlipwayError {
  const code = err instanceof ApiException ? err.code : undefined;
  const body =
    err instanceof ApiException ? ` ${typeof err.body === 'string' ? err.body : JSON.stringify(err.body)}` : '';
  return new SlipwayError(
    code === 401 || code === 403 ? 'DENIED' : code === 422 || code === 400 ? 'INVALID_DOCUMENT' : 'UNAVAILABLE',
    `Kubernetes: ${what} failed: ${code ? `HTTP ${code}` : (err as Error).message}${body.slice(0, 500)}`,
    { cause: err, ...(code === undefined || code >= 500 ? { detail: { retryable: true } } : {}) },
  );
}

/** What `Instance.host` says of a pod's instance: the records of this backend, whichever node runs them. */
export const KUBERNETES_HOST = 'kubernetes';

/** Waiting reasons that mean the container will not run without a change (CF: crashed). */
const CRASH_REASONS = new Set([
  'CrashLoopBackOff',
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

/** A pod's state as CF names an instance's: RUNNING when ready, CRASHED on a crash loop or restarts, DOWN when it ended. */
export function podState(pod: V1Pod): { state: InstanceState; restarts: number; details?: string } {
  const statuses = pod.status?.containerStatuses ?? [];
  const restarts = statuses.reduce((n, s) => n + (s.restartCount ?? 0), 0);
  if (pod.metadata?.deletionTimestamp) return { state: 'STOPPING', restarts };
  for (const s of statuses) {
    const waiting = s.state?.waiting;
    if (waiting?.reason && CRASH_REASONS.has(waiting.reason))
      return {
        state: 'CRASHED',
        restarts,
        details: `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`,
      };
  }
  const phase = pod.status?.phase;
  if (phase === 'Failed') return { state: 'CRASHED', restarts, details: pod.status?.reason ?? 'the pod failed' };
  if (phase === 'Succeeded') return { state: 'DOWN', restarts, details: 'exited with status 0' };
  if (phase === 'Unknown') return { state: 'DOWN', restarts, details: 'its node does not answer' };
  const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  if (phase === 'Running' && ready) return { state: 'RUNNING', restarts };
  if (restarts > 0) {
    const last = statuses.find((s) => s.lastState?.terminated)?.lastState?.terminated;
    return {
      state: 'CRASHED',
      restarts,
      details: `restarted ${restarts} time${restarts === 1 ? '' : 's'}${last ? `, last exited with status ${last.exitCode}` : ''}`,
    };
  }
  return { state: 'STARTING', restarts };
}

const iso = (t: unknown): string | undefined =>
  t === undefined || t === null ? undefined : new Date(t as string).toISOString();

/**
 * One process's pods as instance records: the pod's UID is the instance's GUID, its
 * name the container's; indexes 0.. by age (a Deployment's pods have no index of their
 * own), pods being deleted last.
 */
export function podsToInstances(process: Pick<Process, 'guid' | 'type' | 'appGuid'>, pods: V1Pod[]): Instance[] {
  const mine = pods.filter(
    (p) => p.metadata?.labels?.[PROCESS_LABEL] === process.guid && p.metadata?.labels?.[MANAGED_BY] === MANAGER,
  );
  const created = (p: V1Pod) => iso(p.metadata?.creationTimestamp) ?? '';
  mine.sort(
    (a, b) =>
      Number(Boolean(a.metadata?.deletionTimestamp)) - Number(Boolean(b.metadata?.deletionTimestamp)) ||
      created(a).localeCompare(created(b)) ||
      (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
  );
  return mine.map((pod, index) => {
    const { state, restarts, details } = podState(pod);
    const readySince = pod.status?.conditions?.find(
      (c) => c.type === 'Ready' && c.status === 'True',
    )?.lastTransitionTime;
    const since =
      (state === 'RUNNING' ? iso(readySince) : undefined) ??
      iso(pod.status?.startTime) ??
      iso(pod.metadata?.creationTimestamp) ??
      new Date().toISOString();
    const version = pod.metadata?.annotations?.[VERSION_ANNOTATION];
    return {
      guid: pod.metadata?.uid ?? pod.metadata?.name ?? '',
      appGuid: pod.metadata?.labels?.[APP_LABEL] ?? process.appGuid,
      processGuid: process.guid,
      processType: process.type,
      index,
      dropletGuid: pod.metadata?.labels?.[DROPLET_LABEL] ?? '',
      ...(version ? { processVersion: version } : {}),
      host: KUBERNETES_HOST,
      containerName: pod.metadata?.name ?? '',
      port: 0,
      state,
      since,
      crashCount: restarts,
      ...(details ? { details } : {}),
    };
  });
}
