import { SlipwayError } from '../../errors.js';
import { notFound } from '../cf-errors.js';
import { parseBody } from '../messages/common.js';
import { DeploymentCreateMessage } from '../messages/deployments.js';
import type { Build } from '../workload.js';
import { createBuild, getBuild } from './builds.js';
import { createDeployment } from './deployments.js';
import { getApp, type WorkloadContext } from './workload-context.js';

/** How often, and how long, a restage looks whether its build has staged. */
const POLL_MS = 500;
const STAGING_LIMIT_MS = 30 * 60_000;

/**
 * `cf restage --strategy rolling`, done by the platform for a client that cannot drive
 * it (the dashboard's form): the current droplet's package (else the newest READY one)
 * is staged again, and once the build has STAGED its droplet rolls out as a deployment.
 * The same actions as the cf CLI's requests, so the same policy and audit events.
 * Answers the build; the rollout follows in the background, and a build that fails
 * shows as FAILED with its log, as any build does.
 */
export async function restageApp(ctx: WorkloadContext, appGuid: string): Promise<Build> {
  const build = await createBuild(ctx, { package: { guid: await packageToRestage(ctx, appGuid) } });
  void rollOutWhenStaged(ctx, appGuid, build.guid).catch(() => undefined);
  return build;
}

async function packageToRestage(ctx: WorkloadContext, appGuid: string): Promise<string> {
  const { app } = await getApp(ctx, appGuid);
  const current = await ctx.workloads.currentDroplet(app.guid);
  if (current?.packageGuid) return current.packageGuid;
  const ready = await ctx.workloads.listPackages(
    { page: 1, perPage: 1, orderBy: '-created_at' },
    { appGuids: [app.guid], states: ['READY'] },
    ctx.perms.spaceVisibility(),
  );
  const pkg = ready.items[0];
  if (!pkg) throw notFound('Package');
  return pkg.guid;
}

async function rollOutWhenStaged(ctx: WorkloadContext, appGuid: string, buildGuid: string): Promise<void> {
  const deadline = Date.now() + STAGING_LIMIT_MS;
  for (;;) {
    const build = await getBuild(ctx, buildGuid);
    if (build.state === 'FAILED') return;
    if (build.state === 'STAGED' && build.dropletGuid) {
      const deployment = {
        relationships: { app: { data: { guid: appGuid } } },
        droplet: { guid: build.dropletGuid },
        strategy: 'rolling',
      };
      await createDeployment(ctx, parseBody(DeploymentCreateMessage, deployment));
      return;
    }
    if (Date.now() > deadline)
      throw new SlipwayError(
        'LIMIT_EXCEEDED',
        `restage of app ${appGuid}: build ${buildGuid} did not stage in 30 minutes`,
      );
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
