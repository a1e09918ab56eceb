import { z } from 'zod';
import { MetadataPatchSchema, toOne } from './common.js';
import { csv, listMessage } from './list-query.js';

/** CC's DeploymentCreateMessage, DeploymentsListMessage and AppRevisionsListMessage. */

export const DeploymentListMessage = listMessage({
  params: {
    guids: csv('Deployment guids'),
    app_guids: csv('Guids of their apps'),
    status_values: csv('ACTIVE, FINALIZED'),
    status_reasons: csv('DEPLOYING, CANCELING, DEPLOYED, CANCELED, SUPERSEDED'),
  },
  orderBy: ['created_at', 'updated_at'],
});

const guidRef = z.strictObject({ guid: z.string({ error: 'must be a string' }) }, { error: 'must be an object' });

/** The cf CLI sends every option, the unset ones as null. */
const option = z.number({ error: 'must be an integer' }).int({ error: 'must be an integer' }).nullable().optional();

export const DeploymentCreateMessage = z
  .strictObject({
    relationships: z.strictObject(
      { app: toOne() },
      { error: (iss) => (iss.input === undefined ? "can't be blank" : 'must be an object') },
    ),
    droplet: guidRef.optional(),
    revision: guidRef.optional(),
    strategy: z.enum(['rolling'], { error: "'canary' is not supported here: use 'rolling'" }).optional(),
    options: z
      .strictObject(
        {
          max_in_flight: option.refine((n) => n == null || n >= 1, { error: 'must be an integer greater than 0' }),
          web_instances: option,
          memory_in_mb: option,
          disk_in_mb: option,
          log_rate_limit_in_bytes_per_second: option,
        },
        { error: 'must be an object' },
      )
      .optional(),
    metadata: MetadataPatchSchema.optional(),
  })
  .superRefine((m, ctx) => {
    if (m.droplet && m.revision)
      ctx.addIssue({ code: 'custom', message: 'Cannot set both fields droplet and revision', path: [] });
  })
  .meta({ title: 'DeploymentCreate' });
export type DeploymentCreateInput = z.output<typeof DeploymentCreateMessage>;

export const RevisionListMessage = listMessage({
  params: { versions: csv('Revision versions') },
  orderBy: ['created_at', 'updated_at', 'version'],
});
