import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { AppLogs } from '../logs.js';
import { type AppView, appViews } from './app-views.js';
import { ConvergeLoop } from './converge-loop.js';
import type { PlatformStore } from '../store/platform-store.js';
import type { WorkloadStore } from '../store/workload-store.js';
import type { Deployment, Droplet, Instance, Process } from '../workload.js';
import type { InstanceRunner } from './instance-runner.js';

/**
 * Convergence, as Diego's: the platform records what should run (started apps, their
 * processes and instance counts, the current droplet, an active deployment), the host
 * runs containers, and every pass makes the second match the first:
 *
 * - an instance is STARTING until its health check passes, then RUNNING; one that
 *   exits or stops answering is CRASHED and started again after a backoff (CF's crash
 *   counts: three at once, then 30 s doubling to 5 minutes);
 * - a stopped app, a scaled-down process, an instance of a replaced droplet is drained
 *   (STOPPING: the router stops sending to it) and then stopped;
 * - a rolling deployment starts new instances `maxInFlight` at a time and stops an old
 *   one only when a new one is RUNNING, so the app never has fewer healthy instances
 *   than it asks for while its old instances last;
 * - after a restart of the server, the instances still running are adopted as they
 *   are (their network reattached if it went), not started again.
 */

export interface ReconcilerOptions {
  platform: PlatformStore;
  workloads: WorkloadStore;
  runner: InstanceRunner;
  logs: AppLogs;
  /** Between passes (default 1 s). */
  intervalMs?: number;
  /** How long a STOPPING instance keeps serving its last requests before it is stopped (default 2 s). */
  drainMs?: number;
  /** How long a STARTING instance may take to pass its health check (default: the process's timeout, else 60 s). */
  startTimeoutMs?: number;
  onError?: (err: unknown) => void;
  /** Told after each pass: the RUNNING instances of every app, for the router. */
  onInstances?: (running: Map<string, Instance[]>) => void;
}

/** Health checks in flight at once in a pass (each a socket to an instance, most of them 50 ms idle). */
const CHECKS_AT_ONCE = 64;

/** How long a start watches its new instance's first health check before leaving it to the passes. */
const FIRST_CHECK_MS = 5_000;

export class Reconciler {
  readonly #o: Required<Omit<ReconcilerOptions, 'onError' | 'onInstances' | 'startTimeoutMs'>> &
    Pick<ReconcilerOptions, 'onError' | 'onInstances' | 'startTimeoutMs'>;
  readonly #loop: ConvergeLoop;
  readonly #tails = new Map<string, number>();
  readonly #failedProbes = new Map<string, number>();
  /** Containers being stopped, by name. */
  readonly #stopping = new Map<string, Promise<void>>();
  /**
   * Instance starts in flight, by process guid. A start (a container, its network, its
   * supervisor) takes a second or more: passes do not wait for it, so the health checks
   * and the other apps' rollouts go on meanwhile; the process itself is left alone until
   * its new instances are recorded.
   */
  readonly #starting = new Map<string, Promise<void>>();

  constructor(options: ReconcilerOptions) {
    this.#o = { intervalMs: 1000, drainMs: 2000, ...options };
    this.#loop = new ConvergeLoop(() => this.#converge(), this.#o.intervalMs, options.onError);
  }

  /** Adopts what runs on this host, then converges every `intervalMs`. */
  async start(): Promise<void> {
    await this.#adopt();
    this.#loop.start();
  }

  /** Converge soon (the API changed what should run). */
  poke(): void {
    this.#loop.poke();
  }

  /** Stops converging (instances keep running: a restarted server adopts them). */
  async close(): Promise<void> {
    await this.#loop.close();
    await Promise.all([...this.#starting.values(), ...this.#stopping.values()]);
  }

  /** One pass now (tests, and the loop). */
  converge(): Promise<void> {
    return this.#loop.converge();
  }

  async #adopt(): Promise<void> {
    const { workloads, runner } = this.#o;
    for (const inst of await workloads.instancesOnHost(runner.host)) {
      const c = await runner.container(inst);
      if (!c?.running) {
        await this.#crashed(
          inst,
          c ? `exited with status ${c.exitCode ?? 'unknown'} while the server was down` : 'its container is gone',
        );
        continue;
      }
      try {
        const pid = await runner.ensureNetwork(inst);
        if (pid !== undefined) await workloads.updateInstance(inst.guid, { networkPid: pid });
      } catch (err) {
        this.#o.onError?.(err);
      }
      this.#tails.set(inst.guid, logSize(runner.logPath(inst)));
    }
  }

  async #converge(): Promise<void> {
    const views = await appViews(this.#o.platform, this.#o.workloads);
    await this.#checkAll(views);
    const seenApps = new Set<string>();
    const running = new Map<string, Instance[]>();
    for (const view of views.values()) {
      seenApps.add(view.app.guid);
      const live: Instance[] = [];
      const deployment =
        view.app.state === 'STARTED' ? await this.#o.workloads.activeDeployment(view.app.guid) : undefined;
      let rolled = true;
      for (const process of view.processes) {
        const { instances, done } = await this.#process(view, process, deployment);
        live.push(...instances);
        rolled &&= done;
      }
      if (deployment && rolled) await this.#finish(view, deployment);
      running.set(
        view.app.guid,
        live.filter((i) => i.state === 'RUNNING'),
      );
    }
    // Instances whose app or process is gone, and containers no record names.
    const known = new Set<string>();
    for (const inst of await this.#o.workloads.instancesOnHost(this.#o.runner.host)) {
      if (!views.has(inst.appGuid) || !views.get(inst.appGuid)!.processes.some((p) => p.guid === inst.processGuid))
        await this.#stopNow(inst);
      else known.add(inst.containerName);
    }
    for (const name of this.#stopping.keys()) known.add(name);
    // A start in flight has a container no record names yet: the sweep waits for a pass without one.
    if (this.#starting.size === 0) await this.#o.runner.sweep(known);
    this.#o.onInstances?.(running);
  }

  /**
   * Converges one process; returns its instances as they now are, and whether the
   * deployment (if any) is done with it.
   */
  async #process(
    view: AppView,
    process: Process,
    deployment: Deployment | undefined,
  ): Promise<{ instances: Instance[]; done: boolean }> {
    const { workloads } = this.#o;
    const instances = await workloads.instancesOf(process.guid);
    this.#tailLogs(instances, process);
    if (this.#starting.has(process.guid)) return { instances, done: false };

    // A cancelled deployment rolls back to the app's current droplet (the previous one again).
    const canceling = deployment?.statusReason === 'CANCELING';
    const target = deployment && !canceling ? deployment.dropletGuid : view.app.currentDropletGuid;
    const droplet = view.app.state === 'STARTED' && target ? await workloads.getDroplet(target) : undefined;
    let done = true;
    if (!droplet || process.instances === 0) {
      for (const inst of instances) await this.#drain(inst);
    } else {
      // Current: the target droplet at the process's version (a cancel keeps what runs the old droplet).
      const current = (i: Instance) =>
        i.dropletGuid === droplet.guid && (canceling || (i.processVersion ?? '') === (process.version ?? ''));
      if (deployment) done = await this.#roll(view, process, instances, droplet, deployment, current);
      else await this.#steady(view, process, instances, droplet, current);
    }
    return { instances: await workloads.instancesOf(process.guid), done };
  }

  /** No deployment: indexes 0..N-1 each run the target droplet; anything else goes. */
  async #steady(
    view: AppView,
    process: Process,
    instances: Instance[],
    droplet: Droplet,
    current: (i: Instance) => boolean,
  ): Promise<void> {
    const starts: Promise<void>[] = [];
    for (const inst of instances) {
      if (inst.state === 'STOPPING') await this.#finishDrain(inst);
      else if (inst.index >= process.instances || !current(inst)) await this.#drain(inst);
    }
    for (let index = 0; index < process.instances; index++) {
      const here = instances.filter((i) => i.index === index && current(i) && i.state !== 'STOPPING');
      if (here.some((i) => i.state === 'RUNNING' || i.state === 'STARTING')) continue;
      const crashed = here.find((i) => i.state === 'CRASHED');
      if (crashed?.restartAt && crashed.restartAt > new Date().toISOString()) continue;
      // Replaced droplets drain first: a plain restart takes the app down, as CF's does (rolling deployments do not).
      if (instances.some((i) => i.index === index && i.state === 'STOPPING')) continue;
      starts.push(this.#startInstance(view, process, droplet, index, crashed));
    }
    this.#launch(process.guid, starts);
  }

  /** The process's starts run on after the pass; when they are recorded, a pass checks them. */
  #launch(processGuid: string, starts: Promise<void>[]): void {
    if (starts.length === 0) return;
    const all = Promise.all(starts).then(() => {
      this.#starting.delete(processGuid);
      this.poke();
    });
    this.#starting.set(processGuid, all);
  }

  /**
   * A rolling deployment: new instances maxInFlight at a time; an old one stops only
   * when a new one runs. True when this process has only new instances, all running.
   */
  async #roll(
    view: AppView,
    process: Process,
    instances: Instance[],
    droplet: Droplet,
    deployment: Deployment,
    current: (i: Instance) => boolean,
  ): Promise<boolean> {
    const { workloads } = this.#o;
    for (const inst of instances) if (inst.state === 'STOPPING') await this.#finishDrain(inst);
    const fresh = instances.filter((i) => current(i) && i.state !== 'STOPPING');
    const old = instances.filter((i) => !current(i) && i.state !== 'STOPPING');
    const healthyNew = fresh.filter((i) => i.state === 'RUNNING').length;
    const startingNew = fresh.filter((i) => i.state === 'STARTING').length;
    const wanted = process.instances;
    const room = Math.min(deployment.maxInFlight - startingNew, wanted - healthyNew - startingNew);
    // New instances take the indexes 0..N-1 beside the old ones there (which go once new ones run),
    // so the app ends on the indexes it had; a new one that crashed starts again at its index.
    const byIndex = new Map(fresh.map((i) => [i.index, i]));
    const at = new Date().toISOString();
    const starts: Promise<void>[] = [];
    for (let n = 0, index = 0; n < room && index < wanted; index++) {
      const here = byIndex.get(index);
      if (here && (here.state !== 'CRASHED' || (here.restartAt !== undefined && here.restartAt > at))) continue;
      starts.push(this.#startInstance(view, process, droplet, index, here, deployment.guid));
      n++;
    }
    this.#launch(process.guid, starts);
    // Old instances go one for each new one running beyond the wanted count; crashed old ones at once.
    let healthyOld = old.filter((i) => i.state === 'RUNNING').length;
    for (const inst of old) {
      if (inst.state !== 'RUNNING') await this.#stopNow(inst);
      else if (healthyNew + healthyOld > wanted || healthyNew >= wanted) {
        await this.#drain(inst);
        healthyOld--;
      }
    }
    const now = await workloads.instancesOf(process.guid);
    // Done once the new instances serve and the old ones are out of the router: their drain
    // (drainMs, then the stop) goes on after, as Diego stops CC's old process after a deployment.
    const done = healthyNew >= wanted && now.every((i) => current(i) || i.state === 'STOPPING');
    // A cancel ends on the old instances: they are the process's version again.
    const kept = now.find((i) => current(i) && i.index < wanted)?.processVersion;
    if (done && deployment.statusReason === 'CANCELING' && kept !== undefined && kept !== process.version)
      await workloads.updateProcess(process.guid, { version: kept });
    return done;
  }

  /** Every process of the app is rolled: the deployment is DEPLOYED (or CANCELED), its droplet current. */
  async #finish(view: AppView, deployment: Deployment): Promise<void> {
    const { workloads } = this.#o;
    const canceled = deployment.statusReason === 'CANCELING';
    await workloads.updateDeployment(deployment.guid, {
      statusValue: 'FINALIZED',
      statusReason: canceled ? 'CANCELED' : 'DEPLOYED',
      lastStatusChange: new Date().toISOString(),
    });
    if (!canceled && view.app.currentDropletGuid !== deployment.dropletGuid)
      await workloads.setCurrentDroplet(view.app.guid, deployment.dropletGuid);
    this.#o.logs.write(
      view.app.guid,
      'API',
      '',
      'OUT',
      `Deployment ${deployment.guid} ${canceled ? 'canceled' : 'deployed'}`,
    );
  }

  async #startInstance(
    view: AppView,
    process: Process,
    droplet: Droplet,
    index: number,
    crashed?: Instance,
    deploymentGuid?: string,
  ): Promise<void> {
    const { workloads, runner, logs } = this.#o;
    try {
      if (crashed) await this.#stopNow(crashed);
      const inst = await runner.start({
        ...view,
        process,
        droplet,
        index,
        ...(deploymentGuid ? { deploymentGuid } : {}),
      });
      inst.crashCount = crashed?.crashCount ?? 0;
      await workloads.putInstance(inst);
      this.#tails.set(inst.guid, 0);
      if (inst.state === 'CRASHED') {
        this.#tailLogs([inst], process);
        await this.#crashed(inst, inst.details ?? 'exited at once');
        return;
      }
      logs.write(
        view.app.guid,
        'CELL',
        String(index),
        'OUT',
        `Creating container for app ${view.app.name}, instance ${index} (${process.type})`,
      );
      await this.#untilFirstHealthy(inst, process);
    } catch (err) {
      logs.write(
        view.app.guid,
        'CELL',
        String(index),
        'ERR',
        `Failed to start instance ${index}: ${(err as Error).message}`,
      );
      this.#o.onError?.(err);
    }
  }

  /**
   * A new instance is watched closely (every 100 ms, for up to FIRST_CHECK_MS) until it
   * passes its check or exits, so that a rollout's next step follows within a tenth of a
   * second, not at the next pass; the pass the start's end pokes marks it RUNNING.
   */
  async #untilFirstHealthy(inst: Instance, process: Process): Promise<void> {
    const { runner } = this.#o;
    for (const until = Date.now() + FIRST_CHECK_MS; Date.now() < until && !this.#loop.stopped; ) {
      if ((await runner.container(inst))?.running !== true) return;
      if (await runner.healthy(inst, process.healthCheck)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Every instance's health and liveness, CHECKS_AT_ONCE at a time: a port check holds
   * its connection 50 ms (see tcpProbe), so one process after another made a pass over
   * 50 apps take 2.6 s, and every start and rollout step waited for it.
   */
  async #checkAll(views: Map<string, AppView>): Promise<void> {
    const checks: (() => Promise<void>)[] = [];
    for (const view of views.values())
      for (const process of view.processes)
        for (const inst of await this.#o.workloads.instancesOf(process.guid))
          checks.push(() => this.#check(inst, process));
    let next = 0;
    const worker = async () => {
      while (next < checks.length) await checks[next++]!();
    };
    await Promise.all(Array.from({ length: Math.min(CHECKS_AT_ONCE, checks.length) }, worker));
  }

  /** Health and liveness of one instance: STARTING -> RUNNING, or CRASHED. */
  async #check(inst: Instance, process: Process): Promise<void> {
    const { runner, workloads, logs } = this.#o;
    if (inst.state === 'CRASHED' || inst.state === 'STOPPING') return;
    const c = await runner.container(inst);
    if (!c?.running) {
      await this.#crashed(inst, c ? `exited with status ${c.exitCode ?? 'unknown'}` : 'its container is gone');
      return;
    }
    const healthy = await runner.healthy(inst, process.healthCheck);
    if (inst.state === 'STARTING') {
      if (healthy) {
        await workloads.updateInstance(inst.guid, { state: 'RUNNING', since: new Date().toISOString() });
        logs.write(inst.appGuid, 'CELL', String(inst.index), 'OUT', `Container became healthy`);
        return;
      }
      const timeoutMs = this.#o.startTimeoutMs ?? (process.healthCheck.timeout ?? 60) * 1000;
      if (Date.now() - Date.parse(inst.since) > timeoutMs) {
        await this.#crashed(
          inst,
          `failed its ${process.healthCheck.type} health check for ${Math.round(timeoutMs / 1000)} s after it started`,
          true,
        );
      }
      return;
    }
    // RUNNING: three failed probes in a row and it counts as crashed.
    const failures = healthy ? 0 : (this.#failedProbes.get(inst.guid) ?? 0) + 1;
    this.#failedProbes.set(inst.guid, failures);
    if (failures >= 3) await this.#crashed(inst, `stopped passing its ${process.healthCheck.type} health check`, true);
  }

  async #crashed(inst: Instance, why: string, kill = false): Promise<void> {
    const { runner, workloads, logs } = this.#o;
    if (kill) await runner.stop(inst, 0);
    const crashCount = inst.crashCount + 1;
    // CF: the first three crashes restart at once, then 30 s doubling, here up to 5 minutes.
    const delayMs = crashCount <= 3 ? 0 : Math.min(300_000, 30_000 * 2 ** (crashCount - 4));
    const details = `APP/PROC/${inst.processType.toUpperCase()}: ${why}`;
    await workloads.updateInstance(inst.guid, {
      state: 'CRASHED',
      since: new Date().toISOString(),
      crashCount,
      details,
      restartAt: new Date(Date.now() + delayMs).toISOString(),
    });
    this.#failedProbes.delete(inst.guid);
    logs.write(
      inst.appGuid,
      'CELL',
      String(inst.index),
      'ERR',
      `Instance ${inst.index} crashed: ${why} (crash ${crashCount})`,
    );
  }

  /** Out of the router first; stopped on a later pass, once its last requests are served. */
  async #drain(inst: Instance): Promise<void> {
    if (inst.state === 'RUNNING') {
      await this.#o.workloads.updateInstance(inst.guid, { state: 'STOPPING', since: new Date().toISOString() });
      return;
    }
    if (inst.state === 'STOPPING') return this.#finishDrain(inst);
    await this.#stopNow(inst);
  }

  async #finishDrain(inst: Instance): Promise<void> {
    if (Date.now() - Date.parse(inst.since) >= this.#o.drainMs) await this.#stopNow(inst);
  }

  /**
   * The record goes now; the container stops in the background (an app that ignores
   * SIGTERM holds its grace period, and must not hold up every other app's pass). A
   * server that stops meanwhile leaves an unrecorded container: the next sweep takes it.
   */
  async #stopNow(inst: Instance): Promise<void> {
    await this.#o.workloads.deleteInstance(inst.guid);
    this.#tails.delete(inst.guid);
    this.#failedProbes.delete(inst.guid);
    if (this.#stopping.has(inst.containerName)) return;
    const stop = this.#o.runner
      .stop(inst)
      .catch((err: unknown) => this.#o.onError?.(err))
      .finally(() => this.#stopping.delete(inst.containerName));
    this.#stopping.set(inst.containerName, stop);
  }

  /** New output of each instance's container log, into the app's log stream. */
  #tailLogs(instances: Instance[], process: Process): void {
    for (const inst of instances) {
      const offset = this.#tails.get(inst.guid);
      if (offset === undefined) continue;
      const { text, next } = readFrom(this.#o.runner.logPath(inst), offset);
      this.#tails.set(inst.guid, next);
      if (text)
        this.#o.logs.write(inst.appGuid, `APP/PROC/${process.type.toUpperCase()}`, String(inst.index), 'OUT', text);
    }
  }
}

function logSize(path: string): number {
  try {
    const fd = openSync(path, 'r');
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  } catch {
    return 0;
  }
}

/** Text appended to a log since `offset` (at most 1 MiB per pass, ending at a line). */
function readFrom(path: string, offset: number): { text: string; next: number } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return { text: '', next: offset };
  }
  try {
    const size = fstatSync(fd).size;
    if (size <= offset) return { text: '', next: size < offset ? 0 : offset };
    const buf = Buffer.alloc(Math.min(size - offset, 1 << 20));
    const n = readSync(fd, buf, 0, buf.length, offset);
    const chunk = buf.subarray(0, n);
    const end = chunk.lastIndexOf(10) + 1 || chunk.length;
    return { text: chunk.subarray(0, end).toString('utf8'), next: offset + end };
  } finally {
    closeSync(fd);
  }
}
