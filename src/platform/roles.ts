/**
 * Cloud Foundry's roles, as Cloud Controller names and groups them
 * (lib/cloud_controller/permissions.rb; the v3 `roles` resource's `type`).
 */

export const ORG_ROLE_TYPES = [
  'organization_user',
  'organization_auditor',
  'organization_billing_manager',
  'organization_manager',
] as const;
export const SPACE_ROLE_TYPES = ['space_developer', 'space_manager', 'space_auditor', 'space_supporter'] as const;
export const ROLE_TYPES = [...ORG_ROLE_TYPES, ...SPACE_ROLE_TYPES] as const;

export type OrgRoleType = (typeof ORG_ROLE_TYPES)[number];
export type SpaceRoleType = (typeof SPACE_ROLE_TYPES)[number];
export type RoleType = OrgRoleType | SpaceRoleType;

/** The platform-wide roles (UAA scopes in CF): everything, everything read-only with secrets, everything read-only without. */
export const GLOBAL_ROLES = ['admin', 'admin_read_only', 'global_auditor'] as const;
export type GlobalRole = (typeof GLOBAL_ROLES)[number];

export function isOrgRole(type: RoleType): type is OrgRoleType {
  return (ORG_ROLE_TYPES as readonly string[]).includes(type);
}

export function isSpaceRole(type: RoleType): type is SpaceRoleType {
  return (SPACE_ROLE_TYPES as readonly string[]).includes(type);
}

export function isRoleType(value: string): value is RoleType {
  return (ROLE_TYPES as readonly string[]).includes(value);
}

// Cloud Controller's named role sets. Org managers read (and manage) every space of their org.

/** ROLES_FOR_SPACE_READING: who sees a space and what is in it. */
export const SPACE_READING: readonly SpaceRoleType[] = [
  'space_developer',
  'space_manager',
  'space_auditor',
  'space_supporter',
];
export const ORG_ROLES_READING_SPACES: readonly OrgRoleType[] = ['organization_manager'];
/** ROLES_FOR_DROPLET_DOWNLOAD: who may pull an app's image (the supporter sees the app but not its bits). */
export const DROPLET_DOWNLOAD: readonly SpaceRoleType[] = ['space_developer', 'space_manager', 'space_auditor'];
/** ROLES_FOR_SPACE_WRITING: who pushes, deletes, creates apps and packages. */
export const SPACE_WRITING: readonly SpaceRoleType[] = ['space_developer'];
/** ROLES_FOR_APP_MANAGING: who stages, restarts, sets the current droplet. */
export const APP_MANAGING: readonly SpaceRoleType[] = ['space_developer', 'space_supporter'];
/** ROLES_FOR_SPACE_SECRETS_READING: who sees env vars and unredacted commands. */
export const SPACE_SECRETS_READING: readonly SpaceRoleType[] = ['space_developer'];
/** ROLES_FOR_SPACE_UPDATING (with org managers): who renames a space, assigns its roles. */
export const SPACE_UPDATING: readonly SpaceRoleType[] = ['space_manager'];
/** ROLES_FOR_ORG_READING: who sees an org (its name, its users), not its spaces unless a manager. */
export const ORG_READING: readonly OrgRoleType[] = [
  'organization_user',
  'organization_auditor',
  'organization_billing_manager',
  'organization_manager',
];
