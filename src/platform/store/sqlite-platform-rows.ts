import { SlipwayError } from '../../errors.js';
import type {
  ApiToken,
  App,
  AuditEvent,
  Buildpack,
  Job,
  Metadata,
  Organization,
  RefreshToken,
  Role,
  Space,
  User,
} from '../model.js';

/**
 * The SQLite PlatformStore's rows and their mapping to the model: the columns each
 * SELECT reads, and how a row becomes a resource. JSON columns (labels, annotations,
 * lifecycle, environment variables, event data, job errors) are parsed here.
 */

interface Timestamps {
  guid: string;
  created_at: string;
  updated_at: string;
}

interface Labelled extends Timestamps {
  labels: string;
  annotations: string;
}

export interface UserRow extends Labelled {
  username: string;
  origin: string;
  global_roles: string;
}

export interface OrgRow extends Labelled {
  name: string;
  slug: string;
  suspended: number;
}

export interface SpaceRow extends Labelled {
  name: string;
  slug: string;
  org_guid: string;
}

export interface RoleRow extends Labelled {
  type: string;
  user_guid: string;
  org_guid: string;
  space_guid: string | null;
}

export interface AppRow extends Labelled {
  name: string;
  slug: string;
  space_guid: string;
  state: string;
  lifecycle: string;
  environment_variables: string;
  current_droplet_guid: string | null;
  auto_rebase: number;
}

export interface BuildpackRow extends Labelled {
  name: string;
  stack: string | null;
  position: number;
  enabled: number;
  locked: number;
  state: string;
  filename: string | null;
  lifecycle: string;
}

export interface EventRow extends Timestamps {
  type: string;
  actor_guid: string;
  actor_type: string;
  actor_name: string;
  target_guid: string;
  target_type: string;
  target_name: string;
  data: string;
  space_guid: string | null;
  org_guid: string | null;
  request_id: string | null;
}

export interface ApiTokenRow {
  guid: string;
  name: string;
  user_guid: string;
  space_guid: string;
  secret_hash: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface RefreshTokenRow {
  guid: string;
  user_guid: string;
  secret_hash: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

export interface JobRow extends Timestamps {
  operation: string;
  state: string;
  errors: string;
  warnings: string;
  resource_guid: string | null;
}

const LABELLED = 't.guid, t.labels, t.annotations, t.created_at, t.updated_at';
export const USER_COLUMNS = `${LABELLED}, t.username, t.origin, t.global_roles`;
export const ORG_COLUMNS = `${LABELLED}, t.name, t.slug, t.suspended`;
export const SPACE_COLUMNS = `${LABELLED}, t.name, t.slug, t.org_guid`;
export const ROLE_COLUMNS = `${LABELLED}, t.type, t.user_guid, t.org_guid, t.space_guid`;
export const APP_COLUMNS = `${LABELLED}, t.name, t.slug, t.space_guid, t.state, t.lifecycle, t.environment_variables,
  t.current_droplet_guid, t.auto_rebase`;
export const BUILDPACK_COLUMNS = `${LABELLED}, t.name, t.stack, t.position, t.enabled, t.locked, t.state, t.filename, t.lifecycle`;
export const EVENT_COLUMNS =
  't.guid, t.created_at, t.updated_at, t.type, t.actor_guid, t.actor_type, t.actor_name, t.target_guid, t.target_type, t.target_name, t.data, t.space_guid, t.org_guid, t.request_id';
export const API_TOKEN_COLUMNS =
  't.guid, t.name, t.user_guid, t.space_guid, t.secret_hash, t.created_at, t.last_used_at, t.revoked_at';
export const REFRESH_TOKEN_COLUMNS = 't.guid, t.user_guid, t.secret_hash, t.created_at, t.expires_at, t.revoked_at';
export const JOB_COLUMNS =
  't.guid, t.created_at, t.updated_at, t.operation, t.state, t.errors, t.warnings, t.resource_guid';

function resource(row: Labelled): { guid: string; createdAt: string; updatedAt: string; metadata: Metadata } {
  return {
    guid: row.guid,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    metadata: { labels: JSON.parse(row.labels), annotations: JSON.parse(row.annotations) },
  };
}

export function toUser(row: UserRow): User {
  return { ...resource(row), username: row.username, origin: row.origin, globalRoles: JSON.parse(row.global_roles) };
}

export function toOrg(row: OrgRow): Organization {
  return { ...resource(row), name: row.name, slug: row.slug, suspended: row.suspended !== 0 };
}

export function toSpace(row: SpaceRow): Space {
  return { ...resource(row), name: row.name, slug: row.slug, orgGuid: row.org_guid };
}

export function toRole(row: RoleRow): Role {
  const role: Role = {
    ...resource(row),
    type: row.type as Role['type'],
    userGuid: row.user_guid,
    orgGuid: row.org_guid,
  };
  if (row.space_guid !== null) role.spaceGuid = row.space_guid;
  return role;
}

export function toApp(row: AppRow): App {
  const app: App = {
    ...resource(row),
    name: row.name,
    slug: row.slug,
    spaceGuid: row.space_guid,
    state: row.state as App['state'],
    lifecycle: JSON.parse(row.lifecycle),
    environmentVariables: JSON.parse(row.environment_variables),
    autoRebase: row.auto_rebase !== 0,
  };
  if (row.current_droplet_guid !== null) app.currentDropletGuid = row.current_droplet_guid;
  return app;
}

export function toBuildpack(row: BuildpackRow): Buildpack {
  return {
    ...resource(row),
    name: row.name,
    stack: row.stack,
    position: row.position,
    enabled: row.enabled !== 0,
    locked: row.locked !== 0,
    state: row.state as Buildpack['state'],
    filename: row.filename,
    lifecycle: row.lifecycle as Buildpack['lifecycle'],
  };
}

export function toEvent(row: EventRow): AuditEvent {
  const event: AuditEvent = {
    guid: row.guid,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    type: row.type,
    actor: { guid: row.actor_guid, type: row.actor_type as AuditEvent['actor']['type'], name: row.actor_name },
    target: { guid: row.target_guid, type: row.target_type, name: row.target_name },
    data: JSON.parse(row.data),
  };
  if (row.space_guid !== null) event.spaceGuid = row.space_guid;
  if (row.org_guid !== null) event.orgGuid = row.org_guid;
  if (row.request_id !== null) event.requestId = row.request_id;
  return event;
}

export function toApiToken(row: ApiTokenRow): ApiToken {
  const token: ApiToken = {
    guid: row.guid,
    name: row.name,
    userGuid: row.user_guid,
    spaceGuid: row.space_guid,
    createdAt: row.created_at,
    secretHash: row.secret_hash,
  };
  if (row.last_used_at !== null) token.lastUsedAt = row.last_used_at;
  if (row.revoked_at !== null) token.revokedAt = row.revoked_at;
  return token;
}

export function toRefreshToken(row: RefreshTokenRow): RefreshToken {
  const token: RefreshToken = {
    guid: row.guid,
    userGuid: row.user_guid,
    secretHash: row.secret_hash,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
  if (row.revoked_at !== null) token.revokedAt = row.revoked_at;
  return token;
}

export function toJob(row: JobRow): Job {
  const job: Job = {
    guid: row.guid,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    operation: row.operation,
    state: row.state as Job['state'],
    errors: JSON.parse(row.errors),
    warnings: JSON.parse(row.warnings),
  };
  if (row.resource_guid !== null) job.resourceGuid = row.resource_guid;
  return job;
}

/** A metadata value as its two JSON columns (missing parts are empty). */
export function metadataColumns(metadata: Partial<Metadata> | undefined): { labels: string; annotations: string } {
  return { labels: JSON.stringify(metadata?.labels ?? {}), annotations: JSON.stringify(metadata?.annotations ?? {}) };
}

/** The key under which names are unique: CF compares them regardless of case. */
export function nameKey(name: string): string {
  return name.toLowerCase();
}

/** A shared setting's name (sharedSetting): 1 to 200 characters. */
export function checkSettingName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
    throw new SlipwayError('INVALID_ARGUMENT', 'A shared setting needs a name of 1 to 200 characters.', {
      detail: { field: 'name' },
    });
  }
}
