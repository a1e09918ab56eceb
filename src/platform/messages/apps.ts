import { z } from 'zod';
import { MetadataPatchSchema, requiredString, toOne } from './common.js';
import { csv, include, labelSelector, listMessage, showMessage } from './list-query.js';

/**
 * CC's AppsListMessage, AppShowMessage, AppCreateMessage, AppUpdateMessage (with
 * BuildpackLifecycleDataMessage) and UpdateEnvironmentVariablesMessage.
 */

export const APP_INCLUDES = ['space', 'org', 'space.organization'] as const;
export const LIFECYCLE_TYPES = ['buildpack', 'cnb', 'docker'] as const;

export const AppListMessage = listMessage({
  params: {
    guids: csv('App guids'),
    names: csv('App names'),
    space_guids: csv('Guids of their spaces'),
    organization_guids: csv('Guids of their organizations'),
    stacks: csv('Stack names'),
    include: include(APP_INCLUDES),
    lifecycle_type: z
      .string()
      .transform((v, ctx) => {
        if ((LIFECYCLE_TYPES as readonly string[]).includes(v)) return v as (typeof LIFECYCLE_TYPES)[number];
        ctx.addIssue({ code: 'custom', message: `Invalid lifecycle_type: '${v}'` });
        return z.NEVER;
      })
      .optional()
      .meta({ description: 'buildpack, cnb or docker' }),
    label_selector: labelSelector(),
  },
  // CC also orders by state; the store does not yet.
  orderBy: ['created_at', 'updated_at', 'name'],
});

export const AppShowMessage = showMessage({ include: include(APP_INCLUDES) });

/** Env var names CC refuses (EnvironmentVariablesValidator). */
function envKeyError(key: string): string | undefined {
  if (key === '') return 'key must be a minimum length of 1';
  if (/^VCAP_/i.test(key)) return 'cannot start with VCAP_';
  if (/^VMC/i.test(key)) return 'cannot start with VMC_';
  if (/^PORT$/i.test(key)) return 'cannot set PORT';
  return undefined;
}

function envVars<V extends z.ZodType>(value: V) {
  return z.record(z.string(), value, { error: 'must be an object' }).superRefine((vars, ctx) => {
    for (const key of Object.keys(vars)) {
      const problem = envKeyError(key);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }
  });
}

const buildpackName = z
  .string({ error: 'can only contain strings' })
  .min(1, { error: 'entries must be between 1 and 4096 characters' })
  .max(4096, { error: 'entries must be between 1 and 4096 characters' });

const lifecycle = z.strictObject(
  {
    type: z.enum(LIFECYCLE_TYPES, { error: 'must be one of buildpack, cnb, docker' }),
    data: z
      .strictObject(
        {
          buildpacks: z.array(buildpackName, { error: 'must be an array' }).nullable().optional(),
          stack: z
            .string({ error: 'must be a string' })
            .min(1, { error: 'must be between 1 and 4096 characters' })
            .max(4096, { error: 'must be between 1 and 4096 characters' })
            .nullable()
            .optional(),
        },
        { error: 'must be an object' },
      )
      .default({}),
  },
  { error: 'must be an object' },
);
export type LifecycleInput = z.output<typeof lifecycle>;

const appName = requiredString()
  .min(1, { error: "can't be blank" })
  .max(255, { error: 'is too long (maximum is 255 characters)' });

/** Slipway's own app settings, beside CF's: `auto_rebase: false` pins the app (a stack rollout leaves it behind). */
const slipwayApp = z
  .strictObject({ auto_rebase: z.boolean({ error: 'must be a boolean' }).optional() })
  .meta({ description: 'Slipway extension: auto_rebase false pins the app to its stack version' });

export const AppCreateMessage = z
  .strictObject({
    name: appName.meta({ description: 'Unique within the space (case-insensitively)' }),
    relationships: z.strictObject(
      { space: toOne() },
      { error: (iss) => (iss.input === undefined ? "can't be blank" : 'must be an object') },
    ),
    lifecycle: lifecycle.optional(),
    environment_variables: envVars(z.string({ error: 'values must be strings' })).optional(),
    metadata: MetadataPatchSchema.optional(),
    slipway: slipwayApp.optional(),
  })
  .meta({ title: 'AppCreate' });
export type AppCreateInput = z.output<typeof AppCreateMessage>;

export const AppUpdateMessage = z
  .strictObject({
    name: appName.optional(),
    lifecycle: lifecycle.optional(),
    metadata: MetadataPatchSchema.optional(),
    slipway: slipwayApp.optional(),
  })
  .meta({ title: 'AppUpdate' });
export type AppUpdateInput = z.output<typeof AppUpdateMessage>;

/** `{"var":{"NAME":"value"}}`: set NAME; a null value removes it. */
export const EnvVarsUpdateMessage = z
  .strictObject({
    var: envVars(
      z
        .string({ error: (iss) => `Non-string value in environment variable, value '${JSON.stringify(iss.input)}'` })
        .nullable(),
    ),
  })
  .meta({ title: 'EnvironmentVariablesUpdate' });
export type EnvVarsUpdateInput = z.output<typeof EnvVarsUpdateMessage>;
