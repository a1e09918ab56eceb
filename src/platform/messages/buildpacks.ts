import { z } from 'zod';
import { MetadataPatchSchema, optionalBoolean } from './common.js';
import { csv, labelSelector, listMessage } from './list-query.js';

/** CC's BuildpacksListMessage, BuildpackCreateMessage and BuildpackUpdateMessage. */

const LIFECYCLES = ['buildpack', 'cnb'] as const;

export const BuildpackListMessage = listMessage({
  params: {
    guids: csv('Buildpack guids'),
    names: csv('Buildpack names'),
    stacks: csv('Stack names'),
    lifecycle: z.enum(LIFECYCLES, { error: 'must be either "buildpack" or "cnb"' }).optional(),
    label_selector: labelSelector(),
  },
  orderBy: ['created_at', 'updated_at', 'position'],
  defaultOrder: 'position',
});

const buildpackName = z
  .string({ error: (iss) => (iss.input === undefined ? "can't be blank" : 'must be a string') })
  .min(1, { error: "can't be blank" })
  .max(250, { error: 'is too long (maximum is 250 characters)' })
  .regex(/^[-\w]+$/, { error: 'is invalid' });

const stack = z
  .string({ error: 'must be a string' })
  .max(250, { error: 'is too long (maximum is 250 characters)' })
  .nullable()
  .optional();

const position = z
  .number({ error: 'is not a number' })
  .int({ error: 'must be an integer' })
  .min(1, { error: 'must be greater than or equal to 1' });

export const BuildpackCreateMessage = z
  .strictObject({
    name: buildpackName,
    stack,
    position: position.optional().meta({ description: 'Where it is tried, from 1 (default 1: first)' }),
    enabled: optionalBoolean(),
    locked: optionalBoolean(),
    lifecycle: z.enum(LIFECYCLES, { error: 'must be either "buildpack" or "cnb"' }).optional(),
    metadata: MetadataPatchSchema.optional(),
  })
  .meta({ title: 'BuildpackCreate' });
export type BuildpackCreateInput = z.output<typeof BuildpackCreateMessage>;

export const BuildpackUpdateMessage = z
  .strictObject({
    name: buildpackName.optional(),
    stack,
    position: position.optional(),
    enabled: optionalBoolean(),
    locked: optionalBoolean(),
    metadata: MetadataPatchSchema.optional(),
  })
  .meta({ title: 'BuildpackUpdate' });
export type BuildpackUpdateInput = z.output<typeof BuildpackUpdateMessage>;
