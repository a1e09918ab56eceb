import { notFound } from '../cf-errors.js';
import type { AuditEventListMessage } from '../messages/audit-events.js';
import type { ParsedList } from '../messages/list-query.js';
import type { AuditEvent, Job } from '../model.js';
import type { Page } from '../store/platform-store.js';
import type { ActionContext } from './context.js';

/**
 * Audit events (CC: EventsController) and jobs (CC: V3::JobsController). Events are
 * read as what they are about: a space's events by the space's readers, an org's by
 * the org's (the store's event visibility), platform events by global readers.
 */

type EventListValues = ReturnType<typeof AuditEventListMessage.parse>['values'];

export function listAuditEvents(ctx: ActionContext, q: ParsedList<EventListValues>): Promise<Page<AuditEvent>> {
  const v = q.values;
  return ctx.store.listEvents(
    q.page,
    {
      guids: v.guids,
      types: v.types,
      targetGuids: v.target_guids,
      spaceGuids: v.space_guids,
      organizationGuids: v.organization_guids,
    },
    ctx.perms.eventVisibility(),
  );
}

export async function getAuditEvent(ctx: ActionContext, guid: string): Promise<AuditEvent> {
  const page = await ctx.store.listEvents(
    { page: 1, perPage: 1, orderBy: 'created_at' },
    { guids: [guid] },
    ctx.perms.eventVisibility(),
  );
  const event = page.items[0];
  if (!event) throw notFound('Event');
  return event;
}

/** A job, by its guid: every signed-in user (CC: the guid is the capability). */
export async function getJob(ctx: ActionContext, guid: string): Promise<Job> {
  const job = ctx.perms.signedIn ? await ctx.store.getJob(guid) : undefined;
  if (!job) throw notFound('Job');
  return job;
}
