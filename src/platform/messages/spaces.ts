import { z } from 'zod';
import { MetadataPatchSchema, NAME_PATTERN, toOne } from './common.js';
import { csv, include, labelSelector, listMessage, showMessage } from './list-query.js';

/** CC's SpacesListMessage, SpaceShowMessage, SpaceCreateMessage and SpaceUpdateMessage. */

export const SPACE_INCLUDES = ['org', 'organization'] as const;

export const SpaceListMessage = listMessage({
  params: {
    guids: csv('Space guids'),
    names: csv('Space names'),
    organization_guids: csv('Guids of their organizations'),
    include: include(SPACE_INCLUDES),
    label_selector: labelSelector(),
  },
  orderBy: ['created_at', 'updated_at', 'name'],
});

export const SpaceShowMessage = showMessage({ include: include(SPACE_INCLUDES) });

const spaceName = z
  .string({ error: (iss) => (iss.input === undefined ? "can't be blank" : 'must be a string') })
  .min(1, { error: "can't be blank" })
  .max(255, { error: 'is too long (maximum is 255 characters)' })
  .regex(NAME_PATTERN, { error: 'must not contain escaped characters' });

export const SpaceCreateMessage = z
  .strictObject({
    name: spaceName.meta({ description: 'Unique within the organization' }),
    relationships: z.strictObject(
      { organization: toOne() },
      { error: (iss) => (iss.input === undefined ? "can't be blank" : 'must be an object') },
    ),
    metadata: MetadataPatchSchema.optional(),
  })
  .meta({ title: 'SpaceCreate' });
export type SpaceCreateInput = z.output<typeof SpaceCreateMessage>;

export const SpaceUpdateMessage = z
  .strictObject({ name: spaceName.optional(), metadata: MetadataPatchSchema.optional() })
  .meta({ title: 'SpaceUpdate' });
export type SpaceUpdateInput = z.output<typeof SpaceUpdateMessage>;
