import type { WorkloadContext } from '../../../platform/actions/workload-context.js';
import {
  cancelDeployment,
  createDeployment,
  getDeployment,
  getRevision,
  listDeployments,
  listRevisions,
  revisionDeployable,
} from '../../../platform/actions/deployments.js';
import { parseBody } from '../../../platform/messages/common.js';
import {
  DeploymentCreateMessage,
  DeploymentListMessage,
  RevisionListMessage,
} from '../../../platform/messages/deployments.js';
import type { Deployment } from '../../../platform/workload.js';
import { DeploymentSchema, presentDeployment, presentRevision, RevisionSchema } from '../presenters/deployments.js';
import type { Urls } from '../presenters/common.js';
import { listAnswer, listResponses, param, type RouteDef } from '../route.js';
import { workloadCtx } from './workload-call.js';

const tag = 'Deployments';

/** A deployment with its revision's version and the web process (what new_processes lists). */
async function present(ctx: WorkloadContext, d: Deployment, urls: Urls) {
  const revision = d.revisionGuid ? await ctx.workloads.getRevision(d.revisionGuid) : undefined;
  const web = await ctx.workloads.findProcess(d.appGuid, 'web');
  return presentDeployment(d, urls, {
    ...(revision ? { revisionVersion: revision.version } : {}),
    ...(web ? { webProcessGuid: web.guid } : {}),
  });
}

export const DEPLOYMENT_ROUTES: RouteDef[] = [
  {
    method: 'get',
    path: '/v3/deployments',
    operationId: 'listDeployments',
    summary: 'List deployments (app_guids, status_values, order_by=-created_at)',
    tag,
    query: DeploymentListMessage.schema,
    responses: listResponses(DeploymentSchema),
    async handle(call) {
      const ctx = workloadCtx(call);
      const q = DeploymentListMessage.parse(call.query);
      const page = await listDeployments(ctx, q);
      const items = await Promise.all(page.items.map((d) => present(ctx, d, call.urls)));
      return listAnswer(call, '/v3/deployments', q, { items, total: page.total }, (x) => x);
    },
  },
  {
    method: 'get',
    path: '/v3/deployments/{guid}',
    operationId: 'getDeployment',
    summary: 'Get a deployment (poll it until FINALIZED)',
    tag,
    responses: { 200: { description: 'The deployment', schema: DeploymentSchema } },
    async handle(call) {
      const ctx = workloadCtx(call);
      const { resource } = await getDeployment(ctx, param(call, 'guid'));
      return { status: 200, body: await present(ctx, resource, call.urls) };
    },
  },
  {
    method: 'post',
    path: '/v3/deployments',
    operationId: 'createDeployment',
    summary:
      'Roll a droplet out (rolling, max_in_flight at a time): the current one by default, a given droplet, or a revision (rollback)',
    tag,
    body: DeploymentCreateMessage,
    responses: { 201: { description: 'Created', schema: DeploymentSchema } },
    async handle(call) {
      const ctx = workloadCtx(call);
      const input = parseBody(DeploymentCreateMessage, await call.body());
      return { status: 201, body: await present(ctx, await createDeployment(ctx, input), call.urls) };
    },
  },
  {
    method: 'post',
    path: '/v3/deployments/{guid}/actions/cancel',
    operationId: 'cancelDeployment',
    summary: 'Cancel a deployment: the previous droplet comes back',
    tag,
    responses: { 200: { description: 'CANCELING', schema: DeploymentSchema } },
    async handle(call) {
      const ctx = workloadCtx(call);
      return { status: 200, body: await present(ctx, await cancelDeployment(ctx, param(call, 'guid')), call.urls) };
    },
  },
  {
    method: 'get',
    path: '/v3/apps/{guid}/revisions',
    operationId: 'listAppRevisions',
    summary: "List an app's revisions (versions=)",
    tag: 'Revisions',
    query: RevisionListMessage.schema,
    responses: listResponses(RevisionSchema),
    async handle(call) {
      const ctx = workloadCtx(call);
      const q = RevisionListMessage.parse(call.query);
      const guid = param(call, 'guid');
      const page = await listRevisions(ctx, guid, q);
      const items = await Promise.all(
        page.items.map(async (r) => presentRevision(r, call.urls, await revisionDeployable(ctx, r))),
      );
      return listAnswer(call, `/v3/apps/${guid}/revisions`, q, { items, total: page.total }, (x) => x);
    },
  },
  {
    method: 'get',
    path: '/v3/revisions/{guid}',
    operationId: 'getRevision',
    summary: 'Get a revision',
    tag: 'Revisions',
    responses: { 200: { description: 'The revision', schema: RevisionSchema } },
    async handle(call) {
      const ctx = workloadCtx(call);
      const r = await getRevision(ctx, param(call, 'guid'));
      return { status: 200, body: presentRevision(r, call.urls, await revisionDeployable(ctx, r)) };
    },
  },
];
