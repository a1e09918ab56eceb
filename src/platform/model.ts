import { randomUUID } from 'node:crypto';
import type { GlobalRole, RoleType } from './roles.js';

/**
 * The platform's resources, as Cloud Foundry's v3 API has them (guid, created_at,
 * updated_at, metadata), in the shape the store keeps and the policy reasons about.
 * Presenters (src/server/v3) turn them into CF's JSON; times are ISO-8601 UTC.
 */

export interface Metadata {
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface Resource {
  guid: string;
  createdAt: string;
  updatedAt: string;
  metadata: Metadata;
}

export interface User extends Resource {
  username: string;
  /** Where the user is known: "uaa" for the platform's own users (CF's default origin). */
  origin: string;
  /** Platform-wide roles (CF: the cloud_controller.admin, .admin_read_only, .global_auditor scopes). */
  globalRoles: GlobalRole[];
}

/** A user with what authentication needs; never presented. */
export interface UserCredentials {
  userGuid: string;
  /** argon2id (or a legacy bcrypt hash, rehashed at the next good login); undefined for a user who cannot log in with a password. */
  passwordHash?: string;
}

export interface Organization extends Resource {
  name: string;
  /** Lower-case, OCI-safe form of the name: the first component of its apps' registry names. Unique. */
  slug: string;
  suspended: boolean;
}

export interface Space extends Resource {
  name: string;
  /** Unique within its org; the second component of its apps' registry names. */
  slug: string;
  orgGuid: string;
}

export interface Role extends Resource {
  type: RoleType;
  userGuid: string;
  /** Set for organization roles. */
  orgGuid?: string;
  /** Set for space roles (orgGuid is then the space's org, for filtering). */
  spaceGuid?: string;
}

export type AppState = 'STOPPED' | 'STARTED';

export interface AppLifecycle {
  type: 'buildpack' | 'cnb' | 'docker';
  data: { buildpacks: string[]; stack: string | null };
}

export interface App extends Resource {
  name: string;
  /** Unique within its space; the third component of its registry name ORG/SPACE/APP. */
  slug: string;
  spaceGuid: string;
  state: AppState;
  lifecycle: AppLifecycle;
  /** Secrets: only roles that read secrets see them. */
  environmentVariables: Record<string, string>;
  /** The droplet it runs (CF's current_droplet relationship). */
  currentDropletGuid?: string;
  /** False for an app pinned with --no-auto-rebase: a stack update lists it as behind, never rolls it. */
  autoRebase?: boolean;
}

export type BuildpackState = 'AWAITING_UPLOAD' | 'READY';

export interface Buildpack extends Resource {
  name: string;
  stack: string | null;
  /** 1-based order in which buildpacks are tried; unique, contiguous. */
  position: number;
  enabled: boolean;
  locked: boolean;
  state: BuildpackState;
  filename: string | null;
  lifecycle: 'buildpack' | 'cnb';
}

export interface AuditActor {
  guid: string;
  type: 'user' | 'system' | 'api_token';
  name: string;
}

export interface AuditEvent {
  guid: string;
  createdAt: string;
  updatedAt: string;
  /** CF's event types: audit.organization.create, audit.space.delete-request, audit.app.update, ... */
  type: string;
  actor: AuditActor;
  target: { guid: string; type: string; name: string };
  data: Record<string, unknown>;
  spaceGuid?: string;
  orgGuid?: string;
  requestId?: string;
}

/** A named credential for CI: acts as its user, within one space, until revoked. The secret is shown once and kept hashed. */
export interface ApiToken {
  guid: string;
  name: string;
  userGuid: string;
  spaceGuid: string;
  createdAt: string;
  /** sha256 of the secret. */
  secretHash: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

/** An OAuth2 refresh token, kept hashed; rotated on every use. */
export interface RefreshToken {
  guid: string;
  userGuid: string;
  secretHash: string;
  createdAt: string;
  expiresAt: string;
  revokedAt?: string;
}

export type JobState = 'PROCESSING' | 'COMPLETE' | 'FAILED';

export interface JobError {
  code: number;
  title: string;
  detail: string;
}

/** An asynchronous operation (deleting an org or a space), as CF's jobs resource. */
export interface Job {
  guid: string;
  createdAt: string;
  updatedAt: string;
  /** e.g. "organization.delete", "space.delete". */
  operation: string;
  state: JobState;
  errors: JobError[];
  warnings: string[];
  /** The resource it acts on. */
  resourceGuid?: string;
}

/**
 * Org slugs that would collide with the registry's own top-level names: the
 * platform's stacks and buildpacks, and where app images are kept (apps/GUID).
 */
export const RESERVED_ORG_SLUGS: readonly string[] = ['apps', 'stacks', 'buildpacks'];

export function newGuid(): string {
  return randomUUID();
}

export function now(): string {
  return new Date().toISOString();
}

export function emptyMetadata(): Metadata {
  return { labels: {}, annotations: {} };
}

/**
 * The registry-safe form of a name (OCI path components are lower-case letters and
 * digits, separated by one of `.`, `_`, `__`, `-`): lower-cased, every other run of
 * characters a single `-`, trimmed; "x" when nothing is left.
 */
export function slugOf(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return slug === '' ? 'x' : slug;
}
