import { Command } from 'commander';
import { SlipwayError } from '../../errors.js';
import { hashPassword } from '../../auth/password.js';
import {
  checkUserName,
  defaultUsersPath,
  parseGrant,
  readUsersFileOrEmpty,
  writeUsersFile,
  type Grant,
  type Permissions,
} from '../../auth/users-file.js';
import type { CliContext } from '../context.js';
import { table } from '../format.js';
import { run } from '../run.js';

const collect = (value: string, previous: string[]) => [...previous, value];

export const USERS_FILE_HELP = `
The users file (JSON, mode 0600; default $SLIPWAY_HOME/registry/users.json):
  {
    "users": {
      "alice": { "passwordHash": "$argon2id$v=19$...", "grants": [{ "prefix": "team/", "actions": ["pull", "push", "delete"] }], "catalog": true }
    },
    "anonymous": { "grants": [{ "prefix": "public/", "actions": ["pull"] }], "catalog": false }
  }
A prefix covers whole path segments (team/ covers team/app, not teammate/app); * covers
every repository. Actions: pull, push, delete, or * for all. "catalog" allows listing all
repositories. Anonymous grants apply to everyone. A running server rereads the file
within a second of a change.`;

/** Where the users file is: --users, else under the store home. */
async function usersPath(ctx: CliContext, users: string | undefined): Promise<string> {
  return users ?? defaultUsersPath((await ctx.store()).home);
}

/** Reads a password from stdin, without the one newline `echo` adds. */
async function readPasswordFromStdin(): Promise<string> {
  if (process.stdin.isTTY)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      '--password-stdin reads the password from a pipe, e.g. printf %s "$PASSWORD" | slipway registry user add NAME --password-stdin',
    );
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function describeGrants(p: Permissions): string {
  const grants = p.grants.map((g) => `${g.prefix}:${g.actions.join(',')}`);
  if (p.catalog) grants.push('catalog');
  return grants.join(' ') || '(nothing)';
}

function userAddCommand(): Command {
  return new Command('add')
    .description('Add a registry user, or change their password or grants')
    .argument('<name>', 'the user name')
    .option('--password-stdin', 'read the password from stdin (never from the command line)')
    .option(
      '--grant <PREFIX:ACTIONS>',
      'what the user may do, e.g. team/:pull,push,delete (repeatable; replaces their grants)',
      collect,
      [],
    )
    .option('--catalog', 'allow listing every repository (GET /v2/_catalog)')
    .option('--users <file>', 'the users file (default: $SLIPWAY_HOME/registry/users.json)')
    .addHelpText(
      'after',
      `${USERS_FILE_HELP}

A new user needs --password-stdin. For an existing user, --password-stdin changes the
password and --grant/--catalog replace the grants; what is not given is kept.

Examples:
  $ printf %s "$PASSWORD" | slipway registry user add alice --password-stdin --grant team/:pull,push,delete --catalog
  $ slipway registry user add bob --grant team/:pull --grant public/:pull,push`,
    )
    .action(
      run(
        async (
          ctx,
          name: string,
          opts: { passwordStdin?: boolean; grant: string[]; catalog?: boolean; users?: string },
        ) => {
          checkUserName(name);
          const grants: Grant[] = opts.grant.map(parseGrant);
          const path = await usersPath(ctx, opts.users);
          const file = await readUsersFileOrEmpty(path);
          const existing = Object.hasOwn(file.users, name) ? file.users[name] : undefined;
          if (!existing && !opts.passwordStdin)
            throw new SlipwayError(
              'INVALID_ARGUMENT',
              `${name} is a new user and needs a password: printf %s "$PASSWORD" | slipway registry user add ${name} --password-stdin --grant PREFIX:ACTIONS`,
            );
          const passwordHash = opts.passwordStdin
            ? await hashPassword(await readPasswordFromStdin())
            : existing!.passwordHash;
          const entry = {
            passwordHash,
            grants: opts.grant.length > 0 || !existing ? grants : existing.grants,
            catalog: opts.catalog ?? existing?.catalog ?? false,
          };
          file.users[name] = entry;
          await writeUsersFile(path, file);
          const out = { user: name, created: !existing, grants: entry.grants, catalog: entry.catalog, usersFile: path };
          ctx.print(out, () => `${existing ? 'Updated' : 'Added'} user ${name} (${describeGrants(entry)}) in ${path}`);
        },
      ),
    );
}

function userRmCommand(): Command {
  return new Command('rm')
    .description('Remove a registry user (tokens already issued to them last until they expire, 5 minutes by default)')
    .argument('<name>', 'the user name')
    .option('--users <file>', 'the users file (default: $SLIPWAY_HOME/registry/users.json)')
    .action(
      run(async (ctx, name: string, opts: { users?: string }) => {
        const path = await usersPath(ctx, opts.users);
        const file = await readUsersFileOrEmpty(path);
        if (!Object.hasOwn(file.users, name))
          throw new SlipwayError('NOT_FOUND', `there is no user ${name} in ${path}`);
        delete file.users[name];
        await writeUsersFile(path, file);
        ctx.print({ user: name, removed: true }, () => `Removed user ${name} from ${path}`);
      }),
    );
}

function userListCommand(): Command {
  return new Command('list')
    .alias('ls')
    .description('List registry users and what they may do (never their password hashes)')
    .option('--users <file>', 'the users file (default: $SLIPWAY_HOME/registry/users.json)')
    .action(
      run(async (ctx, opts: { users?: string }) => {
        const file = await readUsersFileOrEmpty(await usersPath(ctx, opts.users));
        const users = Object.entries(file.users).map(([user, e]) => ({
          user,
          grants: e.grants,
          catalog: e.catalog ?? false,
        }));
        const rows = [
          ...users.map((u) => [u.user, describeGrants(u)]),
          ['(anonymous)', describeGrants(file.anonymous)],
        ];
        ctx.print({ users, anonymous: file.anonymous }, () => table(['USER', 'GRANTS'], rows));
      }),
    );
}

function anonymousCommand(): Command {
  return new Command('anonymous')
    .description('Set what anyone may do without signing in (anonymous pull per repository prefix)')
    .option('--grant <PREFIX:ACTIONS>', 'e.g. public/:pull (repeatable; replaces the anonymous grants)', collect, [])
    .option('--catalog', 'allow anyone to list every repository')
    .option('--none', 'allow nothing anonymously')
    .option('--users <file>', 'the users file (default: $SLIPWAY_HOME/registry/users.json)')
    .addHelpText(
      'after',
      `
Examples:
  $ slipway registry anonymous --grant public/:pull
  $ slipway registry anonymous --none`,
    )
    .action(
      run(async (ctx, opts: { grant: string[]; catalog?: boolean; none?: boolean; users?: string }) => {
        const granting = opts.grant.length > 0 || opts.catalog === true;
        if (Boolean(opts.none) === granting) {
          throw new SlipwayError('INVALID_ARGUMENT', 'give --grant PREFIX:ACTIONS (and/or --catalog), or --none');
        }
        const path = await usersPath(ctx, opts.users);
        const file = await readUsersFileOrEmpty(path);
        file.anonymous = { grants: opts.grant.map(parseGrant), catalog: opts.catalog ?? false };
        await writeUsersFile(path, file);
        ctx.print(
          { anonymous: file.anonymous, usersFile: path },
          () => `Anonymous access: ${describeGrants(file.anonymous)} (${path})`,
        );
      }),
    );
}

/** `slipway registry user add|rm|list` and `slipway registry anonymous`. */
export function registryUserCommands(): Command[] {
  const user = new Command('user')
    .description('Manage the registry users file (users, passwords, grants)')
    .addCommand(userAddCommand())
    .addCommand(userRmCommand())
    .addCommand(userListCommand());
  return [user, anonymousCommand()];
}
