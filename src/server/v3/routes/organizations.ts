import { createOrg, deleteOrg, getOrg, listOrgs, updateOrg } from '../../../platform/actions/organizations.js';
import { parseBody } from '../../../platform/messages/common.js';
import { OrgCreateMessage, OrgListMessage, OrgUpdateMessage } from '../../../platform/messages/organizations.js';
import { OrganizationSchema, presentOrg } from '../presenters/tenancy.js';
import { JOB_ACCEPTED, jobAnswer, listAnswer, listResponses, param, type RouteDef } from '../route.js';

const tag = 'Organizations';

export const ORGANIZATION_ROUTES: RouteDef[] = [
  {
    method: 'get',
    path: '/v3/organizations',
    operationId: 'listOrganizations',
    summary: 'List the organizations the caller reads',
    tag,
    query: OrgListMessage.schema,
    responses: listResponses(OrganizationSchema),
    async handle(call) {
      const q = OrgListMessage.parse(call.query);
      return listAnswer(call, '/v3/organizations', q, await listOrgs(call.ctx, q), presentOrg);
    },
  },
  {
    method: 'get',
    path: '/v3/organizations/{guid}',
    operationId: 'getOrganization',
    summary: 'Get an organization',
    tag,
    responses: { 200: { description: 'The organization', schema: OrganizationSchema } },
    async handle(call) {
      return { status: 200, body: presentOrg(await getOrg(call.ctx, param(call, 'guid')), call.urls) };
    },
  },
  {
    method: 'post',
    path: '/v3/organizations',
    operationId: 'createOrganization',
    summary: 'Create an organization (admins)',
    tag,
    body: OrgCreateMessage,
    responses: { 201: { description: 'Created', schema: OrganizationSchema } },
    async handle(call) {
      const input = parseBody(OrgCreateMessage, await call.body());
      return { status: 201, body: presentOrg(await createOrg(call.ctx, input), call.urls) };
    },
  },
  {
    method: 'patch',
    path: '/v3/organizations/{guid}',
    operationId: 'updateOrganization',
    summary: 'Rename, suspend or relabel an organization',
    tag,
    body: OrgUpdateMessage,
    responses: { 200: { description: 'Updated', schema: OrganizationSchema } },
    async handle(call) {
      const input = parseBody(OrgUpdateMessage, await call.body());
      return { status: 200, body: presentOrg(await updateOrg(call.ctx, param(call, 'guid'), input), call.urls) };
    },
  },
  {
    method: 'delete',
    path: '/v3/organizations/{guid}',
    operationId: 'deleteOrganization',
    summary: 'Delete an organization with its spaces, apps, roles and images (a job)',
    tag,
    responses: { 202: JOB_ACCEPTED },
    async handle(call) {
      return jobAnswer(call, await deleteOrg(call.ctx, param(call, 'guid')));
    },
  },
];
