import {
  appIncludes,
  createApp,
  deleteApp,
  getApp,
  getEnvironment,
  getEnvironmentVariables,
  listApps,
  updateApp,
  updateEnvironmentVariables,
} from '../../../platform/actions/apps.js';
import { ensureProcess } from '../../../platform/actions/workload-context.js';
import {
  AppCreateMessage,
  AppListMessage,
  AppShowMessage,
  AppUpdateMessage,
  EnvVarsUpdateMessage,
} from '../../../platform/messages/apps.js';
import { parseBody } from '../../../platform/messages/common.js';
import {
  AppEnvSchema,
  AppIncludedSchema,
  AppSchema,
  EnvVarsSchema,
  presentApp,
  presentAppEnv,
  presentEnvVars,
} from '../presenters/apps.js';
import { presentIncluded } from '../presenters/tenancy.js';
import { JOB_ACCEPTED, jobAnswer, listAnswer, listResponses, param, type RouteDef } from '../route.js';
import { workloadCtx } from './workload-call.js';

const tag = 'Apps';

export const APP_ROUTES: RouteDef[] = [
  {
    method: 'get',
    path: '/v3/apps',
    operationId: 'listApps',
    summary: 'List the apps the caller reads (include=space,org,space.organization)',
    tag,
    query: AppListMessage.schema,
    responses: listResponses(AppSchema, AppIncludedSchema),
    async handle(call) {
      const q = AppListMessage.parse(call.query);
      const page = await listApps(call.ctx, q);
      const include = q.values.include ?? [];
      const included =
        include.length > 0 ? presentIncluded(call.urls, await appIncludes(call.ctx, page.items, include)) : undefined;
      return listAnswer(call, '/v3/apps', q, page, presentApp, included);
    },
  },
  {
    method: 'get',
    path: '/v3/apps/{guid}',
    operationId: 'getApp',
    summary: 'Get an app',
    tag,
    query: AppShowMessage.schema,
    responses: { 200: { description: 'The app', schema: AppSchema } },
    async handle(call) {
      const { app } = await getApp(call.ctx, param(call, 'guid'));
      const { include = [] } = AppShowMessage.parse(call.query);
      const body: Record<string, unknown> = presentApp(app, call.urls);
      if (include.length > 0) body.included = presentIncluded(call.urls, await appIncludes(call.ctx, [app], include));
      return { status: 200, body };
    },
  },
  {
    method: 'post',
    path: '/v3/apps',
    operationId: 'createApp',
    summary: 'Create an app in a space (space developers)',
    tag,
    body: AppCreateMessage,
    responses: { 201: { description: 'Created', schema: AppSchema } },
    async handle(call) {
      const input = parseBody(AppCreateMessage, await call.body());
      const app = await createApp(call.ctx, call.deps.stacks, input);
      // CC's AppCreate makes the app's web process with it.
      if (call.deps.workloads && call.deps.services) await ensureProcess(workloadCtx(call), app.guid, 'web');
      return { status: 201, body: presentApp(app, call.urls) };
    },
  },
  {
    method: 'patch',
    path: '/v3/apps/{guid}',
    operationId: 'updateApp',
    summary: 'Rename an app, change its lifecycle or metadata',
    tag,
    body: AppUpdateMessage,
    responses: { 200: { description: 'Updated', schema: AppSchema } },
    async handle(call) {
      const input = parseBody(AppUpdateMessage, await call.body());
      const app = await updateApp(call.ctx, call.deps.stacks, param(call, 'guid'), input);
      return { status: 200, body: presentApp(app, call.urls) };
    },
  },
  {
    method: 'delete',
    path: '/v3/apps/{guid}',
    operationId: 'deleteApp',
    summary: 'Delete an app and its images (a job)',
    tag,
    responses: { 202: JOB_ACCEPTED },
    async handle(call) {
      return jobAnswer(call, await deleteApp(call.ctx, param(call, 'guid')));
    },
  },
  {
    method: 'get',
    path: '/v3/apps/{guid}/environment_variables',
    operationId: 'getAppEnvironmentVariables',
    summary: "Get an app's environment variables (secret readers)",
    tag,
    responses: { 200: { description: 'The variables', schema: EnvVarsSchema } },
    async handle(call) {
      const { app } = await getEnvironmentVariables(call.ctx, param(call, 'guid'));
      return { status: 200, body: presentEnvVars(app, call.urls) };
    },
  },
  {
    method: 'patch',
    path: '/v3/apps/{guid}/environment_variables',
    operationId: 'updateAppEnvironmentVariables',
    summary: "Set (or, with null, remove) an app's environment variables",
    tag,
    body: EnvVarsUpdateMessage,
    responses: { 200: { description: 'All the variables now', schema: EnvVarsSchema } },
    async handle(call) {
      const input = parseBody(EnvVarsUpdateMessage, await call.body());
      const app = await updateEnvironmentVariables(call.ctx, param(call, 'guid'), input);
      return { status: 200, body: presentEnvVars(app, call.urls) };
    },
  },
  {
    method: 'get',
    path: '/v3/apps/{guid}/env',
    operationId: 'getAppEnvironment',
    summary: 'Get the environment an instance of the app gets (system part redacted unless secret reader)',
    tag,
    responses: { 200: { description: 'The environment', schema: AppEnvSchema } },
    async handle(call) {
      return { status: 200, body: presentAppEnv(await getEnvironment(call.ctx, param(call, 'guid')), call.urls) };
    },
  },
];
