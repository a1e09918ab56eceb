import { existsSync, readFileSync } from 'node:fs';
import { SlipwayError } from '../../errors.js';
import { apiAtLeast } from './buildpack-descriptor.js';
import { optionalBool, optionalString, parseToml, stringList, table, tables, type TomlTable } from './toml.js';

/** `<layer>.toml`: the layer's types and free-form metadata. */
export interface LayerMetadata {
  launch: boolean;
  build: boolean;
  cache: boolean;
  metadata: TomlTable;
}

export function readLayerToml(file: string): LayerMetadata {
  const doc = existsSync(file) ? parseToml(readFileSync(file, 'utf8'), file) : {};
  const types = table(doc['types'], `${file} [types]`);
  return {
    launch: optionalBool(types['launch'], `${file} types.launch`) ?? false,
    build: optionalBool(types['build'], `${file} types.build`) ?? false,
    cache: optionalBool(types['cache'], `${file} types.cache`) ?? false,
    metadata: table(doc['metadata'], `${file} [metadata]`),
  };
}

/** A process type as the image labels and the launcher carry it. */
export interface LaunchProcess {
  type: string;
  command: string[];
  args: string[];
  direct: boolean;
  default: boolean;
  workingDir?: string;
  buildpackId: string;
}

export interface LaunchToml {
  processes: LaunchProcess[];
  labels: { key: string; value: string }[];
  slices: string[][];
}

const PROCESS_TYPE = /^[A-Za-z0-9._-]+$/;

/**
 * Reads `launch.toml` (buildpack.md "launch.toml (TOML)"). API >= 0.9: `command` is an
 * array and processes are direct; before, `command` is a string run by a shell unless
 * `direct = true`. Invalid content is INVALID_DOCUMENT naming the buildpack.
 */
export function readLaunchToml(file: string, buildpackId: string, api: string): LaunchToml {
  if (!existsSync(file)) return { processes: [], labels: [], slices: [] };
  const doc = parseToml(readFileSync(file, 'utf8'), `launch.toml of ${buildpackId}`);
  const what = `launch.toml of ${buildpackId}`;
  const processes = tables(doc['processes'], `${what} processes`).map((p, i): LaunchProcess => {
    const type = optionalString(p['type'], `${what} processes[${i}].type`);
    if (!type || !PROCESS_TYPE.test(type)) throw new SlipwayError('INVALID_DOCUMENT', `${what}: processes[${i}].type "${type ?? ''}" must be letters, digits, ".", "_" or "-"`);
    let command: string[];
    let direct: boolean;
    if (apiAtLeast(api, '0.9')) {
      const list = typeof p['command'] === 'string' ? [p['command']] : stringList(p['command'], `${what} processes[${i}].command`);
      if (!list || list.length === 0) throw new SlipwayError('INVALID_DOCUMENT', `${what}: process "${type}" has no command`);
      command = list;
      direct = true;
    } else {
      const cmd = optionalString(p['command'], `${what} processes[${i}].command`);
      if (!cmd) throw new SlipwayError('INVALID_DOCUMENT', `${what}: process "${type}" has no command`);
      command = [cmd];
      direct = optionalBool(p['direct'], `${what} processes[${i}].direct`) ?? false;
    }
    const workingDir = optionalString(p['working-dir'], `${what} processes[${i}].working-dir`);
    return {
      type, command, direct, buildpackId,
      args: stringList(p['args'], `${what} processes[${i}].args`) ?? [],
      default: optionalBool(p['default'], `${what} processes[${i}].default`) ?? false,
      ...(workingDir ? { workingDir } : {}),
    };
  });
  if (processes.filter((p) => p.default).length > 1) throw new SlipwayError('INVALID_DOCUMENT', `${what}: more than one process is default`);
  const labels = tables(doc['labels'], `${what} labels`).map((l, i) => {
    const key = optionalString(l['key'], `${what} labels[${i}].key`);
    const value = optionalString(l['value'], `${what} labels[${i}].value`);
    if (!key || value === undefined) throw new SlipwayError('INVALID_DOCUMENT', `${what}: labels[${i}] needs key and value`);
    return { key, value };
  });
  const slices = tables(doc['slices'], `${what} slices`).map((s, i) => stringList(s['paths'], `${what} slices[${i}].paths`) ?? []);
  return { processes, labels, slices };
}

/** `build.toml` [[unmet]] names. */
export function readUnmet(file: string, buildpackId: string): string[] {
  if (!existsSync(file)) return [];
  const doc = parseToml(readFileSync(file, 'utf8'), `build.toml of ${buildpackId}`);
  return tables(doc['unmet'], 'unmet').map((u, i) => {
    const name = optionalString(u['name'], `build.toml of ${buildpackId} unmet[${i}].name`);
    if (!name) throw new SlipwayError('INVALID_DOCUMENT', `build.toml of ${buildpackId}: unmet[${i}] has no name`);
    return name;
  });
}

/** `store.toml` [metadata], or undefined when there is no store.toml. */
export function readStore(file: string, buildpackId: string): TomlTable | undefined {
  if (!existsSync(file)) return undefined;
  return table(parseToml(readFileSync(file, 'utf8'), `store.toml of ${buildpackId}`)['metadata'], 'store.toml metadata');
}
