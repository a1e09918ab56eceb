import type { Access } from './access.js';

/**
 * Token scopes as Docker and OCI clients write them: `repository:team/app:pull,push`,
 * `registry:catalog:*`. One `scope=` parameter may hold several, separated by spaces
 * (OAuth2 style, and the way our own challenges list a mount's two repositories).
 */

/** The actions a grant or token may name; `*` stands for all of them. */
export const REPOSITORY_ACTIONS = ['pull', 'push', 'delete'] as const;

/**
 * Parses scope parameters into accesses, splitting each on spaces and merging the
 * actions asked for the same resource. Unparseable or unknown-type scopes are
 * dropped, as Distribution does: the token then simply does not grant them.
 *
 * @example parseScopes(['repository:a:pull repository:b:pull,push']) // two accesses
 */
export function parseScopes(params: Iterable<string>): Access[] {
  const accesses: Access[] = [];
  for (const param of params) {
    for (const word of param.split(' ')) {
      const access = parseScope(word);
      if (access) accesses.push(access);
    }
  }
  return mergeAccesses(accesses);
}

/** One scope, or undefined when it is not `TYPE:NAME:ACTIONS` of a type we know. */
export function parseScope(scope: string): Access | undefined {
  // The name may itself hold colons (a host:port prefix), so split at the first and the last.
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  // A resource class (`repository(plugin)`) does not change what is accessed.
  const type = scope.slice(0, first).replace(/\(.*\)$/, '');
  const name = scope.slice(first + 1, last);
  const actions = scope
    .slice(last + 1)
    .split(',')
    .filter((a) => a !== '');
  if ((type !== 'repository' && type !== 'registry') || name === '' || actions.length === 0) return undefined;
  return { type, name, actions };
}

/**
 * `repository:team/app:pull,push`. Our `list` (tags and catalog entries, which the
 * platform grants some roles without `pull`) is not a scope Docker clients know:
 * they are told to ask for `pull`, which an authorizer may answer with `list` alone.
 */
export function formatScope(access: Access): string {
  const actions = [...new Set(access.actions.map((a) => (a === 'list' ? 'pull' : a)))];
  return `${access.type}:${access.name}:${actions.join(',')}`;
}

/** Several accesses in one space-separated scope string, as a challenge carries them. */
export function formatScopes(accesses: Access[]): string {
  return accesses.map(formatScope).join(' ');
}

/** Accesses with the actions of the same type and name joined, order kept. */
export function mergeAccesses(accesses: Access[]): Access[] {
  const merged = new Map<string, Access>();
  for (const access of accesses) {
    const key = `${access.type}:${access.name}`;
    const seen = merged.get(key);
    if (!seen) merged.set(key, { type: access.type, name: access.name, actions: [...new Set(access.actions)] });
    else for (const action of access.actions) if (!seen.actions.includes(action)) seen.actions.push(action);
  }
  return [...merged.values()];
}

/** True when `granted` covers every action `required` asks for (`*` covers all; `pull` covers `list`). */
export function covers(granted: Access[], required: Access): boolean {
  const actions = new Set<string>();
  for (const g of granted)
    if (g.type === required.type && g.name === required.name) for (const a of g.actions) actions.add(a);
  if (actions.has('pull')) actions.add('list');
  return actions.has('*') || required.actions.every((a) => actions.has(a));
}

/** The first of `missing` that `granted` marks hidden (the caller may not know it exists), if any. */
export function hiddenAmong(granted: Access[], missing: Access[]): Access | undefined {
  return missing.find((m) => granted.some((g) => g.hidden && g.type === m.type && g.name === m.name));
}

/** The accesses of `required` that `granted` does not fully cover. */
export function missingAccess(granted: Access[], required: Access[]): Access[] {
  return required.filter((r) => !covers(granted, r));
}
