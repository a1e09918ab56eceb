import { setTimeout as sleep } from 'node:timers/promises';
import { SlipwayError } from '../../errors.js';
import type { CfProcess, CfStat } from './app-summary.js';
import type { CfDeployment } from './app-summary.js';
import type { CfClient } from './cf-client.js';
import { followLogs, formatLogLine, latestTimestamp, type LogMessage } from './log-cache.js';

/**
 * Staging and starting as the cf CLI's actor does them: a build of a package, polled
 * while its STG lines stream from Log Cache; the app's processes polled until every
 * one has an instance RUNNING (or none wanted), "Start unsuccessful" when all of a
 * process's instances CRASHED; a rolling deployment polled until FINALIZED.
 */

/** The cf CLI polls every 3 s; Slipway answers at once, so the CLI looks more often. */
const POLL_MS = 1000;
const STAGING_TIMEOUT_MS = Number(process.env.CF_STAGING_TIMEOUT ?? 15) * 60_000;
const STARTUP_TIMEOUT_MS = Number(process.env.CF_STARTUP_TIMEOUT ?? 5) * 60_000;

export interface Talk {
  say(line?: string): void;
  warn(line: string): void;
}

interface CfBuild {
  guid: string;
  state: string;
  error?: string | null;
  droplet?: { guid: string } | null;
}

/** A CRASHED start: the cf CLI's ApplicationUnableToStartError. */
export function startUnsuccessful(appName: string): SlipwayError {
  return new SlipwayError(
    'TOOL_FAILED',
    `Start unsuccessful\n\nTIP: use 'slipway cf logs ${appName} --recent' for more information`,
  );
}

/**
 * Stages a package (POST /v3/builds) and waits for it; the staging output (STG lines)
 * is printed as it comes when `showLogs`. Answers the build, STAGED; a FAILED build
 * throws its error.
 */
export async function stagePackage(
  client: CfClient,
  talk: Talk,
  appGuid: string,
  packageGuid: string,
  o: { showLogs: boolean; onLine?: (m: LogMessage) => void },
): Promise<{ build: CfBuild; dropletGuid: string }> {
  let follower: ReturnType<typeof followLogs> | undefined;
  try {
    const latest = await latestTimestamp(client, appGuid);
    follower = followLogs(
      client,
      appGuid,
      latest === undefined ? 0n : latest + 1n,
      (m) => {
        if (m.sourceType !== 'STG') return;
        o.onLine?.(m);
        if (o.showLogs) talk.say(formatLogLine(m, false));
      },
      (err) => talk.warn(`Failed to retrieve logs from Log Cache: ${err.message}`),
    );
  } catch (err) {
    talk.warn((err as Error).message);
  }
  try {
    let build = await client.post<CfBuild>('/v3/builds', { package: { guid: packageGuid } });
    const deadline = Date.now() + STAGING_TIMEOUT_MS;
    while (build.state === 'STAGING') {
      if (Date.now() > deadline)
        throw new SlipwayError('LIMIT_EXCEEDED', `Timed out waiting for the build ${build.guid} to stage`);
      await sleep(POLL_MS);
      build = await client.get<CfBuild>(`/v3/builds/${build.guid}`);
    }
    await follower?.stop();
    follower = undefined;
    if (build.state === 'FAILED') {
      const message = build.error ?? 'Staging failed';
      throw new SlipwayError(
        'TOOL_FAILED',
        /NoAppDetectedError/.test(message)
          ? `Error staging application: An app was not successfully detected by any available buildpack\n\nTIP: Use 'slipway cf buildpacks' to see a list of supported buildpacks.`
          : `Error staging application: ${message}`,
        { detail: { build } },
      );
    }
    if (!build.droplet?.guid)
      throw new SlipwayError('INVALID_DOCUMENT', `The build ${build.guid} is ${build.state} but names no droplet`);
    return { build, dropletGuid: build.droplet.guid };
  } finally {
    await follower?.stop();
  }
}

/** The cf CLI's PollProcesses over the app's processes (each with instances wanted). */
export async function pollStart(
  client: CfClient,
  talk: Talk,
  app: { guid: string; name: string },
  processes?: CfProcess[],
): Promise<void> {
  const list = processes ?? (await client.list<CfProcess>(`/v3/apps/${app.guid}/processes`)).resources;
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  let last = '';
  for (;;) {
    let stable = 0;
    let waiting = false;
    for (const p of list) {
      const { resources: stats = [] } = await client.get<{ resources?: CfStat[] }>(`/v3/processes/${p.guid}/stats`);
      const withDetails = stats.find((s) => s.details);
      const line = withDetails ? `Error starting instances: '${withDetails.details}'` : 'Instances starting...';
      if (line !== last) talk.say(line);
      last = line;
      if (stats.length === 0 || stats.some((s) => s.state === 'RUNNING')) {
        stable++;
        continue;
      }
      if (stats.every((s) => s.state === 'CRASHED')) throw startUnsuccessful(app.name);
      waiting = true;
      break;
    }
    if (!waiting && stable === list.length) return;
    if (Date.now() > deadline)
      throw new SlipwayError(
        'LIMIT_EXCEEDED',
        `Start app timeout\n\nTIP: Application must be listening on the right port. Instead of hard coding the port, use the $PORT environment variable.\n\nUse 'slipway cf logs ${app.name} --recent' for more information`,
      );
    await sleep(POLL_MS);
  }
}

export interface DeploymentRequest {
  appGuid: string;
  dropletGuid?: string;
  revisionGuid?: string;
  maxInFlight?: number;
  instances?: number;
  memoryMb?: number;
  diskMb?: number;
}

/** POST /v3/deployments (rolling), as the cf CLI shapes it (unset options as null). */
export async function createDeployment(client: CfClient, r: DeploymentRequest): Promise<CfDeployment> {
  const options =
    r.maxInFlight !== undefined || r.instances !== undefined || r.memoryMb !== undefined || r.diskMb !== undefined
      ? {
          options: {
            max_in_flight: r.maxInFlight ?? null,
            web_instances: r.instances ?? null,
            memory_in_mb: r.memoryMb ?? null,
            disk_in_mb: r.diskMb ?? null,
            log_rate_limit_in_bytes_per_second: null,
          },
        }
      : {};
  return client.post<CfDeployment>('/v3/deployments', {
    ...(r.dropletGuid ? { droplet: { guid: r.dropletGuid } } : {}),
    ...(r.revisionGuid ? { revision: { guid: r.revisionGuid } } : {}),
    strategy: 'rolling',
    ...options,
    relationships: { app: { data: { guid: r.appGuid } } },
  });
}

/**
 * The cf CLI's PollStartForDeployment: the deployment until FINALIZED (DEPLOYED; a
 * CANCELED or SUPERSEDED one is an error), then the processes as PollStart. On the
 * startup timeout the deployment is cancelled.
 */
export async function pollDeployment(
  client: CfClient,
  talk: Talk,
  app: { guid: string; name: string },
  deploymentGuid: string,
): Promise<CfDeployment> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const d = await client.get<CfDeployment>(`/v3/deployments/${deploymentGuid}`);
    if (d.status.value === 'FINALIZED') {
      if (d.status.reason === 'CANCELED') throw new SlipwayError('CONFLICT', 'Deployment has been canceled');
      if (d.status.reason === 'SUPERSEDED') throw new SlipwayError('CONFLICT', 'Deployment has been superseded');
      await pollStart(client, talk, app);
      return d;
    }
    if (Date.now() > deadline) {
      await client.post(`/v3/deployments/${deploymentGuid}/actions/cancel`, {});
      throw new SlipwayError(
        'LIMIT_EXCEEDED',
        `Start app timeout: the deployment ${deploymentGuid} was cancelled\n\nUse 'slipway cf logs ${app.name} --recent' for more information`,
      );
    }
    await sleep(POLL_MS);
  }
}

/** PATCH the current droplet; a 422 is the cf CLI's AssignDropletError. */
export async function setCurrentDroplet(client: CfClient, appGuid: string, dropletGuid: string): Promise<void> {
  await client.patch(`/v3/apps/${appGuid}/relationships/current_droplet`, { data: { guid: dropletGuid } });
}
