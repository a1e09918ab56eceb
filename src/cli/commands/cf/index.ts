import { Command } from 'commander';

/**
 * `slipway cf <command>`: the platform half of the CLI, the cf CLI's commands against
 * `slipway serve` (or any Cloud Foundry v3 API). As in main.ts, only the module of
 * the command that runs is imported; `slipway cf --help` loads them all to list them.
 */
const CF_COMMANDS: [name: string, load: () => Promise<Command>][] = [
  ['login', async () => (await import('./login.js')).loginCommand()],
  ['logout', async () => (await import('./login.js')).logoutCommand()],
  ['target', async () => (await import('./login.js')).targetCommand()],
  ['passwd', async () => (await import('./login.js')).passwdCommand()],
  ['orgs', async () => (await import('./orgs.js')).orgsCommand()],
  ['create-org', async () => (await import('./orgs.js')).createOrgCommand()],
  ['delete-org', async () => (await import('./orgs.js')).deleteOrgCommand()],
  ['spaces', async () => (await import('./spaces.js')).spacesCommand()],
  ['create-space', async () => (await import('./spaces.js')).createSpaceCommand()],
  ['delete-space', async () => (await import('./spaces.js')).deleteSpaceCommand()],
  ['create-user', async () => (await import('./users.js')).createUserCommand()],
  ['org-users', async () => (await import('./users.js')).orgUsersCommand()],
  ['space-users', async () => (await import('./users.js')).spaceUsersCommand()],
  ['set-org-role', async () => (await import('./roles.js')).setOrgRoleCommand()],
  ['set-space-role', async () => (await import('./roles.js')).setSpaceRoleCommand()],
  ['unset-org-role', async () => (await import('./roles.js')).unsetOrgRoleCommand()],
  ['unset-space-role', async () => (await import('./roles.js')).unsetSpaceRoleCommand()],
  ['apps', async () => (await import('./apps.js')).appsCommand()],
  ['events', async () => (await import('./apps.js')).eventsCommand()],
  ['push', async () => (await import('./push.js')).pushCommand()],
  ['app', async () => (await import('./app.js')).appCommand()],
  ['start', async () => (await import('./app.js')).startCommand()],
  ['stop', async () => (await import('./app.js')).stopCommand()],
  ['restart', async () => (await import('./app.js')).restartCommand()],
  ['restage', async () => (await import('./app.js')).restageCommand()],
  ['scale', async () => (await import('./app.js')).scaleCommand()],
  ['delete', async () => (await import('./app.js')).deleteCommand()],
  ['logs', async () => (await import('./logs.js')).logsCommand()],
  ['env', async () => (await import('./env.js')).envCommand()],
  ['set-env', async () => (await import('./env.js')).setEnvCommand()],
  ['unset-env', async () => (await import('./env.js')).unsetEnvCommand()],
  ['routes', async () => (await import('./routes.js')).routesCommand()],
  ['domains', async () => (await import('./routes.js')).domainsCommand()],
  ['create-route', async () => (await import('./routes.js')).createRouteCommand()],
  ['delete-route', async () => (await import('./routes.js')).deleteRouteCommand()],
  ['map-route', async () => (await import('./routes.js')).mapRouteCommand()],
  ['unmap-route', async () => (await import('./routes.js')).unmapRouteCommand()],
  ['builds', async () => (await import('./releases.js')).buildsCommand()],
  ['droplets', async () => (await import('./releases.js')).dropletsCommand()],
  ['download-droplet', async () => (await import('./download-droplet.js')).downloadDropletCommand()],
  ['deployments', async () => (await import('./releases.js')).deploymentsCommand()],
  ['cancel-deployment', async () => (await import('./releases.js')).cancelDeploymentCommand()],
  ['revisions', async () => (await import('./releases.js')).revisionsCommand()],
  ['rollback', async () => (await import('./releases.js')).rollbackCommand()],
  ['update-stack', async () => (await import('./stacks.js')).updateStackCommand()],
  ['create-api-token', async () => (await import('./api-tokens.js')).createApiTokenCommand()],
  ['api-tokens', async () => (await import('./api-tokens.js')).apiTokensCommand()],
  ['delete-api-token', async () => (await import('./api-tokens.js')).deleteApiTokenCommand()],
];

/** The second word on the command line that is not an option (or the value of --home): the one after `cf`. */
function subcommandName(args: string[]): string | undefined {
  const words: string[] = [];
  for (let i = 0; i < args.length && words.length < 2; i++) {
    const arg = args[i]!;
    if (arg === '--home') i++;
    else if (!arg.startsWith('-')) words.push(arg);
  }
  return words[0] === 'cf' ? words[1] : undefined;
}

export async function cfCommand(args: string[] = process.argv.slice(2)): Promise<Command> {
  const command = new Command('cf')
    .description(
      "The platform: log in to `slipway serve`, manage orgs, spaces, users and roles, push and run apps, with the cf CLI's commands",
    )
    .addHelpText(
      'after',
      `
The target and the tokens are kept in ~/.slipway/config.json (or $SLIPWAY_CF_CONFIG),
mode 0600. Every command takes --json.

Examples:
  $ slipway cf login -a http://127.0.0.1:9000 -u admin
  $ slipway cf create-org acme && slipway cf create-space dev -o acme
  $ slipway cf create-user alice "$PASSWORD"
  $ slipway cf set-space-role alice acme dev SpaceDeveloper
  $ slipway cf target -o acme -s dev && slipway cf apps
  $ slipway cf push web -p examples/nodejs && slipway cf logs web --recent`,
    );
  const name = subcommandName(args);
  const chosen = CF_COMMANDS.find(([n]) => n === name);
  for (const [, load] of chosen ? [chosen] : CF_COMMANDS) command.addCommand(await load());
  return command;
}
