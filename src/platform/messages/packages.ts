import { z } from 'zod';
import { MetadataPatchSchema, toOne } from './common.js';
import { csv, labelSelector, listMessage } from './list-query.js';

/**
 * CC's PackageCreateMessage, PackagesListMessage, the package's droplets list, and
 * ResourceMatchesMessage (what `cf push` sends to learn which files it need not upload).
 */

export const PackageListMessage = listMessage({
  params: {
    guids: csv('Package guids'),
    app_guids: csv('Guids of their apps'),
    states: csv('AWAITING_UPLOAD, PROCESSING_UPLOAD, READY, FAILED, EXPIRED'),
    label_selector: labelSelector(),
  },
  orderBy: ['created_at', 'updated_at'],
});

export const PackageCreateMessage = z
  .strictObject({
    type: z.enum(['bits', 'docker'], { error: 'must be one of bits, docker' }),
    relationships: z.strictObject(
      { app: toOne() },
      { error: (iss) => (iss.input === undefined ? "can't be blank" : 'must be an object') },
    ),
    data: z
      .strictObject(
        {
          image: z.string({ error: 'must be a string' }).optional(),
          username: z.string({ error: 'must be a string' }).optional(),
          password: z.string({ error: 'must be a string' }).optional(),
        },
        { error: 'must be an object' },
      )
      .optional(),
    metadata: MetadataPatchSchema.optional(),
  })
  .superRefine((m, ctx) => {
    if (m.type === 'bits' && m.data?.image !== undefined)
      ctx.addIssue({ code: 'custom', message: 'Data must be empty if provided for bits packages', path: [] });
    if (m.type === 'docker' && !m.data?.image)
      ctx.addIssue({ code: 'custom', message: 'Data Image required', path: [] });
  })
  .meta({ title: 'PackageCreate' });
export type PackageCreateInput = z.output<typeof PackageCreateMessage>;

/** One file as resource matching names it (CC's `resources` entry). */
const resource = z.strictObject(
  {
    checksum: z.strictObject({ value: z.string({ error: 'must be a string' }) }, { error: 'must be an object' }),
    size_in_bytes: z.number({ error: 'must be a number' }).int({ error: 'must be an integer' }).min(0),
    path: z.string({ error: 'must be a string' }).optional(),
    mode: z.string({ error: 'must be a string' }).optional(),
  },
  { error: 'must be an object' },
);
export type ResourceInput = z.output<typeof resource>;

/** The most entries CC takes in one resource match (the cf CLI sends chunks of 5000). */
export const MAX_RESOURCES = 5000;

export const ResourceMatchMessage = z
  .strictObject({
    resources: z
      .array(resource, { error: 'must be an array' })
      .min(1, { error: 'must have at least 1 resource' })
      .max(MAX_RESOURCES, { error: `array can have at most ${MAX_RESOURCES} resources` }),
  })
  .meta({ title: 'ResourceMatch' });
export type ResourceMatchInput = z.output<typeof ResourceMatchMessage>;

/** The `resources` field of an upload: the matched files (path and mode required there). */
export const UploadResourcesSchema = z.array(
  resource.extend({
    path: z.string({ error: 'must be a string' }).min(1, { error: "can't be blank" }),
    mode: z.string({ error: 'must be a string' }).optional(),
  }),
  { error: 'must be an array' },
);
