import { Command } from 'commander';
import { formatBytes } from '../format.js';
import { run } from '../run.js';

export function gcCommand(): Command {
  return new Command('gc')
    .description('Remove blobs no image needs and uploads that were abandoned')
    .addHelpText('after', `
Blobs that a tag, a stored manifest or an operation still running needs are never removed.

Example:
  $ slipway gc`)
    .action(run(async (ctx) => {
      const report = await (await ctx.store()).gc({ linkGraceMs: 0 });
      ctx.print(report, () => `Removed ${report.blobsRemoved} blobs (${formatBytes(report.bytesFreed)}) and ${report.ingestsRemoved} abandoned uploads`);
    }));
}
