import { z } from 'zod';
import { MetadataPatchSchema } from './common.js';
import { csv, labelSelector, listMessage } from './list-query.js';

/** CC's UsersListMessage (invalid queries are 422 here, as CC answers) and UserCreateMessage. */

export const UserListMessage = listMessage({
  params: {
    guids: csv('User guids'),
    usernames: csv('Usernames'),
    origins: csv('Origins (with usernames)'),
    label_selector: labelSelector(),
  },
  orderBy: ['created_at', 'updated_at'],
  invalid: 'unprocessable',
  check: (v) =>
    v.origins !== undefined && v.usernames === undefined
      ? 'Origins filter cannot be provided without usernames or partial_usernames filter.'
      : undefined,
});

export const UserCreateMessage = z
  .strictObject({
    guid: z.string({ error: 'must be a string' }).optional().meta({ description: 'An existing user (from UAA)' }),
    username: z.string({ error: 'must be a string' }).optional(),
    origin: z.string({ error: 'must be a string' }).optional(),
    metadata: MetadataPatchSchema.optional(),
  })
  .superRefine((m, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', message, path: [path] });
    if (m.guid !== undefined) {
      if (m.username !== undefined) issue('username', "cannot be provided with 'guid'");
      if (m.origin !== undefined) issue('origin', "cannot be provided with 'guid'");
    } else if (m.username !== undefined || m.origin !== undefined) {
      if (m.username === undefined) issue('origin', "can only be provided together with 'username'");
      if (m.origin === undefined) issue('username', "can only be provided together with 'origin'");
      if (m.origin === 'uaa') issue('origin', "cannot be 'uaa' when creating a user by username");
    } else {
      issue('guid', "or 'username' and 'origin' must be provided");
    }
  })
  .meta({ title: 'UserCreate' });
export type UserCreateInput = z.output<typeof UserCreateMessage>;
