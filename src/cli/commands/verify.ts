import { Command } from 'commander';
import { run } from '../run.js';

export function verifyCommand(): Command {
  return new Command('verify')
    .description('Check the whole store: re-hash every blob, and check every tag and manifest finds what it needs')
    .addHelpText(
      'after',
      `
Exits 1 and lists the problems when the store is damaged.

Example:
  $ slipway verify`,
    )
    .action(
      run(async (ctx) => {
        const report = await (await ctx.store()).verify();
        ctx.print(report, () =>
          report.problems.length === 0
            ? `Store is healthy: ${report.blobsChecked} blobs checked`
            : `Store has ${report.problems.length} problems:\n${report.problems.map((p) => `  - ${p.message}`).join('\n')}`,
        );
        if (report.problems.length > 0) process.exitCode = 1;
      }),
    );
}
