import { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { SlipwayError } from '../../../errors.js';
import { cfAction } from '../../cf/action.js';
import type { CfJob } from '../../cf/cf-client.js';
import { table } from '../../cf/output.js';
import type { CfSession } from '../../cf/session.js';
import { positiveInt } from '../../cf/units.js';

/**
 * `update-stack`: Slipway's stack update (admins): a new version of a stack (its
 * packages refreshed, added or removed), and with --rollout every app on an older
 * version rebased (or restaged) and rolled out, `max_in_flight` instances at a time.
 * The server runs it as a job (minutes); the CLI follows it, then prints which app
 * runs which version (`GET /v3/stack_rollouts/:job_guid`).
 */

interface CfStack {
  guid: string;
  name: string;
}

interface StackRollout {
  stack: string;
  version: string;
  new_version: boolean;
  seconds?: number;
  apps: {
    app: { guid: string; name: string };
    status: 'rolled' | 'rebased' | 'current' | 'pinned' | 'failed' | string;
    from?: string | null;
    to?: string | null;
    droplet_guid?: string;
    deployment_guid?: string;
    reason?: string;
  }[];
}

interface UpdateFlags {
  rollout?: boolean;
  maxInFlight?: string;
  runPackage: string[];
  buildPackage: string[];
  removePackage: string[];
  refresh?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];
const JOB_POLL_MS = 2000;
const PROGRESS_EVERY_MS = 15_000;
const JOB_TIMEOUT_MS = 2 * 60 * 60_000;

export function updateStackCommand(): Command {
  return new Command('update-stack')
    .description('Make a new version of a stack and (with --rollout) move every app onto it (admins)')
    .argument('<STACK>', 'the stack (e.g. default)')
    .option('--rollout', 'Rebase and roll out the apps on older versions of the stack (pinned apps stay)')
    .option('--max-in-flight <N>', 'With --rollout: instances replaced at once per app (default 1)')
    .option(
      '--run-package <PKG>',
      'A Debian package to add to the run image (and the build image); repeatable',
      collect,
      [],
    )
    .option('--build-package <PKG>', 'A Debian package to add to the build image only; repeatable', collect, [])
    .option('--remove-package <PKG>', 'A package to take out of the stack; repeatable', collect, [])
    .option('--refresh', "Take the distribution's newest packages (security fixes) even with no package change")
    .addHelpText(
      'after',
      `
A stack update takes minutes (a new root filesystem, then each app rebased, or
restaged when a rebase cannot do, and rolled out without downtime); the command
follows the server's job and ends with a table of which app runs which version.
Apps pushed with --no-auto-rebase stay where they are ('pinned'); list the apps left
behind with 'slipway cf apps --behind'.

Examples:
  $ slipway cf update-stack default --refresh --rollout
  $ slipway cf update-stack default --run-package libgmp10 --rollout --max-in-flight 2`,
    )
    .action(
      cfAction(async (s: CfSession, name: string, flags: UpdateFlags) => {
        const user = await s.check();
        s.say(`Updating stack ${name} as ${user.name}...`);
        const stack = await s.client.first<CfStack>('/v3/stacks', { names: [name] });
        if (!stack) throw new SlipwayError('NOT_FOUND', `Stack '${name}' not found.`);
        const answer = await s.client.request<{ guid?: string }>('POST', `/v3/stacks/${stack.guid}/actions/update`, {
          json: {
            rollout: flags.rollout === true,
            ...(flags.maxInFlight !== undefined
              ? { max_in_flight: positiveInt(flags.maxInFlight, '--max-in-flight', 1) }
              : {}),
            run_packages: flags.runPackage,
            build_packages: flags.buildPackage,
            remove_packages: flags.removePackage,
            refresh: flags.refresh === true,
          },
        });
        if (!answer.location)
          throw new SlipwayError(
            'INVALID_DOCUMENT',
            `POST /v3/stacks/${stack.guid}/actions/update answered ${answer.status} without the Location of its job`,
          );
        const job = await followJob(s, answer.location, name);
        const rollout = await s.client.get<StackRollout>(`/v3/stack_rollouts/${job.guid}`);
        s.ok();
        s.say();
        s.done({ job: job.guid, ...rollout }, () => renderRollout(rollout));
        if (rollout.apps.some((a) => a.status === 'failed')) process.exitCode = 1;
      }),
    );
}

/** The job until COMPLETE (FAILED: its error), with a progress line now and then: a stack update is long. */
async function followJob(s: CfSession, location: string, stack: string): Promise<CfJob> {
  const progress = s.ctx.progress();
  const started = Date.now();
  let told = started;
  let lastState = '';
  for (;;) {
    const job = await s.client.get<CfJob>(location);
    if (job.state === 'COMPLETE') {
      for (const w of job.warnings ?? []) if (w.detail) s.warn(w.detail);
      progress.log(`stack ${stack}: done in ${elapsed(Date.now() - started)}`);
      return job;
    }
    if (job.state === 'FAILED') {
      const first = job.errors?.[0];
      throw new SlipwayError(
        'TOOL_FAILED',
        first?.detail ? `Job (${job.guid}) failed: ${first.detail}` : `Job (${job.guid}) failed with no error`,
        { detail: { job } },
      );
    }
    const now = Date.now();
    if (job.state !== lastState || now - told >= PROGRESS_EVERY_MS) {
      progress.log(`stack ${stack}: ${job.state.toLowerCase()} (${elapsed(now - started)})`);
      told = now;
      lastState = job.state;
    }
    if (now - started > JOB_TIMEOUT_MS)
      throw new SlipwayError(
        'IO_ERROR',
        `Job (${job.guid}) is still ${job.state} after ${elapsed(now - started)}; check it later with GET ${location}`,
      );
    await sleep(JOB_POLL_MS);
  }
}

function elapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function renderRollout(r: StackRollout): string {
  const head = `Stack ${r.stack} is at version ${r.version}${r.new_version ? ' (a new version)' : ' (unchanged)'}${
    r.seconds !== undefined ? `, in ${elapsed(r.seconds * 1000)}` : ''
  }.`;
  if (r.apps.length === 0) return `${head}\nNo apps run on this stack.`;
  return `${head}\n\n${table(
    ['app', 'status', 'from', 'to', 'details'],
    r.apps.map((a) => [
      a.app.name,
      a.status,
      a.from ?? '',
      a.to ?? '',
      a.reason ??
        (a.deployment_guid ? `deployment ${a.deployment_guid}` : a.droplet_guid ? `droplet ${a.droplet_guid}` : ''),
    ]),
  )}`;
}
