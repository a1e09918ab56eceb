import { csv, listMessage } from './list-query.js';

/** CC's EventsListMessage. */
export const AuditEventListMessage = listMessage({
  params: {
    guids: csv('Event guids'),
    types: csv('Event types, e.g. audit.app.create'),
    target_guids: csv('Guids of the resources the events are about'),
    space_guids: csv('Guids of their spaces'),
    organization_guids: csv('Guids of their organizations'),
  },
  orderBy: ['created_at', 'updated_at'],
});
