import { isSlipwayError } from '../../errors.js';
import type { AuditEntry, AuditLog } from '../audit.js';
import { unprocessable } from '../cf-errors.js';
import type { JobRunner } from '../jobs.js';
import type { Metadata, Organization, Space } from '../model.js';
import type { Permissions, SpaceContext } from '../policy.js';
import type { PlatformStore } from '../store/platform-store.js';

/**
 * What every use case of the v3 API gets: the caller's permissions (THE policy,
 * asked for every decision), the store, the audit trail and the request's id.
 * Actions that delete also get the job runner (deletes are jobs, as CC's).
 */
export interface ActionContext {
  perms: Permissions;
  store: PlatformStore;
  audit: AuditLog;
  requestId: string;
  clock?: () => Date;
}

export interface DeleteContext extends ActionContext {
  jobs: JobRunner;
}

export function timestamp(ctx: Pick<ActionContext, 'clock'>): string {
  return (ctx.clock?.() ?? new Date()).toISOString();
}

export function record(ctx: ActionContext, entry: AuditEntry): Promise<unknown> {
  return ctx.audit.record(ctx.perms, ctx.requestId, entry);
}

/** A space with its org, as the policy asks about it; undefined when either is gone. */
export async function spaceContext(
  store: PlatformStore,
  spaceGuid: string,
): Promise<(SpaceContext & { space: Space; org: Organization }) | undefined> {
  const space = await store.getSpace(spaceGuid);
  if (!space) return undefined;
  const org = await store.getOrg(space.orgGuid);
  return org ? { space, org } : undefined;
}

/** A metadata patch as CC applies it: labels and annotations merged, a null value removes its key. */
export interface MetadataPatch {
  labels?: Record<string, string | null> | undefined;
  annotations?: Record<string, string | null> | undefined;
}

export function mergeMetadata(current: Metadata, patch: MetadataPatch | undefined): Metadata {
  return {
    labels: mergeStrings(current.labels, patch?.labels),
    annotations: mergeStrings(current.annotations, patch?.annotations),
  };
}

function mergeStrings(
  current: Record<string, string>,
  patch: Record<string, string | null> | undefined,
): Record<string, string> {
  const out = { ...current };
  for (const [k, v] of Object.entries(patch ?? {})) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** The store's "a parent is gone" (a race with a delete) as CC's 422 for the relationship. */
export async function parentGone<T>(detail: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isSlipwayError(err, 'NOT_FOUND')) throw unprocessable(detail);
    throw err;
  }
}
