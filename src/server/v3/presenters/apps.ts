import { z } from 'zod';
import type { AppInSpace } from '../../../platform/actions/apps.js';
import { PRIVATE_DATA_HIDDEN } from '../../../platform/audit.js';
import type { App } from '../../../platform/model.js';
import { cfTime, LinkSchema, MetadataSchema, presentMetadata, toOne, ToOneSchema, type Urls } from './common.js';
import { OrganizationSchema, SpaceSchema } from './tenancy.js';

/**
 * Apps and their environment in CF v3's shapes (CC: AppPresenter,
 * AppEnvironmentVariablesPresenter, AppEnvPresenter).
 */

export const AppSchema = z
  .object({
    guid: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    name: z.string(),
    state: z.enum(['STOPPED', 'STARTED']),
    lifecycle: z.object({
      type: z.enum(['buildpack', 'cnb', 'docker']),
      data: z.object({ buildpacks: z.array(z.string()).optional(), stack: z.string().nullable().optional() }),
    }),
    relationships: z.object({
      space: ToOneSchema,
      current_droplet: z.object({ data: z.object({ guid: z.string().nullable() }) }),
    }),
    metadata: MetadataSchema,
    links: z.object({ self: LinkSchema, environment_variables: LinkSchema, space: LinkSchema }),
    slipway: z
      .object({ auto_rebase: z.boolean() })
      .meta({ description: 'Slipway extension: false when the app is pinned to its stack version' }),
  })
  .meta({ id: 'App' });

export function presentApp(app: App, urls: Urls): z.infer<typeof AppSchema> {
  return {
    guid: app.guid,
    created_at: cfTime(app.createdAt),
    updated_at: cfTime(app.updatedAt),
    name: app.name,
    state: app.state,
    lifecycle: {
      type: app.lifecycle.type,
      data:
        app.lifecycle.type === 'docker'
          ? {}
          : { buildpacks: [...app.lifecycle.data.buildpacks], stack: app.lifecycle.data.stack },
    },
    relationships: { space: toOne(app.spaceGuid), current_droplet: { data: { guid: app.currentDropletGuid ?? null } } },
    metadata: presentMetadata(app.metadata),
    links: {
      self: urls.link(`/v3/apps/${app.guid}`),
      environment_variables: urls.link(`/v3/apps/${app.guid}/environment_variables`),
      space: urls.link(`/v3/spaces/${app.spaceGuid}`),
    },
    slipway: { auto_rebase: app.autoRebase !== false },
  };
}

export const AppIncludedSchema = z.object({
  spaces: z.array(SpaceSchema).optional(),
  organizations: z.array(OrganizationSchema).optional(),
});

export const EnvVarsSchema = z
  .object({
    var: z.record(z.string(), z.string()),
    links: z.object({ self: LinkSchema, app: LinkSchema }),
  })
  .meta({ id: 'EnvironmentVariables' });

export function presentEnvVars(app: App, urls: Urls): z.infer<typeof EnvVarsSchema> {
  return {
    var: { ...app.environmentVariables },
    links: {
      self: urls.link(`/v3/apps/${app.guid}/environment_variables`),
      app: urls.link(`/v3/apps/${app.guid}`),
    },
  };
}

const json = z.record(z.string(), z.unknown());

export const AppEnvSchema = z
  .object({
    environment_variables: z.record(z.string(), z.string()),
    staging_env_json: json,
    running_env_json: json,
    system_env_json: json,
    application_env_json: json,
  })
  .meta({ id: 'AppEnvironment' });

/** The environment an instance of the app gets, the system part redacted unless the caller reads secrets. */
export function presentAppEnv(found: AppInSpace & { showSecrets: boolean }, urls: Urls): z.infer<typeof AppEnvSchema> {
  const { app, space, org } = found;
  const vcapApplication = {
    application_id: app.guid,
    application_name: app.name,
    application_uris: [],
    cf_api: urls.base,
    limits: { fds: 16384 },
    name: app.name,
    organization_id: org.guid,
    organization_name: org.name,
    space_id: space.guid,
    space_name: space.name,
    uris: [],
    users: null,
  };
  return {
    environment_variables: { ...app.environmentVariables },
    staging_env_json: {},
    running_env_json: {},
    system_env_json: found.showSecrets ? { VCAP_SERVICES: {} } : { redacted_message: PRIVATE_DATA_HIDDEN },
    application_env_json: { VCAP_APPLICATION: vcapApplication },
  };
}
