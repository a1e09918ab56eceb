import { EVENT_TYPES } from '../audit.js';
import { notAuthorized, notFound, unprocessable } from '../cf-errors.js';
import type { ParsedList } from '../messages/list-query.js';
import type { UserCreateInput, UserListMessage } from '../messages/users.js';
import { emptyMetadata, type Job, newGuid, type User } from '../model.js';
import type { Page } from '../store/platform-store.js';
import { type ActionContext, type DeleteContext, mergeMetadata, record, timestamp } from './context.js';

/**
 * Users (CC: UsersController, UserCreate). The platform's UAA and its Cloud
 * Controller share one user table, so `POST /v3/users {"guid"}` (what `cf create-user`
 * sends after creating the UAA user) finds the user and answers it; `{"username",
 * "origin"}` makes a user of another origin (no password). Users are readable when
 * they share an org with the caller (CC's readable_users_query), always to themselves.
 */

type UserListValues = ReturnType<typeof UserListMessage.parse>['values'];

export function listUsers(ctx: ActionContext, q: ParsedList<UserListValues>): Promise<Page<User>> {
  const v = q.values;
  return ctx.store.listUsers(
    q.page,
    { guids: v.guids, usernames: v.usernames, origins: v.origins, labelSelector: v.label_selector },
    ctx.perms.orgVisibility(),
  );
}

/** A user the caller reads (the store's user visibility, as lists); 404 "User not found" otherwise. */
export async function getUser(ctx: ActionContext, guid: string): Promise<User> {
  const page = await ctx.store.listUsers(
    { page: 1, perPage: 1, orderBy: 'created_at' },
    { guids: [guid] },
    ctx.perms.orgVisibility(),
  );
  const user = page.items[0];
  if (!user) throw notFound('User');
  return user;
}

/** Registers a user (admins): by guid, the user the shared table already has (201, as CC); by username and origin, a new one. */
export async function createUser(ctx: ActionContext, input: UserCreateInput): Promise<User> {
  const { perms, store } = ctx;
  if (!perms.canCreateUser()) throw notAuthorized();
  if (input.guid !== undefined) {
    const user = await store.getUser(input.guid);
    if (!user) throw unprocessable(`No user exists with the guid '${input.guid}'.`);
    if (input.metadata === undefined) return user;
    const updated = await store.updateUser(user.guid, { metadata: mergeMetadata(user.metadata, input.metadata) });
    return updated ?? user;
  }
  const username = input.username ?? '';
  const origin = input.origin ?? '';
  if (await store.findUser(username, origin))
    throw unprocessable(`User with username '${username}' and origin '${origin}' already exists.`);
  const at = timestamp(ctx);
  const user = await store.createUser(
    {
      guid: newGuid(),
      createdAt: at,
      updatedAt: at,
      username,
      origin,
      globalRoles: [],
      metadata: mergeMetadata(emptyMetadata(), input.metadata),
    },
    {},
  );
  await record(ctx, {
    type: EVENT_TYPES.userCreate,
    target: { guid: user.guid, type: 'user', name: user.username },
    data: { request: { username, origin } },
  });
  return user;
}

/** Deletes a user (and their roles and refresh tokens), as a job: admins. */
export async function deleteUser(ctx: DeleteContext, guid: string): Promise<Job> {
  const user = await getUser(ctx, guid);
  if (!ctx.perms.canDeleteUser()) throw notAuthorized();
  const job = await ctx.jobs.start('user.delete', user.guid);
  await record(ctx, {
    type: EVENT_TYPES.userDeleteRequest,
    target: { guid: user.guid, type: 'user', name: user.username },
    data: {},
  });
  return job;
}
