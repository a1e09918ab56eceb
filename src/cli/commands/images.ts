import { Command } from 'commander';
import { listImages } from '../../catalog/images.js';
import { formatBytes, shortDigest, table } from '../format.js';
import { run } from '../run.js';

export function imagesCommand(): Command {
  return new Command('images')
    .description('List the images in the local store')
    .addHelpText(
      'after',
      `
--json prints an array of {name, tag, digest, size, created} (sizes in bytes).

Examples:
  $ slipway images
  $ slipway images --json | jq -r '.[].digest'`,
    )
    .action(
      run(async (ctx) => {
        const images = await listImages(await ctx.store());
        ctx.print(images, () =>
          table(
            ['NAME', 'TAG', 'DIGEST', 'SIZE', 'CREATED'],
            images.map((i) => [i.name, i.tag, shortDigest(i.digest), formatBytes(i.size), i.created]),
          ),
        );
      }),
    );
}
