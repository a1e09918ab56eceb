import { Command, Option } from 'commander';
import { SlipwayError } from '../../errors.js';
import { parseTransport } from '../../oci/transport.js';
import { ContainerRuntime } from '../../runtime/containers.js';
import { PhaseTimes } from '../../runtime/phase-times.js';
import { checkEnv, parseBind, parseMemory, type RunOptions } from '../../runtime/run-options.js';
import { exitStatus, terminationReason } from '../../runtime/termination.js';
import { run } from '../run.js';

interface RunFlags {
  timings?: boolean;
  process?: string;
  env: string[];
  port?: string;
  volume: string[];
  detach?: boolean;
  name?: string;
  entrypoint?: string;
  network: 'host' | 'none';
  hostname?: string;
  readOnly?: boolean;
  tmpfs: string[];
  memory?: string;
  cpus?: string;
  user?: string;
  workdir?: string;
  rm?: boolean;
  init: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function runCommand(): Command {
  return new Command('run')
    .description('Run an image as a container (layers unpacked once per host, overlay root filesystem, runc)')
    .argument('<image>', 'NAME[:TAG] in the local store, oci:DIR[:REF], oci-archive:FILE[:REF] or docker-archive:FILE')
    .argument('[command...]', "after --: the command to run instead of the image's process")
    .option('--process <type>', "run this buildpack process type (from the image's io.buildpacks.build.metadata)")
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('--port <n>', 'set PORT=n for the app (it listens on the host network)')
    .option('-v, --volume <SRC:DST[:ro]>', 'bind-mount a host path (repeatable)', collect, [])
    .option('-d, --detach', 'run in the background; output goes to the container log (slipway logs)')
    .option('--name <name>', 'the container name (default: generated)')
    .option('--entrypoint <cmd>', 'replace the image entrypoint, as docker does (the image Cmd is dropped)')
    .addOption(
      new Option('--network <mode>', 'host: share the host network; none: no network')
        .choices(['host', 'none'])
        .default('host'),
    )
    .option('--hostname <name>', 'the container hostname (default: its name)')
    .option('--read-only', 'mount the root filesystem read-only')
    .option('--tmpfs <path>', 'mount an empty tmpfs at this container path, e.g. /tmp (repeatable)', collect, [])
    .option('--memory <size>', 'memory limit, e.g. 256m')
    .option('--cpus <n>', 'CPU limit, e.g. 0.5')
    .option('-u, --user <user[:group]>', 'run as this user (name or uid, resolved in the image)')
    .option('-w, --workdir <dir>', 'the working directory in the container')
    .option('--rm', 'remove the container when it exits')
    .option('--no-init', 'run the process as PID 1 itself, without the init that forwards signals and reaps zombies')
    .option('--timings', 'print on stderr where the run spent its time, phase by phase (CLI start to cleanup)')
    .addHelpText(
      'after',
      `
In the foreground the container's stdio is this terminal's and slipway exits with the
container's exit code; Ctrl-C or SIGTERM stops the container (a second Ctrl-C kills it).
A small init (catatonit, bind-mounted read-only at /dev/init) runs as PID 1, passes
signals on to the process and reaps zombies, as docker run --init; --no-init opts out.
The container dies with slipway: a broken pipe or a hang-up ends it too. Put options
before the image, and the command after --.

Examples:
  $ slipway run debian:bookworm -- cat /etc/debian_version
  $ slipway run --rm -e GREETING=hi debian:bookworm -- sh -c 'echo $GREETING'
  $ slipway run -d --name web --port 8080 myapp:v1 && slipway logs -f web
  $ slipway run --process worker myapp:v1
  $ slipway run --rm --timings debian:bookworm -- true
  $ slipway run -v /usr/bin/node:/usr/bin/node:ro oci:/tmp/layout:v1 -- node -e 'console.log(1)'`,
    )
    .action(
      run(async (ctx, image: string, command: string[], flags: RunFlags) => {
        const options = runOptions(flags, command);
        const runtime = ContainerRuntime.open(ctx.options.home);
        const times = flags.timings ? new PhaseTimes() : undefined;
        try {
          const result = await runtime.run({ ref: parseTransport(image), label: image, store: ctx.store }, options, {
            progress: ctx.progress(),
            ...(times ? { times } : {}),
          });
          if (times) process.stderr.write(`timings: ${times}\n`);
          if (flags.detach) ctx.print({ name: result.name }, () => result.name);
          else process.exitCode = terminationReason() === 'SIGPIPE' ? exitStatus('SIGPIPE') : (result.exitCode ?? 1);
        } finally {
          runtime.close();
        }
      }),
    );
}

function runOptions(flags: RunFlags, command: string[]): RunOptions {
  const options: RunOptions = {
    env: flags.env.map(checkEnv),
    binds: flags.volume.map(parseBind),
    network: flags.network,
    tmpfs: flags.tmpfs,
    detach: flags.detach ?? false,
    remove: flags.rm ?? false,
    readOnly: flags.readOnly ?? false,
    init: flags.init,
  };
  if (command.length > 0) options.args = command;
  if (flags.process !== undefined) options.processType = flags.process;
  if (flags.entrypoint !== undefined) options.entrypoint = flags.entrypoint;
  if (flags.name !== undefined) options.name = flags.name;
  if (flags.hostname !== undefined) options.hostname = flags.hostname;
  if (flags.user !== undefined) options.user = flags.user;
  if (flags.workdir !== undefined) options.workdir = flags.workdir;
  if (flags.memory !== undefined) options.memoryBytes = parseMemory(flags.memory);
  if (flags.port !== undefined) options.port = integer(flags.port, '--port', 1, 65535);
  if (flags.cpus !== undefined) {
    const cpus = Number(flags.cpus);
    if (!(cpus > 0))
      throw new SlipwayError('INVALID_ARGUMENT', `--cpus "${flags.cpus}" must be a positive number, e.g. 0.5`);
    options.cpus = cpus;
  }
  if (options.detach && options.remove)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      '--rm is for foreground runs; remove a detached container with slipway container rm',
    );
  return options;
}

function integer(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new SlipwayError('INVALID_ARGUMENT', `${flag} "${value}" must be an integer from ${min} to ${max}`);
  return n;
}
