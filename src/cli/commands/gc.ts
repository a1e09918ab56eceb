import { Command } from 'commander';
import { SlipwayError } from '../../errors.js';
import { collectLayerGarbage } from '../../runtime/index.js';
import { DEFAULT_GC_GRACE_MS } from '../../store/local-store.js';
import { formatBytes } from '../format.js';
import { run } from '../run.js';

export function gcCommand(): Command {
  return new Command('gc')
    .description('Remove blobs no image needs, uploads that were abandoned, and cached layers no container uses')
    .option('--keep-untagged', 'keep images no tag names any more (by default they are removed first)')
    .option(
      '--grace <seconds>',
      "keep blobs pushed and untagged images made this recently (a push in flight); the registry's --gc-grace default",
      String(DEFAULT_GC_GRACE_MS / 1000),
    )
    .addHelpText(
      'after',
      `
Blobs that a tag, a tagged image or an operation still running needs are never removed,
nor uploads in progress. Blobs pushed to a repository and untagged images younger than
the grace period are kept too: a registry serving this store may be in the middle of a
push whose manifest has not arrived yet (the same period as its online GC).
Unpacked layers in the run cache go once no container (running or exited) uses them.

Examples:
  $ slipway gc
  $ slipway gc --grace 0      # nothing is being pushed: take everything unneeded now`,
    )
    .action(
      run(async (ctx, opts: { keepUntagged?: boolean; grace: string }) => {
        const graceMs = seconds(opts.grace) * 1000;
        const store = await ctx.store();
        const createdBefore = new Date(Date.now() - graceMs).toISOString();
        const pruned = opts.keepUntagged ? [] : (await store.pruneUntagged({ createdBefore })).deleted;
        const report = {
          manifestsRemoved: pruned.length,
          ...(await store.gc({ linkGraceMs: graceMs })),
          ...(await collectLayerGarbage(ctx.options.home)),
        };
        ctx.print(
          report,
          () =>
            `Removed ${pruned.length} untagged images, ${report.blobsRemoved} blobs (${formatBytes(report.bytesFreed)}) and ${report.ingestsRemoved} abandoned uploads` +
            `\nRemoved ${report.layersRemoved} cached layers (${formatBytes(report.layerBytesFreed)}) no container uses`,
        );
      }),
    );
}

function seconds(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n))
    throw new SlipwayError('INVALID_ARGUMENT', `--grace must be a whole number of seconds, not "${value}"`);
  return n;
}
