import { Command, Option } from 'commander';
import { createInterface } from 'node:readline/promises';
import { SlipwayError } from '../../errors.js';
import { login, logout } from '../../registry/client/login.js';
import { run } from '../run.js';

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  authfile?: string;
  insecure?: boolean;
  caFile?: string;
}

export function loginCommand(): Command {
  return new Command('login')
    .description('Check credentials against a registry and save them (where docker login does)')
    .argument('<host>', 'the registry, HOST[:PORT]')
    .option('-u, --username <user>', 'user name (asked for on a terminal if missing)')
    .option('-p, --password <password>', 'password (prefer --password-stdin: flags show in ps)')
    .option('--password-stdin', 'read the password from standard input')
    .addOption(
      new Option(
        '--authfile <file>',
        'save to this file (default: $REGISTRY_AUTH_FILE, else ~/.docker/config.json)',
      ).env('REGISTRY_AUTH_FILE'),
    )
    .option('--insecure', 'use plain http (loopback registries always do)')
    .addOption(new Option('--ca-file <pem>', 'trust the CAs in this PEM file for TLS').env('SLIPWAY_CA_FILE'))
    .addHelpText(
      'after',
      `
Credentials are saved base64-encoded in the auth file's "auths" (mode 0600), or
given to the credential helper the file names (credHelpers / credsStore).

Examples:
  $ echo "$TOKEN" | slipway login registry.example -u ci --password-stdin
  $ slipway login 127.0.0.1:5000 -u admin`,
    )
    .action(
      run(async (ctx, host: string, opts: LoginFlags) => {
        const username = opts.username ?? (await ask('Username: '));
        const password = opts.passwordStdin
          ? (await readStdin()).replace(/\r?\n$/, '')
          : (opts.password ?? (await ask('Password: ', true)));
        if (!username || !password)
          throw new SlipwayError(
            'INVALID_ARGUMENT',
            'login needs a user name and a password: -u USER and --password-stdin (or -p)',
          );
        const saved = await login(
          host,
          { username, password },
          {
            ...(opts.authfile ? { authFile: opts.authfile } : {}),
            registries: {
              ...(opts.insecure ? { insecure: true } : {}),
              ...(opts.caFile ? { caFile: opts.caFile } : {}),
            },
          },
        );
        ctx.print(
          { host, username, ...saved },
          () => `Login Succeeded (saved to ${saved.helper ? `docker-credential-${saved.helper}` : saved.file})`,
        );
      }),
    );
}

export function logoutCommand(): Command {
  return new Command('logout')
    .description('Forget the saved credentials for a registry')
    .argument('<host>', 'the registry, HOST[:PORT]')
    .addOption(
      new Option('--authfile <file>', 'the auth file (default: $REGISTRY_AUTH_FILE, else ~/.docker/config.json)').env(
        'REGISTRY_AUTH_FILE',
      ),
    )
    .addHelpText(
      'after',
      `
Example:
  $ slipway logout registry.example`,
    )
    .action(
      run(async (ctx, host: string, opts: { authfile?: string }) => {
        const removed = await logout(host, opts.authfile ? { authFile: opts.authfile } : {});
        if (!removed) throw new SlipwayError('NOT_FOUND', `not logged in to ${host}`);
        ctx.print({ host, removed }, () => `Removed login credentials for ${host}`);
      }),
    );
}

async function ask(prompt: string, secret = false): Promise<string> {
  if (!process.stdin.isTTY)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `${prompt.replace(/: $/, '').toLowerCase()} missing: pass -u USER and --password-stdin`,
    );
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (secret) {
    // echo nothing while the password is typed
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
      if (s.includes(prompt)) process.stderr.write(prompt);
    };
  }
  try {
    return (await rl.question(prompt)).trim();
  } finally {
    rl.close();
    if (secret) process.stderr.write('\n');
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
