import { Command } from 'commander';
import { isSlipwayError } from '../../errors.js';
import { ContainerRuntime } from '../../runtime/containers.js';
import { run } from '../run.js';
import { describeRemoval, removeImages } from './tag.js';

export function rmCommand(): Command {
  return new Command('rm')
    .description('Remove containers (as docker rm); a name that is no container but an image is removed as by rmi')
    .argument('<names...>', 'container names (or images NAME[:TAG], NAME@DIGEST)')
    .option('-f, --force', 'kill a running container first')
    .addHelpText(
      'after',
      `
Cached layers no container uses any more, and blobs no image needs, go at the next gc.

Examples:
  $ slipway rm web
  $ slipway rm -f web && slipway gc`,
    )
    .action(
      run(async (ctx, names: string[], opts: { force?: boolean }) => {
        const runtime = ContainerRuntime.open(ctx.options.home);
        const removed: { container?: string; image?: string; text: string }[] = [];
        try {
          for (const name of names) {
            if (await isContainer(runtime, name)) {
              await runtime.remove(name, { force: opts.force ?? false });
              removed.push({ container: name, text: `Removed ${name}` });
            } else {
              const [report] = await removeImages(await ctx.store(), [name]);
              removed.push({ image: name, text: describeRemoval(report!) });
            }
          }
        } finally {
          runtime.close();
        }
        ctx.print(
          removed.map(({ text: _text, ...r }) => r),
          () => removed.map((r) => r.text).join('\n'),
        );
      }),
    );
}

async function isContainer(runtime: ContainerRuntime, name: string): Promise<boolean> {
  try {
    await runtime.get(name);
    return true;
  } catch (err) {
    if (isSlipwayError(err, 'NOT_FOUND') || isSlipwayError(err, 'INVALID_ARGUMENT')) return false;
    throw err;
  }
}
