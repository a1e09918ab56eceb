import { Command } from 'commander';
import { collectLayerGarbage } from '../../runtime/index.js';
import { formatBytes } from '../format.js';
import { run } from '../run.js';

export function gcCommand(): Command {
  return new Command('gc')
    .description('Remove blobs no image needs, uploads that were abandoned, and cached layers no container uses')
    .option('--keep-untagged', 'keep images no tag names any more (by default they are removed first)')
    .addHelpText('after', `
Blobs that a tag, a tagged image or an operation still running needs are never removed.
Unpacked layers in the run cache go once no container (running or exited) uses them.

Example:
  $ slipway gc`)
    .action(run(async (ctx, opts: { keepUntagged?: boolean }) => {
      const store = await ctx.store();
      const pruned = opts.keepUntagged ? [] : (await store.pruneUntagged()).deleted;
      const report = { manifestsRemoved: pruned.length, ...(await store.gc({ linkGraceMs: 0 })), ...(await collectLayerGarbage(ctx.options.home)) };
      ctx.print(report, () => `Removed ${pruned.length} untagged images, ${report.blobsRemoved} blobs (${formatBytes(report.bytesFreed)}) and ${report.ingestsRemoved} abandoned uploads`
        + `\nRemoved ${report.layersRemoved} cached layers (${formatBytes(report.layerBytesFreed)}) no container uses`);
    }));
}
