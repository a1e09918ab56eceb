import { isSlipwayError } from '../../errors.js';
import { EVENT_TYPES, PRIVATE_DATA_HIDDEN } from '../audit.js';
import { notAuthorized, notFound, uniqueness, unprocessable } from '../cf-errors.js';
import type {
  AppCreateInput,
  AppListMessage,
  AppUpdateInput,
  EnvVarsUpdateInput,
  LifecycleInput,
} from '../messages/apps.js';
import type { ParsedList } from '../messages/list-query.js';
import {
  type App,
  type AppLifecycle,
  emptyMetadata,
  type Job,
  newGuid,
  type Organization,
  type Space,
  slugOf,
} from '../model.js';
import type { Page } from '../store/platform-store.js';
import {
  type ActionContext,
  type DeleteContext,
  mergeMetadata,
  parentGone,
  record,
  spaceContext,
  timestamp,
} from './context.js';
import { INVALID_SPACE } from './roles.js';
import { defaultStackName, type StackSource, stackExists } from './stacks.js';

/**
 * Apps (CC: AppsV3Controller, AppCreate, AppUpdate, AppDelete,
 * AppPatchEnvironmentVariables). Space developers create, change and delete them;
 * every space reader sees them; only secret readers see their environment. The
 * lifecycle is buildpack by default, on the catalog's default stack; buildpacks are
 * admin buildpacks by name, or URLs.
 */

type AppListValues = ReturnType<typeof AppListMessage.parse>['values'];

export interface AppInSpace {
  app: App;
  space: Space;
  org: Organization;
}

export function listApps(ctx: ActionContext, q: ParsedList<AppListValues>): Promise<Page<App>> {
  const v = q.values;
  return ctx.store.listApps(
    q.page,
    {
      guids: v.guids,
      names: v.names,
      spaceGuids: v.space_guids,
      organizationGuids: v.organization_guids,
      stacks: v.stacks,
      lifecycleType: v.lifecycle_type,
      labelSelector: v.label_selector,
    },
    ctx.perms.spaceVisibility(),
  );
}

/** An app the caller reads, with its space and org; 404 "App not found" otherwise. */
export async function getApp(ctx: ActionContext, guid: string): Promise<AppInSpace> {
  const app = await ctx.store.getApp(guid);
  const found = app && (await spaceContext(ctx.store, app.spaceGuid));
  if (!app || !found || !ctx.perms.canReadSpace(found)) throw notFound('App');
  return { app, ...found };
}

/** What include=space,org,space.organization adds to apps. */
export async function appIncludes(
  ctx: ActionContext,
  apps: readonly App[],
  include: readonly string[],
): Promise<{ spaces?: Space[]; organizations?: Organization[] }> {
  const out: { spaces?: Space[]; organizations?: Organization[] } = {};
  if (include.length === 0 || apps.length === 0) {
    if (include.includes('space')) out.spaces = [];
    if (include.includes('org') || include.includes('space.organization')) out.organizations = [];
    return out;
  }
  const spaceGuids = [...new Set(apps.map((a) => a.spaceGuid))];
  const spaces = (
    await ctx.store.listSpaces(
      { page: 1, perPage: spaceGuids.length, orderBy: 'created_at' },
      { guids: spaceGuids },
      ctx.perms.spaceVisibility(),
    )
  ).items;
  if (include.includes('space')) out.spaces = spaces;
  if (include.includes('org') || include.includes('space.organization')) {
    const orgGuids = [...new Set(spaces.map((s) => s.orgGuid))];
    out.organizations =
      orgGuids.length === 0
        ? []
        : (
            await ctx.store.listOrgs(
              { page: 1, perPage: orgGuids.length, orderBy: 'created_at' },
              { guids: orgGuids },
              ctx.perms.orgVisibility(),
            )
          ).items;
  }
  return out;
}

export async function createApp(ctx: ActionContext, stacks: StackSource, input: AppCreateInput): Promise<App> {
  const { perms, store } = ctx;
  const found = await spaceContext(store, input.relationships.space.data.guid);
  if (!found || !perms.canReadSpace(found)) throw unprocessable(INVALID_SPACE);
  if (!perms.canWriteToSpace(found)) throw notAuthorized();
  const lifecycle = await lifecycleOf(ctx, stacks, input.lifecycle, undefined);
  const at = timestamp(ctx);
  const app = await nameUnique(() =>
    parentGone(INVALID_SPACE, () =>
      store.createApp({
        guid: newGuid(),
        createdAt: at,
        updatedAt: at,
        name: input.name,
        slug: slugOf(input.name),
        spaceGuid: found.space.guid,
        state: 'STOPPED',
        lifecycle,
        environmentVariables: input.environment_variables ?? {},
        metadata: mergeMetadata(emptyMetadata(), input.metadata),
        ...(input.slipway?.auto_rebase === false ? { autoRebase: false } : {}),
      }),
    ),
  );
  await record(ctx, {
    type: EVENT_TYPES.appCreate,
    target: { guid: app.guid, type: 'app', name: app.name },
    spaceGuid: found.space.guid,
    orgGuid: found.org.guid,
    data: { request: censored(input) },
  });
  return app;
}

export async function updateApp(
  ctx: ActionContext,
  stacks: StackSource,
  guid: string,
  input: AppUpdateInput,
): Promise<App> {
  const { perms, store } = ctx;
  const found = await getApp(ctx, guid);
  if (!perms.canWriteToSpace(found)) throw notAuthorized();
  const { app } = found;
  const patch: Parameters<typeof store.updateApp>[1] = {};
  if (input.name !== undefined && input.name !== app.name) {
    patch.name = input.name;
    patch.slug = slugOf(input.name);
  }
  if (input.lifecycle !== undefined) {
    if (
      input.lifecycle.type !== app.lifecycle.type &&
      (input.lifecycle.type === 'docker') !== (app.lifecycle.type === 'docker')
    )
      throw unprocessable('Lifecycle type cannot be changed');
    patch.lifecycle = await lifecycleOf(ctx, stacks, input.lifecycle, app.lifecycle);
  }
  if (input.metadata !== undefined) patch.metadata = mergeMetadata(app.metadata, input.metadata);
  if (input.slipway?.auto_rebase !== undefined) patch.autoRebase = input.slipway.auto_rebase;
  const updated = await nameUnique(() => store.updateApp(app.guid, patch));
  if (!updated) throw notFound('App');
  await record(ctx, {
    type: EVENT_TYPES.appUpdate,
    target: { guid: updated.guid, type: 'app', name: updated.name },
    spaceGuid: found.space.guid,
    orgGuid: found.org.guid,
    data: { request: input },
  });
  return updated;
}

/** Deletes an app and its images, as a job: space developers. */
export async function deleteApp(ctx: DeleteContext, guid: string): Promise<Job> {
  const found = await getApp(ctx, guid);
  if (!ctx.perms.canWriteToSpace(found)) throw notAuthorized();
  const job = await ctx.jobs.start('app.delete', found.app.guid);
  await record(ctx, {
    type: EVENT_TYPES.appDeleteRequest,
    target: { guid: found.app.guid, type: 'app', name: found.app.name },
    spaceGuid: found.space.guid,
    orgGuid: found.org.guid,
    data: { request: { recursive: true } },
  });
  return job;
}

/** The app's environment variables (secrets): space developers and the global secret readers. */
export async function getEnvironmentVariables(ctx: ActionContext, guid: string): Promise<AppInSpace> {
  const found = await getApp(ctx, guid);
  if (!ctx.perms.canReadSecrets(found)) throw notAuthorized();
  await record(ctx, {
    type: EVENT_TYPES.appEnvironmentVariablesShow,
    target: { guid: found.app.guid, type: 'app', name: found.app.name },
    spaceGuid: found.space.guid,
    orgGuid: found.org.guid,
  });
  return found;
}

/**
 * The app's whole environment (GET /v3/apps/:guid/env), and whether its system part
 * (VCAP_SERVICES) may be shown. CC lets one more role in (supporters, with the system
 * part redacted); the policy has one secret-reading question, so both checks ask it.
 */
export async function getEnvironment(ctx: ActionContext, guid: string): Promise<AppInSpace & { showSecrets: boolean }> {
  const found = await getApp(ctx, guid);
  if (!ctx.perms.canReadSecrets(found)) throw notAuthorized();
  await record(ctx, {
    type: EVENT_TYPES.appEnvironmentShow,
    target: { guid: found.app.guid, type: 'app', name: found.app.name },
    spaceGuid: found.space.guid,
    orgGuid: found.org.guid,
  });
  return { ...found, showSecrets: ctx.perms.canReadSecrets(found) };
}

/** Sets and removes (null) environment variables: who manages the space's apps (CC: can_manage_apps_in_active_space?). */
export async function updateEnvironmentVariables(
  ctx: ActionContext,
  guid: string,
  input: EnvVarsUpdateInput,
): Promise<App> {
  const found = await getApp(ctx, guid);
  if (!ctx.perms.canManageApps(found)) throw notAuthorized();
  const vars = { ...found.app.environmentVariables };
  for (const [k, v] of Object.entries(input.var)) {
    if (v === null) delete vars[k];
    else vars[k] = v;
  }
  const updated = await ctx.store.updateApp(found.app.guid, { environmentVariables: vars });
  if (!updated) throw notFound('App');
  await record(ctx, {
    type: EVENT_TYPES.appUpdate,
    target: { guid: updated.guid, type: 'app', name: updated.name },
    spaceGuid: found.space.guid,
    orgGuid: found.org.guid,
    data: { request: { environment_variables: PRIVATE_DATA_HIDDEN } },
  });
  return updated;
}

/**
 * The lifecycle asked for, over the current one (update) or the defaults (create: buildpack,
 * no buildpacks, the default stack), checked as CC's BuildpackLifecycleDataValidator: the
 * stack exists; each buildpack is an admin buildpack or a URL.
 */
async function lifecycleOf(
  ctx: ActionContext,
  stacks: StackSource,
  input: LifecycleInput | undefined,
  current: AppLifecycle | undefined,
): Promise<AppLifecycle> {
  const type = input?.type ?? current?.type ?? 'buildpack';
  if (type === 'docker') return { type, data: { buildpacks: [], stack: null } };
  const data = input?.data;
  const buildpacks = data?.buildpacks !== undefined ? (data.buildpacks ?? []) : (current?.data.buildpacks ?? []);
  const stack =
    data?.stack !== undefined && data.stack !== null
      ? data.stack
      : data?.stack === undefined && current !== undefined
        ? current.data.stack
        : await defaultStackName(stacks);
  if (stack !== null && !(await stackExists(stacks, stack))) throw unprocessable('Stack must be an existing stack');
  // Slipway's own by their CNB id (slipway/nodejs) need no admin buildpack record.
  const named = buildpacks.filter((b) => !isBuildpackUrl(b) && !/^slipway\/[a-z0-9-]+$/.test(b));
  if (named.length > 0) {
    const unique = [...new Set(named)];
    const known = await ctx.store.listBuildpacks({ page: 1, perPage: 5000, orderBy: 'position' }, { names: unique });
    const names = new Set(known.items.map((b) => b.name));
    const unknown = unique.find((b) => !names.has(b));
    if (unknown !== undefined)
      throw unprocessable(`Buildpack "${unknown}" must be an existing admin buildpack or a valid git URI`);
  }
  return { type, data: { buildpacks, stack } };
}

function isBuildpackUrl(value: string): boolean {
  return /^(https?|git|ssh):\/\//i.test(value) || /^[\w.-]+@[\w.-]+:/.test(value);
}

/** The store's "name taken in the space" as CC's UniquenessError. */
async function nameUnique<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isSlipwayError(err, 'CONFLICT') && err.detail?.field === 'name') throw uniqueness(err.message);
    throw err;
  }
}

function censored(input: AppCreateInput): Record<string, unknown> {
  return input.environment_variables === undefined
    ? { ...input }
    : { ...input, environment_variables: PRIVATE_DATA_HIDDEN };
}
