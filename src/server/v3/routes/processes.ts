import { restartApp, startApp, stopApp } from '../../../platform/actions/app-states.js';
import {
  getAppProcess,
  getProcess,
  listProcesses,
  processStats,
  processView,
  scaleProcess,
  updateProcess,
} from '../../../platform/actions/processes.js';
import { parseBody } from '../../../platform/messages/common.js';
import { listMessage } from '../../../platform/messages/list-query.js';
import { ProcessListMessage, ProcessScaleMessage, ProcessUpdateMessage } from '../../../platform/messages/processes.js';
import { AppSchema, presentApp } from '../presenters/apps.js';
import { paginatedSchema } from '../presenters/common.js';
import { ProcessSchema, presentProcess, presentStats, StatsSchema } from '../presenters/processes.js';
import { type Call, listAnswer, listResponses, param, type RouteDef } from '../route.js';
import { workloadCtx } from './workload-call.js';

const tag = 'Processes';

const SidecarListMessage = listMessage({ params: {}, orderBy: ['created_at', 'updated_at'] });

async function scaleAnswer(call: Call, found: Awaited<ReturnType<typeof getProcess>>) {
  const ctx = workloadCtx(call);
  const input = parseBody(ProcessScaleMessage, await call.body());
  const updated = await scaleProcess(ctx, found, input);
  return { status: 202, body: presentProcess(await processView(ctx, updated), call.urls, found.space.guid) };
}

export const PROCESS_ROUTES: RouteDef[] = [
  {
    method: 'get',
    path: '/v3/processes',
    operationId: 'listProcesses',
    summary: 'List processes (embed=process_instances: with their instances)',
    tag,
    query: ProcessListMessage.schema,
    responses: listResponses(ProcessSchema),
    async handle(call) {
      const q = ProcessListMessage.parse(call.query);
      const page = await listProcesses(workloadCtx(call), q);
      return listAnswer(call, '/v3/processes', q, page, (v, urls) => presentProcess(v, urls));
    },
  },
  {
    method: 'get',
    path: '/v3/apps/{guid}/processes',
    operationId: 'listAppProcesses',
    summary: "List an app's processes",
    tag,
    query: ProcessListMessage.schema,
    responses: listResponses(ProcessSchema),
    async handle(call) {
      const q = ProcessListMessage.parse(call.query);
      const guid = param(call, 'guid');
      const page = await listProcesses(workloadCtx(call), q, guid);
      return listAnswer(call, `/v3/apps/${guid}/processes`, q, page, (v, urls) => presentProcess(v, urls));
    },
  },
  {
    method: 'get',
    path: '/v3/processes/{guid}',
    operationId: 'getProcess',
    summary: 'Get a process (its command unredacted for secret readers)',
    tag,
    responses: { 200: { description: 'The process', schema: ProcessSchema } },
    async handle(call) {
      const ctx = workloadCtx(call);
      const found = await getProcess(ctx, param(call, 'guid'));
      return { status: 200, body: presentProcess(await processView(ctx, found.resource), call.urls, found.space.guid) };
    },
  },
  {
    method: 'get',
    path: '/v3/apps/{guid}/processes/{type}',
    operationId: 'getAppProcess',
    summary: "Get an app's process of a type",
    tag,
    responses: { 200: { description: 'The process', schema: ProcessSchema } },
    async handle(call) {
      const ctx = workloadCtx(call);
      const found = await getAppProcess(ctx, param(call, 'guid'), param(call, 'type'));
      return { status: 200, body: presentProcess(await processView(ctx, found.resource), call.urls, found.space.guid) };
    },
  },
  {
    method: 'patch',
    path: '/v3/processes/{guid}',
    operationId: 'updateProcess',
    summary: 'Change the start command or health check (developers and supporters)',
    tag,
    body: ProcessUpdateMessage,
    responses: { 200: { description: 'Updated', schema: ProcessSchema } },
    async handle(call) {
      const ctx = workloadCtx(call);
      const input = parseBody(ProcessUpdateMessage, await call.body());
      const updated = await updateProcess(ctx, param(call, 'guid'), input);
      return { status: 200, body: presentProcess(await processView(ctx, updated), call.urls) };
    },
  },
  {
    method: 'post',
    path: '/v3/processes/{guid}/actions/scale',
    operationId: 'scaleProcess',
    summary: 'Scale a process: instances, memory_in_mb, disk_in_mb (developers and supporters)',
    tag,
    body: ProcessScaleMessage,
    responses: { 202: { description: 'Scaled', schema: ProcessSchema } },
    async handle(call) {
      return scaleAnswer(call, await getProcess(workloadCtx(call), param(call, 'guid')));
    },
  },
  {
    method: 'post',
    path: '/v3/apps/{guid}/processes/{type}/actions/scale',
    operationId: 'scaleAppProcess',
    summary: "Scale an app's process of a type (404 Process not found)",
    tag,
    body: ProcessScaleMessage,
    responses: { 202: { description: 'Scaled', schema: ProcessSchema } },
    async handle(call) {
      return scaleAnswer(call, await getAppProcess(workloadCtx(call), param(call, 'guid'), param(call, 'type')));
    },
  },
  {
    method: 'get',
    path: '/v3/processes/{guid}/stats',
    operationId: 'getProcessStats',
    summary: "Each instance's state, uptime, host, port, memory, disk and CPU, and the image digest it runs",
    tag,
    responses: { 200: { description: 'The stats', schema: StatsSchema } },
    async handle(call) {
      const { process, stats } = await processStats(workloadCtx(call), param(call, 'guid'));
      return { status: 200, body: presentStats(process, stats) };
    },
  },
  {
    method: 'get',
    path: '/v3/processes/{guid}/sidecars',
    operationId: 'listProcessSidecars',
    summary: "A process's sidecars (none: Slipway runs none)",
    tag,
    query: SidecarListMessage.schema,
    responses: { 200: { description: 'An empty page', schema: paginatedSchema(ProcessSchema) } },
    async handle(call) {
      const q = SidecarListMessage.parse(call.query);
      const guid = param(call, 'guid');
      await getProcess(workloadCtx(call), guid);
      return listAnswer(call, `/v3/processes/${guid}/sidecars`, q, { items: [], total: 0 }, () => ({}));
    },
  },
];

function appAction(action: 'start' | 'stop' | 'restart', summary: string): RouteDef {
  const run = { start: startApp, stop: stopApp, restart: restartApp }[action];
  return {
    method: 'post',
    path: `/v3/apps/{guid}/actions/${action}`,
    operationId: `${action}App`,
    summary,
    tag: 'Apps',
    responses: { 200: { description: 'The app', schema: AppSchema } },
    async handle(call) {
      return { status: 200, body: presentApp(await run(workloadCtx(call), param(call, 'guid')), call.urls) };
    },
  };
}

export const APP_STATE_ROUTES: RouteDef[] = [
  appAction('start', 'Start an app (developers and supporters; it needs a current droplet)'),
  appAction('stop', 'Stop an app (developers and supporters)'),
  appAction('restart', 'Restart an app (developers and supporters)'),
];
