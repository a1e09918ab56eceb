import { Command } from 'commander';
import { startRegistryServer } from '../../server/index.js';
import { DEFAULT_GC_GRACE_MS, LocalStore } from '../../store/local-store.js';
import type { CliContext } from '../context.js';
import { run } from '../run.js';
import { readTls, untilSignal, wholeNumber } from '../server-flags.js';
import { USERS_FILE_HELP, registryUserCommands } from './registry-users.js';

interface ServeOptions {
  addr: string;
  storage?: string;
  auth?: string;
  users?: string;
  tlsCert?: string;
  tlsKey?: string;
  tokenExpiry: string;
  service: string;
  publicUrl?: string;
  gcInterval: string;
  gcGrace: string;
  gcUntagged?: boolean;
  maxUploadSize?: string;
}

async function serve(ctx: CliContext, opts: ServeOptions): Promise<void> {
  const tls = await readTls(opts);
  const store = opts.storage === undefined ? await ctx.store() : await LocalStore.open(opts.storage);
  try {
    const server = await startRegistryServer({
      store,
      addr: opts.addr,
      tokenExpirySeconds: wholeNumber(opts.tokenExpiry, '--token-expiry', 1),
      service: opts.service,
      gcIntervalMs: wholeNumber(opts.gcInterval, '--gc-interval') * 1000,
      gcGraceMs: wholeNumber(opts.gcGrace, '--gc-grace') * 1000,
      ...(opts.auth === undefined ? {} : { auth: opts.auth }),
      ...(opts.users === undefined ? {} : { usersPath: opts.users }),
      ...(tls ? { tls } : {}),
      ...(opts.publicUrl === undefined ? {} : { publicUrl: opts.publicUrl }),
      ...(opts.gcUntagged ? { gcUntagged: true } : {}),
      ...(opts.maxUploadSize === undefined
        ? {}
        : { maxUploadBytes: wholeNumber(opts.maxUploadSize, '--max-upload-size', 1) }),
      warn: (message) => process.stderr.write(`slipway: warning: ${message}\n`),
    });
    const info = {
      url: server.url,
      storage: store.home,
      auth: server.auth,
      ...(server.usersPath ? { usersFile: server.usersPath } : {}),
    };
    ctx.print(
      info,
      () =>
        `Serving the Slipway registry at ${server.url} (storage ${store.home}; auth ${server.auth}${server.usersPath ? `, users ${server.usersPath}` : ''}). Stop with Ctrl-C.`,
    );
    const signal = await untilSignal();
    if (!ctx.options.quiet) process.stderr.write(`slipway: ${signal}: stopping the registry\n`);
    await server.close();
  } finally {
    if (opts.storage !== undefined) await store.close();
  }
}

function serveCommand(): Command {
  return new Command('serve')
    .description('Serve the store as an OCI registry (Distribution Spec v1.1) with token or basic auth')
    .option('--addr <host:port>', 'where to listen; port 0 picks a free one', '127.0.0.1:5000')
    .option('--storage <dir>', 'the store to serve (default: the CLI store, $SLIPWAY_HOME or ~/.slipway)')
    .option('--auth <mode>', 'none, basic or token (default: none on a loopback address; required anywhere else)')
    .option('--users <file>', 'the users file for basic and token auth (default: STORE/registry/users.json)')
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--token-expiry <seconds>', 'lifetime of access tokens', '300')
    .option('--service <name>', "the token service name clients echo back (and the tokens' audience)", 'slipway')
    .option(
      '--public-url <url>',
      'the URL clients reach this server at, when it differs (a proxy): the token realm is URL/token',
    )
    .option('--gc-interval <seconds>', 'run garbage collection this often while serving; 0 turns it off', '3600')
    .option(
      '--gc-grace <seconds>',
      'keep pushed blobs this long before their manifest arrives (slipway gc keeps the same by default)',
      String(DEFAULT_GC_GRACE_MS / 1000),
    )
    .option(
      '--gc-untagged',
      "let GC also remove manifests no tag names (older than the grace period), as Distribution's --delete-untagged",
    )
    .option('--max-upload-size <bytes>', 'refuse blob uploads larger than this (default: no limit)')
    .addHelpText(
      'after',
      `
Images built or imported locally are pullable at once: the registry serves the CLI's
store, not a copy. Without --auth it serves anonymously, and only on a loopback
address; on any other address it refuses to start unless --auth is given (use
--auth none to serve an open registry on purpose).

Auth modes:
  token   Docker/OCI token auth: 401 with WWW-Authenticate Bearer realm=".../token",
          service, scope; the token endpoint at /token takes GET (Basic or anonymous)
          and OAuth2 POST. Tokens are ES256 JWTs signed with a key generated on first
          start (STORE/registry/token-key.jwk, mode 0600).
  basic   HTTP Basic auth against the users file on every request.
  none    everyone may do everything.
Also served: /healthz (store reachable) and /metrics (Prometheus).
${USERS_FILE_HELP}

Examples:
  $ slipway registry serve
  $ printf %s "$PASSWORD" | slipway registry user add alice --password-stdin --grant team/:pull,push,delete
  $ slipway registry anonymous --grant public/:pull
  $ slipway registry serve --addr 0.0.0.0:5000 --auth token --tls-cert cert.pem --tls-key key.pem
  $ skopeo copy --dest-creds alice:"$PASSWORD" oci:./layout:v1 docker://localhost:5000/team/app:v1`,
    )
    .action(run(serve));
}

/** `slipway registry serve|user|anonymous`. */
export function registryCommand(): Command {
  const command = new Command('registry').description(
    'The OCI registry server: serve the store, manage users and grants',
  );
  for (const sub of [serveCommand(), ...registryUserCommands()]) command.addCommand(sub);
  return command;
}
