import type { Page } from '../../store/types.js';
import { RegistryError } from './errors.js';

/**
 * `n` and `last` paging of the tags list and the catalog (spec.md "Listing Tags"):
 * lexical order, `last` excluded, and a `Link: <…>; rel="next"` header while more remain.
 */

/** Reads `n` and `last` from a query; PAGINATION_NUMBER_INVALID for an `n` that is no count. */
export function parsePage(query: URLSearchParams): Page {
  const page: Page = {};
  const n = query.get('n');
  if (n !== null && n !== '') {
    if (!/^\d{1,9}$/.test(n))
      throw new RegistryError('PAGINATION_NUMBER_INVALID', `n must be a non-negative integer, not "${n}"`, {
        detail: { n },
      });
    page.n = Number(n);
  }
  const last = query.get('last');
  if (last !== null && last !== '') page.last = last;
  return page;
}

/**
 * Lists one page with `list`, asking for one entry more than `n` to learn whether
 * another page follows; returns the page and the `Link` header value when one does.
 */
export async function listPage(
  path: string,
  page: Page,
  list: (page: Page) => Promise<string[]>,
): Promise<{ items: string[]; link?: string }> {
  if (page.n === 0) return { items: [] };
  if (page.n === undefined) return { items: await list(page) };
  const items = await list({ ...page, n: page.n + 1 });
  if (items.length <= page.n) return { items };
  items.length = page.n;
  const next = new URLSearchParams({ n: String(page.n), last: items[items.length - 1]! });
  return { items, link: `<${path}?${next.toString()}>; rel="next"` };
}
