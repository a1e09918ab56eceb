import { SlipwayError } from '../../errors.js';
import { apiAtLeast } from './buildpack-descriptor.js';
import { optionalBool, optionalString, parseToml, stringList, table, tables, type TomlTable } from './toml.js';
import type { TreeReader } from '../tree-reader.js';

/** `<layer>.toml`: the layer's types and free-form metadata. */
export interface LayerMetadata {
  launch: boolean;
  build: boolean;
  cache: boolean;
  metadata: TomlTable;
}

/** `<layer>.toml` at `file` in `tree` (a missing one has no types set). */
export function readLayerToml(tree: TreeReader, file: string): LayerMetadata {
  const text = tree.readText(file);
  const doc = text === undefined ? {} : parseToml(text, file);
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
export function readLaunchToml(tree: TreeReader, file: string, buildpackId: string, api: string): LaunchToml {
  const text = tree.readText(file);
  if (text === undefined) return { processes: [], labels: [], slices: [] };
  const doc = parseToml(text, `launch.toml of ${buildpackId}`);
  const what = `launch.toml of ${buildpackId}`;
  const processes = tables(doc['processes'], `${what} processes`).map((p, i): LaunchProcess => {
    const type = optionalString(p['type'], `${what} processes[${i}].type`);
    if (!type || !PROCESS_TYPE.test(type))
      throw new SlipwayError(
        'INVALID_DOCUMENT',
        `${what}: processes[${i}].type "${type ?? ''}" must be letters, digits, ".", "_" or "-"`,
      );
    let command: string[];
    let direct: boolean;
    if (apiAtLeast(api, '0.9')) {
      const list =
        typeof p['command'] === 'string' ? [p['command']] : stringList(p['command'], `${what} processes[${i}].command`);
      if (!list || list.length === 0)
        throw new SlipwayError('INVALID_DOCUMENT', `${what}: process "${type}" has no command`);
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
      type,
      command,
      direct,
      buildpackId,
      args: stringList(p['args'], `${what} processes[${i}].args`) ?? [],
      default: optionalBool(p['default'], `${what} processes[${i}].default`) ?? false,
      ...(workingDir ? { workingDir } : {}),
    };
  });
  if (processes.filter((p) => p.default).length > 1)
    throw new SlipwayError('INVALID_DOCUMENT', `${what}: more than one process is default`);
  const labels = tables(doc['labels'], `${what} labels`).map((l, i) => {
    const key = optionalString(l['key'], `${what} labels[${i}].key`);
    const value = optionalString(l['value'], `${what} labels[${i}].value`);
    if (!key || value === undefined)
      throw new SlipwayError('INVALID_DOCUMENT', `${what}: labels[${i}] needs key and value`);
    return { key, value };
  });
  const slices = tables(doc['slices'], `${what} slices`).map(
    (s, i) => stringList(s['paths'], `${what} slices[${i}].paths`) ?? [],
  );
  return { processes, labels, slices };
}

/** `build.toml` [[unmet]] names. */
export function readUnmet(tree: TreeReader, file: string, buildpackId: string): string[] {
  const text = tree.readText(file);
  if (text === undefined) return [];
  const doc = parseToml(text, `build.toml of ${buildpackId}`);
  return tables(doc['unmet'], 'unmet').map((u, i) => {
    const name = optionalString(u['name'], `build.toml of ${buildpackId} unmet[${i}].name`);
    if (!name) throw new SlipwayError('INVALID_DOCUMENT', `build.toml of ${buildpackId}: unmet[${i}] has no name`);
    return name;
  });
}

/** `store.toml` [metadata], or undefined when there is no store.toml. */
export function readStore(tree: TreeReader, file: string, buildpackId: string): TomlTable | undefined {
  const text = tree.readText(file);
  if (text === undefined) return undefined;
  return table(parseToml(text, `store.toml of ${buildpackId}`)['metadata'], 'store.toml metadata');
}
