import { z } from 'zod';
import type { Organization, Role, Space, User } from '../../../platform/model.js';
import { isSpaceRole, ROLE_TYPES } from '../../../platform/roles.js';
import { cfTime, LinkSchema, MetadataSchema, presentMetadata, toOne, ToOneSchema, type Urls } from './common.js';

/**
 * Organizations, spaces, roles and users in CF v3's shapes (CC: OrganizationPresenter,
 * SpacePresenter, RolePresenter, UserPresenter).
 */

export const OrganizationSchema = z
  .object({
    guid: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    name: z.string(),
    suspended: z.boolean(),
    relationships: z.object({ quota: ToOneSchema }),
    metadata: MetadataSchema,
    links: z.object({ self: LinkSchema }),
  })
  .meta({ id: 'Organization' });

export function presentOrg(org: Organization, urls: Urls): z.infer<typeof OrganizationSchema> {
  return {
    guid: org.guid,
    created_at: cfTime(org.createdAt),
    updated_at: cfTime(org.updatedAt),
    name: org.name,
    suspended: org.suspended,
    relationships: { quota: toOne(null) },
    metadata: presentMetadata(org.metadata),
    links: { self: urls.link(`/v3/organizations/${org.guid}`) },
  };
}

export const SpaceSchema = z
  .object({
    guid: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    name: z.string(),
    relationships: z.object({ organization: ToOneSchema, quota: ToOneSchema }),
    metadata: MetadataSchema,
    links: z.object({ self: LinkSchema, organization: LinkSchema }),
  })
  .meta({ id: 'Space' });

export function presentSpace(space: Space, urls: Urls): z.infer<typeof SpaceSchema> {
  return {
    guid: space.guid,
    created_at: cfTime(space.createdAt),
    updated_at: cfTime(space.updatedAt),
    name: space.name,
    relationships: { organization: toOne(space.orgGuid), quota: toOne(null) },
    metadata: presentMetadata(space.metadata),
    links: {
      self: urls.link(`/v3/spaces/${space.guid}`),
      organization: urls.link(`/v3/organizations/${space.orgGuid}`),
    },
  };
}

export const RoleSchema = z
  .object({
    guid: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    type: z.enum(ROLE_TYPES),
    relationships: z.object({ user: ToOneSchema, organization: ToOneSchema, space: ToOneSchema }),
    links: z.object({
      self: LinkSchema,
      user: LinkSchema,
      organization: LinkSchema.optional(),
      space: LinkSchema.optional(),
    }),
  })
  .meta({ id: 'Role' });

export function presentRole(role: Role, urls: Urls): z.infer<typeof RoleSchema> {
  const space = isSpaceRole(role.type);
  return {
    guid: role.guid,
    created_at: cfTime(role.createdAt),
    updated_at: cfTime(role.updatedAt),
    type: role.type,
    relationships: {
      user: toOne(role.userGuid),
      organization: toOne(space ? null : role.orgGuid),
      space: toOne(space ? role.spaceGuid : null),
    },
    links: {
      self: urls.link(`/v3/roles/${role.guid}`),
      user: urls.link(`/v3/users/${encodeURIComponent(role.userGuid)}`),
      ...(space
        ? { space: urls.link(`/v3/spaces/${role.spaceGuid}`) }
        : { organization: urls.link(`/v3/organizations/${role.orgGuid}`) }),
    },
  };
}

export const UserSchema = z
  .object({
    guid: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    username: z.string().nullable(),
    presentation_name: z.string(),
    origin: z.string().nullable(),
    metadata: MetadataSchema,
    links: z.object({ self: LinkSchema }),
  })
  .meta({ id: 'User' });

export function presentUser(user: User, urls: Urls): z.infer<typeof UserSchema> {
  return {
    guid: user.guid,
    created_at: cfTime(user.createdAt),
    updated_at: cfTime(user.updatedAt),
    username: user.username,
    presentation_name: user.username || user.guid,
    origin: user.origin,
    metadata: presentMetadata(user.metadata),
    links: { self: urls.link(`/v3/users/${encodeURIComponent(user.guid)}`) },
  };
}

export const RoleIncludedSchema = z.object({
  users: z.array(UserSchema).optional(),
  spaces: z.array(SpaceSchema).optional(),
  organizations: z.array(OrganizationSchema).optional(),
});

export const SpaceIncludedSchema = z.object({ organizations: z.array(OrganizationSchema).optional() });

/** `included` of a list or a resource: only the keys asked for. */
export function presentIncluded(
  urls: Urls,
  inc: { users?: User[]; spaces?: Space[]; organizations?: Organization[] },
): z.infer<typeof RoleIncludedSchema> {
  const out: z.infer<typeof RoleIncludedSchema> = {};
  if (inc.users) out.users = inc.users.map((u) => presentUser(u, urls));
  if (inc.spaces) out.spaces = inc.spaces.map((s) => presentSpace(s, urls));
  if (inc.organizations) out.organizations = inc.organizations.map((o) => presentOrg(o, urls));
  return out;
}
