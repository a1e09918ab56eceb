import { z } from 'zod';
import { MetadataPatchSchema, NAME_PATTERN, optionalBoolean } from './common.js';
import { csv, labelSelector, listMessage } from './list-query.js';

/** CC's OrgsListMessage, OrganizationCreateMessage and OrganizationUpdateMessage. */

export const OrgListMessage = listMessage({
  params: {
    guids: csv('Organization guids'),
    names: csv('Organization names'),
    label_selector: labelSelector(),
  },
  orderBy: ['created_at', 'updated_at', 'name'],
});

const orgName = z
  .string({ error: (iss) => (iss.input === undefined ? "can't be blank" : 'must be a string') })
  .min(1, { error: 'is too short (minimum is 1 character)' })
  .max(255, { error: 'is too long (maximum is 255 characters)' })
  .regex(NAME_PATTERN, { error: 'must not contain escaped characters' });

export const OrgCreateMessage = z
  .strictObject({
    name: orgName.meta({ description: 'Unique among organizations' }),
    suspended: optionalBoolean().meta({ description: 'A suspended org is read-only to all but admins' }),
    metadata: MetadataPatchSchema.optional(),
  })
  .meta({ title: 'OrganizationCreate' });
export type OrgCreateInput = z.output<typeof OrgCreateMessage>;

export const OrgUpdateMessage = z
  .strictObject({
    name: orgName.optional(),
    suspended: optionalBoolean(),
    metadata: MetadataPatchSchema.optional(),
  })
  .meta({ title: 'OrganizationUpdate' });
export type OrgUpdateInput = z.output<typeof OrgUpdateMessage>;
