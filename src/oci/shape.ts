/**
 * A small checker for the shapes of JSON documents: each field's type and its own rule,
 * with every problem reported at its path. OCI documents need only strings, numbers,
 * booleans, arrays, string maps and loose objects, so this is written here rather than
 * loaded from a schema library, whose start-up cost every CLI command that reads a
 * manifest would pay.
 */

export interface ShapeIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
  /** 'type' when the value is missing or of the wrong type, 'rule' when it broke its field's rule. */
  readonly kind: 'type' | 'rule';
}

/** Checks `value`, pushing each problem found under `path`. */
export type Shape = (value: unknown, path: (string | number)[], issues: ShapeIssue[]) => void;

/** A rule on a value of the right type: returns the problem, or undefined. */
type Rule<T> = (value: T) => string | undefined;

/** The issues of `value` against `shape`, empty when it conforms. */
export function shapeIssues(shape: Shape, value: unknown): ShapeIssue[] {
  const issues: ShapeIssue[] = [];
  shape(value, [], issues);
  return issues;
}

export function string(rule?: Rule<string>): Shape {
  return typed('string', (v): v is string => typeof v === 'string', rule);
}

export function number(rule?: Rule<number>): Shape {
  return typed('number', (v): v is number => typeof v === 'number' && Number.isFinite(v), rule);
}

export function boolean(): Shape {
  return typed('boolean', (v): v is boolean => typeof v === 'boolean');
}

/** Any value, held to `rule` (which sees undefined when the field is absent). */
export function anyValue(rule: Rule<unknown>): Shape {
  return (value, path, issues) => report(rule(value), path, issues);
}

export function arrayOf(item: Shape): Shape {
  return (value, path, issues) => {
    if (!Array.isArray(value)) return typeIssue('array', value, path, issues);
    for (let i = 0; i < value.length; i++) item(value[i], [...path, i], issues);
  };
}

/** An object whose every value conforms to `item` (a map such as annotations). */
export function mapOf(item: Shape): Shape {
  return (value, path, issues) => {
    if (!isPlainObject(value)) return typeIssue('object', value, path, issues);
    for (const key of Object.keys(value)) item(value[key], [...path, key], issues);
  };
}

/**
 * An object with the given fields; other fields are allowed and left alone, as the OCI
 * specs ask. A `rule` on the whole object runs only when its fields conform, and reports
 * its problem at the field `at`.
 */
export function object(
  fields: Record<string, Shape>,
  rule?: { at: string; rule: Rule<Record<string, unknown>> },
): Shape {
  const entries = Object.entries(fields);
  return (value, path, issues) => {
    if (!isPlainObject(value)) return typeIssue('object', value, path, issues);
    const before = issues.length;
    for (const [key, field] of entries) field(value[key], [...path, key], issues);
    if (rule !== undefined && issues.length === before) report(rule.rule(value), [...path, rule.at], issues);
  };
}

/** The field may be absent. */
export function optional(shape: Shape): Shape {
  return (value, path, issues) => {
    if (value !== undefined) shape(value, path, issues);
  };
}

/** The field may be absent or null (docker writes null for empty maps and lists). */
export function nullable(shape: Shape): Shape {
  return (value, path, issues) => {
    if (value !== undefined && value !== null) shape(value, path, issues);
  };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typed<T>(expected: string, is: (v: unknown) => v is T, rule?: Rule<T>): Shape {
  return (value, path, issues) => {
    if (!is(value)) return typeIssue(expected, value, path, issues);
    if (rule !== undefined) report(rule(value), path, issues);
  };
}

function report(problem: string | undefined, path: (string | number)[], issues: ShapeIssue[]): void {
  if (problem !== undefined) issues.push({ path, message: problem, kind: 'rule' });
}

function typeIssue(expected: string, value: unknown, path: (string | number)[], issues: ShapeIssue[]): void {
  const message =
    value === undefined ? `is required (${article(expected)})` : `must be ${article(expected)}, not ${typeName(value)}`;
  issues.push({ path, message, kind: 'type' });
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return `${article(typeof value)} (${String(value)})`;
}
