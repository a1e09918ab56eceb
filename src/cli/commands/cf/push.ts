import { Command } from 'commander';
import { SlipwayError } from '../../../errors.js';
import { cfAction } from '../../cf/action.js';
import { apiStatus, cfErrorOf } from '../../cf/api-errors.js';
import { gatherAppFiles } from '../../cf/app-files.js';
import {
  createDeployment,
  pollDeployment,
  pollStart,
  setCurrentDroplet,
  stagePackage,
  type Talk,
} from '../../cf/app-start.js';
import { type AppSummary, appSummary, renderSummary } from '../../cf/app-summary.js';
import { type UploadReport, uploadBits } from '../../cf/bits-upload.js';
import type { CfJob } from '../../cf/cf-client.js';
import { type CfApp, appByName } from '../../cf/lookups.js';
import { locateManifest, pushManifest, readVars } from '../../cf/manifest.js';
import type { CfSession } from '../../cf/session.js';
import { megabytes, positiveInt } from '../../cf/units.js';

interface PushOptions {
  path?: string;
  buildpack?: string[];
  stack?: string;
  instances?: string;
  memory?: string;
  disk?: string;
  startCommand?: string;
  healthCheckType?: string;
  endpoint?: string;
  appStartTimeout?: string;
  manifest?: string | false;
  start: boolean;
  route: boolean;
  randomRoute?: boolean;
  strategy?: string;
  maxInFlight?: string;
  autoRebase: boolean;
  var: string[];
  varsFile: string[];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function pushCommand(): Command {
  return new Command('push')
    .description('Push a new app or sync changes to an existing app: upload, stage, start')
    .argument('[APP]', 'the app (default: every app of the manifest)')
    .option('-p, --path <DIR>', 'Path to the app directory (default: the manifest path, else the current directory)')
    .option('-b, --buildpack <BUILDPACK>', 'Buildpack by name (e.g. slipway/procfile); repeat for several', collect)
    .option('-s, --stack <STACK>', 'Stack to use')
    .option('-i, --instances <N>', 'Number of instances')
    .option('-m, --memory <MEM>', 'Memory limit (e.g. 256M, 1024M, 1G)')
    .option('-k, --disk <DISK>', 'Disk limit (e.g. 256M, 1024M, 1G)')
    .option('-c, --start-command <CMD>', "Startup command, 'null' for the droplet's own")
    .option('-u, --health-check-type <TYPE>', 'Application health check type: port, process or http')
    .option('--endpoint <PATH>', 'Path on the app for the http health check')
    .option(
      '-t, --app-start-timeout <SECONDS>',
      'Seconds allowed between starting the app and its first healthy answer',
    )
    .option('-f, --manifest <PATH>', 'Path to manifest (a file, or a directory with manifest.yml)')
    .option('--no-manifest', 'Ignore the manifest file')
    .option('--no-start', 'Do not stage and start the app after pushing')
    .option('--no-route', 'Do not map a route to this app')
    .option('--random-route', 'Create a random route for this app')
    .option('--strategy <STRATEGY>', "Deployment strategy: 'rolling' (no downtime), or none")
    .option('--max-in-flight <N>', 'With --strategy rolling: instances started at once')
    .option('--no-auto-rebase', "Pin the app to its stack version: stack updates leave it as it is (Slipway's setting)")
    .option('--var <NAME=VALUE>', 'A ((variable)) of the manifest; repeat for several', collect, [])
    .option('--vars-file <FILE>', 'A YAML file of ((variables)) for the manifest; repeat for several', collect, [])
    .addHelpText(
      'after',
      `
The app directory is walked as the cf CLI does: .cfignore (gitignore syntax) and the
default ignores (.git, .gitignore, .cfignore, manifest.yml, ...) leave files out;
files the platform already has (same sha1) are not uploaded again. The manifest (with
the flags laid over it) is applied by the server, which warns about keys it ignores.

Examples:
  $ slipway cf push web --path examples/nodejs
  $ slipway cf push hello -p examples/procfile -b slipway/procfile -i 2 -m 128M
  $ slipway cf push -f manifest.yml --var env=staging
  $ slipway cf push web --strategy rolling
  $ slipway cf push web --json        # what was uploaded, the build, the droplet, the summary`,
    )
    .action(
      cfAction(async (s: CfSession, appName: string | undefined, o: PushOptions) => {
        const user = await s.check({ org: true, space: true });
        const org = s.org();
        const space = s.space();
        if (o.route === false && o.randomRoute)
          throw new SlipwayError(
            'INVALID_ARGUMENT',
            'Incorrect Usage: --no-route and --random-route cannot be used together.',
          );
        if (o.strategy !== undefined && o.strategy !== 'rolling' && o.strategy !== 'null')
          throw new SlipwayError(
            'INVALID_ARGUMENT',
            `Incorrect Usage: --strategy must be 'rolling' or 'null', not '${o.strategy}'`,
          );
        const strategy = o.strategy === 'rolling' ? 'rolling' : undefined;
        if (o.maxInFlight !== undefined && !strategy)
          throw new SlipwayError('INVALID_ARGUMENT', 'Incorrect Usage: --max-in-flight needs --strategy rolling');
        if (!o.start && strategy)
          throw new SlipwayError(
            'INVALID_ARGUMENT',
            'Incorrect Usage: --no-start and --strategy=rolling cannot be used together.',
          );
        const instances = o.instances === undefined ? undefined : positiveInt(o.instances, '--instances');
        if (o.memory !== undefined) megabytes(o.memory, '--memory');
        if (o.disk !== undefined) megabytes(o.disk, '--disk');
        const cwd = process.cwd();
        const file = o.manifest === false ? undefined : await locateManifest(o.manifest, cwd);
        if (!file && appName === undefined)
          throw new SlipwayError(
            'INVALID_ARGUMENT',
            'Incorrect Usage: The push command requires an app name. The app name can be supplied as an argument or with a manifest.yml file.',
          );
        const manifest = await pushManifest({
          cwd,
          ...(file ? { file } : {}),
          ...(appName !== undefined ? { appName } : {}),
          vars: await readVars(o.varsFile, o.var),
          flags: {
            ...(o.path !== undefined ? { path: o.path } : {}),
            ...(o.buildpack ? { buildpacks: o.buildpack } : {}),
            ...(o.stack !== undefined ? { stack: o.stack } : {}),
            ...(instances !== undefined ? { instances } : {}),
            ...(o.memory !== undefined ? { memory: o.memory } : {}),
            ...(o.disk !== undefined ? { disk: o.disk } : {}),
            ...(o.startCommand !== undefined ? { command: o.startCommand } : {}),
            ...(o.healthCheckType !== undefined ? { healthCheckType: o.healthCheckType } : {}),
            ...(o.endpoint !== undefined ? { endpoint: o.endpoint } : {}),
            ...(o.appStartTimeout !== undefined
              ? { timeout: positiveInt(o.appStartTimeout, '--app-start-timeout', 1) }
              : {}),
            ...(o.route === false ? { noRoute: true } : {}),
            ...(o.randomRoute ? { randomRoute: true } : {}),
            ...(strategy ? { strategy } : {}),
          },
        });
        const names = manifest.apps.map((a) => a.name);
        s.say(
          `Pushing app${names.length > 1 ? 's' : ''} ${names.join(', ')} to org ${org.name} / space ${space.name} as ${user.name}...`,
        );
        if (manifest.file) s.say(`Applying manifest file ${manifest.file}...`);
        const applied = await s.client.request<unknown>('POST', `/v3/spaces/${space.guid}/actions/apply_manifest`, {
          body: manifest.yaml,
          contentType: 'application/x-yaml',
        });
        const job: CfJob | undefined = applied.location ? await s.client.pollJob(applied.location) : undefined;
        const manifestWarnings = (job?.warnings ?? []).map((w) => w.detail ?? '').filter(Boolean);
        if (manifest.file) s.say('Manifest applied');
        const talk: Talk = { say: (l = '') => s.say(l), warn: (l) => s.warn(l) };
        const results = [];
        for (const target of manifest.apps) {
          const app = await appByName(s.client, target.name, space.guid);
          if (!o.autoRebase) await pinApp(s, app);
          const { root, files } = await gatherAppFiles(target.path);
          const { pkg, report } = await uploadBits(s.client, app.guid, root, files, {
            say: (l) => s.say(l),
            progress: s.ctx.progress(),
          });
          const result: PushResult = {
            name: app.name,
            guid: app.guid,
            path: target.path,
            manifest_warnings: manifestWarnings,
            auto_rebase: o.autoRebase,
            upload: uploadJson(report),
            package: pkg.guid,
            build: null,
            droplet: null,
            deployment: null,
            summary: null,
          };
          let failure: unknown;
          try {
            if (!o.start) {
              if (app.state === 'STARTED') {
                s.say('Stopping Application...');
                await s.client.post(`/v3/apps/${app.guid}/actions/stop`, {});
                s.say('Application Stopped');
              }
            } else {
              s.say();
              s.say('Staging app and tracing logs...');
              const staged = await stagePackage(s.client, talk, app.guid, pkg.guid, { showLogs: s.human });
              result.build = staged.build.guid;
              result.droplet = staged.dropletGuid;
              if (strategy) {
                s.say();
                s.say(`Starting deployment for app ${app.name}...`);
                const d = await createDeployment(s.client, {
                  appGuid: app.guid,
                  dropletGuid: staged.dropletGuid,
                  ...(o.maxInFlight !== undefined
                    ? { maxInFlight: positiveInt(o.maxInFlight, '--max-in-flight', 1) }
                    : {}),
                  ...(instances !== undefined ? { instances } : {}),
                  ...(o.memory !== undefined ? { memoryMb: megabytes(o.memory, '--memory') } : {}),
                  ...(o.disk !== undefined ? { diskMb: megabytes(o.disk, '--disk') } : {}),
                });
                result.deployment = d.guid;
                s.say('Waiting for app to deploy...');
                s.say();
                await pollDeployment(s.client, talk, app, d.guid);
              } else {
                await setCurrentDroplet(s.client, app.guid, staged.dropletGuid);
                await s.client.post(`/v3/apps/${app.guid}/actions/restart`, {});
                s.say();
                s.say(`Waiting for app ${app.name} to start...`);
                s.say();
                await pollStart(s.client, talk, app);
              }
            }
          } catch (err) {
            // The cf CLI shows the summary of an app whose instances all crashed, then fails.
            if (!(err instanceof SlipwayError && err.message.startsWith('Start unsuccessful'))) throw err;
            failure = err;
          }
          result.summary = await appSummary(s.client, app);
          s.say();
          s.say(renderSummary(result.summary, { startCommand: true }));
          results.push(result);
          if (failure) throw failure;
        }
        s.done({ org, space, ...(manifest.file ? { manifest: manifest.file } : {}), apps: results });
      }),
    );
}

interface PushResult {
  name: string;
  guid: string;
  path: string;
  manifest_warnings: string[];
  auto_rebase: boolean;
  upload: ReturnType<typeof uploadJson>;
  package: string;
  build: string | null;
  droplet: string | null;
  deployment: string | null;
  summary: AppSummary | null;
}

function uploadJson(r: UploadReport) {
  return {
    entries: r.entries,
    files: r.files,
    matched_files: r.matchedFiles,
    uploaded_files: r.uploadedFiles,
    uploaded_paths: r.uploadedPaths,
    uploaded_bytes: r.uploadedBytes,
    zip_bytes: r.zipBytes,
  };
}

/** --no-auto-rebase: Slipway's `slipway.auto_rebase: false` on the app. */
async function pinApp(s: CfSession, app: CfApp): Promise<void> {
  try {
    await s.client.patch(`/v3/apps/${app.guid}`, { slipway: { auto_rebase: false } });
  } catch (err) {
    const status = apiStatus(err);
    if (status === 400 || status === 422)
      throw new SlipwayError(
        'UNSUPPORTED',
        `The API at ${s.config.api} does not take Slipway's app setting auto_rebase (PATCH /v3/apps/${app.guid} answered ${status}: ${cfErrorOf(err)?.detail ?? (err as Error).message}); push without --no-auto-rebase`,
        { cause: err },
      );
    throw err;
  }
}
