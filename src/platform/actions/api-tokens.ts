import { notAuthorized, notFound, unprocessable } from '../cf-errors.js';
import { newApiToken } from '../identity/api-tokens.js';
import type { ApiToken } from '../model.js';
import { record, spaceContext, timestamp, type ActionContext } from './context.js';

/**
 * API tokens for CI (Slipway's own resource; CF has none): a user makes a named token
 * for one space they can read; it acts as them in that space only (Permissions'
 * api-token caller), is shown once, and works until revoked. Tokens cannot make tokens.
 */

export interface ApiTokenCreateInput {
  name: string;
  spaceGuid: string;
}

export async function createApiToken(
  ctx: ActionContext,
  input: ApiTokenCreateInput,
): Promise<{ token: string; record: ApiToken }> {
  const user = ctx.perms.caller.kind === 'user' ? ctx.perms.caller.user : undefined;
  if (!user) throw notAuthorized();
  const space = await spaceContext(ctx.store, input.spaceGuid);
  if (!space || !ctx.perms.canReadSpace(space))
    throw unprocessable(`Invalid space. Ensure that the space exists and you have access to it.`);
  if ((await ctx.store.listApiTokens(user.guid)).some((t) => t.name === input.name && !t.revokedAt)) {
    throw unprocessable(`An API token named '${input.name}' already exists.`);
  }
  const created = newApiToken(user.guid, space.space.guid, input.name, timestamp(ctx));
  await ctx.store.createApiToken(created.record);
  await record(ctx, {
    type: 'audit.api_token.create',
    target: { guid: created.record.guid, type: 'api_token', name: input.name },
    spaceGuid: space.space.guid,
    orgGuid: space.org.guid,
  });
  return created;
}

/** The caller's own tokens (never their secrets), revoked ones included, newest first. */
export async function listApiTokens(ctx: ActionContext): Promise<ApiToken[]> {
  const user = ctx.perms.caller.kind === 'user' ? ctx.perms.caller.user : undefined;
  if (!user) throw notAuthorized();
  return (await ctx.store.listApiTokens(user.guid)).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** Revokes one of the caller's tokens (an admin may revoke anyone's). */
export async function revokeApiToken(ctx: ActionContext, guid: string): Promise<void> {
  const token = await ctx.store.getApiToken(guid);
  const mine = ctx.perms.caller.kind === 'user' && token?.userGuid === ctx.perms.caller.user.guid;
  if (!token || (!mine && !ctx.perms.isAdmin())) throw notFound('ApiToken');
  await ctx.store.revokeApiToken(guid, timestamp(ctx));
  await record(ctx, {
    type: 'audit.api_token.delete',
    target: { guid, type: 'api_token', name: token.name },
    spaceGuid: token.spaceGuid,
  });
}
