import { parse, stringify } from 'smol-toml';
import { SlipwayError } from '../../errors.js';

export type TomlTable = Record<string, unknown>;

/** Parses TOML; INVALID_DOCUMENT naming `what` (a file) when it is not TOML. */
export function parseToml(text: string, what: string): TomlTable {
  try {
    return parse(text) as TomlTable;
  } catch (err) {
    throw new SlipwayError('INVALID_DOCUMENT', `${what} is not valid TOML: ${(err as Error).message.split('\n')[0]}`, {
      cause: err,
      detail: { file: what },
    });
  }
}

export function toToml(value: TomlTable): string {
  return `${stringify(value)}\n`;
}

/** A table field, or an empty table when absent; INVALID_DOCUMENT when it is something else. */
export function table(value: unknown, what: string): TomlTable {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new SlipwayError('INVALID_DOCUMENT', `${what} must be a table`);
  return value as TomlTable;
}

/** An array of tables, or [] when absent. */
export function tables(value: unknown, what: string): TomlTable[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new SlipwayError('INVALID_DOCUMENT', `${what} must be an array of tables`);
  return value.map((v, i) => table(v, `${what}[${i}]`));
}

export function optionalString(value: unknown, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new SlipwayError('INVALID_DOCUMENT', `${what} must be a string`);
  return value;
}

export function optionalBool(value: unknown, what: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw new SlipwayError('INVALID_DOCUMENT', `${what} must be true or false`);
  return value;
}

export function stringList(value: unknown, what: string): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
    throw new SlipwayError('INVALID_DOCUMENT', `${what} must be an array of strings`);
  return value as string[];
}
