import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { SlipwayError } from '../../errors.js';
import { PlatformImages } from '../../platform/staging/platform-images.js';
import { RemoteStagingQueue, type WorkerEvent } from '../../platform/staging/remote-staging-queue.js';
import { StagingWorkers } from '../../platform/staging/staging-workers.js';
import { silentProgress } from '../../progress.js';
import type { BuildNetwork } from '../../sandbox/network.js';
import type { CliContext } from '../context.js';
import { run } from '../run.js';
import { untilSignal, wholeNumber } from '../server-flags.js';

interface WorkerFlags {
  server: string;
  secretFile?: string;
  concurrency: string;
  network: BuildNetwork;
  caFile?: string;
  insecure?: boolean;
}

/** A failure the loop keeps meeting (the platform down) is shown once a minute, not at every poll. */
const REPEAT_WARNING_MS = 60_000;

export function workerCommand(): Command {
  return new Command('worker')
    .description(
      "Take builds from a Slipway platform (slipway serve), stage them here in the build sandbox, and push the images to the platform's registry",
    )
    .requiredOption('--server <url>', "the platform's URL, as slipway serve prints it")
    .addOption(
      new Option(
        '--secret-file <file>',
        "the platform's worker secret (default: $SLIPWAY_HOME/worker-secret, which slipway serve makes)",
      ).env('SLIPWAY_WORKER_SECRET_FILE'),
    )
    .option('--concurrency <n>', 'builds staged at once', '1')
    .addOption(
      new Option(
        '--network <mode>',
        "the builds' network: outbound (the internet; never the host, its loopback or private networks) or none",
      )
        .choices(['outbound', 'none'])
        .default('outbound'),
    )
    .addOption(
      new Option('--ca-file <pem>', "trust the CAs in this PEM file for the server's TLS")
        .env('SLIPWAY_CA_FILE')
        .conflicts('insecure'),
    )
    .option('--insecure', 'accept whatever TLS certificate the server presents (a self-signed one)')
    .addHelpText(
      'after',
      `
A worker takes the platform's queued builds (at most --concurrency at a time), stages
each in the build sandbox (root and runc needed) with the build's staging token,
pushes the image to the platform's registry as ORG/SPACE/APP:<build guid>, and records
it as the build's droplet. The build's stack is pulled from the platform once (again
when the platform's stack changes) into this worker's store ($SLIPWAY_HOME, ~/.slipway).

It runs until SIGINT or SIGTERM, then finishes the builds it is staging; a second
signal stops at once, and those builds go to another worker when their claims go
stale (a minute without heartbeats). Progress goes to stderr; --json prints one JSON
event per line on stdout instead (claimed, staged, failed, lost, started, stopped).

Examples:
  $ scp platform:.slipway/worker-secret /etc/slipway/worker-secret
  $ slipway worker --server https://platform.example:9000 --secret-file /etc/slipway/worker-secret --concurrency 4
  $ slipway --json worker --server http://127.0.0.1:9000 --network none`,
    )
    .action(run(async (ctx: CliContext, flags: WorkerFlags) => worker(ctx, flags)));
}

async function worker(ctx: CliContext, flags: WorkerFlags): Promise<void> {
  const concurrency = wholeNumber(flags.concurrency, '--concurrency', 1);
  const store = await ctx.store();
  const secretFile = flags.secretFile ?? join(store.home, 'worker-secret');
  const secret = (await readFile(secretFile, 'utf8').catch(() => '')).trim();
  if (!secret)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `cannot read the worker secret from ${secretFile}: copy worker-secret from the platform's $SLIPWAY_HOME and name it with --secret-file`,
      { detail: { file: secretFile } },
    );
  const ca = flags.caFile
    ? await readFile(flags.caFile, 'utf8').catch((err: unknown) => {
        throw new SlipwayError(
          'INVALID_ARGUMENT',
          `cannot read the CA file ${flags.caFile}: ${(err as Error).message}`,
        );
      })
    : undefined;
  const tls = { ...(ca ? { ca } : {}), ...(flags.insecure ? { insecure: true } : {}) };
  const say = reporter(ctx);
  const warn = warner(ctx);

  const images = new PlatformImages({
    store,
    server: flags.server,
    ...tls,
    progress: ctx.options.quiet || ctx.options.json ? silentProgress : { ...silentProgress, log: (m) => say.line(m) },
  });
  const queue = new RemoteStagingQueue({
    server: flags.server,
    secret,
    ...tls,
    beforeStaging: (job, token) => images.ensureStack(job, token),
    onEvent: say.event,
    onError: warn,
  });
  await queue.ping();
  const workers = new StagingWorkers({
    queue,
    store,
    workDir: join(store.home, 'worker-builds'),
    concurrency,
    network: flags.network,
    publish: (job, image) => images.publish(job, image, queue.stagingToken(job)),
    onError: warn,
  });
  workers.start();
  say.event({ event: 'started', server: queue.server, concurrency });
  // The loop's timers do not hold the process up (they are unref'd): this does, until a signal.
  const alive = setInterval(() => {}, 1 << 30);
  const signal = await untilSignal();
  clearInterval(alive);
  say.event({ event: 'stopping', signal });
  await workers.close();
  await queue.close();
  say.event({ event: 'stopped' });
}

type Event =
  | WorkerEvent
  | { event: 'started'; server: string; concurrency: number }
  | { event: 'stopping'; signal: string }
  | { event: 'stopped' };

/** Events as JSON lines on stdout (--json), as progress lines on stderr, or nothing (--quiet). */
function reporter(ctx: CliContext): { event: (e: Event) => void; line: (text: string) => void } {
  const line = (text: string) => {
    if (!ctx.options.quiet && !ctx.options.json) process.stderr.write(`${text}\n`);
  };
  return {
    line,
    event(e) {
      if (ctx.options.json) {
        process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`);
        return;
      }
      line(describe(e));
    },
  };
}

function describe(e: Event): string {
  switch (e.event) {
    case 'started':
      return `Taking builds from ${e.server}, ${e.concurrency} at a time. Stop with Ctrl-C.`;
    case 'claimed':
      return `Staging build ${e.build} of app ${e.app} (org ${e.org}, space ${e.space})`;
    case 'staged':
      return `Staged build ${e.build} of app ${e.app}: ${e.digest}`;
    case 'failed':
      return `Build ${e.build} of app ${e.app} failed: ${e.error}`;
    case 'lost':
      return `Build ${e.build} of app ${e.app} is no longer this worker's (its claim went stale, or the build is gone)`;
    case 'stopping':
      return `${e.signal}: finishing the builds being staged (another signal stops at once)`;
    case 'stopped':
      return 'Stopped.';
  }
}

/** Warnings on stderr (even under --json: stdout is the events'), a repeated one once a minute. */
function warner(ctx: CliContext): (err: unknown) => void {
  const last = new Map<string, number>();
  return (err) => {
    if (ctx.options.quiet) return;
    const message = err instanceof Error ? err.message : String(err);
    const at = last.get(message);
    if (at !== undefined && Date.now() - at < REPEAT_WARNING_MS) return;
    if (last.size > 100) last.clear();
    last.set(message, Date.now());
    process.stderr.write(`slipway: warning: ${message}\n`);
  };
}
