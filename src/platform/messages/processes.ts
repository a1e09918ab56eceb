import { z } from 'zod';
import { MetadataPatchSchema } from './common.js';
import { csv, labelSelector, listMessage } from './list-query.js';

/** CC's ProcessesListMessage, ProcessUpdateMessage and ProcessScaleMessage. */

export const ProcessListMessage = listMessage({
  params: {
    guids: csv('Process guids'),
    types: csv('Process types (web, worker, ...)'),
    app_guids: csv('Guids of their apps'),
    space_guids: csv('Guids of their apps’ spaces'),
    embed: z
      .enum(['process_instances'], { error: "must be 'process_instances'" })
      .optional()
      .meta({ description: 'process_instances: each process with its instances (index, state, since)' }),
    label_selector: labelSelector(),
  },
  orderBy: ['created_at', 'updated_at'],
});

export const HEALTH_CHECK_TYPES = ['port', 'process', 'http'] as const;

const seconds = (name: string) =>
  z
    .number({ error: `${name} must be a number` })
    .int({ error: `${name} must be an integer` })
    .min(1, { error: `${name} must be greater than or equal to 1` })
    .nullable()
    .optional();

export const HealthCheckInput = z.strictObject(
  {
    type: z.enum(HEALTH_CHECK_TYPES, { error: 'must be one of port, process, http' }).optional(),
    data: z
      .strictObject(
        {
          timeout: seconds('Timeout'),
          invocation_timeout: seconds('Invocation timeout'),
          interval: seconds('Interval'),
          endpoint: z
            .string({ error: 'must be a string' })
            .regex(/^\//, { error: 'must be a valid URI path' })
            .nullable()
            .optional(),
        },
        { error: 'must be an object' },
      )
      .optional(),
  },
  { error: 'must be an object' },
);
export type HealthCheckPatch = z.output<typeof HealthCheckInput>;

export const ProcessUpdateMessage = z
  .strictObject({
    command: z
      .string({ error: 'must be a string' })
      .min(1, { error: 'must be between 1 and 4096 characters' })
      .max(4096, { error: 'must be between 1 and 4096 characters' })
      .nullable()
      .optional(),
    health_check: HealthCheckInput.optional(),
    metadata: MetadataPatchSchema.optional(),
  })
  .meta({ title: 'ProcessUpdate' });
export type ProcessUpdateInput = z.output<typeof ProcessUpdateMessage>;

const count = (min: number, rule: string) =>
  z.number({ error: 'is not a number' }).int({ error: 'must be an integer' }).min(min, { error: rule }).optional();

export const ProcessScaleMessage = z
  .strictObject({
    instances: count(0, 'must be greater than or equal to 0'),
    memory_in_mb: count(1, 'must be greater than 0'),
    disk_in_mb: count(1, 'must be greater than 0'),
    log_rate_limit_in_bytes_per_second: count(-1, 'must be greater than or equal to -1'),
  })
  .meta({ title: 'ProcessScale' });
export type ProcessScaleInput = z.output<typeof ProcessScaleMessage>;
