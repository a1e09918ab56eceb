import {
  createSpace,
  deleteSpace,
  getSpace,
  listSpaces,
  orgsOf,
  updateSpace,
} from '../../../platform/actions/spaces.js';
import { parseBody } from '../../../platform/messages/common.js';
import {
  SpaceCreateMessage,
  SpaceListMessage,
  SpaceShowMessage,
  SpaceUpdateMessage,
} from '../../../platform/messages/spaces.js';
import { presentIncluded, presentSpace, SpaceIncludedSchema, SpaceSchema } from '../presenters/tenancy.js';
import { JOB_ACCEPTED, jobAnswer, listAnswer, listResponses, param, type RouteDef } from '../route.js';

const tag = 'Spaces';
const withOrg = (include: readonly string[] | undefined) =>
  include !== undefined && (include.includes('organization') || include.includes('org'));

export const SPACE_ROUTES: RouteDef[] = [
  {
    method: 'get',
    path: '/v3/spaces',
    operationId: 'listSpaces',
    summary: 'List the spaces the caller reads',
    tag,
    query: SpaceListMessage.schema,
    responses: listResponses(SpaceSchema, SpaceIncludedSchema),
    async handle(call) {
      const q = SpaceListMessage.parse(call.query);
      const page = await listSpaces(call.ctx, q);
      const included = withOrg(q.values.include)
        ? presentIncluded(call.urls, { organizations: await orgsOf(call.ctx, page.items) })
        : undefined;
      return listAnswer(call, '/v3/spaces', q, page, presentSpace, included);
    },
  },
  {
    method: 'get',
    path: '/v3/spaces/{guid}',
    operationId: 'getSpace',
    summary: 'Get a space',
    tag,
    query: SpaceShowMessage.schema,
    responses: { 200: { description: 'The space', schema: SpaceSchema } },
    async handle(call) {
      const { space } = await getSpace(call.ctx, param(call, 'guid'));
      const { include } = SpaceShowMessage.parse(call.query);
      const body: Record<string, unknown> = presentSpace(space, call.urls);
      if (withOrg(include))
        body.included = presentIncluded(call.urls, { organizations: await orgsOf(call.ctx, [space]) });
      return { status: 200, body };
    },
  },
  {
    method: 'post',
    path: '/v3/spaces',
    operationId: 'createSpace',
    summary: 'Create a space in an organization (its managers)',
    tag,
    body: SpaceCreateMessage,
    responses: { 201: { description: 'Created', schema: SpaceSchema } },
    async handle(call) {
      const input = parseBody(SpaceCreateMessage, await call.body());
      return { status: 201, body: presentSpace(await createSpace(call.ctx, input), call.urls) };
    },
  },
  {
    method: 'patch',
    path: '/v3/spaces/{guid}',
    operationId: 'updateSpace',
    summary: 'Rename or relabel a space (space and org managers)',
    tag,
    body: SpaceUpdateMessage,
    responses: { 200: { description: 'Updated', schema: SpaceSchema } },
    async handle(call) {
      const input = parseBody(SpaceUpdateMessage, await call.body());
      return { status: 200, body: presentSpace(await updateSpace(call.ctx, param(call, 'guid'), input), call.urls) };
    },
  },
  {
    method: 'delete',
    path: '/v3/spaces/{guid}',
    operationId: 'deleteSpace',
    summary: 'Delete a space with its apps, roles and images (a job)',
    tag,
    responses: { 202: JOB_ACCEPTED },
    async handle(call) {
      return jobAnswer(call, await deleteSpace(call.ctx, param(call, 'guid')));
    },
  },
];
