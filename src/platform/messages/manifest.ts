import { parse as parseYaml } from 'yaml';
import { badRequest, parseError, unprocessable } from '../cf-errors.js';
import type { HealthCheckType } from '../workload.js';
import { MetadataPatchSchema, type MetadataPatchInput } from './common.js';

/**
 * CF's app manifest (`manifest.yml`), as Cloud Controller's AppManifestMessage reads
 * it for `POST /v3/spaces/:guid/actions/apply_manifest` and `manifest_diff`: keys are
 * taken hyphenated, underscored or camelCased alike; memory and disk as "256M" or
 * "1G"; top-level process attributes are the web process's. Every error is CC's text,
 * prefixed with the application ("For application 'NAME': ..."). A key CC does not
 * know is a warning (CC ignores it; the job says so), as is one Slipway does not do.
 */

export interface ManifestHealthCheck {
  type?: HealthCheckType;
  endpoint?: string;
  timeout?: number;
  invocationTimeout?: number;
}

export interface ManifestProcess {
  type: string;
  instances?: number;
  memoryMb?: number;
  diskMb?: number;
  /** null: the droplet's command ("null" or "default" in the manifest). */
  command?: string | null;
  healthCheck?: ManifestHealthCheck;
}

export interface ManifestRoute {
  route: string;
  protocol?: 'http1' | 'http2';
}

export interface ManifestApp {
  name: string;
  /** The keys as given (normalized to snake_case), for the diff. */
  raw: Record<string, unknown>;
  buildpacks?: string[];
  stack?: string;
  env?: Record<string, string>;
  processes: ManifestProcess[];
  routes?: ManifestRoute[];
  noRoute?: boolean;
  randomRoute?: boolean;
  defaultRoute?: boolean;
  metadata?: MetadataPatchInput;
  warnings: string[];
}

/** The keys CC's AppManifestMessage takes (snake_case), and what Slipway does with them. */
const KNOWN = new Set([
  'name',
  'buildpack',
  'buildpacks',
  'command',
  'disk_quota',
  'env',
  'health_check_http_endpoint',
  'health_check_invocation_timeout',
  'health_check_timeout',
  'health_check_type',
  'instances',
  'memory',
  'metadata',
  'no_route',
  'processes',
  'random_route',
  'default_route',
  'routes',
  'stack',
  'timeout',
  'docker',
  // the cf CLI's own (it zips the path; CC never reads it)
  'path',
]);
const NOT_DONE = new Set([
  'log_rate_limit_per_second',
  'health_check_interval',
  'readiness_health_check_http_endpoint',
  'readiness_health_check_type',
  'readiness_health_check_invocation_timeout',
  'readiness_health_check_interval',
  'lifecycle',
  'services',
  'sidecars',
  'cnb_credentials',
  'features',
]);
const PROCESS_KEYS = new Set([
  'type',
  'instances',
  'memory',
  'disk_quota',
  'command',
  'health_check_type',
  'health_check_http_endpoint',
  'health_check_invocation_timeout',
  'health_check_timeout',
  'timeout',
]);

/** "disk-quota", "diskQuota" -> "disk_quota" (Rails' underscore). */
export function underscore(key: string): string {
  return key
    .replace(/([a-z\d])([A-Z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toLowerCase();
}

/** A manifest body: the YAML document's applications, validated; throws CC's 400/422. */
export function parseManifest(contentType: string | null, text: string): ManifestApp[] {
  if (!/^(application|text)\/(x-)?yaml\b/i.test(contentType ?? '')) throw badRequest('Content-Type must be yaml');
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch {
    throw parseError('invalid request body');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw parseError('invalid request body');
  const d = doc as Record<string, unknown>;
  if (d.version !== undefined && d.version !== 1)
    throw unprocessable('Unsupported manifest schema version. Currently supported versions: [1].');
  const apps = d.applications;
  if (!Array.isArray(apps) || apps.length === 0)
    throw unprocessable("Cannot parse manifest with no 'applications' field.");
  const errors: string[] = [];
  const out: ManifestApp[] = [];
  apps.forEach((entry, index) => {
    const problems: string[] = [];
    const app = readApp(entry, problems);
    const name = app?.name;
    const prefix = name ? `For application '${name}': ` : `For application at index ${index}: `;
    for (const p of problems) errors.push(prefix + p);
    if (app && problems.length === 0) out.push(app);
  });
  if (errors.length > 0) throw unprocessable(errors.join(', '));
  const names = new Set<string>();
  for (const a of out) {
    if (names.has(a.name)) throw unprocessable(`For application '${a.name}': Name must be unique in the manifest`);
    names.add(a.name);
  }
  return out;
}

function readApp(entry: unknown, problems: string[]): ManifestApp | undefined {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    problems.push('must be an object');
    return undefined;
  }
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entry)) raw[underscore(k)] = v;
  const warnings: string[] = [];
  const name = typeof raw.name === 'string' ? raw.name : '';
  if (name === '') problems.push('Name must not be empty');
  for (const key of Object.keys(raw)) {
    if (NOT_DONE.has(key))
      warnings.push(`For application '${name}': '${key}' is not supported by this platform and was ignored`);
    else if (!KNOWN.has(key)) warnings.push(`For application '${name}': unknown key '${key}' was ignored`);
  }
  const app: ManifestApp = { name, raw, processes: [], warnings };
  if (raw.docker !== undefined) problems.push('Feature Disabled: diego_docker (push source: buildpacks stage it)');
  if (raw.buildpack !== undefined && raw.buildpacks !== undefined)
    problems.push('Buildpack and Buildpacks fields cannot be used together.');
  if (raw.buildpacks !== undefined) {
    if (!Array.isArray(raw.buildpacks) || raw.buildpacks.some((b) => typeof b !== 'string' && b !== null))
      problems.push('Buildpacks must be an array of strings');
    else app.buildpacks = autodetect(raw.buildpacks as (string | null)[]);
  } else if (raw.buildpack !== undefined) {
    if (typeof raw.buildpack !== 'string' && raw.buildpack !== null) problems.push('Buildpack must be a string');
    else app.buildpacks = autodetect([raw.buildpack as string | null]);
  }
  if (raw.stack !== undefined) {
    if (typeof raw.stack !== 'string' || raw.stack === '') problems.push('Stack must be a string');
    else app.stack = raw.stack;
  }
  if (raw.env !== undefined) {
    const env = envOf(raw.env);
    if (env === undefined) problems.push('Env must be an object of keys and values');
    else app.env = env;
  }
  if (raw.metadata !== undefined) {
    const m = MetadataPatchSchema.safeParse(raw.metadata);
    if (!m.success) problems.push(`Metadata ${m.error.issues.map((i) => i.message).join(', ')}`);
    else app.metadata = m.data;
  }
  for (const flag of ['no_route', 'random_route', 'default_route'] as const) {
    const v = raw[flag];
    if (v === undefined) continue;
    if (typeof v !== 'boolean') problems.push(`${humanize(flag)} must be a boolean`);
    else if (flag === 'no_route') app.noRoute = v;
    else if (flag === 'random_route') app.randomRoute = v;
    else app.defaultRoute = v;
  }
  if (raw.routes !== undefined) {
    const routes = routesOf(raw.routes, problems);
    if (routes) app.routes = routes;
    if (app.noRoute) problems.push("Cannot use 'routes' and 'no-route' together");
  }
  const web = processOf({ ...raw, type: 'web' }, problems, '');
  const hasTop = [...PROCESS_KEYS].some((k) => k !== 'type' && raw[k] !== undefined);
  const listed: ManifestProcess[] = [];
  if (raw.processes !== undefined) {
    if (!Array.isArray(raw.processes)) problems.push('Processes must be an array of process configurations');
    else {
      const seen = new Set<string>();
      for (const p of raw.processes) {
        const pr: Record<string, unknown> = {};
        if (typeof p === 'object' && p !== null) for (const [k, v] of Object.entries(p)) pr[underscore(k)] = v;
        if (typeof pr.type !== 'string' || pr.type === '') {
          problems.push('All Processes must specify a type');
          continue;
        }
        if (seen.has(pr.type)) problems.push(`Process "${pr.type}" may only be present once`);
        seen.add(pr.type);
        for (const key of Object.keys(pr))
          if (!PROCESS_KEYS.has(key))
            warnings.push(`For application '${name}': unknown key '${key}' of process '${pr.type}' was ignored`);
        const process = processOf(pr, problems, `Process "${pr.type}": `);
        if (process) listed.push(process);
      }
    }
  }
  if (hasTop && web && !listed.some((p) => p.type === 'web')) app.processes.push(web);
  app.processes.push(...listed);
  return app;
}

function autodetect(buildpacks: (string | null)[]): string[] {
  return buildpacks.filter((b): b is string => b !== null && b !== 'default' && b !== 'null');
}

function envOf(value: unknown): Record<string, string> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null || typeof v === 'object') return undefined;
    out[k] = String(v);
  }
  return out;
}

function routesOf(value: unknown, problems: string[]): ManifestRoute[] | undefined {
  if (!Array.isArray(value)) {
    problems.push('Routes must be a list of route objects');
    return undefined;
  }
  const out: ManifestRoute[] = [];
  for (const r of value) {
    const route = typeof r === 'object' && r !== null ? (r as Record<string, unknown>).route : undefined;
    const protocol = typeof r === 'object' && r !== null ? (r as Record<string, unknown>).protocol : undefined;
    if (typeof route !== 'string' || !/^(\*\.)?[\w-]+(\.[\w-]+)+(\/[^?\s]*)?$/.test(route)) {
      problems.push(
        `The route '${typeof route === 'string' ? route : JSON.stringify(r)}' is not a properly formed URL`,
      );
      continue;
    }
    if (protocol !== undefined && protocol !== 'http1' && protocol !== 'http2') {
      problems.push(`Route protocol must be 'http1' or 'http2'`);
      continue;
    }
    out.push(protocol ? { route, protocol } : { route });
  }
  return out;
}

function processOf(p: Record<string, unknown>, problems: string[], prefix: string): ManifestProcess | undefined {
  const out: ManifestProcess = { type: p.type as string };
  const before = problems.length;
  if (p.instances !== undefined) {
    if (typeof p.instances !== 'number' || !Number.isInteger(p.instances))
      problems.push(`${prefix}Instances must be an integer`);
    else if (p.instances < 0) problems.push(`${prefix}Instances must be greater than or equal to 0`);
    else out.instances = p.instances;
  }
  for (const [key, label] of [
    ['memory', 'Memory'],
    ['disk_quota', 'Disk quota'],
  ] as const) {
    if (p[key] === undefined) continue;
    const mb = toMb(p[key]);
    if (typeof mb === 'string') problems.push(`${prefix}${label} ${mb}`);
    else if (key === 'memory') out.memoryMb = mb;
    else out.diskMb = mb;
  }
  if (p.command !== undefined) {
    if (p.command !== null && typeof p.command !== 'string') problems.push(`${prefix}Command must be a string`);
    else out.command = p.command === null || p.command === 'null' || p.command === 'default' ? null : p.command;
  }
  const hc: ManifestHealthCheck = {};
  if (p.health_check_type !== undefined) {
    const t = p.health_check_type === 'none' ? 'process' : p.health_check_type;
    if (t !== 'port' && t !== 'process' && t !== 'http')
      problems.push(`${prefix}Health check type must be "port", "process", or "http"`);
    else hc.type = t;
  }
  if (p.health_check_http_endpoint !== undefined) {
    if (typeof p.health_check_http_endpoint !== 'string' || !p.health_check_http_endpoint.startsWith('/'))
      problems.push(`${prefix}Health check http endpoint must be a valid URI path`);
    else hc.endpoint = p.health_check_http_endpoint;
  }
  for (const [key, field, label] of [
    ['timeout', 'timeout', 'Timeout'],
    ['health_check_timeout', 'timeout', 'Health check timeout'],
    ['health_check_invocation_timeout', 'invocationTimeout', 'Health check invocation timeout'],
  ] as const) {
    const v = p[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      problems.push(`${prefix}${label} must be greater than or equal to 1`);
    else hc[field] = v;
  }
  if (Object.keys(hc).length > 0) out.healthCheck = hc;
  return problems.length === before ? out : undefined;
}

/** CC's ByteConverter#convert_to_mb: a number with a unit (B, K, KB, M, MB, G, GB, T, TB) as whole megabytes. */
export function toMb(value: unknown): number | string {
  const text = String(value).trim();
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)B?$/i.exec(text);
  if (!m || (m[2] === '' && !/B$/i.test(text))) {
    if (!/^\d/.test(text)) return 'is not a number';
    return 'must use a supported unit: B, K, KB, M, MB, G, GB, T, or TB';
  }
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toUpperCase();
  const factor = { '': 1 / (1024 * 1024), K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024 }[unit] ?? 1;
  return Math.floor(n * factor);
}

function humanize(key: string): string {
  const t = key.replace(/_/g, ' ');
  return t.charAt(0).toUpperCase() + t.slice(1);
}
