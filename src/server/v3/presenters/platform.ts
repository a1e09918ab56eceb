import { z } from 'zod';
import type { Stack } from '../../../platform/actions/stacks.js';
import type { AuditEvent, Buildpack, Job } from '../../../platform/model.js';
import { cfTime, LinkSchema, MetadataSchema, presentMetadata, type Urls } from './common.js';

/**
 * Buildpacks, stacks, audit events, jobs and the root documents in CF v3's shapes
 * (CC: BuildpackPresenter, StackPresenter, EventPresenter, JobPresenter,
 * RootController, InfoPresenter).
 */

/** The API version the root document announces: a semver the cf CLI parses (v8.18+ fails `cf apps` otherwise). */
export const API_VERSION = '3.180.0';

export const BuildpackSchema = z
  .object({
    guid: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    name: z.string(),
    stack: z.string().nullable(),
    state: z.enum(['AWAITING_UPLOAD', 'READY']),
    lifecycle: z.enum(['buildpack', 'cnb']),
    filename: z.string().nullable(),
    position: z.number().int(),
    enabled: z.boolean(),
    locked: z.boolean(),
    metadata: MetadataSchema,
    links: z.object({ self: LinkSchema }),
  })
  .meta({ id: 'Buildpack' });

export function presentBuildpack(bp: Buildpack, urls: Urls): z.infer<typeof BuildpackSchema> {
  return {
    guid: bp.guid,
    created_at: cfTime(bp.createdAt),
    updated_at: cfTime(bp.updatedAt),
    name: bp.name,
    stack: bp.stack,
    state: bp.state,
    lifecycle: bp.lifecycle,
    filename: bp.filename,
    position: bp.position,
    enabled: bp.enabled,
    locked: bp.locked,
    metadata: presentMetadata(bp.metadata),
    links: { self: urls.link(`/v3/buildpacks/${bp.guid}`) },
  };
}

/** Stacks come from the catalog, which keeps no times: they show the epoch. */
const STACK_TIME = '1970-01-01T00:00:00Z';

export const StackSchema = z
  .object({
    guid: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    name: z.string(),
    description: z.string(),
    state: z.literal('ACTIVE'),
    state_reason: z.string().nullable(),
    build_rootfs_image: z.string(),
    run_rootfs_image: z.string(),
    default: z.boolean(),
    metadata: MetadataSchema,
    links: z.object({ self: LinkSchema }),
  })
  .meta({ id: 'Stack' });

export function presentStack(stack: Stack, urls: Urls): z.infer<typeof StackSchema> {
  return {
    guid: stack.guid,
    created_at: STACK_TIME,
    updated_at: STACK_TIME,
    name: stack.name,
    description: stack.description,
    state: 'ACTIVE',
    state_reason: null,
    build_rootfs_image: stack.buildImage,
    run_rootfs_image: stack.runImage,
    default: stack.default,
    metadata: { labels: {}, annotations: { version: stack.version } },
    links: { self: urls.link(`/v3/stacks/${stack.guid}`) },
  };
}

const Named = z.object({ guid: z.string(), type: z.string(), name: z.string() });

export const AuditEventSchema = z
  .object({
    guid: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    type: z.string(),
    actor: Named,
    target: Named,
    data: z.record(z.string(), z.unknown()),
    space: z.object({ guid: z.string() }).nullable(),
    organization: z.object({ guid: z.string() }).nullable(),
    links: z.object({ self: LinkSchema }),
  })
  .meta({ id: 'AuditEvent' });

export function presentEvent(e: AuditEvent, urls: Urls): z.infer<typeof AuditEventSchema> {
  return {
    guid: e.guid,
    created_at: cfTime(e.createdAt),
    updated_at: cfTime(e.updatedAt),
    type: e.type,
    actor: { ...e.actor },
    target: { ...e.target },
    data: e.data,
    space: e.spaceGuid ? { guid: e.spaceGuid } : null,
    organization: e.orgGuid ? { guid: e.orgGuid } : null,
    links: { self: urls.link(`/v3/audit_events/${e.guid}`) },
  };
}

export const JobSchema = z
  .object({
    guid: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    operation: z.string(),
    state: z.enum(['PROCESSING', 'COMPLETE', 'FAILED']),
    errors: z.array(z.object({ code: z.number().int(), title: z.string(), detail: z.string() })),
    warnings: z.array(z.object({ detail: z.string() })),
    links: z.record(z.string(), LinkSchema),
  })
  .meta({ id: 'Job' });

const RESOURCE_PATHS: Record<string, string> = {
  organization: 'organizations',
  space: 'spaces',
  app: 'apps',
  role: 'roles',
  user: 'users',
  buildpack: 'buildpacks',
};

export function presentJob(job: Job, urls: Urls): z.infer<typeof JobSchema> {
  const links: Record<string, { href: string }> = { self: urls.link(`/v3/jobs/${job.guid}`) };
  const resource = job.operation.split('.')[0] ?? '';
  const plural = RESOURCE_PATHS[resource];
  // While it runs, the job links to what it acts on (CC: while the resource exists).
  if (job.state === 'PROCESSING' && plural && job.resourceGuid)
    links[resource] = urls.link(`/v3/${plural}/${job.resourceGuid}`);
  return {
    guid: job.guid,
    created_at: cfTime(job.createdAt),
    updated_at: cfTime(job.updatedAt),
    operation: job.operation,
    state: job.state,
    errors: job.state === 'COMPLETE' ? [] : job.errors.map((e) => ({ ...e })),
    warnings: job.warnings.map((detail) => ({ detail })),
    links,
  };
}

const NullableLink = LinkSchema.nullable();

export const RootSchema = z
  .object({
    links: z.object({
      self: LinkSchema,
      cloud_controller_v3: z.object({ href: z.string(), meta: z.object({ version: z.string() }) }),
      login: LinkSchema,
      uaa: LinkSchema,
      network_policy_v0: NullableLink,
      network_policy_v1: NullableLink,
      credhub: NullableLink,
      routing: NullableLink,
      logging: NullableLink,
      log_cache: NullableLink,
      log_stream: NullableLink,
      app_ssh: NullableLink,
    }),
  })
  .meta({ id: 'Root' });

/** `GET /`: where the cf CLI finds the v3 API's version, the login and UAA endpoints. */
export function presentRoot(urls: Urls): z.infer<typeof RootSchema> {
  return {
    links: {
      self: urls.link(''),
      cloud_controller_v3: { href: urls.href('/v3'), meta: { version: API_VERSION } },
      login: urls.link('/uaa'),
      uaa: urls.link('/uaa'),
      network_policy_v0: null,
      network_policy_v1: null,
      credhub: null,
      routing: null,
      logging: null,
      // The API serves Log Cache's read API itself (/api/v1/info, /api/v1/read/:app).
      log_cache: urls.link(''),
      log_stream: null,
      app_ssh: null,
    },
  };
}

export const V3_RESOURCES = [
  'apps',
  'audit_events',
  'buildpacks',
  'info',
  'organizations',
  'roles',
  'spaces',
  'stacks',
  'users',
] as const;

export const V3RootSchema = z.object({ links: z.record(z.string(), LinkSchema) }).meta({ id: 'V3Root' });

export function presentV3Root(urls: Urls): z.infer<typeof V3RootSchema> {
  const links: Record<string, { href: string }> = { self: urls.link('/v3') };
  for (const r of V3_RESOURCES) links[r] = urls.link(`/v3/${r}`);
  return { links };
}

export const InfoSchema = z
  .object({
    build: z.string(),
    cli_version: z.object({ minimum: z.string(), recommended: z.string() }),
    custom: z.record(z.string(), z.unknown()),
    description: z.string(),
    name: z.string(),
    version: z.number().int(),
    osbapi_version: z.string(),
    rate_limits: z.object({
      enabled: z.boolean(),
      general_limit: z.string(),
      reset_interval_in_minutes: z.string(),
    }),
    links: z.object({ self: LinkSchema, support: LinkSchema }),
  })
  .meta({ id: 'Info' });

export function presentInfo(urls: Urls, build: string): z.infer<typeof InfoSchema> {
  return {
    build,
    cli_version: { minimum: '', recommended: '' },
    custom: {},
    description: 'Slipway: source to OCI images, on a Cloud Foundry API',
    name: 'slipway',
    version: 0,
    osbapi_version: '2.15',
    rate_limits: { enabled: false, general_limit: '', reset_interval_in_minutes: '' },
    links: { self: urls.link('/v3/info'), support: { href: '' } },
  };
}
