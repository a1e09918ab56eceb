import { Command } from 'commander';
import { SlipwayError, isSlipwayError } from '../../errors.js';
import { parseLocalName } from '../../oci/reference.js';
import { ContainerRuntime } from '../../runtime/containers.js';
import type { LocalStore } from '../../store/local-store.js';
import { run } from '../run.js';

export function rmCommand(): Command {
  return new Command('rm')
    .description('Remove containers (as docker rm); images are removed with slipway rmi')
    .argument('<names...>', 'container names')
    .option('-f, --force', 'kill a running container first')
    .addHelpText(
      'after',
      `
Cached layers no container uses any more, and blobs no image needs, go at the next gc.
A name that is no container is refused, an image's name too: \`slipway rmi NAME[:TAG]\`
removes images.

Examples:
  $ slipway rm web
  $ slipway rm -f web && slipway gc`,
    )
    .action(
      run(async (ctx, names: string[], opts: { force?: boolean }) => {
        const runtime = ContainerRuntime.open(ctx.options.home);
        const removed: { container: string }[] = [];
        try {
          // Every name is checked before anything is removed: a typo removes nothing.
          for (const name of names) {
            if (!(await isContainer(runtime, name))) throw await notAContainer(name, ctx.store);
          }
          for (const name of names) {
            await runtime.remove(name, { force: opts.force ?? false });
            removed.push({ container: name });
          }
        } finally {
          runtime.close();
        }
        ctx.print(removed, () => removed.map((r) => `Removed ${r.container}`).join('\n'));
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

/** NOT_FOUND for `name`, saying so when it names an image (rm never removes images). */
async function notAContainer(name: string, openStore: () => Promise<LocalStore>): Promise<SlipwayError> {
  if (await isImage(name, openStore)) {
    return new SlipwayError(
      'INVALID_ARGUMENT',
      `${name} is an image, not a container: slipway rm removes containers only; remove the image with \`slipway rmi ${name}\``,
      { detail: { image: name } },
    );
  }
  return new SlipwayError('NOT_FOUND', `no container named ${name} (\`slipway ps\` lists them)`, {
    detail: { container: name },
  });
}

async function isImage(name: string, openStore: () => Promise<LocalStore>): Promise<boolean> {
  let ref: ReturnType<typeof parseLocalName>;
  try {
    ref = parseLocalName(name);
  } catch {
    return false;
  }
  try {
    await (await openStore()).resolve(ref.name, ref.digest ?? ref.tag ?? 'latest');
    return true;
  } catch (err) {
    if (isSlipwayError(err, 'MANIFEST_UNKNOWN') || isSlipwayError(err, 'NAME_UNKNOWN')) return false;
    throw err;
  }
}
