import { apiStatus, cfErrorOf } from './api-errors.js';
import type { CfClient } from './cf-client.js';
import type { CfApp } from './lookups.js';
import { keyValueTable, table } from './output.js';
import { byteSize } from './units.js';

/**
 * An app's summary as `cf app` and the end of `cf push` show it (the cf CLI's
 * GetDetailedAppSummary and AppSummaryDisplayer): the app, its current droplet (stack,
 * buildpacks, when it was uploaded), routes, each process with its instances' stats,
 * and the active deployment. Slipway adds the image the droplet is.
 */

export interface CfProcess {
  guid: string;
  type: string;
  command?: string | null;
  instances: number;
  memory_in_mb: number;
  disk_in_mb: number;
  health_check?: { type?: string; data?: { endpoint?: string | null } };
  relationships?: { app?: { data?: { guid?: string } } };
}

export interface CfStat {
  index: number;
  state: string;
  uptime?: number;
  mem_quota?: number | null;
  disk_quota?: number | null;
  log_rate_limit?: number;
  usage?: { cpu?: number; cpu_entitlement?: number | null; mem?: number; disk?: number; log_rate?: number };
  details?: string | null;
  routable?: boolean | null;
  digest?: string;
}

export interface CfDroplet {
  guid: string;
  state: string;
  created_at: string;
  stack?: string | null;
  buildpacks?: {
    name: string;
    version?: string | null;
    detect_output?: string | null;
    buildpack_name?: string | null;
  }[];
  checksum?: { value?: string } | null;
}

export interface CfDeployment {
  guid: string;
  state?: string;
  status: { value: string; reason: string; details?: { last_status_change?: string } };
  strategy?: string;
  options?: { max_in_flight?: number };
  droplet?: { guid?: string };
  revision?: { guid: string; version: number } | null;
  created_at?: string;
}

export interface AppSummary {
  guid: string;
  name: string;
  state: string;
  routes: string[];
  last_uploaded: string | null;
  stack: string | null;
  buildpacks: { name: string; version: string; detect_output: string; buildpack_name: string }[];
  droplet_guid: string | null;
  /** The droplet's image in the platform's registry (HOST/ORG/SPACE/APP@digest), when asked for. */
  image: string | null;
  digest: string | null;
  processes: {
    guid: string;
    type: string;
    command: string | null;
    instances: number;
    memory_in_mb: number;
    disk_in_mb: number;
    running: number;
    stats: {
      index: number;
      state: string;
      since: string | null;
      cpu: number | null;
      memory: number;
      memory_quota: number;
      disk: number;
      disk_quota: number;
      details: string;
      routable: boolean | null;
      digest: string | null;
    }[];
  }[];
  deployment: { guid: string; status: string; reason: string; strategy: string; max_in_flight: number } | null;
}

/** Everything the summary shows, read as the cf CLI reads it; `image` also asks where the droplet's image is. */
export async function appSummary(client: CfClient, app: CfApp, o: { image?: boolean } = {}): Promise<AppSummary> {
  const fresh = await client.get<CfApp>(`/v3/apps/${app.guid}`);
  const { resources: listed } = await client.list<CfProcess>(`/v3/apps/${app.guid}/processes`);
  const processes = [];
  for (const p of listed.sort((a, b) =>
    a.type === 'web' ? -1 : b.type === 'web' ? 1 : a.type.localeCompare(b.type),
  )) {
    const full = await client.get<CfProcess>(`/v3/processes/${p.guid}`);
    const stats = await client.get<{ resources?: CfStat[] }>(`/v3/processes/${p.guid}/stats`);
    const entries = (stats.resources ?? []).map((s) => ({
      index: s.index,
      state: s.state,
      since:
        s.state === 'RUNNING' || s.state === 'STARTING'
          ? new Date(Date.now() - (s.uptime ?? 0) * 1000).toISOString().replace(/\.\d+Z$/, 'Z')
          : null,
      cpu: s.usage?.cpu_entitlement ?? s.usage?.cpu ?? null,
      memory: s.usage?.mem ?? 0,
      memory_quota: s.mem_quota ?? 0,
      disk: s.usage?.disk ?? 0,
      disk_quota: s.disk_quota ?? 0,
      details: s.details ?? '',
      routable: s.routable ?? null,
      digest: s.digest ?? null,
    }));
    processes.push({
      guid: p.guid,
      type: p.type,
      command: full.command ?? null,
      instances: full.instances,
      memory_in_mb: full.memory_in_mb,
      disk_in_mb: full.disk_in_mb,
      running: entries.filter((e) => e.state === 'RUNNING').length,
      stats: entries,
    });
  }
  const { resources: routes } = await client.list<{ url: string }>(`/v3/apps/${app.guid}/routes`);
  let droplet: CfDroplet | undefined;
  try {
    droplet = await client.get<CfDroplet>(`/v3/apps/${app.guid}/droplets/current`);
  } catch (err) {
    if (!(apiStatus(err) === 404 && cfErrorOf(err)?.detail === 'Droplet not found')) throw err;
  }
  let image: { image?: string; digest?: string } | undefined;
  if (o.image && droplet?.state === 'STAGED')
    image = await client.get<{ image?: string; digest?: string }>(`/v3/droplets/${droplet.guid}/download`);
  const page = await client.get<{ resources?: CfDeployment[] }>('/v3/deployments', {
    app_guids: [app.guid],
    order_by: '-created_at',
    page: 1,
    per_page: 1,
    status_values: ['ACTIVE'],
  });
  const active = page.resources?.[0];
  return {
    guid: app.guid,
    name: fresh.name,
    state: fresh.state,
    routes: routes.map((r) => r.url),
    last_uploaded: droplet?.created_at ?? null,
    stack: droplet?.stack ?? null,
    buildpacks: (droplet?.buildpacks ?? []).map((b) => ({
      name: b.name,
      version: b.version ?? '',
      detect_output: b.detect_output ?? '',
      buildpack_name: b.buildpack_name ?? '',
    })),
    droplet_guid: droplet?.guid ?? null,
    image: image?.image ?? null,
    digest: image?.digest ?? (droplet?.checksum?.value ? `sha256:${droplet.checksum.value}` : null),
    processes,
    deployment:
      active && active.status.value === 'ACTIVE'
        ? {
            guid: active.guid,
            status: active.status.value,
            reason: active.status.reason,
            strategy: active.strategy ?? 'rolling',
            max_in_flight: active.options?.max_in_flight ?? 1,
          }
        : null,
  };
}

/** The cf CLI's UserFriendlyDate: Mon 02 Jan 15:04:05 MST 2006, local time. */
export function friendlyDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const day = d.toLocaleString('en-US', { weekday: 'short' });
  const month = d.toLocaleString('en-US', { month: 'short' });
  const zone =
    new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName')
      ?.value ?? '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${day} ${p(d.getDate())} ${month} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${zone} ${d.getFullYear()}`;
}

/** The summary as the cf CLI's AppDisplay prints it. */
export function renderSummary(s: AppSummary, o: { startCommand?: boolean } = {}): string {
  const rows: [string, string][] = [
    ['name:', s.name],
    ['requested state:', s.state.toLowerCase()],
    ['routes:', s.routes.join(', ')],
    ['last uploaded:', s.last_uploaded ? friendlyDate(s.last_uploaded) : ''],
    ['stack:', s.stack ?? ''],
  ];
  if (s.image) rows.push(['image:', s.image]);
  rows.push(['buildpacks:', '']);
  const out: string[] = [keyValueTable(rows)];
  if (s.buildpacks.length > 0)
    out.push(
      table(
        ['name', 'version', 'detect output', 'buildpack name'],
        s.buildpacks.map((b) => [b.name, b.version, b.detect_output, b.buildpack_name]),
      )
        .split('\n')
        .map((l) => `\t${l}`)
        .join('\n'),
    );
  for (const p of s.processes) {
    out.push('');
    const kv: [string, string][] = [
      ['type:', p.type],
      ['sidecars:', ''],
      ['instances:', `${p.running}/${p.stats.length}`],
      ['memory usage:', `${p.memory_in_mb}M`],
    ];
    if (o.startCommand && p.command) kv.push(['start command:', p.command]);
    out.push(keyValueTable(kv));
    if (p.stats.length === 0) {
      out.push('There are no running instances of this process.');
      continue;
    }
    out.push(
      table(
        ['', 'state', 'since', 'cpu entitlement', 'memory', 'disk', 'logging', 'details'],
        p.stats.map((i) => [
          `#${i.index}`,
          i.state.toLowerCase(),
          i.since ?? '',
          i.cpu === null ? '' : `${(i.cpu * 100).toFixed(1)}%`,
          `${byteSize(i.memory)} of ${byteSize(i.memory_quota)}`,
          `${byteSize(i.disk)} of ${byteSize(i.disk_quota)}`,
          '0/s of unlimited',
          i.details,
        ]),
      ),
    );
  }
  if (s.deployment) {
    out.push('', `Active deployment with status ${s.deployment.reason}.`);
    out.push(
      keyValueTable([
        ['strategy:', s.deployment.strategy],
        ['max-in-flight:', String(s.deployment.max_in_flight)],
      ]),
    );
  }
  return out.join('\n');
}
