import { z } from 'zod';

/** POST /v3/stacks/:guid/actions/update (Slipway): a new stack version, and with `rollout` every app rebased and rolled. */
export const StackUpdateMessage = z
  .strictObject({
    rollout: z.boolean({ error: 'must be a boolean' }).optional(),
    max_in_flight: z
      .number({ error: 'must be an integer' })
      .int({ error: 'must be an integer' })
      .min(1, { error: 'must be an integer greater than 0' })
      .max(100, { error: 'must be at most 100' })
      .optional(),
    run_packages: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9+.-]*$/, { error: 'must be Debian package names' }))
      .optional(),
    build_packages: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9+.-]*$/, { error: 'must be Debian package names' }))
      .optional(),
    remove_packages: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9+.-]*$/, { error: 'must be Debian package names' }))
      .optional(),
    refresh: z.boolean({ error: 'must be a boolean' }).optional(),
  })
  .meta({ title: 'StackUpdate' });
export type StackUpdateInput = z.output<typeof StackUpdateMessage>;
