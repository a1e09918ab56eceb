import { z } from 'zod';
import type { Metadata } from '../../../platform/model.js';
import type { ListQuery } from '../../../platform/store/platform-store.js';

/**
 * What every presenter shares: absolute links (the cf CLI follows `next` and job
 * `Location`s verbatim), CF's pagination object, metadata and relationships, each
 * with the zod schema the OpenAPI document shows.
 */

/** Absolute URLs under the API's public base (publicUrl, else the request's scheme and host). */
export class Urls {
  readonly base: string;

  constructor(base: string) {
    this.base = base.replace(/\/+$/, '');
  }

  href(path: string): string {
    return this.base + path;
  }

  link(path: string): { href: string } {
    return { href: this.href(path) };
  }

  /** `path?query` with the parameters sorted and escaped as Rails' to_query (CGI.escape). */
  withQuery(path: string, params: Record<string, string>): string {
    const query = Object.keys(params)
      .sort()
      .map((k) => `${cgiEscape(k)}=${cgiEscape(params[k] as string)}`)
      .join('&');
    return this.href(query === '' ? path : `${path}?${query}`);
  }
}

/** Ruby's CGI.escape: everything but letters, digits and `_.-~` percent-encoded, a space as `+`. */
export function cgiEscape(value: string): string {
  return encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** A time as CC writes it: RFC 3339 UTC to the second ("2016-03-17T21:41:30Z"). */
export function cfTime(iso: string): string {
  const t = new Date(iso);
  return Number.isNaN(t.getTime()) ? iso : `${t.toISOString().slice(0, 19)}Z`;
}

export const LinkSchema = z.object({ href: z.string(), method: z.string().optional() });

export const MetadataSchema = z.object({
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()),
});

export function presentMetadata(m: Metadata): z.infer<typeof MetadataSchema> {
  return { labels: { ...m.labels }, annotations: { ...m.annotations } };
}

export const ToOneSchema = z.object({ data: z.object({ guid: z.string() }).nullable() });

export function toOne(guid: string | undefined | null): z.infer<typeof ToOneSchema> {
  return { data: guid == null ? null : { guid } };
}

const PageLink = z.object({ href: z.string() }).nullable();

export const PaginationSchema = z.object({
  total_results: z.number().int(),
  total_pages: z.number().int().min(1),
  first: z.object({ href: z.string() }),
  last: z.object({ href: z.string() }),
  next: PageLink,
  previous: PageLink,
});
export type PaginationJson = z.infer<typeof PaginationSchema>;

/**
 * CF's pagination object (CC: PaginatedListPresenter): at least one page, `next` null
 * on the last, `previous` null on the first, every href carrying per_page, order_by
 * (when asked) and the filters.
 */
export function presentPagination(
  urls: Urls,
  path: string,
  page: ListQuery,
  linkParams: Record<string, string>,
  total: number,
): PaginationJson {
  const last = Math.max(1, Math.ceil(total / page.perPage));
  const at = (n: number) => ({ href: urls.withQuery(path, { ...linkParams, page: String(n) }) });
  return {
    total_results: total,
    total_pages: last,
    first: at(1),
    last: at(last),
    next: page.page + 1 <= last ? at(page.page + 1) : null,
    previous: page.page - 1 > 0 ? at(page.page - 1) : null,
  };
}

/** The schema of a paginated list of `resource` (with `included` when the list has includes). */
export function paginatedSchema<T extends z.ZodType>(resource: T, included?: z.ZodType) {
  return z.object({
    pagination: PaginationSchema,
    resources: z.array(resource),
    ...(included ? { included: included.optional() } : {}),
  });
}
