import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import type { AppLogs } from '../logs.js';
import { type AppView, appViews } from './app-views.js';
import { ConvergeLoop } from './converge-loop.js';
import type { App } from '../model.js';
import type { PlatformStore } from '../store/platform-store.js';
import type { WorkloadStore } from '../store/workload-store.js';
import type { Deployment, Instance, Process } from '../workload.js';
import type { InstanceBackend, InstanceUsageSource } from './instance-backend.js';
import { KUBERNETES_HOST, type KubernetesApi, podsToInstances } from './kubernetes-backend.js';
import {
  deploymentObject,
  MANAGED_BY,
  MANAGER,
  namespaceName,
  namespaceObject,
  processObjectName,
  type PullCredential,
  pullSecretObject,
  SPACE_LABEL,
  serviceObject,
} from './kubernetes-objects.js';
import { APP_PORT } from './app-network.js';

/**
 * Convergence on a Kubernetes cluster: each pass writes what every started app should
 * have (its space's Namespace, its pull Secret, per process a Deployment and a
 * Service), deletes what Slipway wrote that no longer should be (a stopped or deleted
 * app, a removed process), and reads the pods back into the instance records that
 * `stats`, the dashboard and the API show. The cluster does the rest: it schedules,
 * restarts and rolls pods (a CF deployment's max_in_flight is the Deployment's
 * maxSurge); a deployment is finished here once every process's pods run its droplet
 * and are ready.
 *
 * The router reaches an app's pods through its process's Service (`routeAddress`, the
 * cluster's DNS name: the router runs in the cluster). Not here (yet): app logs are not
 * read from pods, and usage comes from no metrics API.
 */

export interface KubernetesReconcilerOptions {
  platform: PlatformStore;
  workloads: WorkloadStore;
  api: KubernetesApi;
  logs: AppLogs;
  /** The registry the cluster pulls from (`host[:port]`). */
  registryHost: string;
  namespacePrefix: string;
  /** A pull-only credential for the app's own repository, and when it expires (ms since the epoch). */
  pullCredential: (app: App) => Promise<PullCredential & { expiresAt: number }>;
  /** Between passes (default 2 s). */
  intervalMs?: number;
  /** Everything is written again this often even if unchanged, undoing edits made in the cluster (default 60 s). */
  reapplyMs?: number;
  onError?: (err: unknown) => void;
  /** After each pass: the RUNNING instances of every app (what the router sends requests to). */
  onInstances?: (running: Map<string, Instance[]>) => void;
}

const MANAGED = `${MANAGED_BY}=${MANAGER}`;
/** What a space's namespace holds of Slipway's, pruned by label. */
const NAMESPACED_KINDS = [
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'v1', kind: 'Secret' },
] as const;

const keyOf = (o: KubernetesObject) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

export class KubernetesReconciler implements InstanceBackend, InstanceUsageSource {
  readonly #o: KubernetesReconcilerOptions;
  readonly #loop: ConvergeLoop;
  /** What was last applied, by kind/namespace/name: an unchanged object is not sent again until reapplyMs. */
  readonly #applied = new Map<string, { json: string; at: number }>();
  readonly #credentials = new Map<string, { credential: PullCredential; renewAt: number }>();
  /** Pod IPs of the last read, by pod name (what stats show as the host). */
  readonly #podIps = new Map<string, string>();
  /** Each process's Service, as `name.namespace.svc` (the router's way to its pods), by process GUID. */
  readonly #services = new Map<string, string>();

  constructor(options: KubernetesReconcilerOptions) {
    this.#o = options;
    this.#loop = new ConvergeLoop(() => this.#converge(), options.intervalMs ?? 2000, options.onError);
  }

  async start(): Promise<void> {
    this.#loop.start();
  }

  poke(): void {
    this.#loop.poke();
  }

  close(): Promise<void> {
    return this.#loop.close();
  }

  converge(): Promise<void> {
    return this.#loop.converge();
  }

  /** No metrics API is read: stats show 0 memory and CPU for pods. */
  async usage(): Promise<undefined> {
    return undefined;
  }

  address(instance: Instance): { host: string; port: number } {
    return { host: this.#podIps.get(instance.containerName) ?? '', port: APP_PORT };
  }

  /** Where the router reaches an instance: its process's Service (cluster DNS), which balances over the ready pods. */
  routeAddress(instance: Instance): { host: string; port: number } | undefined {
    const host = this.#services.get(instance.processGuid);
    return host ? { host, port: APP_PORT } : undefined;
  }

  async #converge(): Promise<void> {
    const { workloads, api, namespacePrefix } = this.#o;
    const views = await appViews(this.#o.platform, this.#o.workloads);
    const wanted: KubernetesObject[] = [];
    const targets = new Map<string, { deployment?: Deployment; dropletGuid: string }>();
    for (const view of views.values()) {
      const objects = await this.#objectsOf(view, targets);
      wanted.push(...objects);
    }
    // Namespaces first: the rest lives in them.
    const order = (o: KubernetesObject) => (o.kind === 'Namespace' ? 0 : o.kind === 'Secret' ? 1 : 2);
    const errors: unknown[] = [];
    for (const o of [...wanted].sort((a, b) => order(a) - order(b))) {
      try {
        await this.#apply(o);
      } catch (err) {
        // One app's refused object must not hold up every other app.
        errors.push(err);
      }
    }
    await this.#prune(new Set(wanted.map(keyOf))).catch((err: unknown) => errors.push(err));

    // Pods, back into instance records, for every app that has processes (a stopped app's pods are going).
    const namespaces = new Set([...views.values()].map((v) => namespaceName(namespacePrefix, v.space)));
    const pods: V1Pod[] = [];
    for (const ns of namespaces) pods.push(...((await api.list('v1', 'Pod', MANAGED, ns)) as V1Pod[]));
    this.#podIps.clear();
    for (const p of pods) if (p.metadata?.name && p.status?.podIP) this.#podIps.set(p.metadata.name, p.status.podIP);
    const known = new Set<string>();
    const running = new Map<string, Instance[]>();
    this.#services.clear();
    for (const view of views.values()) {
      let rolled = true;
      const target = targets.get(view.app.guid);
      for (const process of view.processes) {
        known.add(process.guid);
        const now = podsToInstances(process, pods);
        await this.#record(process, now);
        this.#services.set(
          process.guid,
          `${processObjectName(view.app, process)}.${namespaceName(namespacePrefix, view.space)}.svc`,
        );
        const live = now.filter((i) => i.state === 'RUNNING');
        if (live.length > 0) running.set(view.app.guid, [...(running.get(view.app.guid) ?? []), ...live]);
        const fresh = now.filter(
          (i) =>
            i.dropletGuid === target?.dropletGuid &&
            (i.processVersion ?? '') === (process.version ?? '') &&
            i.state === 'RUNNING',
        );
        rolled &&= fresh.length === process.instances && now.length === process.instances;
      }
      if (target?.deployment && rolled) await this.#finish(view, target.deployment);
    }
    for (const inst of await workloads.instancesOnHost(KUBERNETES_HOST))
      if (!known.has(inst.processGuid)) await workloads.deleteInstance(inst.guid);
    this.#o.onInstances?.(running);
    if (errors.length > 0) throw errors[0];
  }

  /** The objects a started app with a droplet should have; none for a stopped one. */
  async #objectsOf(
    view: AppView,
    targets: Map<string, { deployment?: Deployment; dropletGuid: string }>,
  ): Promise<KubernetesObject[]> {
    const { workloads, namespacePrefix, registryHost } = this.#o;
    const { app, space, org } = view;
    if (app.state !== 'STARTED') return [];
    const deployment = await workloads.activeDeployment(app.guid);
    // A cancelled deployment goes back to the app's current droplet.
    const canceling = deployment?.statusReason === 'CANCELING';
    const dropletGuid = deployment && !canceling ? deployment.dropletGuid : app.currentDropletGuid;
    const droplet = dropletGuid ? await workloads.getDroplet(dropletGuid) : undefined;
    if (!droplet) return [];
    targets.set(app.guid, { ...(deployment ? { deployment } : {}), dropletGuid: droplet.guid });
    const credential = await this.#credential(app);
    const out: KubernetesObject[] = [
      namespaceObject(namespacePrefix, space, org),
      pullSecretObject(namespacePrefix, app, space, registryHost, credential),
    ];
    for (const process of view.processes) {
      const input = {
        ...view,
        process,
        droplet,
        registryHost,
        namespacePrefix,
        ...(deployment ? { maxInFlight: deployment.maxInFlight } : {}),
      };
      out.push(deploymentObject(input), serviceObject(input));
    }
    return out;
  }

  /** The app's pull credential, minted again once half its life is gone (the Secret is applied then). */
  async #credential(app: App): Promise<PullCredential> {
    const held = this.#credentials.get(app.guid);
    if (held && Date.now() < held.renewAt) return held.credential;
    const { expiresAt, ...credential } = await this.#o.pullCredential(app);
    this.#credentials.set(app.guid, { credential, renewAt: Date.now() + (expiresAt - Date.now()) / 2 });
    return credential;
  }

  async #apply(o: KubernetesObject): Promise<void> {
    const key = keyOf(o);
    const json = JSON.stringify(o);
    const last = this.#applied.get(key);
    if (last && last.json === json && Date.now() - last.at < (this.#o.reapplyMs ?? 60_000)) return;
    await this.#o.api.apply(o);
    this.#applied.set(key, { json, at: Date.now() });
  }

  /**
   * Deletes Slipway's objects that no app wants now, in every namespace Slipway made;
   * a namespace goes only with its space (a stopped app's space keeps it).
   */
  async #prune(wanted: Set<string>): Promise<void> {
    const { api, platform } = this.#o;
    for (const ns of await api.list('v1', 'Namespace', MANAGED)) {
      const name = ns.metadata?.name;
      if (!name) continue;
      const spaceGuid = ns.metadata?.labels?.[SPACE_LABEL];
      if (spaceGuid && !(await platform.getSpace(spaceGuid))) {
        await api.delete(ns);
        this.#forget(`Namespace//${name}`);
        continue;
      }
      for (const { apiVersion, kind } of NAMESPACED_KINDS) {
        for (const o of await api.list(apiVersion, kind, MANAGED, name)) {
          const object = { ...o, apiVersion, kind, metadata: { ...o.metadata, namespace: name } };
          if (wanted.has(keyOf(object))) continue;
          await api.delete(object);
          this.#forget(keyOf(object));
        }
      }
    }
  }

  #forget(key: string): void {
    this.#applied.delete(key);
  }

  /** Makes the process's instance records what its pods are now. */
  async #record(process: Process, now: Instance[]): Promise<void> {
    const { workloads } = this.#o;
    const before = new Map((await workloads.instancesOf(process.guid)).map((i) => [i.guid, i]));
    for (const inst of now) {
      const old = before.get(inst.guid);
      before.delete(inst.guid);
      if (old && old.index === inst.index && old.dropletGuid === inst.dropletGuid) {
        if (
          old.state !== inst.state ||
          old.crashCount !== inst.crashCount ||
          (old.details ?? '') !== (inst.details ?? '')
        ) {
          await workloads.updateInstance(inst.guid, {
            state: inst.state,
            since: inst.since,
            crashCount: inst.crashCount,
            ...(inst.details !== undefined ? { details: inst.details } : {}),
          });
          this.#log(inst, old.state);
        }
        continue;
      }
      // The index is not a field an update may change: the record is written anew.
      if (old) await workloads.deleteInstance(old.guid);
      await workloads.putInstance(inst);
      if (!old) this.#log(inst);
    }
    for (const gone of before.values()) await workloads.deleteInstance(gone.guid);
  }

  #log(inst: Instance, was?: string): void {
    const { logs } = this.#o;
    if (!was) logs.write(inst.appGuid, 'CELL', String(inst.index), 'OUT', `Pod ${inst.containerName} is ${inst.state}`);
    else if (inst.state === 'CRASHED')
      logs.write(
        inst.appGuid,
        'CELL',
        String(inst.index),
        'ERR',
        `Pod ${inst.containerName} crashed: ${inst.details ?? 'unknown'}`,
      );
    else if (inst.state === 'RUNNING')
      logs.write(inst.appGuid, 'CELL', String(inst.index), 'OUT', `Pod ${inst.containerName} became ready`);
  }

  /** Every process of the app runs the deployment's droplet, ready: DEPLOYED (or CANCELED), its droplet current. */
  async #finish(view: AppView, deployment: Deployment): Promise<void> {
    const { workloads, logs } = this.#o;
    const canceled = deployment.statusReason === 'CANCELING';
    await workloads.updateDeployment(deployment.guid, {
      statusValue: 'FINALIZED',
      statusReason: canceled ? 'CANCELED' : 'DEPLOYED',
      lastStatusChange: new Date().toISOString(),
    });
    if (!canceled && view.app.currentDropletGuid !== deployment.dropletGuid)
      await workloads.setCurrentDroplet(view.app.guid, deployment.dropletGuid);
    logs.write(view.app.guid, 'API', '', 'OUT', `Deployment ${deployment.guid} ${canceled ? 'canceled' : 'deployed'}`);
  }
}
