import type { Readable } from 'node:stream';
import { isSlipwayError } from '../../errors.js';
import { EVENT_TYPES } from '../audit.js';
import { notAuthorized, notFound, unprocessable } from '../cf-errors.js';
import type { ParsedList } from '../messages/list-query.js';
import type { PackageCreateInput, PackageListMessage, ResourceInput } from '../messages/packages.js';
import { emptyMetadata, newGuid } from '../model.js';
import type { Page } from '../store/platform-store.js';
import type { PushedResource } from '../workload-services.js';
import type { Droplet, Package } from '../workload.js';
import type { AppInSpace } from './apps.js';
import { mergeMetadata, timestamp } from './context.js';
import { getApp, ofApp, recordApp, type WorkloadContext } from './workload-context.js';

/**
 * Packages and resource matching (CC: PackagesController, PackageCreate,
 * PackageUpload, ResourceMatchesController): space developers create packages and
 * upload their bits (a zip, streamed to the package store, with the files the platform
 * already has named by sha1 instead of sent); every space reader sees them.
 */

type PackageListValues = ReturnType<typeof PackageListMessage.parse>['values'];

const UNPROCESSABLE_APP = 'App is invalid. Ensure it exists and you have access to it.';

export function listPackages(
  ctx: WorkloadContext,
  q: ParsedList<PackageListValues>,
  appGuid?: string,
): Promise<Page<Package>> {
  const v = q.values;
  return ctx.workloads.listPackages(
    q.page,
    {
      ...(v.guids ? { guids: v.guids } : {}),
      ...(appGuid ? { appGuids: [appGuid] } : v.app_guids ? { appGuids: v.app_guids } : {}),
      ...(v.states ? { states: v.states as Package['state'][] } : {}),
    },
    ctx.perms.spaceVisibility(),
  );
}

export async function getPackage(ctx: WorkloadContext, guid: string): Promise<AppInSpace & { resource: Package }> {
  return ofApp(ctx, await ctx.workloads.getPackage(guid), 'Package');
}

export async function createPackage(ctx: WorkloadContext, input: PackageCreateInput): Promise<Package> {
  let found: AppInSpace;
  try {
    found = await getApp(ctx, input.relationships.app.data.guid);
  } catch {
    throw unprocessable(UNPROCESSABLE_APP);
  }
  if (!ctx.perms.canWriteToSpace(found)) throw notAuthorized();
  const { app } = found;
  const at = timestamp(ctx);
  const pkg = await ctx.workloads.createPackage({
    guid: newGuid(),
    createdAt: at,
    updatedAt: at,
    metadata: mergeMetadata(emptyMetadata(), input.metadata),
    appGuid: app.guid,
    type: input.type,
    state: input.type === 'docker' ? 'READY' : 'AWAITING_UPLOAD',
    ...(input.data?.image ? { image: input.data.image } : {}),
  });
  await recordApp(ctx, found, EVENT_TYPES.appPackageCreate, { package_guid: pkg.guid, request: { type: pkg.type } });
  return pkg;
}

/**
 * Checks an upload before its body is read (the caller's right, the package's type and
 * state), and answers how to store it: `store` takes the matched files and the zip as
 * it streams (undefined when every file matched) and answers the package READY.
 */
export async function prepareUpload(
  ctx: WorkloadContext,
  guid: string,
): Promise<{ store(matched: PushedResource[], bits: Readable | undefined): Promise<Package> }> {
  const found = await getPackage(ctx, guid);
  if (!ctx.perms.canWriteToSpace(found)) throw notAuthorized();
  const pkg = found.resource;
  if (pkg.type !== 'bits') throw unprocessable('Package type must be bits.');
  if (pkg.state !== 'AWAITING_UPLOAD')
    throw unprocessable('Bits may be uploaded only once. Create a new package to upload different bits.');
  return {
    async store(matched, bits) {
      await ctx.workloads.updatePackage(pkg.guid, { state: 'PROCESSING_UPLOAD' });
      let checksum: string;
      try {
        ({ checksum } = await ctx.services.packages.store(pkg.guid, bits, matched));
      } catch (err) {
        const error = isSlipwayError(err) ? err.message : 'the upload could not be stored';
        await ctx.workloads.updatePackage(pkg.guid, { state: 'FAILED', error });
        if (
          isSlipwayError(err, 'INVALID_ARGUMENT') ||
          isSlipwayError(err, 'INVALID_DOCUMENT') ||
          isSlipwayError(err, 'INVALID_ARCHIVE') ||
          isSlipwayError(err, 'TOO_LARGE')
        )
          throw unprocessable(err.message);
        throw err;
      }
      const ready = await ctx.workloads.updatePackage(pkg.guid, { state: 'READY', checksum });
      if (!ready) throw notFound('Package');
      await recordApp(ctx, found, EVENT_TYPES.appPackageUpload, { package_guid: pkg.guid });
      return ready;
    },
  };
}

/** A `resources` entry as the package store names it (mode as an octal string, 644 when not given). */
export function pushedResource(r: ResourceInput): PushedResource {
  return {
    path: r.path ?? '',
    mode: r.mode !== undefined && /^[0-7]{3,6}$/.test(r.mode) ? r.mode : '644',
    sha1: r.checksum.value.toLowerCase(),
    size: r.size_in_bytes,
  };
}

/** CC's POST /v3/resource_matches: which of these files the platform has (any signed-in user may ask). */
export async function matchResources(ctx: WorkloadContext, resources: ResourceInput[]): Promise<PushedResource[]> {
  if (!ctx.perms.signedIn) throw notAuthorized();
  const asked = resources.map(pushedResource);
  return ctx.services.packages.matches(asked);
}

/** The droplets staged from a package (GET /v3/packages/:guid/droplets). */
export async function packageDroplets(
  ctx: WorkloadContext,
  guid: string,
  q: ParsedList<{ states?: string[] | undefined; guids?: string[] | undefined }>,
): Promise<Page<Droplet>> {
  await getPackage(ctx, guid);
  return ctx.workloads.listDroplets(
    q.page,
    { packageGuids: [guid], ...(q.values.states ? { states: q.values.states as Droplet['state'][] } : {}) },
    ctx.perms.spaceVisibility(),
  );
}
