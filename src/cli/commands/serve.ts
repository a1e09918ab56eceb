import { Command } from 'commander';
import { accessSync, constants } from 'node:fs';
import { availableParallelism } from 'node:os';
import { DEFAULT_APPS_DOMAIN, startPlatformServer } from '../../server/index.js';
import { SlipwayError } from '../../errors.js';
import { DEFAULT_GC_GRACE_MS } from '../../store/local-store.js';
import type { CliContext } from '../context.js';
import { run } from '../run.js';
import { readTls, untilSignal, wholeNumber } from '../server-flags.js';

interface ServeFlags {
  addr: string;
  tlsCert?: string;
  tlsKey?: string;
  publicUrl?: string;
  adminPasswordFile?: string;
  tokenExpiry: string;
  gcInterval: string;
  gcGrace: string;
  routerAddr?: string;
  domain: string;
  buildWorkers?: string;
  buildNetwork: string;
  run: boolean;
  database?: string;
  blobs?: string;
  s3Redirect?: boolean;
  claimTimeout: string;
  instances: string;
  kubeconfig?: string;
  namespacePrefix: string;
  registryHost?: string;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description(
      'Run the Slipway platform: a Cloud Foundry v3 API, UAA login, and a registry whose permissions are the org and space roles',
    )
    .option(
      '--addr <host:port>',
      'where to listen (API, login and registry on one address); port 0 picks a free one',
      '127.0.0.1:9000',
    )
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--public-url <url>', 'the URL clients reach this server at, when it differs (a proxy)')
    .option(
      '--admin-password-file <file>',
      'on the first start, the admin password (default: generated and printed once)',
    )
    .option(
      '--router-addr <host:port>',
      "where the router listens for apps' routes (default: --addr's host, port 8080)",
    )
    .option('--domain <name>', "the shared domain of apps' default routes (APP.<domain>)", DEFAULT_APPS_DOMAIN)
    .option(
      '--build-workers <n>',
      'builds staged at once in this process; 0 leaves them to `slipway worker`s',
      String(Math.max(1, Math.floor(availableParallelism() / 2))),
    )
    .option('--build-network <mode>', "builds' network: outbound (the internet only) or none", 'outbound')
    .option('--no-run', 'serve the API and registry only: stage nothing, run no app here')
    .option(
      '--claim-timeout <seconds>',
      'a build whose worker sent no heartbeat this long is given to another worker',
      '60',
    )
    .option(
      '--database <url>',
      'PostgreSQL (postgres://USER:PASSWORD@HOST:PORT/DB) for the metadata and the platform, shared by every node on it (default $SLIPWAY_DATABASE; else SQLite in the home)',
    )
    .option(
      '--blobs <url>',
      's3://BUCKET[/PREFIX][?endpoint=URL&region=R&path-style=true]: blobs in an S3-compatible object store shared by every node (default $SLIPWAY_BLOBS; else the home)',
    )
    .option('--s3-redirect', 'answer blob GETs with a presigned URL of the object store (307), as Distribution can')
    .option('--instances <backend>', 'where app instances run: runc (containers on this host) or kubernetes', 'runc')
    .option('--kubeconfig <file>', 'with --instances kubernetes: the cluster and credentials (default $KUBECONFIG)')
    .option(
      '--namespace-prefix <prefix>',
      'with --instances kubernetes: namespaces are PREFIX + the space GUID',
      'slipway-',
    )
    .option(
      '--registry-host <host[:port]>',
      "with --instances kubernetes: this registry as the cluster's nodes reach it (default --public-url's host, else --addr)",
    )
    .option('--token-expiry <seconds>', 'lifetime of access tokens', '600')
    .option('--gc-interval <seconds>', 'run garbage collection this often; 0 turns it off', '3600')
    .option(
      '--gc-grace <seconds>',
      'keep pushed blobs this long before their manifest arrives',
      String(DEFAULT_GC_GRACE_MS / 1000),
    )
    .addHelpText(
      'after',
      `
State lives in the store home ($SLIPWAY_HOME, ~/.slipway): the platform's database
(platform.sqlite), its signing key, and the images. The first start creates the user
"admin" (a global admin) and prints its password once, unless --admin-password-file
gives one. App images are in the registry as ORG/SPACE/APP; who may pull, push and
delete them is their CF roles (space developers push, managers and auditors pull).

Apps pushed to it are staged in the build sandbox by build workers (here, and on
any \`slipway worker\`), run as containers on this host, and reached through the
router at http://APP.<domain>:8080 (apps.localhost names 127.0.0.1 for browsers
and curl). What should run is in the database: after a restart the instances still
running are adopted, the missing ones started.

Scale out: nodes started with the same --database (PostgreSQL) and --blobs (an S3
bucket) share everything (metadata, the platform's tables, token key, worker secret,
uploads in progress, app logs) and hold nothing of their own: put them behind a load
balancer and point \`slipway worker\`s at it. One of them may run apps (--run, the
default); start the others with --no-run.

Examples:
  $ slipway serve
  $ slipway serve --no-run --build-workers 0 --database postgres://slipway@db/slipway --blobs 's3://images/prod?region=eu-west-1'
  $ slipway cf push web --path examples/nodejs && curl http://web.apps.localhost:8080/
  $ slipway serve --addr 0.0.0.0:9000 --router-addr 0.0.0.0:80 --domain apps.example.com
  $ slipway cf login -a http://127.0.0.1:9000 -u admin -p "$PASSWORD"
  $ printf %s "$PW" > /etc/slipway/admin && slipway serve --addr 0.0.0.0:443 --tls-cert cert.pem --tls-key key.pem --admin-password-file /etc/slipway/admin
  $ podman login 127.0.0.1:9000 -u alice --tls-verify=false && podman pull --tls-verify=false 127.0.0.1:9000/acme/dev/web`,
    )
    .action(
      run(async (ctx: CliContext, flags: ServeFlags) => {
        const tls = await readTls(flags);
        ctx.useStorage({
          ...(flags.database ? { database: flags.database } : {}),
          ...(flags.blobs ? { blobs: flags.blobs } : {}),
        });
        const store = await ctx.store();
        const server = await startPlatformServer({
          store,
          addr: flags.addr,
          ...(tls ? { tls } : {}),
          ...(flags.publicUrl ? { publicUrl: flags.publicUrl } : {}),
          ...(flags.adminPasswordFile ? { adminPasswordFile: flags.adminPasswordFile } : {}),
          accessTokenSeconds: wholeNumber(flags.tokenExpiry, '--token-expiry', 60),
          gcIntervalMs: wholeNumber(flags.gcInterval, '--gc-interval') * 1000,
          gcGraceMs: wholeNumber(flags.gcGrace, '--gc-grace') * 1000,
          claimStaleMs: wholeNumber(flags.claimTimeout, '--claim-timeout', 1) * 1000,
          ...(flags.s3Redirect ? { redirectBlobs: true } : {}),
          domain: flags.domain,
          ...(flags.run
            ? {
                run: {
                  routerAddr: flags.routerAddr ?? `${flags.addr.replace(/:\d+$/, '')}:8080`,
                  buildWorkers: wholeNumber(flags.buildWorkers ?? '1', '--build-workers'),
                  buildNetwork: buildNetwork(flags.buildNetwork),
                  ...instancesBackend(flags),
                },
              }
            : {}),
          warn: (message) => process.stderr.write(`slipway: warning: ${message}\n`),
        });
        const info = {
          url: server.url,
          ...(server.routerUrl ? { routerUrl: server.routerUrl } : {}),
          domain: server.domain,
          home: store.home,
          ...(server.admin ? { admin: server.admin } : {}),
        };
        ctx.print(info, () => {
          const lines = [
            `Slipway platform at ${server.url} (API, login and registry; state in ${store.home}). Stop with Ctrl-C.`,
          ];
          if (server.routerUrl)
            lines.push(
              `Apps at http://APP.${server.domain}:${new URL(server.routerUrl).port} (router ${server.routerUrl}).`,
            );
          if (server.admin?.password)
            lines.push(
              `Created the admin user "${server.admin.username}" with the password ${server.admin.password} (shown only now; change it with slipway cf passwd).`,
            );
          else if (server.admin)
            lines.push(
              `Created the admin user "${server.admin.username}" with the password from --admin-password-file.`,
            );
          lines.push(`Log in: slipway cf login -a ${server.url} -u ${server.admin?.username ?? 'admin'}`);
          return lines.join('\n');
        });
        const signal = await untilSignal();
        if (!ctx.options.quiet) process.stderr.write(`slipway: ${signal}: stopping the platform\n`);
        await server.close();
      }),
    );
}

function buildNetwork(value: string): 'outbound' | 'none' {
  if (value === 'outbound' || value === 'none') return value;
  throw new SlipwayError('INVALID_ARGUMENT', `--build-network must be outbound or none, not "${value}"`);
}

/** `--instances`: runc (nothing to add) or kubernetes with a readable kubeconfig. */
function instancesBackend(flags: ServeFlags): {
  kubernetes?: { kubeconfig: string; namespacePrefix: string; registryHost?: string };
} {
  if (flags.instances === 'runc') return {};
  if (flags.instances !== 'kubernetes')
    throw new SlipwayError('INVALID_ARGUMENT', `--instances must be runc or kubernetes, not "${flags.instances}"`);
  const kubeconfig = flags.kubeconfig ?? process.env.KUBECONFIG?.split(':')[0];
  if (!kubeconfig)
    throw new SlipwayError('INVALID_ARGUMENT', '--instances kubernetes needs --kubeconfig FILE (or $KUBECONFIG)');
  try {
    accessSync(kubeconfig, constants.R_OK);
  } catch (err) {
    throw new SlipwayError('INVALID_ARGUMENT', `cannot read the kubeconfig ${kubeconfig}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return {
    kubernetes: {
      kubeconfig,
      namespacePrefix: flags.namespacePrefix,
      ...(flags.registryHost ? { registryHost: flags.registryHost } : {}),
    },
  };
}
