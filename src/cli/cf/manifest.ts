import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { SlipwayError, isErrno } from '../../errors.js';

/**
 * The manifest `cf push` sends (the cf CLI's manifestparser and push flag overrides):
 * the manifest file when there is one, its ((variables)) filled from --var and
 * --vars-file, narrowed to the app named on the command line, with the flags set on
 * top of it (on the web process when the manifest lists processes), every app's path
 * made absolute, and `default-route: true` unless it asks for no or a random route.
 * What the keys mean is the server's business (it parses the manifest, and warns
 * about keys it does not know): the CLI only lays the flags over the file.
 */

export interface PushFlags {
  path?: string;
  buildpacks?: string[];
  stack?: string;
  instances?: number;
  memory?: string;
  disk?: string;
  command?: string;
  healthCheckType?: string;
  endpoint?: string;
  timeout?: number;
  noRoute?: boolean;
  randomRoute?: boolean;
  /** With a deployment strategy, instances, memory and disk go to the deployment, not the manifest. */
  strategy?: string;
}

export interface PushManifest {
  /** The manifest file read (undefined: made from the flags). */
  file?: string;
  /** The apps to push: their names and absolute paths. */
  apps: { name: string; path: string }[];
  /** The YAML sent to apply_manifest. */
  yaml: string;
}

type Node = Record<string, unknown>;

/** manifest.yml (or .yaml) of a directory, or the file given; undefined when the directory has none. */
export async function locateManifest(given: string | undefined, cwd: string): Promise<string | undefined> {
  const candidates = async (dir: string) => {
    for (const name of ['manifest.yml', 'manifest.yaml']) {
      const p = join(dir, name);
      if (await exists(p)) return p;
    }
    return undefined;
  };
  if (given === undefined) return candidates(cwd);
  const path = resolve(cwd, given);
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new SlipwayError('NOT_FOUND', `The specified path '${given}' does not exist.`);
    throw err;
  }
  if (!st.isDirectory()) return path;
  const found = await candidates(path);
  if (!found) throw new SlipwayError('NOT_FOUND', `Could not find 'manifest.yml' file in ${given}`);
  return found;
}

/** Variables of --vars-file files (YAML maps, later ones win) and --var K=V (V read as YAML, as bosh does). */
export async function readVars(files: string[], pairs: string[]): Promise<Record<string, unknown>> {
  const vars: Record<string, unknown> = {};
  for (const f of files) {
    const doc = parseYaml(await readFile(f, 'utf8')) as unknown;
    if (doc === null || doc === undefined) continue;
    if (typeof doc !== 'object' || Array.isArray(doc))
      throw new SlipwayError('INVALID_ARGUMENT', `The vars file ${f} is not a YAML map of names and values`);
    Object.assign(vars, doc);
  }
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new SlipwayError('INVALID_ARGUMENT', `--var ${pair}: expected NAME=VALUE`);
    const text = pair.slice(eq + 1);
    let value: unknown;
    try {
      value = parseYaml(text);
    } catch {
      value = text;
    }
    vars[pair.slice(0, eq)] = value ?? text;
  }
  return vars;
}

/** ((name)) filled in: a whole value takes the variable's type, inside text its string; a missing one fails. */
export function interpolate(doc: unknown, vars: Record<string, unknown>): unknown {
  const missing = new Set<string>();
  const lookup = (name: string): unknown => {
    let v: unknown = vars;
    for (const part of name.split('.')) v = v && typeof v === 'object' ? (v as Node)[part] : undefined;
    if (v === undefined) missing.add(name);
    return v;
  };
  const VAR = /\(\(([-\w./:]+)\)\)/g;
  const visit = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const whole = /^\(\(([-\w./:]+)\)\)$/.exec(v);
      if (whole) return lookup(whole[1]!) ?? v;
      return v.replace(VAR, (m, name: string) => {
        const x = lookup(name);
        return x === undefined ? m : typeof x === 'object' ? JSON.stringify(x) : String(x);
      });
    }
    if (Array.isArray(v)) return v.map(visit);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, visit(x)]));
    return v;
  };
  const out = visit(doc);
  if (missing.size > 0)
    throw new SlipwayError('INVALID_ARGUMENT', `Expected to find variables: ${[...missing].sort().join(', ')}`);
  return out;
}

/** The manifest of a push: the file (or a generated one), the app chosen, the flags laid over it. */
export async function pushManifest(o: {
  cwd: string;
  file?: string;
  appName?: string;
  flags: PushFlags;
  vars: Record<string, unknown>;
}): Promise<PushManifest> {
  let doc: Node;
  if (o.file) {
    const text = await readFile(o.file, 'utf8');
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      throw new SlipwayError('INVALID_DOCUMENT', `Unable to push app because manifest ${o.file} is not valid yaml.`, {
        cause: err,
      });
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new SlipwayError('INVALID_DOCUMENT', `Unable to push app because manifest ${o.file} is not valid yaml.`);
    doc = interpolate(parsed, o.vars) as Node;
  } else doc = { applications: [{ name: o.appName }] };
  if (!Array.isArray(doc.applications) || doc.applications.length === 0)
    throw new SlipwayError('INVALID_DOCUMENT', `Manifest ${o.file} has no applications`);
  let apps = doc.applications as Node[];
  if (apps.some((a) => !a || typeof a !== 'object' || Array.isArray(a)))
    throw new SlipwayError('INVALID_DOCUMENT', `Manifest ${o.file}: every application must be a map`);
  // The cf CLI's HandleAppNameOverride.
  if (apps.length > 1 && apps.some((a) => !a.name))
    throw new SlipwayError('INVALID_DOCUMENT', 'Found an application with no name specified.');
  if (o.appName !== undefined) {
    const found = apps.find((a) => a.name === o.appName);
    if (found) apps = [found];
    else if (apps.length === 1) apps[0]!.name = o.appName;
    else throw new SlipwayError('NOT_FOUND', `Could not find app named '${o.appName}' in manifest`);
  } else if (apps.some((a) => !a.name))
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      'Incorrect Usage: The push command requires an app name. The app name can be supplied as an argument or with a manifest.yml file.',
    );
  const flags = o.flags;
  const flagged = Object.entries(flags).some(([k, v]) => k !== 'strategy' && v !== undefined && v !== false);
  if (apps.length > 1 && flagged)
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      'Incorrect Usage: Command line flags (except -f and --no-start) cannot be applied when pushing multiple apps from a manifest file.',
    );
  const app = apps[0]!;
  const web = Array.isArray(app.processes)
    ? (app.processes as Node[]).find((p) => p && typeof p === 'object' && p.type === 'web')
    : undefined;
  const scaleTarget = web ?? app;
  if (flags.buildpacks && flags.buildpacks.length > 0) {
    setKey(app, 'buildpack', undefined);
    setKey(app, 'buildpacks', flags.buildpacks);
  }
  if (flags.stack !== undefined) setKey(app, 'stack', flags.stack);
  if (!flags.strategy) {
    if (flags.instances !== undefined) setKey(scaleTarget, 'instances', flags.instances);
    if (flags.memory !== undefined) setKey(scaleTarget, 'memory', flags.memory);
    if (flags.disk !== undefined) setKey(scaleTarget, 'disk_quota', flags.disk);
  }
  if (flags.command !== undefined) setKey(scaleTarget, 'command', flags.command);
  if (flags.healthCheckType !== undefined) setKey(scaleTarget, 'health-check-type', flags.healthCheckType);
  if (flags.endpoint !== undefined) setKey(scaleTarget, 'health-check-http-endpoint', flags.endpoint);
  if (flags.timeout !== undefined) setKey(scaleTarget, 'timeout', flags.timeout);
  if (flags.noRoute) {
    setKey(app, 'no-route', true);
    setKey(app, 'routes', undefined);
    setKey(app, 'random-route', undefined);
  }
  if (flags.randomRoute && keyValue(app, 'no-route') !== true) setKey(app, 'random-route', true);
  const out: { name: string; path: string }[] = [];
  for (const a of apps) {
    let path: string;
    if (a === app && flags.path !== undefined) path = resolve(o.cwd, flags.path);
    else {
      const p = keyValue(a, 'path');
      if (p !== undefined && typeof p !== 'string')
        throw new SlipwayError('INVALID_DOCUMENT', `The path of app '${String(a.name)}' must be a string`);
      path = p === undefined ? o.cwd : isAbsolute(p) ? p : resolve(o.file ? dirname(o.file) : o.cwd, p);
    }
    try {
      path = await realpath(path);
    } catch (err) {
      if (isErrno(err, 'ENOENT'))
        throw new SlipwayError('NOT_FOUND', `File not found locally, make sure the file exists at given path ${path}`);
      throw err;
    }
    setKey(a, 'path', path);
    // The cf CLI's HandleDefaultRouteOverride.
    if (keyValue(a, 'random-route') !== true && keyValue(a, 'no-route') !== true) setKey(a, 'default-route', true);
    out.push({ name: String(a.name), path });
  }
  doc.applications = apps;
  return { ...(o.file ? { file: o.file } : {}), apps: out, yaml: stringifyYaml(doc) };
}

/** "disk-quota", "diskQuota", "disk_quota" are one key (as the server reads them). */
function norm(key: string): string {
  return key
    .replace(/([a-z\d])([A-Z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toLowerCase();
}

/** Sets a key, dropping the other spellings of it first (undefined: only drops). */
function setKey(node: Node, key: string, value: unknown): void {
  for (const k of Object.keys(node)) if (norm(k) === norm(key)) delete node[k];
  if (value !== undefined) node[key] = value;
}

function keyValue(node: Node, key: string): unknown {
  for (const [k, v] of Object.entries(node)) if (norm(k) === norm(key)) return v;
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}
