import { Command } from 'commander';
import { containerCommand } from './commands/container.js';
import { logsCommand } from './commands/logs.js';
import { psCommand } from './commands/ps.js';
import { runCommand } from './commands/run.js';
import { stopCommand } from './commands/stop.js';

/**
 * The CLI for the container commands alone (bin/slipway.js picks it for run, ps,
 * stop, logs and container): a cached `slipway run` must start in a fraction of a
 * second, and loading the whole CLI (registry server, transports, validation) takes
 * longer than that. The global options are main.ts's, repeated.
 */
const program = new Command('slipway')
  .version('0.1.0')
  .option('--home <dir>', 'the local store (default: $SLIPWAY_HOME or ~/.slipway)')
  .option('-q, --quiet', 'print nothing but errors')
  .option('--json', 'print the result as JSON (machine readable)')
  .showHelpAfterError('(add --help for usage and examples)');

for (const command of [runCommand(), psCommand(), stopCommand(), logsCommand(), containerCommand()]) program.addCommand(command);

await program.parseAsync(process.argv);
