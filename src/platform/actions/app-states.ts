import { EVENT_TYPES } from '../audit.js';
import { notAuthorized, notFound, unprocessable } from '../cf-errors.js';
import type { App } from '../model.js';
import { recordRevision } from './deployments.js';
import { getApp, processesFromDroplet, recordApp, renewProcesses, type WorkloadContext } from './workload-context.js';

/**
 * Starting, stopping and restarting an app (CC: AppsV3Controller#start/stop/restart,
 * AppStart, AppStop, AppRestart): who manages the space's apps (developers and
 * supporters) sets the app's desired state; the reconciler makes the instances match.
 * Starting needs a current droplet, in CC's words (the cf CLI matches them); a start
 * or restart records a revision when the droplet, environment or commands changed.
 */

export const NO_DROPLET = 'Assign a droplet before starting this app.';

export async function startApp(ctx: WorkloadContext, guid: string): Promise<App> {
  return changeState(ctx, guid, 'start');
}

export async function stopApp(ctx: WorkloadContext, guid: string): Promise<App> {
  return changeState(ctx, guid, 'stop');
}

export async function restartApp(ctx: WorkloadContext, guid: string): Promise<App> {
  return changeState(ctx, guid, 'restart');
}

async function changeState(ctx: WorkloadContext, guid: string, action: 'start' | 'stop' | 'restart'): Promise<App> {
  const found = await getApp(ctx, guid);
  if (!ctx.perms.canManageApps(found)) throw notAuthorized();
  let { app } = found;
  if (action !== 'stop') {
    const droplet = await ctx.workloads.currentDroplet(app.guid);
    if (!droplet) throw unprocessable(NO_DROPLET);
    await processesFromDroplet(ctx, app.guid, droplet.processTypes);
    if (action === 'restart' || app.state !== 'STARTED') {
      await recordRevision(ctx, app, droplet);
      // New instances even when the last ones are still there (a stop and start between two reconciler passes).
      await renewProcesses(ctx, app.guid);
    }
  }
  const state = action === 'stop' ? 'STOPPED' : 'STARTED';
  if (app.state !== state) {
    const updated = await ctx.store.updateApp(app.guid, { state });
    if (!updated) throw notFound('App');
    app = updated;
  }
  const type =
    action === 'start' ? EVENT_TYPES.appStart : action === 'stop' ? EVENT_TYPES.appStop : EVENT_TYPES.appRestart;
  await recordApp(ctx, { ...found, app }, type);
  ctx.services.signals.desiredChanged();
  return app;
}
