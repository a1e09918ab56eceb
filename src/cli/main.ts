import { Command } from 'commander';
import { copyCommand } from './commands/copy.js';
import { loginCommand, logoutCommand } from './commands/login.js';
import { promoteCommand } from './commands/promote.js';
import { pullCommand } from './commands/pull.js';
import { pushCommand } from './commands/push.js';
import { deleteCommand, digestCommand, manifestCommand, tagsCommand } from './commands/registry-queries.js';
import { gcCommand } from './commands/gc.js';
import { imagesCommand } from './commands/images.js';
import { importCommand } from './commands/import.js';
import { inspectCommand } from './commands/inspect.js';
import { registryCommand } from './commands/registry.js';
import { stackCommand } from './commands/stack.js';
import { rmCommand, tagCommand } from './commands/tag.js';
import { verifyCommand } from './commands/verify.js';
import { containerCommand } from './commands/container.js';
import { logsCommand } from './commands/logs.js';
import { psCommand } from './commands/ps.js';
import { runCommand } from './commands/run.js';
import { stopCommand } from './commands/stop.js';

const program = new Command('slipway')
  .description('Source to OCI images: a local image store with reproducible layers, import and export, and an OCI registry')
  .version('0.1.0')
  .option('--home <dir>', 'the local store (default: $SLIPWAY_HOME or ~/.slipway)')
  .option('-q, --quiet', 'print nothing but errors')
  .option('--json', 'print the result as JSON (machine readable)')
  .showHelpAfterError('(add --help for usage and examples)')
  .addHelpText('after', `
Examples:
  $ slipway import --rootfs ./rootfs debian:bookworm
  $ slipway copy debian:bookworm oci:/tmp/layout:bookworm
  $ slipway inspect debian:bookworm
  $ slipway run debian:bookworm -- cat /etc/debian_version
  $ slipway registry serve --addr 127.0.0.1:5000`);

for (const command of [
  importCommand(), copyCommand(), pullCommand(), pushCommand(), promoteCommand(),
  imagesCommand(), inspectCommand(), tagCommand(), rmCommand(),
  tagsCommand(), manifestCommand(), digestCommand(), deleteCommand(), loginCommand(), logoutCommand(),
  runCommand(), psCommand(), stopCommand(), logsCommand(), containerCommand(),
  gcCommand(), verifyCommand(), registryCommand(), stackCommand(),
]) {
  program.addCommand(command);
}

await program.parseAsync(process.argv);
