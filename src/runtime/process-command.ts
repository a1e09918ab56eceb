import { SlipwayError } from '../errors.js';
import type { ContainerConfig } from '../oci/types.js';

/** The CNB launcher's path in buildpack-built images (CNB platform spec, "Launch"). */
export const CNB_LAUNCHER = '/cnb/lifecycle/launcher';
/** Per-type entrypoints the CNB exporter writes (symlinks to the launcher). */
export const CNB_PROCESS_DIR = '/cnb/process';
export const CNB_BUILD_METADATA_LABEL = 'io.buildpacks.build.metadata';

/** One process type of a buildpack-built image (`processes` in io.buildpacks.build.metadata). */
export interface CnbProcess {
  type: string;
  /** A string before Buildpack API 0.9, a list since. */
  command: string | string[];
  args?: string[];
  direct?: boolean;
}

/** What the caller asked to run instead of the image's default process. */
export interface CommandOptions {
  /** `--process TYPE`: a buildpack process type. */
  processType?: string;
  /** `--entrypoint CMD`, as docker takes it. */
  entrypoint?: string;
  /** What follows `--` on the command line. */
  args?: string[];
}

/** The process to run: its argv, and environment the choice itself needs. */
export interface ProcessCommand {
  args: string[];
  env: string[];
}

/**
 * Decides the container's argv from the image config and the run options:
 *
 * - `--entrypoint E [-- ARGS]`: as docker does, E replaces the entrypoint and the
 *   image's Cmd is dropped (ARGS, if any, take its place).
 * - `--process TYPE [-- ARGS]`: the buildpack process TYPE (ARGS are appended, as the
 *   CNB launcher does); through the launcher when the image has one (`/cnb/process/TYPE`,
 *   else the launcher with CNB_PROCESS_TYPE), else the process's own command, through
 *   `/bin/sh -c` unless it is direct.
 * - `-- CMD ARGS`: CMD instead of the image's process. A buildpack-built image (its
 *   entrypoint is the launcher) runs it through the launcher, directly (`launcher --
 *   CMD ARGS`), so it sees the same environment; any other image runs it as is
 *   (entrypoint and Cmd both replaced).
 * - otherwise: Entrypoint + Cmd.
 *
 * `exists(path)` tells whether a path exists in the image.
 */
export function processCommand(
  config: ContainerConfig,
  options: CommandOptions,
  exists: (path: string) => boolean,
): ProcessCommand {
  const extra = options.args ?? [];
  if (options.entrypoint !== undefined) {
    const args = options.entrypoint === '' ? [...extra] : [options.entrypoint, ...extra];
    return { args: nonEmpty(args, 'the --entrypoint is empty and no command follows --'), env: [] };
  }
  if (options.processType !== undefined) return cnbProcess(config, options.processType, extra, exists);
  if (extra.length > 0) {
    return isLauncherImage(config) ? { args: [CNB_LAUNCHER, '--', ...extra], env: [] } : { args: [...extra], env: [] };
  }
  const args = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
  return {
    args: nonEmpty(
      args,
      'the image has neither Entrypoint nor Cmd; give a command after --, e.g. slipway run IMAGE -- /bin/sh',
    ),
    env: [],
  };
}

/** True when the image starts through the CNB launcher (directly or via a /cnb/process/ link). */
export function isLauncherImage(config: ContainerConfig): boolean {
  const first = config.Entrypoint?.[0];
  return first === CNB_LAUNCHER || (first?.startsWith(`${CNB_PROCESS_DIR}/`) ?? false);
}

/** The process types in the image's io.buildpacks.build.metadata label; undefined when it has none. */
export function cnbProcesses(config: ContainerConfig): CnbProcess[] | undefined {
  const label = config.Labels?.[CNB_BUILD_METADATA_LABEL];
  if (label === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(label);
  } catch (err) {
    throw new SlipwayError(
      'INVALID_DOCUMENT',
      `the image's ${CNB_BUILD_METADATA_LABEL} label is not JSON: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const processes = (parsed as { processes?: unknown }).processes;
  if (!Array.isArray(processes)) return [];
  return processes.filter(
    (p): p is CnbProcess =>
      typeof p === 'object' &&
      p !== null &&
      typeof (p as CnbProcess).type === 'string' &&
      (typeof (p as CnbProcess).command === 'string' || Array.isArray((p as CnbProcess).command)),
  );
}

function cnbProcess(
  config: ContainerConfig,
  type: string,
  extra: string[],
  exists: (path: string) => boolean,
): ProcessCommand {
  const processes = cnbProcesses(config);
  if (processes === undefined) {
    throw new SlipwayError(
      'NOT_FOUND',
      `--process ${type}: the image has no buildpack process types (no ${CNB_BUILD_METADATA_LABEL} label); run it without --process`,
      {
        detail: { processType: type },
      },
    );
  }
  const process = processes.find((p) => p.type === type);
  if (!process) {
    const available = processes.map((p) => p.type);
    throw new SlipwayError(
      'NOT_FOUND',
      `the image has no process type "${type}"; it has: ${available.join(', ') || '(none)'}`,
      {
        detail: { processType: type, available },
      },
    );
  }
  if (exists(CNB_LAUNCHER)) {
    const link = `${CNB_PROCESS_DIR}/${type}`;
    if (exists(link)) return { args: [link, ...extra], env: [] };
    return { args: [CNB_LAUNCHER, ...extra], env: [`CNB_PROCESS_TYPE=${type}`] };
  }
  const command = typeof process.command === 'string' ? [process.command] : process.command;
  const args = [...command, ...(extra.length > 0 ? extra : (process.args ?? []))];
  if (process.direct) return { args: nonEmpty(args, `process type "${type}" has an empty command`), env: [] };
  // Not direct: the command is a shell command line, its args positional parameters.
  return {
    args: ['/bin/sh', '-c', `${command.join(' ')} "$@"`, command[0] ?? 'sh', ...args.slice(command.length)],
    env: [],
  };
}

function nonEmpty(args: string[], message: string): string[] {
  if (args.length === 0) throw new SlipwayError('INVALID_ARGUMENT', message);
  return args;
}
