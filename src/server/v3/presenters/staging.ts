import { z } from 'zod';
import type { PushedResource } from '../../../platform/workload-services.js';
import type { Build, Droplet, Package } from '../../../platform/workload.js';
import { cfTime, LinkSchema, MetadataSchema, presentMetadata, type Urls } from './common.js';

/**
 * Packages, builds, droplets and resource matches in CF v3's shapes (CC:
 * PackagePresenter, BuildPresenter, DropletPresenter, ResourceMatchPresenter).
 */

const AppRel = z.object({ app: z.object({ data: z.object({ guid: z.string() }) }) });
const appRel = (guid: string) => ({ app: { data: { guid } } });

export const PackageSchema = z
  .object({
    guid: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    type: z.enum(['bits', 'docker']),
    data: z.record(z.string(), z.unknown()),
    state: z.string(),
    relationships: AppRel,
    metadata: MetadataSchema,
    links: z.record(z.string(), LinkSchema),
  })
  .meta({ id: 'Package' });

export function presentPackage(pkg: Package, urls: Urls): z.infer<typeof PackageSchema> {
  const links: Record<string, { href: string; method?: string }> = { self: urls.link(`/v3/packages/${pkg.guid}`) };
  if (pkg.type === 'bits') {
    // CC also links a download; Slipway serves none yet, so it links none.
    links.upload = { ...urls.link(`/v3/packages/${pkg.guid}/upload`), method: 'POST' };
  }
  links.app = urls.link(`/v3/apps/${pkg.appGuid}`);
  return {
    guid: pkg.guid,
    created_at: cfTime(pkg.createdAt),
    updated_at: cfTime(pkg.updatedAt),
    type: pkg.type,
    data:
      pkg.type === 'docker'
        ? { image: pkg.image ?? null, username: null, password: null }
        : {
            error: pkg.error ?? null,
            checksum: pkg.checksum ? { type: 'sha256', value: pkg.checksum } : { type: 'sha256', value: null },
          },
    state: pkg.state,
    relationships: appRel(pkg.appGuid),
    metadata: presentMetadata(pkg.metadata),
    links,
  };
}

export const BuildSchema = z
  .object({
    guid: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    state: z.enum(['STAGING', 'STAGED', 'FAILED']),
    staging_memory_in_mb: z.number().int(),
    staging_disk_in_mb: z.number().int(),
    staging_log_rate_limit_bytes_per_second: z.number().int(),
    error: z.string().nullable(),
    lifecycle: z.object({ type: z.string(), data: z.record(z.string(), z.unknown()) }),
    package: z.object({ guid: z.string() }),
    droplet: z.object({ guid: z.string() }).nullable(),
    created_by: z.object({ guid: z.string().nullable(), name: z.string().nullable(), email: z.string().nullable() }),
    relationships: AppRel,
    metadata: MetadataSchema,
    links: z.record(z.string(), LinkSchema),
  })
  .meta({ id: 'Build' });

export function presentBuild(build: Build, urls: Urls): z.infer<typeof BuildSchema> {
  // CC shows the droplet once the build is over.
  const droplet = build.dropletGuid && build.state !== 'STAGING' ? { guid: build.dropletGuid } : null;
  const links: Record<string, { href: string }> = {
    self: urls.link(`/v3/builds/${build.guid}`),
    app: urls.link(`/v3/apps/${build.appGuid}`),
  };
  if (droplet) links.droplet = urls.link(`/v3/droplets/${droplet.guid}`);
  return {
    guid: build.guid,
    created_at: cfTime(build.createdAt),
    updated_at: cfTime(build.updatedAt),
    state: build.state,
    staging_memory_in_mb: build.stagingMemoryMb,
    staging_disk_in_mb: build.stagingDiskMb,
    staging_log_rate_limit_bytes_per_second: -1,
    error: build.error,
    lifecycle: {
      type: build.lifecycle.type,
      data:
        build.lifecycle.type === 'docker'
          ? {}
          : { buildpacks: [...build.lifecycle.data.buildpacks], stack: build.lifecycle.data.stack },
    },
    package: { guid: build.packageGuid },
    droplet,
    created_by: { guid: build.createdBy?.guid ?? null, name: build.createdBy?.name ?? null, email: null },
    relationships: appRel(build.appGuid),
    metadata: presentMetadata(build.metadata),
    links,
  };
}

export const DropletSchema = z
  .object({
    guid: z.string(),
    created_at: z.string(),
    updated_at: z.string(),
    state: z.string(),
    error: z.string().nullable(),
    lifecycle: z.object({ type: z.string(), data: z.object({}) }),
    checksum: z.object({ type: z.literal('sha256'), value: z.string() }).nullable(),
    buildpacks: z.array(
      z.object({
        name: z.string(),
        detect_output: z.string().nullable(),
        buildpack_name: z.string().nullable(),
        version: z.string().nullable(),
      }),
    ),
    stack: z.string().nullable(),
    image: z.string().nullable(),
    execution_metadata: z.string(),
    process_types: z.record(z.string(), z.string()),
    relationships: AppRel,
    metadata: MetadataSchema,
    links: z.record(z.string(), LinkSchema),
  })
  .meta({ id: 'Droplet' });

/**
 * A droplet; its bits are the image `ORG/SPACE/APP@digest` (its checksum is the
 * manifest digest). As CC does for buildpack droplets, `image` is null; the image
 * reference is what `download` answers. Commands are redacted for who may not read secrets.
 */
export function presentDroplet(droplet: Droplet, urls: Urls, showSecrets = true): z.infer<typeof DropletSchema> {
  const links: Record<string, { href: string; method?: string }> = {
    self: urls.link(`/v3/droplets/${droplet.guid}`),
    app: urls.link(`/v3/apps/${droplet.appGuid}`),
    assign_current_droplet: {
      ...urls.link(`/v3/apps/${droplet.appGuid}/relationships/current_droplet`),
      method: 'PATCH',
    },
  };
  if (droplet.packageGuid) links.package = urls.link(`/v3/packages/${droplet.packageGuid}`);
  if (droplet.state === 'STAGED') links.download = urls.link(`/v3/droplets/${droplet.guid}/download`);
  const hidden = '[PRIVATE DATA HIDDEN]';
  return {
    guid: droplet.guid,
    created_at: cfTime(droplet.createdAt),
    updated_at: cfTime(droplet.updatedAt),
    state: droplet.state,
    error: null,
    lifecycle: { type: 'buildpack', data: {} },
    checksum: droplet.digest ? { type: 'sha256', value: droplet.digest.replace(/^sha256:/, '') } : null,
    buildpacks: droplet.buildpacks.map((b) => ({
      name: b.name,
      detect_output: b.detectOutput,
      buildpack_name: b.buildpackName,
      version: b.version,
    })),
    stack: droplet.stack,
    image: null,
    execution_metadata: showSecrets ? droplet.executionMetadata : hidden,
    process_types: Object.fromEntries(
      Object.entries(droplet.processTypes).map(([k, v]) => [k, showSecrets ? v : hidden]),
    ),
    relationships: appRel(droplet.appGuid),
    metadata: presentMetadata(droplet.metadata),
    links,
  };
}

export const ResourceMatchSchema = z
  .object({
    resources: z.array(
      z.object({
        checksum: z.object({ value: z.string() }),
        size_in_bytes: z.number().int(),
        path: z.string(),
        mode: z.string(),
      }),
    ),
  })
  .meta({ id: 'ResourceMatches' });

/** The matches, `mode` an octal string (the cf CLI fails to parse anything else). */
export function presentMatches(matches: PushedResource[]): z.infer<typeof ResourceMatchSchema> {
  return {
    resources: matches.map((m) => ({ checksum: { value: m.sha1 }, size_in_bytes: m.size, path: m.path, mode: m.mode })),
  };
}

export const DropletImageSchema = z
  .object({
    image: z.string().meta({ description: 'The image in the registry: HOST/ORG/SPACE/APP@sha256:...' }),
    digest: z.string(),
    links: z.object({ droplet: LinkSchema }),
  })
  .meta({ id: 'DropletImage' });

export const CurrentDropletSchema = z
  .object({
    data: z.object({ guid: z.string() }).nullable(),
    links: z.object({ self: LinkSchema, related: LinkSchema }),
  })
  .meta({ id: 'CurrentDropletRelationship' });

export function presentCurrentDroplet(appGuid: string, guid: string | null, urls: Urls) {
  return {
    data: guid === null ? null : { guid },
    links: {
      self: urls.link(`/v3/apps/${appGuid}/relationships/current_droplet`),
      related: urls.link(`/v3/apps/${appGuid}/droplets/current`),
    },
  };
}
