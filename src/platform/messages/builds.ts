import { z } from 'zod';
import { MetadataPatchSchema } from './common.js';
import { csv, labelSelector, listMessage } from './list-query.js';

/** CC's BuildCreateMessage, BuildsListMessage, DropletsListMessage and the current-droplet relationship. */

export const BuildListMessage = listMessage({
  params: {
    guids: csv('Build guids'),
    app_guids: csv('Guids of their apps'),
    package_guids: csv('Guids of their packages'),
    states: csv('STAGING, STAGED, FAILED'),
    label_selector: labelSelector(),
  },
  orderBy: ['created_at', 'updated_at'],
});

export const BuildCreateMessage = z
  .strictObject({
    package: z.strictObject(
      { guid: z.string({ error: 'must be a string' }) },
      { error: (iss) => (iss.input === undefined ? "can't be blank" : 'must be an object') },
    ),
    lifecycle: z
      .strictObject(
        {
          type: z.enum(['buildpack', 'cnb'], { error: 'must be one of buildpack, cnb' }),
          data: z
            .strictObject({
              buildpacks: z.array(z.string()).nullable().optional(),
              stack: z.string().nullable().optional(),
            })
            .default({}),
        },
        { error: 'must be an object' },
      )
      .optional(),
    staging_memory_in_mb: z.number().int().positive().optional(),
    staging_disk_in_mb: z.number().int().positive().optional(),
    staging_log_rate_limit_bytes_per_second: z.number().int().min(-1).optional(),
    metadata: MetadataPatchSchema.optional(),
  })
  .meta({ title: 'BuildCreate' });
export type BuildCreateInput = z.output<typeof BuildCreateMessage>;

export const DropletListMessage = listMessage({
  params: {
    guids: csv('Droplet guids'),
    app_guids: csv('Guids of their apps'),
    package_guids: csv('Guids of their packages'),
    states: csv('STAGED, FAILED, ...'),
    stacks: csv('Stack names'),
    current: z.enum(['true']).optional().meta({ description: "Only the app's current droplet (app droplets only)" }),
    label_selector: labelSelector(),
  },
  orderBy: ['created_at', 'updated_at'],
});

export const CurrentDropletMessage = z
  .strictObject(
    {
      data: z
        .strictObject({ guid: z.string({ error: 'must be a string' }) }, { error: 'must be an object' })
        .nullable(),
    },
    { error: 'must be an object' },
  )
  .meta({ title: 'CurrentDroplet' });
export type CurrentDropletInput = z.output<typeof CurrentDropletMessage>;
