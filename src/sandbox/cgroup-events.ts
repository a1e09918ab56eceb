import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What the kernel counted for a container's cgroups: OOM kills (memory limit) and
 * refused forks (pids limit). Found from the container's init pid, so it works for
 * cgroup v1 (one hierarchy per controller, as on this machine) and v2 alike.
 */
export interface CgroupEvents {
  oomKills: number;
  pidsRefused: number;
}

export class CgroupWatch {
  readonly #memoryFile: string | undefined;
  readonly #pidsFile: string | undefined;

  private constructor(memoryFile: string | undefined, pidsFile: string | undefined) {
    this.#memoryFile = memoryFile;
    this.#pidsFile = pidsFile;
  }

  /** The counters of the cgroups `pid` is in (read from /proc/PID/cgroup). */
  static forPid(pid: number, mount = '/sys/fs/cgroup'): CgroupWatch {
    let memory: string | undefined;
    let pids: string | undefined;
    for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
      const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
      if (path === undefined) continue;
      if (controllers === '') {
        // cgroup v2: one hierarchy, every counter in the same directory.
        memory ??= join(mount, path, 'memory.events');
        pids ??= join(mount, path, 'pids.events');
      } else {
        const names = controllers!.split(',');
        if (names.includes('memory')) memory = join(mount, 'memory', path, 'memory.oom_control');
        if (names.includes('pids')) pids = join(mount, 'pids', path, 'pids.events');
      }
    }
    return new CgroupWatch(memory, pids);
  }

  /** The counters now; 0 for one that cannot be read (the cgroup is gone, or the controller is not there). */
  read(): CgroupEvents {
    return { oomKills: counter(this.#memoryFile, 'oom_kill'), pidsRefused: counter(this.#pidsFile, 'max') };
  }
}

function counter(file: string | undefined, key: string): number {
  if (file === undefined) return 0;
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}
