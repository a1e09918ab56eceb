import { MediaType } from '../../oci/media-types.js';
import type { Page } from '../../store/types.js';
import { authorize, repositoryAccess, SAME_NAMES, type Call, type RegistryContext } from './context.js';
import { listPage, parsePage } from './paging.js';
import type { Route } from './paths.js';
import { referrersIndex } from './referrers.js';
import { replyJson } from './respond.js';

/** GET /v2/: 200 for anyone the authenticator lets in (clients probe auth here). */
export async function apiBase(reg: RegistryContext, call: Call): Promise<Response> {
  await authorize(reg, call, []);
  return replyJson(200, {});
}

/** GET /v2/_catalog?n=&last=: repository names in lexical order, paged. */
export async function catalog(reg: RegistryContext, call: Call): Promise<Response> {
  const principal = await authorize(reg, call, [{ type: 'registry', name: 'catalog', actions: ['*'] }]);
  const page = await listPage('/v2/_catalog', parsePage(call.query), (p) => listedRepositories(reg, principal.user, p));
  return replyJson(200, { repositories: page.items }, page.link ? { Link: page.link } : {});
}

/** GET /v2/<name>/tags/list?n=&last=: NAME_UNKNOWN for a repository the registry has never seen. */
export async function tagsList(reg: RegistryContext, call: Call<Extract<Route, { kind: 'tags' }>>): Promise<Response> {
  const { name } = call.route;
  // `list`: pulling covers it, and the platform grants it alone to roles that see an app but not its bits.
  await authorize(reg, call, [repositoryAccess(name, 'list')]);
  const page = await listPage(`/v2/${name}/tags/list`, parsePage(call.query), (p) =>
    reg.store.meta.listTags(call.repository, p),
  );
  return replyJson(200, { name, tags: page.items }, page.link ? { Link: page.link } : {});
}

/**
 * GET /v2/<name>/referrers/<digest>[?artifactType=]: always 200, an empty index when
 * nothing refers to the digest (the spec forbids a 404 here).
 */
export async function referrers(
  reg: RegistryContext,
  call: Call<Extract<Route, { kind: 'referrers' }>>,
): Promise<Response> {
  const { name, digest } = call.route;
  await authorize(reg, call, [repositoryAccess(name, 'pull')]);
  const artifactType = call.query.get('artifactType') || undefined;
  const index = referrersIndex(await reg.store.meta.referrers(call.repository, digest), artifactType);
  return replyJson(200, index, artifactType ? { 'OCI-Filters-Applied': 'artifactType' } : {}, MediaType.OciIndex);
}

/**
 * A catalog page of the repositories the subject may see, by public name. The store
 * pages stored names; with aliases the public names sort differently, so the whole
 * list is mapped and paged here (catalogs are small next to their repositories' data).
 */
async function listedRepositories(reg: RegistryContext, subject: string | undefined, page: Page): Promise<string[]> {
  if (reg.names === SAME_NAMES) return reg.store.meta.listRepositories(page);
  const all: string[] = [];
  for (let last: string | undefined; ; ) {
    const batch = await reg.store.meta.listRepositories({ n: 1000, ...(last === undefined ? {} : { last }) });
    all.push(...batch);
    if (batch.length < 1000) break;
    last = batch[batch.length - 1];
  }
  const listed = (await reg.names.listed(subject, all)).sort();
  const after = page.last === undefined ? listed : listed.filter((n) => n > page.last!);
  return page.n === undefined ? after : after.slice(0, page.n);
}
