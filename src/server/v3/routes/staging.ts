import {
  appDroplets,
  assignCurrentDroplet,
  createBuild,
  currentDroplet,
  currentDropletGuid,
  downloadDroplet,
  getBuild,
  getDroplet,
  listBuilds,
  listDroplets,
} from '../../../platform/actions/builds.js';
import {
  createPackage,
  getPackage,
  listPackages,
  matchResources,
  packageDroplets,
  prepareUpload,
  pushedResource,
} from '../../../platform/actions/packages.js';
import { getApp } from '../../../platform/actions/apps.js';
import { unprocessable } from '../../../platform/cf-errors.js';
import {
  BuildCreateMessage,
  BuildListMessage,
  CurrentDropletMessage,
  DropletListMessage,
} from '../../../platform/messages/builds.js';
import { formatIssues, parseBody } from '../../../platform/messages/common.js';
import { listMessage, csv } from '../../../platform/messages/list-query.js';
import {
  PackageCreateMessage,
  PackageListMessage,
  ResourceMatchMessage,
  UploadResourcesSchema,
} from '../../../platform/messages/packages.js';
import type { PushedResource } from '../../../platform/workload-services.js';
import { readMultipart } from '../multipart.js';
import {
  BuildSchema,
  CurrentDropletSchema,
  DropletImageSchema,
  DropletSchema,
  PackageSchema,
  presentBuild,
  presentCurrentDroplet,
  presentDroplet,
  presentMatches,
  presentPackage,
  ResourceMatchSchema,
} from '../presenters/staging.js';
import { listAnswer, listResponses, param, type RouteDef } from '../route.js';
import { registryHost, workloadCtx } from './workload-call.js';

/** The largest `resources` field of an upload (the list of matched files: ~200 bytes a file). */
const MAX_RESOURCES_FIELD = 64 * 1024 * 1024;

const PackageDropletsMessage = listMessage({
  params: { states: csv('Droplet states'), guids: csv('Droplet guids') },
  orderBy: ['created_at', 'updated_at'],
});

export const PACKAGE_ROUTES: RouteDef[] = [
  {
    method: 'get',
    path: '/v3/packages',
    operationId: 'listPackages',
    summary: 'List packages (app_guids, states, order_by=-created_at)',
    tag: 'Packages',
    query: PackageListMessage.schema,
    responses: listResponses(PackageSchema),
    async handle(call) {
      const q = PackageListMessage.parse(call.query);
      return listAnswer(call, '/v3/packages', q, await listPackages(workloadCtx(call), q), presentPackage);
    },
  },
  {
    method: 'get',
    path: '/v3/apps/{guid}/packages',
    operationId: 'listAppPackages',
    summary: "List an app's packages",
    tag: 'Packages',
    query: PackageListMessage.schema,
    responses: listResponses(PackageSchema),
    async handle(call) {
      const ctx = workloadCtx(call);
      const { app } = await getApp(ctx, param(call, 'guid'));
      const q = PackageListMessage.parse(call.query);
      return listAnswer(call, `/v3/apps/${app.guid}/packages`, q, await listPackages(ctx, q, app.guid), presentPackage);
    },
  },
  {
    method: 'get',
    path: '/v3/packages/{guid}',
    operationId: 'getPackage',
    summary: 'Get a package',
    tag: 'Packages',
    responses: { 200: { description: 'The package', schema: PackageSchema } },
    async handle(call) {
      const { resource } = await getPackage(workloadCtx(call), param(call, 'guid'));
      return { status: 200, body: presentPackage(resource, call.urls) };
    },
  },
  {
    method: 'post',
    path: '/v3/packages',
    operationId: 'createPackage',
    summary: 'Create a bits package for an app (space developers)',
    tag: 'Packages',
    body: PackageCreateMessage,
    responses: { 201: { description: 'Created, AWAITING_UPLOAD', schema: PackageSchema } },
    async handle(call) {
      const input = parseBody(PackageCreateMessage, await call.body());
      return { status: 201, body: presentPackage(await createPackage(workloadCtx(call), input), call.urls) };
    },
  },
  {
    method: 'post',
    path: '/v3/packages/{guid}/upload',
    operationId: 'uploadPackage',
    summary:
      'Upload the bits: multipart/form-data with a `resources` field (JSON: the matched files) before an optional `bits` zip; answers READY',
    tag: 'Packages',
    responses: { 200: { description: 'The package, READY', schema: PackageSchema } },
    async handle(call) {
      const ctx = workloadCtx(call);
      const upload = await prepareUpload(ctx, param(call, 'guid'));
      let matched: PushedResource[] | undefined;
      let stored: Awaited<ReturnType<typeof upload.store>> | undefined;
      await readMultipart(
        call.request,
        {
          field(name, value) {
            if (name !== 'resources') return;
            if (stored) throw unprocessable('The resources field must come before the bits file.');
            let json: unknown;
            try {
              json = JSON.parse(value);
            } catch {
              throw unprocessable('Resources must be a JSON array');
            }
            const r = UploadResourcesSchema.safeParse(json);
            if (!r.success)
              throw unprocessable(
                formatIssues(r.error.issues)
                  .map((m) => `Resources ${m}`)
                  .join(', '),
              );
            matched = r.data.map(pushedResource);
          },
          async file(name, _filename, body) {
            if (name !== 'bits') {
              body.resume();
              return;
            }
            stored = await upload.store(matched ?? [], body);
          },
        },
        MAX_RESOURCES_FIELD,
      );
      stored ??= await upload.store(matched ?? [], undefined);
      return { status: 200, body: presentPackage(stored, call.urls) };
    },
  },
  {
    method: 'get',
    path: '/v3/packages/{guid}/droplets',
    operationId: 'listPackageDroplets',
    summary: 'List the droplets staged from a package',
    tag: 'Packages',
    query: PackageDropletsMessage.schema,
    responses: listResponses(DropletSchema),
    async handle(call) {
      const q = PackageDropletsMessage.parse(call.query);
      const guid = param(call, 'guid');
      const page = await packageDroplets(workloadCtx(call), guid, q);
      return listAnswer(call, `/v3/packages/${guid}/droplets`, q, page, (d, urls) => presentDroplet(d, urls, false));
    },
  },
  {
    method: 'post',
    path: '/v3/resource_matches',
    operationId: 'matchResources',
    summary: 'Which of these files (by sha1 and size) the platform already has: they need not be uploaded',
    tag: 'Packages',
    body: ResourceMatchMessage,
    responses: { 201: { description: 'The matches (mode as an octal string)', schema: ResourceMatchSchema } },
    async handle(call) {
      const input = parseBody(ResourceMatchMessage, await call.body());
      return { status: 201, body: presentMatches(await matchResources(workloadCtx(call), input.resources)) };
    },
  },
];

export const BUILD_ROUTES: RouteDef[] = [
  {
    method: 'get',
    path: '/v3/builds',
    operationId: 'listBuilds',
    summary: 'List builds',
    tag: 'Builds',
    query: BuildListMessage.schema,
    responses: listResponses(BuildSchema),
    async handle(call) {
      const q = BuildListMessage.parse(call.query);
      return listAnswer(call, '/v3/builds', q, await listBuilds(workloadCtx(call), q), presentBuild);
    },
  },
  {
    method: 'get',
    path: '/v3/apps/{guid}/builds',
    operationId: 'listAppBuilds',
    summary: "List an app's builds",
    tag: 'Builds',
    query: BuildListMessage.schema,
    responses: listResponses(BuildSchema),
    async handle(call) {
      const ctx = workloadCtx(call);
      const { app } = await getApp(ctx, param(call, 'guid'));
      const q = BuildListMessage.parse(call.query);
      return listAnswer(call, `/v3/apps/${app.guid}/builds`, q, await listBuilds(ctx, q, app.guid), presentBuild);
    },
  },
  {
    method: 'get',
    path: '/v3/builds/{guid}',
    operationId: 'getBuild',
    summary: 'Get a build (poll it: STAGING until STAGED or FAILED)',
    tag: 'Builds',
    responses: { 200: { description: 'The build', schema: BuildSchema } },
    async handle(call) {
      return { status: 200, body: presentBuild(await getBuild(workloadCtx(call), param(call, 'guid')), call.urls) };
    },
  },
  {
    method: 'post',
    path: '/v3/builds',
    operationId: 'createBuild',
    summary: 'Stage a READY package (developers and supporters): queued for the build workers',
    tag: 'Builds',
    body: BuildCreateMessage,
    responses: { 201: { description: 'Queued, STAGING', schema: BuildSchema } },
    async handle(call) {
      const input = parseBody(BuildCreateMessage, await call.body());
      return { status: 201, body: presentBuild(await createBuild(workloadCtx(call), input), call.urls) };
    },
  },
];

function dropletOf(showSecrets: boolean) {
  return (d: Parameters<typeof presentDroplet>[0], urls: Parameters<typeof presentDroplet>[1]) =>
    presentDroplet(d, urls, showSecrets);
}

export const DROPLET_ROUTES: RouteDef[] = [
  {
    method: 'get',
    path: '/v3/droplets',
    operationId: 'listDroplets',
    summary: 'List droplets',
    tag: 'Droplets',
    query: DropletListMessage.schema,
    responses: listResponses(DropletSchema),
    async handle(call) {
      const q = DropletListMessage.parse(call.query);
      return listAnswer(call, '/v3/droplets', q, await listDroplets(workloadCtx(call), q), dropletOf(false));
    },
  },
  {
    method: 'get',
    path: '/v3/droplets/{guid}',
    operationId: 'getDroplet',
    summary: 'Get a droplet',
    tag: 'Droplets',
    responses: { 200: { description: 'The droplet', schema: DropletSchema } },
    async handle(call) {
      const ctx = workloadCtx(call);
      const found = await getDroplet(ctx, param(call, 'guid'));
      return { status: 200, body: presentDroplet(found.resource, call.urls, ctx.perms.canReadSecrets(found)) };
    },
  },
  {
    method: 'get',
    path: '/v3/droplets/{guid}/download',
    operationId: 'downloadDroplet',
    summary:
      "The droplet's image in the platform's registry (HOST/ORG/SPACE/APP@digest): pull it from the registry with your own credentials",
    tag: 'Droplets',
    responses: { 200: { description: 'The image reference', schema: DropletImageSchema } },
    async handle(call) {
      const { image, droplet } = await downloadDroplet(workloadCtx(call), param(call, 'guid'), registryHost(call));
      return {
        status: 200,
        body: { image, digest: droplet.digest, links: { droplet: call.urls.link(`/v3/droplets/${droplet.guid}`) } },
      };
    },
  },
  {
    method: 'get',
    path: '/v3/apps/{guid}/droplets',
    operationId: 'listAppDroplets',
    summary: "List an app's droplets (current=true: only the current one)",
    tag: 'Droplets',
    query: DropletListMessage.schema,
    responses: listResponses(DropletSchema),
    async handle(call) {
      const q = DropletListMessage.parse(call.query);
      const guid = param(call, 'guid');
      const page = await appDroplets(workloadCtx(call), guid, q);
      return listAnswer(call, `/v3/apps/${guid}/droplets`, q, page, dropletOf(false));
    },
  },
  {
    method: 'get',
    path: '/v3/apps/{guid}/droplets/current',
    operationId: 'getCurrentDroplet',
    summary: "The app's current droplet (404 Droplet not found when none)",
    tag: 'Droplets',
    responses: { 200: { description: 'The droplet', schema: DropletSchema } },
    async handle(call) {
      const ctx = workloadCtx(call);
      const droplet = await currentDroplet(ctx, param(call, 'guid'));
      const found = await getDroplet(ctx, droplet.guid);
      return { status: 200, body: presentDroplet(droplet, call.urls, ctx.perms.canReadSecrets(found)) };
    },
  },
  {
    method: 'get',
    path: '/v3/apps/{guid}/relationships/current_droplet',
    operationId: 'getCurrentDropletRelationship',
    summary: "The app's current droplet relationship",
    tag: 'Droplets',
    responses: { 200: { description: 'The relationship', schema: CurrentDropletSchema } },
    async handle(call) {
      const { app, guid } = await currentDropletGuid(workloadCtx(call), param(call, 'guid'));
      return { status: 200, body: presentCurrentDroplet(app.app.guid, guid, call.urls) };
    },
  },
  {
    method: 'patch',
    path: '/v3/apps/{guid}/relationships/current_droplet',
    operationId: 'setCurrentDroplet',
    summary: "Set the app's current droplet (developers and supporters): its process types become processes",
    tag: 'Droplets',
    body: CurrentDropletMessage,
    responses: { 200: { description: 'The relationship', schema: CurrentDropletSchema } },
    async handle(call) {
      const input = parseBody(CurrentDropletMessage, await call.body());
      const guid = param(call, 'guid');
      const { guid: droplet } = await assignCurrentDroplet(workloadCtx(call), guid, input.data?.guid ?? null);
      return { status: 200, body: presentCurrentDroplet(guid, droplet, call.urls) };
    },
  },
];
