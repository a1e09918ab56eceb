import { createHash } from 'node:crypto';
import { notFound } from '../cf-errors.js';
import type { ParsedList } from '../messages/list-query.js';
import type { Permissions } from '../policy.js';
import type { StackListMessage } from '../messages/stacks.js';
import type { LabelRequirement, Page } from '../store/platform-store.js';

/**
 * Stacks (CC: StacksController), read-only: Slipway's stack catalog, through a
 * StackSource. Every signed-in user reads them. A stack's guid is derived from its
 * name, so it stays the same across restarts and nodes.
 */

/** A stack of Slipway's catalog: a build image and a run image under one name. */
export interface StackInfo {
  name: string;
  description: string;
  version: string;
  buildImage: string;
  runImage: string;
  default: boolean;
}

export interface StackSource {
  list(): Promise<StackInfo[]>;
}

/** A stack as the API shows it. */
export interface Stack extends StackInfo {
  guid: string;
}

type StackListValues = ReturnType<typeof StackListMessage.parse>['values'];

/** The guid of the stack named `name`: a name-based (version 5 style) UUID. */
export function stackGuid(name: string): string {
  const h = createHash('sha1').update(`slipway-stack:${name}`).digest();
  h[6] = ((h[6] as number) & 0x0f) | 0x50;
  h[8] = ((h[8] as number) & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

async function allStacks(source: StackSource): Promise<Stack[]> {
  return (await source.list()).map((s) => ({ ...s, guid: stackGuid(s.name) }));
}

/** Stacks have no labels: a selector holds only for requirements that ask a label be absent. */
function matchesNoLabels(selector: LabelRequirement[] | undefined): boolean {
  return (selector ?? []).every((r) => r.op === 'notexists' || r.op === 'notin');
}

/** The catalog is small and not tenant data: it is filtered and paged here. */
export async function listStacks(
  perms: Permissions,
  source: StackSource,
  q: ParsedList<StackListValues>,
): Promise<Page<Stack>> {
  if (!perms.canReadPlatformResources()) return { items: [], total: 0 };
  const v = q.values;
  let stacks = (await allStacks(source)).filter(
    (s) =>
      (v.guids === undefined || v.guids.includes(s.guid)) &&
      (v.names === undefined || v.names.includes(s.name)) &&
      (v.default === undefined || s.default === v.default) &&
      matchesNoLabels(v.label_selector),
  );
  const desc = q.page.orderBy.startsWith('-');
  const field = desc ? q.page.orderBy.slice(1) : q.page.orderBy;
  // Stacks carry no times of their own: created_at and updated_at order by name too.
  if (field === 'name' || field === 'created_at' || field === 'updated_at')
    stacks = stacks.sort((a, b) => a.name.localeCompare(b.name));
  if (desc) stacks.reverse();
  const start = (q.page.page - 1) * q.page.perPage;
  return { items: stacks.slice(start, start + q.page.perPage), total: stacks.length };
}

export async function getStack(perms: Permissions, source: StackSource, guid: string): Promise<Stack> {
  const stack = (await allStacks(source)).find((s) => s.guid === guid);
  if (!stack || !perms.canReadPlatformResources()) throw notFound('Stack');
  return stack;
}

/** The default stack's name (an app's lifecycle gets it when it names none), null when the catalog has none. */
export async function defaultStackName(source: StackSource): Promise<string | null> {
  const stacks = await source.list();
  return (stacks.find((s) => s.default) ?? stacks[0])?.name ?? null;
}

export async function stackExists(source: StackSource, name: string): Promise<boolean> {
  return (await source.list()).some((s) => s.name === name);
}
