import { createRole, deleteRole, getRole, listRoles, roleIncludes } from '../../../platform/actions/roles.js';
import { parseBody } from '../../../platform/messages/common.js';
import { RoleCreateMessage, RoleListMessage, RoleShowMessage } from '../../../platform/messages/roles.js';
import { presentIncluded, presentRole, RoleIncludedSchema, RoleSchema } from '../presenters/tenancy.js';
import { JOB_ACCEPTED, jobAnswer, listAnswer, listResponses, param, type RouteDef } from '../route.js';

const tag = 'Roles';

export const ROLE_ROUTES: RouteDef[] = [
  {
    method: 'get',
    path: '/v3/roles',
    operationId: 'listRoles',
    summary: 'List the roles the caller reads (include=user,space,organization)',
    tag,
    query: RoleListMessage.schema,
    responses: listResponses(RoleSchema, RoleIncludedSchema),
    async handle(call) {
      const q = RoleListMessage.parse(call.query);
      const page = await listRoles(call.ctx, q);
      const include = q.values.include ?? [];
      const included =
        include.length > 0 ? presentIncluded(call.urls, await roleIncludes(call.ctx, page.items, include)) : undefined;
      return listAnswer(call, '/v3/roles', q, page, presentRole, included);
    },
  },
  {
    method: 'get',
    path: '/v3/roles/{guid}',
    operationId: 'getRole',
    summary: 'Get a role',
    tag,
    query: RoleShowMessage.schema,
    responses: { 200: { description: 'The role', schema: RoleSchema } },
    async handle(call) {
      const { include = [] } = RoleShowMessage.parse(call.query);
      const role = await getRole(call.ctx, param(call, 'guid'));
      const body: Record<string, unknown> = presentRole(role, call.urls);
      if (include.length > 0) body.included = presentIncluded(call.urls, await roleIncludes(call.ctx, [role], include));
      return { status: 200, body };
    },
  },
  {
    method: 'post',
    path: '/v3/roles',
    operationId: 'createRole',
    summary: 'Give a user a role in an organization or a space',
    tag,
    body: RoleCreateMessage,
    responses: { 201: { description: 'Created', schema: RoleSchema } },
    async handle(call) {
      const input = parseBody(RoleCreateMessage, await call.body());
      return { status: 201, body: presentRole(await createRole(call.ctx, input), call.urls) };
    },
  },
  {
    method: 'delete',
    path: '/v3/roles/{guid}',
    operationId: 'deleteRole',
    summary: 'Take a role away (a job)',
    tag,
    responses: { 202: JOB_ACCEPTED },
    async handle(call) {
      return jobAnswer(call, await deleteRole(call.ctx, param(call, 'guid')));
    },
  },
];
