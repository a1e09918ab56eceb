import { startApp, stopApp } from '../../platform/actions/app-states.js';
import { createDeployment } from '../../platform/actions/deployments.js';
import { getAppProcess, scaleProcess } from '../../platform/actions/processes.js';
import { restageApp } from '../../platform/actions/restage.js';
import { parseBody } from '../../platform/messages/common.js';
import { DeploymentCreateMessage } from '../../platform/messages/deployments.js';
import { ProcessScaleMessage } from '../../platform/messages/processes.js';
import { SlipwayError } from '../../errors.js';
import type { WebRequest } from './web-context.js';

/**
 * The app page's forms, turned into the v3 messages and actions the API runs (so the
 * same validation, the same policy, the same audit events): start, stop, a rolling
 * restart (a deployment of the current droplet, as `cf restart --strategy rolling`),
 * restage (staged again, then rolled out, as `cf restage --strategy rolling`),
 * scale the web process, roll back to a revision.
 */
export async function appAction(r: WebRequest, guid: string, action: string, form: URLSearchParams): Promise<void> {
  const app = { relationships: { app: { data: { guid } } }, strategy: 'rolling' };
  switch (action) {
    case 'start':
      await startApp(r.ctx, guid);
      return;
    case 'stop':
      await stopApp(r.ctx, guid);
      return;
    case 'restart':
      await createDeployment(r.ctx, parseBody(DeploymentCreateMessage, app));
      return;
    case 'restage':
      await restageApp(r.ctx, guid);
      return;
    case 'rollback':
      await createDeployment(
        r.ctx,
        parseBody(DeploymentCreateMessage, { ...app, revision: { guid: form.get('revision') ?? '' } }),
      );
      return;
    case 'scale': {
      const instances = Number(form.get('instances'));
      await scaleProcess(r.ctx, await getAppProcess(r.ctx, guid, 'web'), parseBody(ProcessScaleMessage, { instances }));
      return;
    }
    default:
      throw new SlipwayError(
        'NOT_FOUND',
        `no app action ${action}: use start, stop, restart, restage, scale or rollback`,
      );
  }
}
