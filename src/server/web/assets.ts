import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import { DASHBOARD_CSS } from './dashboard-css.js';
import { DASHBOARD_JS } from './dashboard-js.js';

/**
 * The dashboard's stylesheet and script, bundled in the package (nothing from a CDN)
 * and served under names carrying their digest, so a page links exactly the bytes it
 * was written for and browsers keep them forever (immutable).
 */

interface Asset {
  path: string;
  type: string;
  body: string;
}

function asset(name: string, ext: string, type: string, body: string): Asset {
  const digest = createHash('sha256').update(body).digest('hex').slice(0, 16);
  return { path: `/web/assets/${name}.${digest}.${ext}`, type, body };
}

export const ASSETS = {
  css: asset('dashboard', 'css', 'text/css; charset=utf-8', DASHBOARD_CSS),
  js: asset('dashboard', 'js', 'text/javascript; charset=utf-8', DASHBOARD_JS),
};

const BY_PATH = new Map(Object.values(ASSETS).map((a) => [a.path, a]));

/** The asset at this path (404 for any other name: an old digest is gone, not stale). */
export function serveAsset(c: Context): Response {
  const found = BY_PATH.get(c.req.path);
  if (!found) return c.text('no such asset', 404);
  return new Response(found.body, {
    headers: {
      'content-type': found.type,
      'cache-control': 'public, max-age=31536000, immutable',
      'x-content-type-options': 'nosniff',
    },
  });
}
