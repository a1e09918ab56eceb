import { z } from 'zod';
import { createApiToken, listApiTokens, revokeApiToken } from '../../../platform/actions/api-tokens.js';
import { parseBody, requiredString } from '../../../platform/messages/common.js';
import type { ApiToken } from '../../../platform/model.js';
import { LinkSchema, ToOneSchema, type Urls } from '../presenters/common.js';
import { param, type RouteDef } from '../route.js';

/** Slipway's API tokens for CI (not a CF resource): named, scoped to one space, shown once, revocable. */

const tag = 'API tokens';

const ApiTokenCreateMessage = z
  .object({
    name: requiredString().min(1, "can't be blank").max(250),
    relationships: z.object({ space: z.object({ data: z.object({ guid: requiredString() }) }) }),
  })
  .strict();

const ApiTokenSchema = z
  .object({
    guid: z.string(),
    name: z.string(),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    relationships: z.object({ space: ToOneSchema, user: ToOneSchema }),
    links: z.object({ self: LinkSchema, space: LinkSchema }),
  })
  .meta({ id: 'ApiToken' });

const CreatedApiTokenSchema = ApiTokenSchema.extend({
  token: z.string().meta({ description: 'The secret: shown only in this answer' }),
}).meta({
  id: 'CreatedApiToken',
});

function presentApiToken(t: ApiToken, urls: Urls): z.infer<typeof ApiTokenSchema> {
  return {
    guid: t.guid,
    name: t.name,
    created_at: t.createdAt,
    last_used_at: t.lastUsedAt ?? null,
    revoked_at: t.revokedAt ?? null,
    relationships: { space: { data: { guid: t.spaceGuid } }, user: { data: { guid: t.userGuid } } },
    links: { self: urls.link(`/v3/api_tokens/${t.guid}`), space: urls.link(`/v3/spaces/${t.spaceGuid}`) },
  };
}

export const API_TOKEN_ROUTES: RouteDef[] = [
  {
    method: 'post',
    path: '/v3/api_tokens',
    operationId: 'createApiToken',
    summary: 'Create an API token acting as the caller in one space (the secret is in this answer only)',
    tag,
    body: ApiTokenCreateMessage,
    responses: { 201: { description: 'Created', schema: CreatedApiTokenSchema } },
    async handle(call) {
      const input = parseBody(ApiTokenCreateMessage, await call.body());
      const created = await createApiToken(call.ctx, {
        name: input.name,
        spaceGuid: input.relationships.space.data.guid,
      });
      return { status: 201, body: { ...presentApiToken(created.record, call.urls), token: created.token } };
    },
  },
  {
    method: 'get',
    path: '/v3/api_tokens',
    operationId: 'listApiTokens',
    summary: "The caller's own API tokens, newest first",
    tag,
    responses: { 200: { description: 'The tokens', schema: z.object({ resources: z.array(ApiTokenSchema) }) } },
    async handle(call) {
      return {
        status: 200,
        body: { resources: (await listApiTokens(call.ctx)).map((t) => presentApiToken(t, call.urls)) },
      };
    },
  },
  {
    method: 'delete',
    path: '/v3/api_tokens/{guid}',
    operationId: 'revokeApiToken',
    summary: 'Revoke an API token: it stops working at once',
    tag,
    responses: { 204: { description: 'Revoked' } },
    async handle(call) {
      await revokeApiToken(call.ctx, param(call, 'guid'));
      return { status: 204, body: {} };
    },
  },
];
