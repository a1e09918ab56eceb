import { Option, type Command } from 'commander';
import { parseMemory } from '../runtime/run-options.js';
import { DEFAULT_LIMITS, formatBytes, parseDuration, type SandboxLimits } from '../sandbox/limits.js';
import type { BuildNetwork } from '../sandbox/network.js';

/** The flags of every command that runs a build in the sandbox. */
export interface SandboxFlags {
  network: BuildNetwork;
  timeout?: string;
  memory?: string;
  pidsLimit?: string;
  cpus?: string;
  diskLimit?: string;
}

/** Adds the sandbox's network and limit flags (each with its default and the exit status of a build that reaches it). */
export function withSandboxOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--network <mode>',
        "the build's network: outbound (the internet; never the host, its loopback or private networks) or none",
      )
        .choices(['outbound', 'none'])
        .default('outbound'),
    )
    .option(
      '--timeout <duration>',
      `stop the build after this long, e.g. 90s, 30m (default ${DEFAULT_LIMITS.timeoutMs / 60_000}m; exit 52)`,
    )
    .option(
      '--memory <size>',
      `memory for the build's processes, e.g. 2g (default ${formatBytes(DEFAULT_LIMITS.memoryBytes)}; exit 53)`,
    )
    .option('--pids-limit <n>', `processes and threads at once (default ${DEFAULT_LIMITS.pids}; exit 54)`)
    .option('--cpus <n>', `CPU time, in CPUs (default all, ${DEFAULT_LIMITS.cpus}; throttled, never fatal)`)
    .option(
      '--disk-limit <size>',
      `disk the build may fill: app copy, layers, cache, its writable root (default ${formatBytes(DEFAULT_LIMITS.diskBytes)}; exit 55)`,
    );
}

export function sandboxFrom(flags: SandboxFlags): { network: BuildNetwork; limits: Partial<SandboxLimits> } {
  const limits: Partial<SandboxLimits> = {};
  if (flags.timeout !== undefined) limits.timeoutMs = parseDuration(flags.timeout);
  if (flags.memory !== undefined) limits.memoryBytes = parseMemory(flags.memory);
  if (flags.pidsLimit !== undefined) limits.pids = Number(flags.pidsLimit);
  if (flags.cpus !== undefined) limits.cpus = Number(flags.cpus);
  if (flags.diskLimit !== undefined) limits.diskBytes = parseMemory(flags.diskLimit);
  return { network: flags.network, limits };
}
