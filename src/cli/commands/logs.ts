import { Command } from 'commander';
import { copyLog } from '../../runtime/container-log.js';
import { ContainerRuntime } from '../../runtime/containers.js';
import { run } from '../run.js';

export function logsCommand(): Command {
  return new Command('logs')
    .description('Print what a detached container wrote to stdout and stderr')
    .argument('<name>', 'container name')
    .option('-f, --follow', 'keep printing new output until the container exits')
    .addHelpText(
      'after',
      `
A foreground container's output went to the terminal and is not kept.

Examples:
  $ slipway logs web
  $ slipway logs -f web`,
    )
    .action(
      run(async (ctx, name: string, opts: { follow?: boolean }) => {
        const runtime = ContainerRuntime.open(ctx.options.home);
        try {
          const write = (chunk: Buffer) =>
            new Promise<void>((resolve) =>
              process.stdout.write(chunk) ? resolve() : process.stdout.once('drain', resolve),
            );
          await copyLog(runtime.logPath(name), write, {
            follow: opts.follow ?? false,
            running: async () => (await runtime.get(name)).status !== 'exited',
          });
        } finally {
          runtime.close();
        }
      }),
    );
}
