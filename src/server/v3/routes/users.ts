import { createUser, deleteUser, getUser, listUsers } from '../../../platform/actions/users.js';
import { parseBody } from '../../../platform/messages/common.js';
import { UserCreateMessage, UserListMessage } from '../../../platform/messages/users.js';
import { presentUser, UserSchema } from '../presenters/tenancy.js';
import { JOB_ACCEPTED, jobAnswer, listAnswer, listResponses, param, type RouteDef } from '../route.js';

const tag = 'Users';

export const USER_ROUTES: RouteDef[] = [
  {
    method: 'get',
    path: '/v3/users',
    operationId: 'listUsers',
    summary: 'List the users the caller reads (those who share an organization with them)',
    tag,
    query: UserListMessage.schema,
    responses: listResponses(UserSchema),
    async handle(call) {
      const q = UserListMessage.parse(call.query);
      return listAnswer(call, '/v3/users', q, await listUsers(call.ctx, q), presentUser);
    },
  },
  {
    method: 'get',
    path: '/v3/users/{guid}',
    operationId: 'getUser',
    summary: 'Get a user',
    tag,
    responses: { 200: { description: 'The user', schema: UserSchema } },
    async handle(call) {
      return { status: 200, body: presentUser(await getUser(call.ctx, param(call, 'guid')), call.urls) };
    },
  },
  {
    method: 'post',
    path: '/v3/users',
    operationId: 'createUser',
    summary: 'Register a user by the guid UAA gave it, or create one of another origin (admins)',
    tag,
    body: UserCreateMessage,
    responses: { 201: { description: 'Created', schema: UserSchema } },
    async handle(call) {
      const input = parseBody(UserCreateMessage, await call.body());
      return { status: 201, body: presentUser(await createUser(call.ctx, input), call.urls) };
    },
  },
  {
    method: 'delete',
    path: '/v3/users/{guid}',
    operationId: 'deleteUser',
    summary: 'Delete a user with their roles (admins; a job)',
    tag,
    responses: { 202: JOB_ACCEPTED },
    async handle(call) {
      return jobAnswer(call, await deleteUser(call.ctx, param(call, 'guid')));
    },
  },
];
