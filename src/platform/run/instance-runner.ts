import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { request } from 'node:http';
import type { ContainerRuntime } from '../../runtime/containers.js';
import { parseTransport } from '../../oci/transport.js';
import { buildSeccomp } from '../../sandbox/seccomp.js';
import type { LocalStore } from '../../store/local-store.js';
import type { App, Organization, Space } from '../model.js';
import type { Droplet, HealthCheck, Instance, Process } from '../workload.js';
import { APP_PORT, attachAppNetwork, detachAppNetwork, killNetworkBySocket, networkAlive } from './app-network.js';

/**
 * Starts, probes and stops one app instance: a detached container of the droplet's
 * image (from the platform's store, layers shared with every other instance) in a
 * network namespace of its own, with CF's environment (PORT, VCAP_APPLICATION,
 * CF_INSTANCE_*), a memory and process limit, no capabilities and the sandbox's
 * seccomp filter; the router reaches it on 127.0.0.1:PORT on the host.
 */

export interface InstanceContext {
  app: App;
  space: Space;
  org: Organization;
  process: Process;
  droplet: Droplet;
  index: number;
  deploymentGuid?: string;
}

const PIDS_PER_INSTANCE = 1024;

/** The names the runner gives instance containers (what `sweep` may remove). */
const INSTANCE_NAME = /^app-[0-9a-f]{8}-[a-z0-9_.-]+-\d+-[0-9a-f]{6}$/;

export class InstanceRunner {
  constructor(
    private readonly runtime: ContainerRuntime,
    private readonly store: LocalStore,
    readonly host: string,
    private readonly networkDir: string,
  ) {
    mkdirSync(networkDir, { recursive: true, mode: 0o700 });
  }

  /** Starts an instance; it is STARTING until its health check passes. */
  async start(ctx: InstanceContext): Promise<Instance> {
    const guid = randomBytes(16).toString('hex');
    const name = `app-${ctx.app.guid.slice(0, 8)}-${ctx.process.type}-${ctx.index}-${guid.slice(0, 6)}`
      .toLowerCase()
      .replace(/[^a-z0-9_.-]/g, '-');
    const image = `apps/${ctx.app.guid}@${ctx.droplet.digest}`;
    const env = instanceEnv(ctx, guid);
    const instance: Instance = {
      guid,
      appGuid: ctx.app.guid,
      processGuid: ctx.process.guid,
      processType: ctx.process.type,
      index: ctx.index,
      dropletGuid: ctx.droplet.guid,
      ...(ctx.process.version ? { processVersion: ctx.process.version } : {}),
      ...(ctx.deploymentGuid ? { deploymentGuid: ctx.deploymentGuid } : {}),
      host: this.host,
      containerName: name,
      port: 0,
      state: 'STARTING',
      since: new Date().toISOString(),
      crashCount: 0,
    };
    // A start command that exits at once is the app crashing, not the platform failing:
    // the instance is CRASHED (its container kept for its log) and the reconciler backs off.
    // Its supervisor records the exit a moment after the init died: while the record still
    // says running but `initPid` is gone, ask again (else the start fails and is retried
    // at once, without a crash count, again and again).
    const exitedAtOnce = async (initPid?: number | null): Promise<Instance | undefined> => {
      for (let attempt = 0; attempt < 100; attempt++) {
        const c = await this.container(instance);
        if (!c) return undefined;
        if (!c.running)
          return { ...instance, state: 'CRASHED', details: `exited with status ${c.exitCode ?? 'unknown'}` };
        if (!initPid || processAlive(initPid)) return undefined;
        await new Promise((r) => setTimeout(r, 20));
      }
      return undefined;
    };
    try {
      await this.runtime.run(
        {
          ref: parseTransport(image),
          label: `${ctx.org.slug}/${ctx.space.slug}/${ctx.app.slug}`,
          store: async () => this.store,
        },
        {
          name,
          detach: true,
          network: 'none',
          env,
          memoryBytes: ctx.process.memoryMb * 1024 * 1024,
          pidsLimit: PIDS_PER_INSTANCE,
          capabilities: [],
          seccomp: buildSeccomp(),
          hostname: name.slice(0, 63),
          // The app is not PID 1 (as under Diego): a stop's SIGTERM reaches it, a Node app ends at
          // once instead of holding its 10 s grace, and its zombies are reaped.
          init: true,
          // A user's start command is a shell line, as CF's (through the launcher: the layers' env applies).
          ...(ctx.process.command
            ? { args: ['/bin/sh', '-c', ctx.process.command] }
            : { processType: ctx.process.type }),
        },
      );
    } catch (err) {
      const crashed = await exitedAtOnce();
      if (crashed) return crashed;
      throw err;
    }
    let initPid: number | null = null;
    try {
      const info = await this.runtime.get(name);
      initPid = info.initPid;
      if (info.initPid === null) throw new Error(`container ${name} is not running`);
      const net = await attachAppNetwork(
        info.initPid,
        join(this.networkDir, `${name}.sock`),
        0,
        join(this.networkDir, `${name}.log`),
      );
      return { ...instance, port: net.hostPort, networkPid: net.slirpPid };
    } catch (err) {
      const crashed = await exitedAtOnce(initPid);
      if (crashed) return crashed;
      await this.runtime.remove(name, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  /** The container's state: running, or exited with its code (undefined when it is gone). */
  async container(instance: Instance): Promise<{ running: boolean; exitCode?: number | null } | undefined> {
    try {
      const info = await this.runtime.get(instance.containerName);
      return info.status === 'running' ? { running: true } : { running: false, exitCode: info.exitCode ?? null };
    } catch {
      return undefined;
    }
  }

  /** After a restart: the instance's network is back if its slirp4netns died (same host port). */
  async ensureNetwork(instance: Instance): Promise<number | undefined> {
    if (instance.networkPid !== undefined && networkAlive(instance.networkPid)) return undefined;
    const info = await this.runtime.get(instance.containerName);
    if (info.initPid === null) return undefined;
    const net = await attachAppNetwork(
      info.initPid,
      join(this.networkDir, `${instance.containerName}.sock`),
      instance.port,
    );
    return net.slirpPid;
  }

  /** Whether the instance passes its health check now. */
  async healthy(instance: Instance, check: HealthCheck): Promise<boolean> {
    const timeoutMs = (check.invocationTimeout ?? 1) * 1000;
    if (check.type === 'process') return (await this.container(instance))?.running === true;
    if (check.type === 'http') return httpProbe(instance.port, check.endpoint ?? '/', timeoutMs);
    return tcpProbe(instance.port, timeoutMs);
  }

  /**
   * Removes instance containers no instance record names (their app was deleted with
   * its rows, or the server stopped between starting one and recording it), with
   * their networks. Answers the names removed.
   */
  async sweep(known: Set<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const c of await this.runtime.list()) {
      if (!INSTANCE_NAME.test(c.name) || known.has(c.name)) continue;
      await this.runtime.stop(c.name, { timeoutMs: 2000 }).catch(() => undefined);
      await this.runtime.remove(c.name, { force: true }).catch(() => undefined);
      killNetworkBySocket(join(this.networkDir, `${c.name}.sock`));
      removed.push(c.name);
    }
    return removed;
  }

  /** Stops and removes the instance's container and network (SIGTERM, then SIGKILL after `graceMs`). */
  async stop(instance: Instance, graceMs = 10_000): Promise<void> {
    await this.runtime.stop(instance.containerName, { timeoutMs: graceMs }).catch(() => undefined);
    await this.runtime.remove(instance.containerName, { force: true }).catch(() => undefined);
    if (instance.networkPid !== undefined) detachAppNetwork(instance.networkPid);
  }

  /** The container's log file (its stdout and stderr), for the app's log stream. */
  logPath(instance: Instance): string {
    return this.runtime.logPath(instance.containerName);
  }

  /** Memory (bytes) and CPU time (ns) the instance's cgroups counted; undefined when it is not running. */
  async usage(instance: Instance): Promise<{ memoryBytes: number; cpuNanos: number } | undefined> {
    const info = await this.runtime.get(instance.containerName).catch(() => undefined);
    if (!info?.initPid) return undefined;
    return cgroupUsage(info.initPid);
  }
}

/** CF's instance environment (Diego's): PORT, VCAP_APPLICATION, CF_INSTANCE_*, MEMORY_LIMIT, and the app's own vars. */
export function instanceEnv(ctx: InstanceContext, instanceGuid: string): string[] {
  const limits = { mem: ctx.process.memoryMb, disk: ctx.process.diskMb, fds: 16384 };
  const vcap = {
    application_id: ctx.app.guid,
    application_name: ctx.app.name,
    application_uris: [],
    application_version: ctx.droplet.guid,
    cf_api: '',
    host: '0.0.0.0',
    instance_id: instanceGuid,
    instance_index: ctx.index,
    limits,
    name: ctx.app.name,
    organization_id: ctx.org.guid,
    organization_name: ctx.org.name,
    process_id: ctx.process.guid,
    process_type: ctx.process.type,
    space_id: ctx.space.guid,
    space_name: ctx.space.name,
    uris: [],
    version: ctx.droplet.guid,
  };
  return [
    ...Object.entries(ctx.app.environmentVariables).map(([k, v]) => `${k}=${v}`),
    `PORT=${APP_PORT}`,
    `VCAP_APPLICATION=${JSON.stringify(vcap)}`,
    'VCAP_SERVICES={}',
    `MEMORY_LIMIT=${ctx.process.memoryMb}m`,
    `CF_INSTANCE_INDEX=${ctx.index}`,
    `CF_INSTANCE_GUID=${instanceGuid}`,
    `CF_INSTANCE_PORT=${APP_PORT}`,
    `CF_INSTANCE_INTERNAL_IP=10.0.2.100`,
    `INSTANCE_INDEX=${ctx.index}`,
  ];
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function tcpProbe(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    // slirp4netns accepts at once and closes when nothing listens inside: wait for the app to answer or hold it open.
    socket.once('connect', () => setTimeout(() => done(!socket.destroyed), 50));
    socket.once('close', () => done(false));
    socket.on('error', () => done(false));
  });
}

function httpProbe(port: number, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path: path.startsWith('/') ? path : `/${path}`, method: 'GET', timeout: timeoutMs },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 400);
      },
    );
    req.once('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** memory.usage_in_bytes and cpuacct.usage (cgroup v1), or memory.current and cpu.stat (v2), of the cgroups `pid` is in. */
function cgroupUsage(pid: number): { memoryBytes: number; cpuNanos: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
  }
  let memoryBytes = 0;
  let cpuNanos = 0;
  const read = (file: string) => {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  for (const line of text.split('\n')) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (path === undefined) continue;
    const names = controllers!.split(',');
    // cgroup v2 (unified); on a hybrid host its files are absent and the v1 controllers count.
    if (controllers === '') {
      const current =
        read(`/sys/fs/cgroup${path}/memory.current`) ?? read(`/sys/fs/cgroup/unified${path}/memory.current`);
      if (current !== undefined) memoryBytes = Number(current);
      const usec = /usage_usec (\d+)/.exec(read(`/sys/fs/cgroup${path}/cpu.stat`) ?? '')?.[1];
      if (usec) cpuNanos = Number(usec) * 1000;
    }
    if (names.includes('memory')) memoryBytes = Number(read(`/sys/fs/cgroup/memory${path}/memory.usage_in_bytes`) ?? 0);
    if (names.includes('cpuacct'))
      cpuNanos = Number(
        read(`/sys/fs/cgroup/${controllers}${path}/cpuacct.usage`) ??
          read(`/sys/fs/cgroup/cpuacct${path}/cpuacct.usage`) ??
          0,
      );
  }
  return { memoryBytes, cpuNanos };
}
