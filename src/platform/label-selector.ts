import { SlipwayError } from '../errors.js';
import type { LabelRequirement } from './store/platform-store.js';

/**
 * Cloud Foundry's `label_selector` query parameter, parsed as Cloud Controller parses
 * it (lib/cloud_controller/label_selector: the same tokens, states and messages), then
 * every key and value checked as CF checks label metadata.
 *
 * Requirements are comma-separated and all must hold:
 * - `key=value`, `key==value`: the label is there with that value (`in` one value);
 * - `key!=value`: the label is absent or has another value (`notin` one value);
 * - `key in (a,b)`, `key notin (a,b)`: the value is (is not) one of the set;
 * - `key`, `!key`: the label is there (is absent).
 * Keys may have a DNS prefix: `example.com/tier`.
 *
 * @example
 * parseLabelSelector('env in (prod,staging),!deprecated,example.com/tier=web')
 * // [{ key: 'env', op: 'in', values: ['prod', 'staging'] }, { key: 'deprecated', op: 'notexists', values: [] },
 * //  { key: 'example.com/tier', op: 'in', values: ['web'] }]
 */
export function parseLabelSelector(text: string): LabelRequirement[] {
  if (text === '') throw invalid('empty label selector not allowed');
  const tokens = scan(text);
  const bad = tokens.find((t) => t.kind === 'error');
  if (bad) throw invalid(`disallowed character(s), got "${showToken(text, bad)}"`);
  const requirements = parse(
    text,
    tokens.filter((t) => t.kind !== 'space'),
  );
  for (const r of requirements) {
    const keyProblem = keyError(r.key);
    if (keyProblem) throw invalid(keyProblem);
    for (const v of r.values) {
      const valueProblem = valueError(v);
      if (valueProblem) throw invalid(valueProblem);
    }
  }
  return requirements;
}

type TokenKind = 'comma' | 'open_paren' | 'close_paren' | 'space' | 'equal' | 'not_equal' | 'not_op' | 'word' | 'error';

interface Token {
  kind: TokenKind | 'eof';
  text: string;
  at: number;
}

// Cloud Controller's lexer: the first alternative that matches at a position wins.
const TOKEN_TYPES: readonly [TokenKind, string][] = [
  ['comma', ','],
  ['open_paren', '\\('],
  ['close_paren', '\\)'],
  ['space', '[ \\t\\r\\n\\f\\v]+'],
  ['equal', '==?'],
  ['not_equal', '!='],
  ['not_op', '!'],
  ['word', '[-_.A-Za-z0-9]+(?:/[-_.A-Za-z0-9]+)?'],
  ['error', '[^]'],
];
const TOKEN_PATTERN = new RegExp(TOKEN_TYPES.map(([, p]) => `(${p})`).join('|'), 'gu');

function scan(text: string): Token[] {
  const tokens: Token[] = [];
  for (const m of text.matchAll(TOKEN_PATTERN)) {
    const i = m.findIndex((g, n) => n > 0 && g !== undefined);
    tokens.push({ kind: TOKEN_TYPES[i - 1]![0], text: m[0], at: m.index });
  }
  return tokens;
}

type State =
  | 'at_start'
  | 'has_not_op'
  | 'has_key'
  | 'expect_value'
  | 'expecting_open_paren'
  | 'expecting_set_value'
  | 'expecting_comma_or_close_paren'
  | 'expecting_comma_or_eof';

/** What each state expects, as Cloud Controller words it. */
const EXPECTING: Record<State, string> = {
  at_start: "a key or '!'",
  has_not_op: 'a key',
  has_key: "a ',', operator, or end",
  expect_value: 'a value',
  expecting_open_paren: "a '('",
  expecting_set_value: 'a value',
  expecting_comma_or_close_paren: "a ',' or ')'",
  expecting_comma_or_eof: "a ',' or end",
};

function parse(text: string, tokens: Token[]): LabelRequirement[] {
  const out: LabelRequirement[] = [];
  let state: State = 'at_start';
  let node: LabelRequirement = { key: '', op: 'exists', values: [] };
  const fail = (token: Token, expecting = EXPECTING[state]): never => {
    throw invalid(`expecting ${expecting}, got "${showToken(text, token)}"`);
  };
  for (const token of [...tokens, { kind: 'eof' as const, text: '', at: text.length }]) {
    switch (state) {
      case 'at_start':
        if (token.kind === 'word') {
          node = { key: token.text, op: 'exists', values: [] };
          state = 'has_key';
        } else if (token.kind === 'not_op') state = 'has_not_op';
        else if (token.kind === 'not_equal') fail(token, "a key or '!' not followed by '='");
        else fail(token);
        break;
      case 'has_not_op':
        if (token.kind !== 'word') fail(token);
        out.push({ key: token.text, op: 'notexists', values: [] });
        state = 'expecting_comma_or_eof';
        break;
      case 'has_key':
        if (token.kind === 'equal' || token.kind === 'not_equal') {
          node.op = token.kind === 'equal' ? 'in' : 'notin';
          state = 'expect_value';
        } else if (token.kind === 'word') {
          if (token.text !== 'in' && token.text !== 'notin') fail(token);
          node.op = token.text as 'in' | 'notin';
          state = 'expecting_open_paren';
        } else if (token.kind === 'comma' || token.kind === 'eof') {
          out.push(node);
          if (token.kind === 'eof') return out;
          state = 'at_start';
        } else fail(token);
        break;
      case 'expect_value':
        if (token.kind !== 'word') fail(token);
        node.values.push(token.text);
        out.push(node);
        state = 'expecting_comma_or_eof';
        break;
      case 'expecting_open_paren':
        if (token.kind !== 'open_paren') fail(token);
        state = 'expecting_set_value';
        break;
      case 'expecting_set_value':
        if (token.kind !== 'word') fail(token);
        node.values.push(token.text);
        state = 'expecting_comma_or_close_paren';
        break;
      case 'expecting_comma_or_close_paren':
        if (token.kind === 'comma') state = 'expecting_set_value';
        else if (token.kind === 'close_paren') {
          out.push(node);
          state = 'expecting_comma_or_eof';
        } else fail(token);
        break;
      case 'expecting_comma_or_eof':
        if (token.kind === 'comma') state = 'at_start';
        else if (token.kind === 'eof') return out;
        else fail(token);
        break;
    }
  }
  // The eof token ends every accepting state above; any other ends in fail().
  throw invalid('Expecting completion of the selector, hit the end');
}

/** The input with the offending token marked, as CF shows it: `...before<<token>>after...`. */
function showToken(text: string, token: Token): string {
  let out = '';
  if (token.at > 0) {
    const before = text.slice(0, token.at);
    out += before.length > 30 ? '...' + before.slice(-27) : before;
  }
  out += `<<${token.text}>>`;
  const end = token.at + token.text.length;
  if (end < text.length) {
    const after = text.slice(end);
    out += after.length > 30 ? after.slice(0, 28) + '...' : after;
  }
  return out;
}

const MAX_NAME = 63;
const MAX_PREFIX = 253;
const DNS_NAME = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/i;
const INVALID_CHARACTER = /[^A-Za-z0-9_.-]/;
const ALPHANUMERIC_ENDS = /^[A-Za-z0-9](?:.*[A-Za-z0-9])?$/s;

/** CF's label key rules (MetadataValidatorHelper#key_error); undefined when the key is good. */
export function keyError(key: string): string | undefined {
  if (key === '') return 'key cannot be empty string';
  const parts = key.split('/');
  if (parts.length > 2) return "key has more than one '/'";
  const [prefix, name] = parts.length === 2 ? [parts[0]!, parts[1]!] : [undefined, key];
  if (prefix !== undefined) {
    if (!DNS_NAME.test(prefix)) return `prefix '${prefix}' must be in valid dns format`;
    if (prefix.length > MAX_PREFIX) return `prefix '${prefix.slice(0, 8)}...' is greater than ${MAX_PREFIX} characters`;
    if (prefix.toLowerCase() === 'cloudfoundry.org') return "prefix 'cloudfoundry.org' is reserved";
  }
  if (name === '') return 'key cannot be empty string';
  if (INVALID_CHARACTER.test(name)) return `'${name}' contains invalid characters`;
  if (!ALPHANUMERIC_ENDS.test(name)) return `'${name}' starts or ends with invalid characters`;
  if (name.length > MAX_NAME) return `'${name.slice(0, 8)}...' is greater than ${MAX_NAME} characters`;
  return undefined;
}

/** CF's label value rules (MetadataValidatorHelper#value_error): empty is allowed. */
export function valueError(value: string): string | undefined {
  if (value === '') return undefined;
  if (INVALID_CHARACTER.test(value)) return `'${value}' contains invalid characters`;
  if (!ALPHANUMERIC_ENDS.test(value)) return `'${value}' starts or ends with invalid characters`;
  if (value.length > MAX_NAME) return `'${value.slice(0, 8)}...' is greater than ${MAX_NAME} characters`;
  return undefined;
}

function invalid(message: string): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', message, { detail: { field: 'label_selector' } });
}
