import { z } from 'zod';
import { isSlipwayError } from '../../errors.js';
import { badQuery, unprocessable } from '../cf-errors.js';
import { parseLabelSelector } from '../label-selector.js';
import type { LabelRequirement, ListQuery } from '../store/platform-store.js';

/**
 * The query of a list, as Cloud Controller's ListMessage reads it: `page`,
 * `per_page` (1..5000, default 50), `order_by` (a column, `-` first for descending),
 * filters that are comma-separated lists (CC's `to_array!`: the query decoded once,
 * split on `,` and optional spaces, each element percent-decoded again, so a comma in
 * a name arrives as `%252C`; `key=` means "equals the empty string"), `label_selector`
 * and `include`. An unknown parameter is refused, naming it and listing the valid
 * ones; every error is CC's text.
 *
 * The schema is a zod object of the raw string parameters (the OpenAPI document lists
 * them from it) whose output is typed.
 */

export const PER_PAGE_DEFAULT = 50;
export const PER_PAGE_MAX = 5000;

/** A comma-separated list, split as CC splits it. */
export function csv(description: string) {
  return z
    .string()
    .transform((v) => splitList(v))
    .optional()
    .meta({ description: `${description} (comma-separated)` });
}

export function splitList(value: string): string[] {
  if (value === '') return [''];
  return value.split(/,\s*/).map(unescapeElement);
}

function unescapeElement(value: string): string {
  return value.replace(/(%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

/** `label_selector`, parsed by the platform's label selector (CC's grammar and texts). */
export function labelSelector() {
  return z
    .string()
    .transform((v, ctx): LabelRequirement[] => {
      try {
        return parseLabelSelector(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: isSlipwayError(err) ? err.message : 'Invalid label_selector value' });
        return z.NEVER;
      }
    })
    .optional()
    .meta({ description: 'Requirements on labels, e.g. env=prod,tier in (web,api),!deprecated' });
}

/** `include=a,b`: each one of `valid`, none twice (CC's IncludeParamValidator). */
export function include(valid: readonly string[]) {
  return z
    .string()
    .transform((v, ctx) => {
      const seen = new Set<string>();
      for (const item of splitList(v)) {
        if (!valid.includes(item)) {
          ctx.addIssue({
            code: 'custom',
            message: `Invalid included resource: '${item}'. Valid included resources are: '${valid.join("', '")}'`,
            path: [],
          });
        } else if (seen.has(item)) {
          ctx.addIssue({ code: 'custom', message: `Duplicate included resource: '${item}'`, path: [] });
        }
        seen.add(item);
      }
      return [...seen];
    })
    .optional()
    .meta({ description: `Resources to include: ${valid.join(', ')}` });
}

/** `true` or `false`. */
export function booleanString(description: string) {
  return z
    .enum(['true', 'false'], { error: "must be 'true' or 'false'" })
    .transform((v) => v === 'true')
    .optional()
    .meta({ description });
}

function positiveInteger(name: string, max?: number) {
  return z
    .string()
    .transform((v, ctx) => {
      const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
      if (!(n > 0)) {
        ctx.addIssue({ code: 'custom', message: `${name} must be a positive integer`, path: [] });
        return z.NEVER;
      }
      if (max !== undefined && n > max) {
        ctx.addIssue({ code: 'custom', message: `${name} must be between 1 and ${max}`, path: [] });
        return z.NEVER;
      }
      return n;
    })
    .optional();
}

function orderBy(columns: readonly string[]) {
  const pattern = new RegExp(`^[+-]?(${columns.join('|')})$`);
  return z
    .string()
    .transform((v, ctx) => {
      if (!pattern.test(v)) {
        ctx.addIssue({
          code: 'custom',
          message: `Order by can only be: '${columns.join("', '")}'`,
          path: [],
        });
        return z.NEVER;
      }
      return v.startsWith('+') ? v.slice(1) : v;
    })
    .optional()
    .meta({ description: `Sort by ${columns.join(', ')}; a leading - sorts descending` });
}

const PAGINATION_KEYS = ['page', 'per_page', 'order_by'] as const;

export interface ListMessageOptions<F extends z.ZodRawShape> {
  /** The filters and other parameters beyond page, per_page and order_by, in CC's order. */
  params: F;
  /** Valid order_by columns (CC: created_at, updated_at, and the resource's own). */
  orderBy: readonly string[];
  /** The order when none is asked for (the store's column). */
  defaultOrder?: string;
  /** An order_by CC sets when none is given, so that it is also in the pagination links (roles: created_at). */
  impliedOrderBy?: string;
  /** How CC answers an invalid query here: 400 BadQueryParameter, or 422 (roles, users). */
  invalid?: 'bad-query' | 'unprocessable';
  /** A rule across parameters, as CC's message validators word it (undefined when it holds). */
  check?: (values: Record<string, unknown>) => string | undefined;
}

/** A parsed list query: the page for the store, the typed parameters, and what the pagination links carry. */
export interface ParsedList<T> {
  page: ListQuery;
  values: T;
  /** The parameters links repeat (per_page, order_by when asked, every filter as CC re-joins it), without page. */
  linkParams: Record<string, string>;
}

export interface ListMessage<F extends z.ZodRawShape> {
  schema: z.ZodObject<ReturnType<typeof paginationShape> & F>;
  parse(params: URLSearchParams): ParsedList<z.output<z.ZodObject<ReturnType<typeof paginationShape> & F>>>;
}

function paginationShape(columns: readonly string[]) {
  return {
    page: positiveInteger('Page').meta({ description: 'Page to answer, from 1' }),
    per_page: positiveInteger('Per page', PER_PAGE_MAX).meta({
      description: `Results per page, 1 to ${PER_PAGE_MAX} (default ${PER_PAGE_DEFAULT})`,
    }),
    order_by: orderBy(columns),
  };
}

/**
 * A list message: its schema and its parser.
 *
 * @example
 * const OrgList = listMessage({ params: { guids: csv('Organization guids'), names: csv('Names') }, orderBy: ['created_at', 'updated_at', 'name'] });
 * const { page, values, linkParams } = OrgList.parse(new URL(request.url).searchParams);
 */
export function listMessage<F extends z.ZodRawShape>(options: ListMessageOptions<F>): ListMessage<F> {
  const shape = { ...paginationShape(options.orderBy), ...options.params };
  const schema = z.strictObject(shape);
  const fail = options.invalid === 'unprocessable' ? unprocessable : (m: string) => badQuery(m);
  const validKeys = Object.keys(shape);
  return {
    schema,
    parse(params) {
      const raw: Record<string, string> = {};
      for (const [k, v] of params) raw[k] = v;
      const unknown = Object.keys(raw).filter((k) => !validKeys.includes(k));
      if (unknown.length > 0) {
        throw fail(
          `Unknown query parameter(s): '${unknown.join("', '")}'. Valid parameters are: '${validKeys.join("', '")}'`,
        );
      }
      const result = schema.safeParse(raw);
      if (!result.success) throw fail(result.error.issues.map(queryMessage).join(', '));
      const values = result.data as Record<string, unknown>;
      const broken = options.check?.(values);
      if (broken !== undefined) throw fail(broken);
      const requestedOrder = (values.order_by as string | undefined) ?? options.impliedOrderBy;
      const perPage = (values.per_page as number | undefined) ?? PER_PAGE_DEFAULT;
      const linkParams: Record<string, string> = { per_page: String(perPage) };
      if (raw.order_by !== undefined) linkParams.order_by = raw.order_by;
      else if (options.impliedOrderBy !== undefined) linkParams.order_by = options.impliedOrderBy;
      for (const [k, v] of Object.entries(raw)) {
        if ((PAGINATION_KEYS as readonly string[]).includes(k)) continue;
        const parsed = values[k];
        linkParams[k] =
          Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')
            ? parsed.map((p) => p.replaceAll(',', '%2C')).join(',')
            : v;
      }
      return {
        page: {
          page: (values.page as number | undefined) ?? 1,
          perPage,
          orderBy: requestedOrder ?? options.defaultOrder ?? 'created_at',
        },
        values: result.data,
        linkParams,
      };
    },
  };
}

/** A show message: only the given parameters (include), refused otherwise as CC's NoAdditionalParamsValidator. */
export function showMessage<F extends z.ZodRawShape>(params: F, invalid: 'bad-query' | 'unprocessable' = 'bad-query') {
  const schema = z.strictObject(params);
  const fail = invalid === 'unprocessable' ? unprocessable : (m: string) => badQuery(m);
  const validKeys = Object.keys(params);
  return {
    schema,
    parse(query: URLSearchParams): z.output<typeof schema> {
      const raw: Record<string, string> = {};
      for (const [k, v] of query) raw[k] = v;
      const unknown = Object.keys(raw).filter((k) => !validKeys.includes(k));
      if (unknown.length > 0) {
        throw fail(
          `Unknown query parameter(s): '${unknown.join("', '")}'. Valid parameters are: '${validKeys.join("', '")}'`,
        );
      }
      const result = schema.safeParse(raw);
      if (!result.success) throw fail(result.error.issues.map(queryMessage).join(', '));
      return result.data;
    },
  };
}

/** A query issue as CC words it: the custom ones are whole sentences; others get the parameter's name. */
function queryMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'custom' && issue.path.length === 0) return issue.message;
  const name = issue.path.map(String).join('.');
  if (issue.code === 'custom') return issue.message;
  const label = name.charAt(0).toUpperCase() + name.slice(1).replace(/_/g, ' ');
  return `${label} ${issue.message}`;
}
