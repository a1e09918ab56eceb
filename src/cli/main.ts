import { Command } from 'commander';

/** What `slipway --version` prints; bin/slipway.js answers a lone `--version` with package.json's, the same. */
const VERSION = '0.1.0';

/**
 * Each command's module is imported only when that command runs: a command pays
 * for its own dependencies (the registry server's, the runtime's...) and no
 * other's, which keeps `slipway run` and friends quick to start. `slipway --help`
 * loads them all to list them.
 */
const COMMANDS: [names: string[], load: () => Promise<Command>][] = [
  [['import'], async () => (await import('./commands/import.js')).importCommand()],
  [['copy'], async () => (await import('./commands/copy.js')).copyCommand()],
  [['pull'], async () => (await import('./commands/pull.js')).pullCommand()],
  [['push'], async () => (await import('./commands/push.js')).pushCommand()],
  [['promote'], async () => (await import('./commands/promote.js')).promoteCommand()],
  [['images'], async () => (await import('./commands/images.js')).imagesCommand()],
  [['inspect'], async () => (await import('./commands/inspect.js')).inspectCommand()],
  [['tag'], async () => (await import('./commands/tag.js')).tagCommand()],
  [['rm'], async () => (await import('./commands/rm.js')).rmCommand()],
  [['rmi'], async () => (await import('./commands/tag.js')).rmiCommand()],
  [['tags'], async () => (await import('./commands/registry-queries.js')).tagsCommand()],
  [['manifest'], async () => (await import('./commands/registry-queries.js')).manifestCommand()],
  [['digest'], async () => (await import('./commands/registry-queries.js')).digestCommand()],
  [['delete'], async () => (await import('./commands/registry-queries.js')).deleteCommand()],
  [['login'], async () => (await import('./commands/login.js')).loginCommand()],
  [['logout'], async () => (await import('./commands/login.js')).logoutCommand()],
  [['run'], async () => (await import('./commands/run.js')).runCommand()],
  [['ps'], async () => (await import('./commands/ps.js')).psCommand()],
  [['stop'], async () => (await import('./commands/stop.js')).stopCommand()],
  [['logs'], async () => (await import('./commands/logs.js')).logsCommand()],
  [['container'], async () => (await import('./commands/container.js')).containerCommand()],
  [['gc'], async () => (await import('./commands/gc.js')).gcCommand()],
  [['verify'], async () => (await import('./commands/verify.js')).verifyCommand()],
  [['registry'], async () => (await import('./commands/registry.js')).registryCommand()],
  [['serve'], async () => (await import('./commands/serve.js')).serveCommand()],
  [['worker'], async () => (await import('./commands/worker.js')).workerCommand()],
  [['stack'], async () => (await import('./commands/stack.js')).stackCommand()],
  [['build'], async () => (await import('./commands/build.js')).buildCommand()],
  [['builder'], async () => (await import('./commands/builder.js')).builderCommand()],
  [['buildpack'], async () => (await import('./commands/buildpack.js')).buildpackCommand()],
  [['rebase'], async () => (await import('./commands/rebase.js')).rebaseCommand()],
  [['droplet'], async () => (await import('./commands/droplet.js')).dropletCommand()],
  [['cf'], async () => (await import('./commands/cf/index.js')).cfCommand()],
  [['sbom'], async () => (await import('./commands/sbom.js')).sbomCommand()],
  [['scan'], async () => (await import('./commands/scan.js')).scanCommand()],
  [['vulndb'], async () => (await import('./commands/vulndb.js')).vulndbCommand()],
];

const program = new Command('slipway')
  .description(
    'Source to OCI images: a local image store with reproducible layers, import and export, an OCI registry and client, and a runtime',
  )
  .option('--home <dir>', 'the local store (default: $SLIPWAY_HOME or ~/.slipway)')
  .option('-q, --quiet', 'print nothing but errors')
  .option('--json', 'print the result as JSON (machine readable)')
  .showHelpAfterError('(add --help for usage and examples)')
  .addHelpText(
    'after',
    `
Examples:
  $ slipway import --rootfs ./rootfs debian:bookworm
  $ slipway copy debian:bookworm oci:/tmp/layout:bookworm
  $ slipway push debian:bookworm 127.0.0.1:5000/base/debian:bookworm
  $ slipway run debian:bookworm -- cat /etc/debian_version
  $ slipway registry serve --addr 127.0.0.1:5000`,
  );

/**
 * Commander's own errors (an unknown option or command, a missing argument) as ours
 * read, `slipway: error: ...`, with the hint to ask for help, on every command and
 * subcommand (addCommand does not pass output settings on).
 */
function withSlipwayErrors(cmd: Command): void {
  cmd.configureOutput({
    outputError: (text, write) => write(text.replace(/^error: /, 'slipway: error: ')),
  });
  cmd.showHelpAfterError('(add --help for usage and examples)');
  for (const sub of cmd.commands) withSlipwayErrors(sub);
}

/** Where the command is named on the command line: the first word that is not a global option (or its value); -1 for none. */
function commandAt(args: string[]): number {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--home') i++;
    else if (!arg.startsWith('-')) return i;
  }
  return -1;
}

/** Loads what the command line names (all commands for help, none for --version) and runs it. */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const at = commandAt(args);
  const name = at < 0 ? undefined : args[at];
  const rootArgs = at < 0 ? args : args.slice(0, at);
  const versionAsked = rootArgs.includes('--version') || rootArgs.includes('-V');
  // `-V, --version` is the root's only before a command: commander reads root options at any place,
  // so one declared always would take a command's own `--version` (`slipway cf rollback APP --version N`,
  // as the cf CLI spells it) and print Slipway's version instead.
  if (at < 0 || versionAsked) program.version(VERSION);
  const chosen = COMMANDS.find(([names]) => name !== undefined && names.includes(name));
  for (const [, load] of versionAsked ? [] : chosen ? [chosen] : COMMANDS) program.addCommand(await load());

  withSlipwayErrors(program);

  await program.parseAsync(process.argv);
}

// Not a top-level await: the bundle (scripts/build.mjs) is CommonJS, for V8's code cache.
main().catch((err: unknown) => {
  process.stderr.write(`slipway: error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
