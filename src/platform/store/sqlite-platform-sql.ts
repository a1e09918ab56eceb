import { SlipwayError } from '../../errors.js';
import type { LabelRequirement, ListQuery, Visibility } from './platform-store.js';

/**
 * The WHERE clauses of the PlatformStore's lists: visibility as subqueries on
 * `roles` (Cloud Controller's readable_space_guids / readable_org_guids, answered by
 * the `roles_by_user` index), filters, label selectors through `labels`, the order
 * and the page. The listed table is always aliased `t`. The SQL is the common part of
 * SQLite and PostgreSQL (`?` placeholders, which the PostgreSQL runner numbers; TRUE
 * and FALSE, not 1 and 0), so both stores filter with the same clauses.
 */

export type Param = string | number | null;

/** A condition with its parameters; `undefined` where a rule lets everything through. */
export interface Clause {
  sql: string;
  params: Param[];
}

const NOTHING: Clause = { sql: 'FALSE', params: [] };

/** Conditions joined by AND. */
export class Where {
  readonly #parts: string[] = [];
  readonly params: Param[] = [];

  add(clause: Clause | undefined): this {
    if (clause) {
      this.#parts.push(clause.sql);
      this.params.push(...clause.params);
    }
    return this;
  }

  /** `column IN (values)` when a filter is given; an empty list matches nothing, as CF's empty filters. */
  in(column: string, values: readonly string[] | undefined): this {
    if (values === undefined) return this;
    return this.add(inList(column, values));
  }

  eq(column: string, value: string | undefined): this {
    return value === undefined ? this : this.add({ sql: `${column} = ?`, params: [value] });
  }

  /**
   * The common filters of every list: guids, label selector, created_at bounds.
   * `visibility` picks how a label selector runs: for a caller who sees everything the
   * matching labels drive the query (a selective label is a few index lookups); for
   * anyone else the visible rows drive it and each is probed by its (guid, key).
   */
  common(
    filter: { guids?: string[]; labelSelector?: LabelRequirement[]; createdAfter?: string; createdBefore?: string },
    visibility: Visibility = { kind: 'all' },
  ): this {
    this.in('t.guid', filter.guids);
    for (const r of filter.labelSelector ?? []) this.add(labelClause(r, visibility.kind === 'all'));
    if (filter.createdAfter !== undefined)
      this.add({ sql: 't.created_at >= ?', params: [isoTime(filter.createdAfter)] });
    if (filter.createdBefore !== undefined)
      this.add({ sql: 't.created_at <= ?', params: [isoTime(filter.createdBefore)] });
    return this;
  }

  get sql(): string {
    return this.#parts.length === 0 ? '' : ` WHERE ${this.#parts.map((p) => `(${p})`).join(' AND ')}`;
  }
}

export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

export function inList(column: string, values: readonly string[]): Clause {
  if (values.length === 0) return NOTHING;
  return { sql: `${column} IN (${placeholders(values.length)})`, params: [...values] };
}

/**
 * A label requirement as a subquery on `labels`: `t.guid IN (rows of the key, value
 * index)` when the labels drive, else a correlated EXISTS on the primary key
 * (resource_guid, key). A negated requirement is always NOT EXISTS (NOT IN would
 * collect every labelled row first).
 */
function labelClause(r: LabelRequirement, labelsDrive: boolean): Clause {
  const negated = r.op === 'notin' || r.op === 'notexists';
  const byValue = r.op === 'in' || r.op === 'notin';
  if (byValue && r.values.length === 0) return negated ? { sql: 'TRUE', params: [] } : NOTHING;
  const values = byValue ? ` AND l.value IN (${placeholders(r.values.length)})` : '';
  const params = [r.key, ...(byValue ? r.values : [])];
  if (labelsDrive && !negated) {
    return { sql: `t.guid IN (SELECT l.resource_guid FROM labels l WHERE l.key = ?${values})`, params };
  }
  return {
    sql: `${negated ? 'NOT ' : ''}EXISTS (SELECT 1 FROM labels l WHERE l.resource_guid = t.guid AND l.key = ?${values})`,
    params,
  };
}

function isoTime(value: string): string {
  const t = new Date(value);
  if (Number.isNaN(t.getTime())) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      "Created ats has an invalid timestamp format. Timestamps should be formatted as 'YYYY-MM-DDThh:mm:ssZ'",
      { detail: { field: 'created_ats', value } },
    );
  }
  return t.toISOString();
}

// Visibility. `spaceRoles` are held in a space (space_guid set), `orgRoles` in an org
// (space_guid NULL); a space role's row carries its space's org.

/** What is in a space (the space itself, its apps, space roles, space events): a role in the space or a reading org role in its org. */
export function spaceRule(v: Visibility, spaceCol: string, orgCol: string): Clause | undefined {
  if (v.kind === 'all') return undefined;
  if (v.kind === 'none') return NOTHING;
  const parts: string[] = [];
  const params: Param[] = [];
  if (v.spaceRoles.length > 0) {
    parts.push(
      `${spaceCol} IN (SELECT r.space_guid FROM roles r WHERE r.user_guid = ? AND r.type IN (${placeholders(v.spaceRoles.length)}) AND r.space_guid IS NOT NULL)`,
    );
    params.push(v.userGuid, ...v.spaceRoles);
  }
  if (v.orgRoles.length > 0) {
    parts.push(
      `${orgCol} IN (SELECT r.org_guid FROM roles r WHERE r.user_guid = ? AND r.type IN (${placeholders(v.orgRoles.length)}) AND r.space_guid IS NULL)`,
    );
    params.push(v.userGuid, ...v.orgRoles);
  }
  if (parts.length === 0) return NOTHING;
  let sql = parts.join(' OR ');
  if (v.onlySpace !== undefined) {
    sql = `(${sql}) AND ${spaceCol} = ?`;
    params.push(v.onlySpace);
  }
  return { sql, params };
}

/** An org (its org roles, org events): one of `orgRoles` in it, or one of `spaceRoles` in one of its spaces. */
export function orgRule(v: Visibility, orgCol: string): Clause | undefined {
  if (v.kind === 'all') return undefined;
  if (v.kind === 'none') return NOTHING;
  const types = [...v.orgRoles, ...v.spaceRoles];
  if (types.length === 0) return NOTHING;
  let sql = `${orgCol} IN (SELECT r.org_guid FROM roles r WHERE r.user_guid = ? AND r.type IN (${placeholders(types.length)}))`;
  const params: Param[] = [v.userGuid, ...types];
  if (v.onlySpace !== undefined) {
    sql += ` AND ${orgCol} = (SELECT s.org_guid FROM spaces s WHERE s.guid = ?)`;
    params.push(v.onlySpace);
  }
  return { sql, params };
}

/** A user: the caller, or anyone with a role in an org the caller reads. */
export function userRule(v: Visibility, userCol: string): Clause | undefined {
  if (v.kind === 'all') return undefined;
  if (v.kind === 'none') return NOTHING;
  const orgs = orgRule(v, 'o.org_guid') ?? { sql: 'TRUE', params: [] };
  return {
    sql: `${userCol} = ? OR ${userCol} IN (SELECT o.user_guid FROM roles o WHERE ${orgs.sql})`,
    params: [v.userGuid, ...orgs.params],
  };
}

/** A role: an org role by the org rule, a space role by the space rule. */
export function roleRule(v: Visibility): Clause | undefined {
  if (v.kind === 'all') return undefined;
  if (v.kind === 'none') return NOTHING;
  return either(
    { sql: 't.space_guid IS NULL', params: [] },
    orgRule(v, 't.org_guid')!,
    { sql: 't.space_guid IS NOT NULL', params: [] },
    spaceRule(v, 't.space_guid', 't.org_guid')!,
  );
}

/**
 * An audit event, as Cloud Controller shows them: a space's to the holders of
 * `spaceRoles` in that space, an org's (no space) to the holders of `orgRoles` in that
 * org, a platform event to global readers only (the policy's eventVisibility).
 */
export function eventRule(v: Visibility): Clause | undefined {
  if (v.kind === 'all') return undefined;
  if (v.kind === 'none') return NOTHING;
  let orgEvents: Clause = NOTHING;
  if (v.orgRoles.length > 0) {
    orgEvents = {
      sql: `t.org_guid IN (SELECT r.org_guid FROM roles r WHERE r.user_guid = ? AND r.type IN (${placeholders(v.orgRoles.length)}) AND r.space_guid IS NULL)`,
      params: [v.userGuid, ...v.orgRoles],
    };
    // An API token stays in its space's org (as orgRule keeps it), whatever else its user audits.
    if (v.onlySpace !== undefined) {
      orgEvents.sql += ' AND t.org_guid = (SELECT s.org_guid FROM spaces s WHERE s.guid = ?)';
      orgEvents.params.push(v.onlySpace);
    }
  }
  return either(
    { sql: 't.space_guid IS NOT NULL', params: [] },
    spaceRule({ ...v, orgRoles: [] }, 't.space_guid', 't.org_guid')!,
    { sql: 't.space_guid IS NULL AND t.org_guid IS NOT NULL', params: [] },
    orgEvents,
  );
}

/** (a AND b) OR (c AND d). */
function either(a: Clause, b: Clause, c: Clause, d: Clause): Clause {
  return {
    sql: `(${a.sql} AND (${b.sql})) OR (${c.sql} AND (${d.sql}))`,
    params: [...a.params, ...b.params, ...c.params, ...d.params],
  };
}

/**
 * ORDER BY and LIMIT for a ListQuery. `fields` maps CF's order_by values to columns
 * (a name sorts case-insensitively, as CF's databases collate it); the insertion
 * order breaks ties.
 */
export function orderAndPage(
  query: ListQuery,
  fields: Record<string, readonly string[]>,
): { sql: string; limit: number; offset: number } {
  const { page, perPage } = query;
  if (!Number.isSafeInteger(page) || page < 1) {
    throw new SlipwayError('INVALID_ARGUMENT', 'Page must be greater than 0', { detail: { field: 'page', page } });
  }
  // CF's 5000 cap is the API's (src/platform/messages); the store's own callers may ask for more.
  if (!Number.isSafeInteger(perPage) || perPage < 1) {
    throw new SlipwayError('INVALID_ARGUMENT', 'Per page must be greater than 0', {
      detail: { field: 'per_page', perPage },
    });
  }
  const text = query.orderBy === '' ? 'created_at' : query.orderBy;
  const desc = text.startsWith('-');
  const field = desc ? text.slice(1) : text;
  const columns = Object.hasOwn(fields, field) ? fields[field] : undefined;
  if (columns === undefined) {
    const allowed = Object.keys(fields)
      .map((f) => `'${f}'`)
      .join(', ');
    throw new SlipwayError('INVALID_ARGUMENT', `Order by can only be: ${allowed}`, {
      detail: { field: 'order_by', orderBy: query.orderBy },
    });
  }
  const dir = desc ? ' DESC' : '';
  const sql = ` ORDER BY ${[...columns, 't.id'].map((c) => c + dir).join(', ')}`;
  return { sql, limit: perPage, offset: (page - 1) * perPage };
}

export const TIMES: Record<string, readonly string[]> = {
  created_at: ['t.created_at'],
  updated_at: ['t.updated_at'],
};
export const NAMED: Record<string, readonly string[]> = { ...TIMES, name: ['t.name_key', 't.name'] };
