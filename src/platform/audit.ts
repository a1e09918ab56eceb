import { type AuditActor, type AuditEvent, newGuid } from './model.js';
import type { Permissions } from './policy.js';
import type { RoleType } from './roles.js';
import type { PlatformStore } from './store/platform-store.js';

/**
 * The audit trail: one event per write, as Cloud Controller's `audit_events`
 * (app/repositories/*_event_repository.rb): the event types are CC's, the actor is the
 * caller, the target ("actee") the resource written, with its space and org and the
 * request's id. What a request asked for goes in `data.request`, secrets censored.
 */

/** CC's event types (app/repositories/event_types.rb) for what the platform writes. */
export const EVENT_TYPES = {
  organizationCreate: 'audit.organization.create',
  organizationUpdate: 'audit.organization.update',
  organizationDeleteRequest: 'audit.organization.delete-request',
  spaceCreate: 'audit.space.create',
  spaceUpdate: 'audit.space.update',
  spaceDeleteRequest: 'audit.space.delete-request',
  appCreate: 'audit.app.create',
  appUpdate: 'audit.app.update',
  appDeleteRequest: 'audit.app.delete-request',
  appEnvironmentShow: 'audit.app.environment.show',
  appEnvironmentVariablesShow: 'audit.app.environment_variables.show',
  appStart: 'audit.app.start',
  appStop: 'audit.app.stop',
  appRestart: 'audit.app.restart',
  appApplyManifest: 'audit.app.apply_manifest',
  appPackageCreate: 'audit.app.package.create',
  appPackageUpload: 'audit.app.package.upload',
  appBuildCreate: 'audit.app.build.create',
  appDropletMapped: 'audit.app.droplet.mapped',
  appDropletDownload: 'audit.app.droplet.download',
  appProcessUpdate: 'audit.app.process.update',
  appProcessScale: 'audit.app.process.scale',
  appDeploymentCreate: 'audit.app.deployment.create',
  appDeploymentCancel: 'audit.app.deployment.cancel',
  appMapRoute: 'audit.app.map-route',
  appUnmapRoute: 'audit.app.unmap-route',
  routeCreate: 'audit.route.create',
  routeDeleteRequest: 'audit.route.delete-request',
  buildpackCreate: 'audit.buildpack.create',
  buildpackUpdate: 'audit.buildpack.update',
  buildpackDelete: 'audit.buildpack.delete',
  /** Slipway's own: CC keeps users in UAA and records no event for them. */
  userCreate: 'audit.user.create',
  userDeleteRequest: 'audit.user.delete-request',
} as const;

/** CC's role events: audit.user.space_developer_add, audit.user.organization_manager_remove, ... */
export function roleEventType(type: RoleType, change: 'add' | 'remove'): string {
  return `audit.user.${type}_${change}`;
}

/** CC's censored value for secrets in an event's request (Censorship::PRIVATE_DATA_HIDDEN). */
export const PRIVATE_DATA_HIDDEN = '[PRIVATE DATA HIDDEN]';

export interface AuditEntry {
  type: string;
  target: AuditEvent['target'];
  spaceGuid?: string | undefined;
  orgGuid?: string | undefined;
  data?: Record<string, unknown>;
}

/** Who made a request, as an event's actor. */
export function actorOf(perms: Permissions): AuditActor {
  const c = perms.caller;
  if (c.kind === 'user') return { guid: c.user.guid, type: 'user', name: c.user.username };
  if (c.kind === 'api-token') return { guid: c.user.guid, type: 'user', name: c.user.username };
  if (c.kind === 'staging') return { guid: c.appGuid, type: 'system', name: 'staging' };
  return { guid: '', type: 'system', name: 'anonymous' };
}

/**
 * Records audit events in the store.
 *
 * @example
 * await audit.record(perms, requestId, { type: EVENT_TYPES.spaceCreate, target: { guid, type: 'space', name }, spaceGuid: guid, orgGuid });
 */
export class AuditLog {
  readonly #store: PlatformStore;
  readonly #clock: () => Date;

  constructor(store: PlatformStore, clock: () => Date = () => new Date()) {
    this.#store = store;
    this.#clock = clock;
  }

  async record(perms: Permissions, requestId: string, entry: AuditEntry): Promise<AuditEvent> {
    const at = this.#clock().toISOString();
    const event: AuditEvent = {
      guid: newGuid(),
      createdAt: at,
      updatedAt: at,
      type: entry.type,
      actor: actorOf(perms),
      target: entry.target,
      data: entry.data ?? {},
      requestId,
    };
    if (entry.spaceGuid !== undefined) event.spaceGuid = entry.spaceGuid;
    if (entry.orgGuid !== undefined) event.orgGuid = entry.orgGuid;
    await this.#store.recordEvent(event);
    return event;
  }
}
