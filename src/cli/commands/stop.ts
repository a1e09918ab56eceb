import { Command } from 'commander';
import { SlipwayError } from '../../errors.js';
import { ContainerRuntime, type ContainerInfo } from '../../runtime/containers.js';
import { run } from '../run.js';

export function stopCommand(): Command {
  return new Command('stop')
    .description('Stop running containers: SIGTERM, then SIGKILL after a grace period')
    .argument('<names...>', 'container names')
    .option('-t, --time <seconds>', 'seconds to wait before SIGKILL', '10')
    .addHelpText(
      'after',
      `
Containers started by slipway run have an init as PID 1 that passes SIGTERM on to the
app, which ends as it would outside a container (exit 143, or 0 when it exits cleanly);
one started with --no-init whose main process does not handle SIGTERM (a shell or
sleep as PID 1 ignores it) is killed at once.

Examples:
  $ slipway stop web
  $ slipway stop -t 30 web worker   # 30 s to shut down before SIGKILL`,
    )
    .action(
      run(async (ctx, names: string[], opts: { time: string }) => {
        const seconds = Number(opts.time);
        if (!(seconds >= 0))
          throw new SlipwayError('INVALID_ARGUMENT', `--time "${opts.time}" must be a number of seconds`);
        const runtime = ContainerRuntime.open(ctx.options.home);
        try {
          const stopped: ContainerInfo[] = [];
          for (const name of names) stopped.push(await runtime.stop(name, { timeoutMs: seconds * 1000 }));
          ctx.print(stopped, () => stopped.map((c) => `${c.name}: exited (${c.exitCode ?? '?'})`).join('\n'));
        } finally {
          runtime.close();
        }
      }),
    );
}
