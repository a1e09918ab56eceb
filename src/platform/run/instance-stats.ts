import type { WorkloadStore } from '../store/workload-store.js';
import type { InstanceStat, InstanceStatsSource } from '../workload-services.js';
import type { Process } from '../workload.js';
import type { InstanceUsageSource } from './instance-backend.js';

/**
 * `GET /v3/processes/:guid/stats`: every wanted index of a process with the state of
 * the instance holding it (DOWN when none does), its memory and CPU as its cgroup
 * counts them, and the image digest it runs. CPU is the share of one CPU since the
 * previous sample of that instance (0 on the first), as Diego reports it.
 */
export class RunnerStats implements InstanceStatsSource {
  readonly #cpu = new Map<string, { at: number; nanos: number }>();

  constructor(
    private readonly workloads: WorkloadStore,
    private readonly runner: InstanceUsageSource,
  ) {}

  async stats(process: Process): Promise<InstanceStat[]> {
    const instances = await this.workloads.instancesOf(process.guid);
    const droplets = new Map<string, string>();
    const out: InstanceStat[] = [];
    const wanted = Math.max(process.instances, ...instances.map((i) => i.index + 1), 0);
    for (let index = 0; index < wanted; index++) {
      // A rolling deployment may hold two instances at one index: the newest speaks for it.
      const inst = instances.filter((i) => i.index === index && i.state !== 'STOPPING').at(-1);
      const base = {
        index,
        memQuotaBytes: process.memoryMb * 1024 * 1024,
        diskQuotaBytes: process.diskMb * 1024 * 1024,
      };
      if (!inst) {
        if (index < process.instances)
          out.push({
            ...base,
            state: 'DOWN',
            uptime: 0,
            host: '',
            port: 0,
            memoryBytes: 0,
            cpu: 0,
            diskBytes: 0,
            digest: '',
          });
        continue;
      }
      let digest = droplets.get(inst.dropletGuid);
      if (digest === undefined) {
        digest = (await this.workloads.getDroplet(inst.dropletGuid))?.digest ?? '';
        droplets.set(inst.dropletGuid, digest);
      }
      const usage = inst.state === 'RUNNING' || inst.state === 'STARTING' ? await this.runner.usage(inst) : undefined;
      const where = this.runner.address?.(inst) ?? { host: '127.0.0.1', port: inst.port };
      out.push({
        ...base,
        state: inst.state,
        uptime: Math.max(0, Math.floor((Date.now() - Date.parse(inst.since)) / 1000)),
        host: where.host,
        port: where.port,
        memoryBytes: usage?.memoryBytes ?? 0,
        cpu: usage ? this.#cpuShare(inst.guid, usage.cpuNanos) : 0,
        diskBytes: 0,
        ...(inst.details ? { details: inst.details } : {}),
        digest,
      });
    }
    return out;
  }

  #cpuShare(guid: string, nanos: number): number {
    const at = performance.now();
    const last = this.#cpu.get(guid);
    this.#cpu.set(guid, { at, nanos });
    if (this.#cpu.size > 10_000) this.#cpu.clear();
    if (!last || at <= last.at) return 0;
    return Math.max(0, (nanos - last.nanos) / ((at - last.at) * 1e6));
  }
}
