import { Command } from 'commander';
import { ContainerRuntime } from '../../runtime/containers.js';
import { run } from '../run.js';
import { psCommand } from './ps.js';

/** `slipway container rm|ls`, as `docker container rm|ls` (`slipway rm` and `slipway ps` are the short forms). */
export function containerCommand(): Command {
  const rm = new Command('rm')
    .description('Remove containers: unmount, delete their directory and upper layer, drop their layer references')
    .argument('<names...>', 'container names')
    .option('-f, --force', 'kill a running container first')
    .addHelpText(
      'after',
      `
Cached layers no container uses any more are removed by slipway gc.

Example:
  $ slipway container rm web && slipway gc`,
    )
    .action(
      run(async (ctx, names: string[], opts: { force?: boolean }) => {
        const runtime = ContainerRuntime.open(ctx.options.home);
        try {
          for (const name of names) await runtime.remove(name, { force: opts.force ?? false });
          ctx.print({ removed: names }, () => names.map((n) => `Removed ${n}`).join('\n'));
        } finally {
          runtime.close();
        }
      }),
    );
  return new Command('container')
    .description('Manage containers (rm, ls)')
    .addHelpText(
      'after',
      `
Examples:
  $ slipway container ls
  $ slipway container rm -f web`,
    )
    .addCommand(rm)
    .addCommand(psCommand().name('ls'));
}
