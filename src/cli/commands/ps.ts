import { Command } from 'commander';
import { ContainerRuntime } from '../../runtime/containers.js';
import { table } from '../format.js';
import { run } from '../run.js';

export function psCommand(): Command {
  return new Command('ps')
    .description('List containers (running and exited)')
    .option('-a, --all', 'list every container, running and exited (the default; accepted as in docker ps -a)')
    .addHelpText(
      'after',
      `
--json prints an array of {name, id, image, digest, status, initPid, exitCode, detached,
command, created, started, finished, error}.

Examples:
  $ slipway ps
  $ slipway ps -a
  $ slipway ps --json | jq -r '.[] | select(.status == "running") | .name'`,
    )
    .action(
      run(async (ctx) => {
        const runtime = ContainerRuntime.open(ctx.options.home);
        try {
          const containers = await runtime.list();
          ctx.print(containers, () =>
            table(
              ['NAME', 'IMAGE', 'STATUS', 'COMMAND', 'CREATED'],
              containers.map((c) => [
                c.name,
                c.image,
                c.status === 'exited' ? `exited (${c.exitCode ?? '?'})` : c.status,
                c.command.join(' '),
                c.created,
              ]),
            ),
          );
        } finally {
          runtime.close();
        }
      }),
    );
}
