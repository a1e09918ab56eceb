import { getAuditEvent, getJob, listAuditEvents } from '../../../platform/actions/audit-events.js';
import {
  createBuildpack,
  deleteBuildpack,
  getBuildpack,
  listBuildpacks,
  updateBuildpack,
} from '../../../platform/actions/buildpacks.js';
import { getStack, listStacks } from '../../../platform/actions/stacks.js';
import { AuditEventListMessage } from '../../../platform/messages/audit-events.js';
import {
  BuildpackCreateMessage,
  BuildpackListMessage,
  BuildpackUpdateMessage,
} from '../../../platform/messages/buildpacks.js';
import { parseBody } from '../../../platform/messages/common.js';
import { StackListMessage } from '../../../platform/messages/stacks.js';
import {
  AuditEventSchema,
  BuildpackSchema,
  InfoSchema,
  JobSchema,
  presentBuildpack,
  presentEvent,
  presentInfo,
  presentJob,
  presentRoot,
  presentStack,
  presentV3Root,
  RootSchema,
  StackSchema,
  V3RootSchema,
} from '../presenters/platform.js';
import { JOB_ACCEPTED, jobAnswer, listAnswer, listResponses, param, type RouteDef } from '../route.js';

export const ROOT_ROUTES: RouteDef[] = [
  {
    method: 'get',
    path: '/',
    operationId: 'getRoot',
    summary: 'The API root: the v3 API and its version, the login and UAA endpoints',
    tag: 'Root',
    public: true,
    responses: { 200: { description: 'The links', schema: RootSchema } },
    async handle(call) {
      return { status: 200, body: presentRoot(call.urls) };
    },
  },
  {
    method: 'get',
    path: '/v3',
    operationId: 'getV3Root',
    summary: "The v3 API's resources",
    tag: 'Root',
    public: true,
    responses: { 200: { description: 'The links', schema: V3RootSchema } },
    async handle(call) {
      return { status: 200, body: presentV3Root(call.urls) };
    },
  },
  {
    method: 'get',
    path: '/v3/info',
    operationId: 'getInfo',
    summary: 'About this platform',
    tag: 'Root',
    public: true,
    responses: { 200: { description: 'The information', schema: InfoSchema } },
    async handle(call) {
      return { status: 200, body: presentInfo(call.urls, call.deps.build ?? '') };
    },
  },
];

export const STACK_ROUTES: RouteDef[] = [
  {
    method: 'get',
    path: '/v3/stacks',
    operationId: 'listStacks',
    summary: "List Slipway's stacks",
    tag: 'Stacks',
    query: StackListMessage.schema,
    responses: listResponses(StackSchema),
    async handle(call) {
      const q = StackListMessage.parse(call.query);
      return listAnswer(call, '/v3/stacks', q, await listStacks(call.ctx.perms, call.deps.stacks, q), presentStack);
    },
  },
  {
    method: 'get',
    path: '/v3/stacks/{guid}',
    operationId: 'getStack',
    summary: 'Get a stack',
    tag: 'Stacks',
    responses: { 200: { description: 'The stack', schema: StackSchema } },
    async handle(call) {
      const stack = await getStack(call.ctx.perms, call.deps.stacks, param(call, 'guid'));
      return { status: 200, body: presentStack(stack, call.urls) };
    },
  },
];

const bpTag = 'Buildpacks';

export const BUILDPACK_ROUTES: RouteDef[] = [
  {
    method: 'get',
    path: '/v3/buildpacks',
    operationId: 'listBuildpacks',
    summary: 'List the admin buildpacks, in the order they are tried',
    tag: bpTag,
    query: BuildpackListMessage.schema,
    responses: listResponses(BuildpackSchema),
    async handle(call) {
      const q = BuildpackListMessage.parse(call.query);
      return listAnswer(call, '/v3/buildpacks', q, await listBuildpacks(call.ctx, q), presentBuildpack);
    },
  },
  {
    method: 'get',
    path: '/v3/buildpacks/{guid}',
    operationId: 'getBuildpack',
    summary: 'Get a buildpack',
    tag: bpTag,
    responses: { 200: { description: 'The buildpack', schema: BuildpackSchema } },
    async handle(call) {
      return { status: 200, body: presentBuildpack(await getBuildpack(call.ctx, param(call, 'guid')), call.urls) };
    },
  },
  {
    method: 'post',
    path: '/v3/buildpacks',
    operationId: 'createBuildpack',
    summary: 'Create an admin buildpack at a position (admins)',
    tag: bpTag,
    body: BuildpackCreateMessage,
    responses: { 201: { description: 'Created', schema: BuildpackSchema } },
    async handle(call) {
      const input = parseBody(BuildpackCreateMessage, await call.body());
      return {
        status: 201,
        body: presentBuildpack(await createBuildpack(call.ctx, call.deps.stacks, input), call.urls),
      };
    },
  },
  {
    method: 'patch',
    path: '/v3/buildpacks/{guid}',
    operationId: 'updateBuildpack',
    summary: 'Rename, move, enable, lock or relabel a buildpack (admins)',
    tag: bpTag,
    body: BuildpackUpdateMessage,
    responses: { 200: { description: 'Updated', schema: BuildpackSchema } },
    async handle(call) {
      const input = parseBody(BuildpackUpdateMessage, await call.body());
      const bp = await updateBuildpack(call.ctx, call.deps.stacks, param(call, 'guid'), input);
      return { status: 200, body: presentBuildpack(bp, call.urls) };
    },
  },
  {
    method: 'delete',
    path: '/v3/buildpacks/{guid}',
    operationId: 'deleteBuildpack',
    summary: 'Delete a buildpack (admins; a job)',
    tag: bpTag,
    responses: { 202: JOB_ACCEPTED },
    async handle(call) {
      return jobAnswer(call, await deleteBuildpack(call.ctx, param(call, 'guid')));
    },
  },
];

export const AUDIT_ROUTES: RouteDef[] = [
  {
    method: 'get',
    path: '/v3/audit_events',
    operationId: 'listAuditEvents',
    summary: 'List the audit events the caller reads',
    tag: 'Audit Events',
    query: AuditEventListMessage.schema,
    responses: listResponses(AuditEventSchema),
    async handle(call) {
      const q = AuditEventListMessage.parse(call.query);
      return listAnswer(call, '/v3/audit_events', q, await listAuditEvents(call.ctx, q), presentEvent);
    },
  },
  {
    method: 'get',
    path: '/v3/audit_events/{guid}',
    operationId: 'getAuditEvent',
    summary: 'Get an audit event',
    tag: 'Audit Events',
    responses: { 200: { description: 'The event', schema: AuditEventSchema } },
    async handle(call) {
      return { status: 200, body: presentEvent(await getAuditEvent(call.ctx, param(call, 'guid')), call.urls) };
    },
  },
  {
    method: 'get',
    path: '/v3/jobs/{guid}',
    operationId: 'getJob',
    summary: 'Get a job (poll it until COMPLETE or FAILED)',
    tag: 'Jobs',
    responses: { 200: { description: 'The job', schema: JobSchema } },
    async handle(call) {
      return { status: 200, body: presentJob(await getJob(call.ctx, param(call, 'guid')), call.urls) };
    },
  },
];
