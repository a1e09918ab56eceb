import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { SlipwayError } from '../errors.js';

/** A process type name the launcher can look up as a file name. */
const TYPE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Reads process types from a file in any of the shapes CF and Heroku use: a Procfile
 * or YAML map (`web: cmd`), release output (`default_process_types: {web: cmd}`),
 * or CF's result.json (`process_types: {...}`, or `processes: [{type, command}]`).
 *
 * @example
 *   readProcessTypes('result.json') // { web: 'bundle exec rackup -p $PORT', worker: 'rake jobs' }
 */
export function readProcessTypes(file: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SlipwayError('INVALID_DOCUMENT', `process types file ${file}: ${(err as Error).message}`, { cause: err });
  }
  return processTypesFrom(parsed, file);
}

export function processTypesFrom(parsed: unknown, what: string): Record<string, string> {
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw new SlipwayError('INVALID_DOCUMENT', `${what}: process types must be a map of type: command`);
  const p = parsed as Record<string, unknown>;
  if (p['default_process_types'] !== undefined) return processTypesFrom(p['default_process_types'], what);
  if (p['process_types'] !== undefined) return processTypesFrom(p['process_types'], what);
  if (Array.isArray(p['processes'])) {
    const out: Record<string, string> = {};
    for (const x of p['processes'] as { type?: unknown; command?: unknown }[]) {
      if (typeof x?.type === 'string' && typeof x.command === 'string') out[x.type] = x.command;
    }
    return checked(out, what);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) {
    if (typeof v !== 'string')
      throw new SlipwayError('INVALID_DOCUMENT', `${what}: process type "${k}" has no command string`);
    out[k] = v;
  }
  return checked(out, what);
}

function checked(types: Record<string, string>, what: string): Record<string, string> {
  for (const k of Object.keys(types)) {
    if (!TYPE_NAME.test(k))
      throw new SlipwayError(
        'INVALID_DOCUMENT',
        `${what}: "${k}" is not a valid process type name (letters, digits, _ . -)`,
      );
  }
  return types;
}

/** Sorted by name, so labels and layers do not depend on the order a file listed them. */
export function sortedTypes(types: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(types).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
