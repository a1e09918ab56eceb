import { randomInt } from 'node:crypto';
import { isSlipwayError, SlipwayError } from '../../errors.js';
import { EVENT_TYPES } from '../audit.js';
import { cfErrorOf, notAuthorized, notFound, unprocessable } from '../cf-errors.js';
import type { ManifestApp, ManifestProcess, ManifestRoute } from '../messages/manifest.js';
import { type App, type Job, newGuid, type Organization, type Space } from '../model.js';
import type { Domain } from '../workload.js';
import { type AppInSpace, createApp, updateApp, updateEnvironmentVariables } from './apps.js';
import { spaceContext } from './context.js';
import { insertRoute } from './routes.js';
import type { StackSource } from './stacks.js';
import { ensureDefaultDomain, ensureProcess, recordApp, type WorkloadContext } from './workload-context.js';

/**
 * `cf push`'s manifest (CC: SpaceManifestsController, AppFindOrCreateSkeleton,
 * AppApplyManifest, SpaceDiffManifest): space developers apply it to a space. Each app
 * is found or created (STOPPED, buildpack lifecycle) before the answer; a job then
 * applies processes (instances, memory, disk, command, health check), buildpacks and
 * stack, metadata, routes (created in the space and mapped; no-route unmaps all;
 * random-route and default-route only when the app has no route) and env. The job's
 * warnings say which keys were ignored.
 */

export const APPLY_MANIFEST = 'space.apply_manifest';

interface SpaceFound {
  space: Space;
  org: Organization;
}

async function writableSpace(ctx: WorkloadContext, spaceGuid: string): Promise<SpaceFound> {
  const found = await spaceContext(ctx.store, spaceGuid);
  if (!found || !ctx.perms.canReadSpace(found)) throw notFound('Space');
  if (!ctx.perms.canWriteToSpace(found)) throw notAuthorized();
  return found;
}

async function findApp(ctx: WorkloadContext, spaceGuid: string, name: string): Promise<App | undefined> {
  const page = await ctx.store.listApps(
    { page: 1, perPage: 1, orderBy: 'created_at' },
    { names: [name], spaceGuids: [spaceGuid] },
    { kind: 'all' },
  );
  return page.items[0];
}

/** POST /v3/spaces/:guid/actions/apply_manifest: the apps now, the rest as a job. */
export async function applyManifest(
  ctx: WorkloadContext,
  stacks: StackSource,
  spaceGuid: string,
  apps: ManifestApp[],
): Promise<Job> {
  const found = await writableSpace(ctx, spaceGuid);
  // The shared default domain is there before any manifest names a route on it.
  await ensureDefaultDomain(ctx.workloads, ctx.services.defaultDomain);
  const targets: { app: App; manifest: ManifestApp }[] = [];
  for (const manifest of apps) {
    let app = await findApp(ctx, found.space.guid, manifest.name);
    if (!app) {
      try {
        app = await createApp(ctx, stacks, {
          name: manifest.name,
          relationships: { space: { data: { guid: found.space.guid } } },
        });
      } catch (err) {
        if (isSlipwayError(err)) throw unprocessable(`For application '${manifest.name}': ${err.message}`);
        throw err;
      }
      await ensureProcess(ctx, app.guid, 'web');
    }
    targets.push({ app, manifest });
  }
  for (const { app, manifest } of targets)
    await recordApp(ctx, { app, ...found }, EVENT_TYPES.appApplyManifest, {
      request: { manifest: auditYaml(manifest) },
    });
  return ctx.jobs.run(APPLY_MANIFEST, found.space.guid, async () => {
    const warnings: string[] = [];
    for (const { app, manifest } of targets) {
      warnings.push(...manifest.warnings);
      try {
        await applyToApp(ctx, stacks, { app, ...found }, manifest);
      } catch (err) {
        const e = cfErrorOf(err);
        if (e.status >= 500) throw err;
        throw new SlipwayError('INVALID_ARGUMENT', `For application '${manifest.name}': ${e.detail}`, {
          detail: { cf: e.title.replace(/^CF-/, '') },
          cause: err,
        });
      }
    }
    ctx.services.signals.desiredChanged();
    return warnings;
  });
}

/** The job's step for one app. */
async function applyToApp(ctx: WorkloadContext, stacks: StackSource, found: AppInSpace, m: ManifestApp): Promise<void> {
  const { app } = found;
  for (const p of m.processes) await applyProcess(ctx, app.guid, p);
  if (m.buildpacks !== undefined || m.stack !== undefined || m.metadata !== undefined) {
    await updateApp(ctx, stacks, app.guid, {
      ...(m.buildpacks !== undefined || m.stack !== undefined
        ? {
            lifecycle: {
              type: 'buildpack',
              data: {
                ...(m.buildpacks !== undefined ? { buildpacks: m.buildpacks } : {}),
                ...(m.stack !== undefined ? { stack: m.stack } : {}),
              },
            },
          }
        : {}),
      ...(m.metadata !== undefined ? { metadata: m.metadata } : {}),
    });
  }
  await applyRoutes(ctx, found, m);
  if (m.env !== undefined && Object.keys(m.env).length > 0)
    await updateEnvironmentVariables(ctx, app.guid, { var: m.env });
}

async function applyProcess(ctx: WorkloadContext, appGuid: string, p: ManifestProcess): Promise<void> {
  const process = await ensureProcess(ctx, appGuid, p.type);
  const patch: Parameters<typeof ctx.workloads.updateProcess>[1] = {};
  if (p.instances !== undefined) patch.instances = p.instances;
  if (p.memoryMb !== undefined) patch.memoryMb = p.memoryMb;
  if (p.diskMb !== undefined) patch.diskMb = p.diskMb;
  if (p.command !== undefined) patch.command = p.command;
  if (p.healthCheck) {
    const type = p.healthCheck.type ?? process.healthCheck.type;
    const hc = { ...process.healthCheck, ...p.healthCheck, type };
    if (type !== 'http') delete hc.endpoint;
    else hc.endpoint ??= '/';
    patch.healthCheck = hc;
  }
  if (Object.keys(patch).length > 0) await ctx.workloads.updateProcess(process.guid, patch);
}

async function appRouteGuids(ctx: WorkloadContext, appGuid: string): Promise<string[]> {
  const page = await ctx.workloads.listRoutes(
    { page: 1, perPage: 5000, orderBy: 'created_at' },
    { appGuids: [appGuid] },
    { kind: 'all' },
  );
  return page.items.map((r) => r.guid);
}

async function applyRoutes(ctx: WorkloadContext, found: AppInSpace, m: ManifestApp): Promise<void> {
  const { app } = found;
  if (m.noRoute) {
    for (const routeGuid of await appRouteGuids(ctx, app.guid))
      for (const d of await ctx.workloads.destinationsOf(routeGuid))
        if (d.appGuid === app.guid) await ctx.workloads.removeDestination(routeGuid, d.guid);
    return;
  }
  if (m.routes) {
    for (const r of m.routes) await mapRoute(ctx, found, r);
    return;
  }
  if (!m.randomRoute && !m.defaultRoute) return;
  if ((await appRouteGuids(ctx, app.guid)).length > 0) return;
  const domain = await ensureDefaultDomain(ctx.workloads, ctx.services.defaultDomain);
  if (m.randomRoute) {
    await mapRoute(ctx, found, { route: `${app.name}-${randomWords()}.${domain.name}` });
    return;
  }
  const prefix = 'Failed to create default route from app name:';
  if (app.name.length > 63) throw unprocessable(`${prefix} Host cannot exceed 63 characters`);
  if (!/^[\w-]+$/.test(app.name))
    throw unprocessable(`${prefix} Host must be either "*" or contain only alphanumeric characters, "_", or "-"`);
  await mapRoute(ctx, found, { route: `${app.name.toLowerCase()}.${domain.name}` });
}

/** CC's ManifestRoute: the candidates (the whole as a domain, then the first label as the host), the first existing domain wins. */
async function mapRoute(ctx: WorkloadContext, found: AppInSpace, r: ManifestRoute): Promise<void> {
  const slash = r.route.indexOf('/');
  const hostAndDomain = slash < 0 ? r.route : r.route.slice(0, slash);
  const path = slash < 0 ? '' : r.route.slice(slash);
  const dot = hostAndDomain.indexOf('.');
  const candidates = [
    { host: '', domain: hostAndDomain },
    { host: hostAndDomain.slice(0, dot), domain: hostAndDomain.slice(dot + 1) },
  ];
  let domain: Domain | undefined;
  let host = '';
  for (const c of candidates) {
    domain = await ctx.workloads.findDomain(c.domain);
    if (domain) {
      host = c.host;
      break;
    }
  }
  if (!domain) throw unprocessable(`For route '${r.route}': No domains exist for route ${r.route}`);
  let route = await ctx.workloads.findRoute(domain.guid, host, path);
  if (route && route.spaceGuid !== found.space.guid)
    throw new SlipwayError(
      'CONFLICT',
      `For route '${r.route}': Routes cannot be mapped to destinations in different spaces (the route is another space's)`,
      { detail: { cf: 'RouteTaken' } },
    );
  if (!route) {
    try {
      route = await insertRoute(ctx, found, domain, host, path);
    } catch (err) {
      if (isSlipwayError(err)) {
        const cf = err.detail?.cf;
        throw new SlipwayError(err.code, `For route '${r.route}': ${err.message}`, { detail: { cf }, cause: err });
      }
      throw err;
    }
  }
  const existing = (await ctx.workloads.destinationsOf(route.guid)).filter(
    (d) => d.appGuid === found.app.guid && d.processType === 'web',
  );
  if (existing.some((d) => r.protocol === undefined || d.protocol === r.protocol)) return;
  for (const d of existing) await ctx.workloads.removeDestination(route.guid, d.guid);
  const guid = newGuid();
  const all = await ctx.workloads.addDestinations(route.guid, [
    {
      guid,
      routeGuid: route.guid,
      appGuid: found.app.guid,
      processType: 'web',
      port: null,
      protocol: r.protocol ?? 'http1',
    },
  ]);
  await recordApp(ctx, found, EVENT_TYPES.appMapRoute, {
    route_guid: route.guid,
    app_port: 8080,
    // Ours, or the same destination already there (kept).
    destination_guid: (
      all.find((d) => d.guid === guid) ?? all.find((d) => d.appGuid === found.app.guid && d.processType === 'web')
    )?.guid,
    process_type: 'web',
    manifest_triggered: true,
  });
}

const ADJECTIVES = [
  'brave',
  'calm',
  'eager',
  'fancy',
  'gentle',
  'happy',
  'jolly',
  'kind',
  'lively',
  'proud',
  'quiet',
  'witty',
];
const NOUNS = [
  'badger',
  'camel',
  'dolphin',
  'eagle',
  'falcon',
  'gecko',
  'heron',
  'koala',
  'lynx',
  'otter',
  'panda',
  'wombat',
];

/** CC's RandomRouteGenerator: adjective-noun-two letters. */
export function randomWords(): string {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${NOUNS[randomInt(NOUNS.length)]}-${letters[randomInt(26)]}${letters[randomInt(26)]}`;
}

function auditYaml(m: ManifestApp): Record<string, unknown> {
  const out: Record<string, unknown> = { ...m.raw };
  if (out.env !== undefined) out.env = '[PRIVATE DATA HIDDEN]';
  return out;
}

// manifest_diff

export interface DiffEntry {
  op: 'add' | 'replace' | 'remove';
  path: string;
  was?: unknown;
  value?: unknown;
}

/**
 * POST /v3/spaces/:guid/manifest_diff: what applying the manifest would change, as
 * CC's SpaceDiffManifest answers it (JSON-patch-like entries on /applications/N/KEY,
 * keys as the manifest gave them), for the keys the manifest gives.
 */
export async function diffManifest(ctx: WorkloadContext, spaceGuid: string, apps: ManifestApp[]): Promise<DiffEntry[]> {
  const found = await writableSpace(ctx, spaceGuid);
  const out: DiffEntry[] = [];
  for (const [i, m] of apps.entries()) {
    const app = await findApp(ctx, found.space.guid, m.name);
    const current = app ? await currentManifest(ctx, app) : {};
    for (const [key, value] of Object.entries(m.raw)) {
      if (key === 'name' || key === 'path') continue;
      const path = `/applications/${i}/${key.replace(/_/g, '-')}`;
      const was = current[key];
      const given = normalize(key, value);
      if (was === undefined) out.push({ op: 'add', path, value });
      else if (JSON.stringify(was) !== JSON.stringify(given)) out.push({ op: 'replace', path, was, value });
    }
  }
  return out;
}

function normalize(key: string, value: unknown): unknown {
  if (key === 'memory' || key === 'disk_quota') {
    const m = /^(\d+)\s*([KMGT]?)B?$/i.exec(String(value).trim());
    if (m) {
      const mb =
        Number(m[1]) * ({ '': 1, K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024 }[(m[2] ?? '').toUpperCase()] ?? 1);
      return `${mb}M`;
    }
  }
  if (key === 'env' && typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
  return value;
}

/** The app as a manifest (CC's AppManifestPresenter), keys snake_case. */
async function currentManifest(ctx: WorkloadContext, app: App): Promise<Record<string, unknown>> {
  const web = await ctx.workloads.findProcess(app.guid, 'web');
  const out: Record<string, unknown> = {
    stack: app.lifecycle.data.stack,
    buildpacks: app.lifecycle.data.buildpacks,
    env: app.environmentVariables,
  };
  if (web) {
    out.instances = web.instances;
    out.memory = `${web.memoryMb}M`;
    out.disk_quota = `${web.diskMb}M`;
    out.health_check_type = web.healthCheck.type;
    if (web.command !== null) out.command = web.command;
    if (web.healthCheck.endpoint) out.health_check_http_endpoint = web.healthCheck.endpoint;
    if (web.healthCheck.timeout) out.timeout = web.healthCheck.timeout;
  }
  const routes = await appRouteGuids(ctx, app.guid);
  const presented: { route: string }[] = [];
  for (const guid of routes) {
    const route = await ctx.workloads.getRoute(guid);
    const domain = route && (await ctx.workloads.getDomain(route.domainGuid));
    if (route && domain) presented.push({ route: `${route.host ? `${route.host}.` : ''}${domain.name}${route.path}` });
  }
  if (presented.length > 0) out.routes = presented;
  return out;
}
