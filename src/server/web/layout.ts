import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { Permissions } from '../../platform/policy.js';
import { ASSETS } from './assets.js';

/** What a page template renders to (hono's escaped HTML; values interpolated into `html` are escaped). */
export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** The page shell: header with the nav the viewer's roles allow, the digest-named stylesheet and script. */
export function page(o: { title: string; perms?: Permissions; body: Html; live?: string }): Html {
  const user = o.perms?.user;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · Slipway</title>
<link rel="stylesheet" href="${ASSETS.css.path}">
<script src="${ASSETS.js.path}" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="/">Slipway</a>
${
  user
    ? html`<nav aria-label="Main"><ul>
<li><a href="/">Home</a></li>
<li><a href="/web/stacks">Stacks</a></li>
<li><a href="/web/registry">Registry</a></li>
</ul></nav>
<span>${user.username}</span>
<form method="post" action="/web/logout"><button type="submit">Sign out</button></form>`
    : ''
}
</header>
<main id="main"${o.live ? raw(` data-live="${escapeAttr(o.live)}"`) : ''}>
${o.body}
</main>
</body>
</html>`;
}

function escapeAttr(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

/** 1234567 -> "1.2 MB" (decimal units, as `slipway inspect` prints sizes). */
export function bytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  do {
    v /= 1000;
    u++;
  } while (v >= 1000 && u < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** Seconds as "2h 3m", "4m 5s", "6s". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${s}s`;
}

export function shortDigest(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}

/** A state word, coloured by its class (text, so colour is never the only signal). */
export function state(s: string): Html {
  return html`<span class="state state-${s}">${s}</span>`;
}
