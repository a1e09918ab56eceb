import { html } from 'hono/html';
import { homeSummary, type AppCounts } from '../../../platform/dashboard/home-summary.js';
import { type Html, page } from '../layout.js';
import type { WebRequest } from '../web-context.js';

/** Home: the orgs and spaces the viewer sees, their apps running, crashed, staging, and the apps behind on patches. */
export async function homePage(r: WebRequest): Promise<Html> {
  const s = await homeSummary({
    perms: r.perms,
    store: r.deps.store,
    workloads: r.deps.workloads,
    images: r.deps.images,
  });
  const shownBehind = s.behind.slice(0, 100);
  const body = html`<h1>Home</h1>
${cards(s.totals)}
<h2 id="orgs-h">Organizations and spaces</h2>
${
  s.orgs.length === 0
    ? html`<p class="muted">You have no role in any organization yet: ask an org manager to add you.</p>`
    : html`<div class="table-wrap" tabindex="0"><table aria-labelledby="orgs-h">
<thead><tr><th scope="col">Organization / space</th><th scope="col" class="num">Apps</th><th scope="col" class="num">Running</th><th scope="col" class="num">Crashed</th><th scope="col" class="num">Staging</th><th scope="col" class="num">Stopped</th><th scope="col" class="num">Behind</th></tr></thead>
<tbody>${s.orgs.map(
        (
          o,
        ) => html`<tr><th scope="row"><a href="/web/orgs/${o.org.guid}">${o.org.name}</a>${o.org.suspended ? ' (suspended)' : ''}</th>${countCells(o.counts)}</tr>
${o.spaces.map((sp) => html`<tr><td>&nbsp;&nbsp;<a href="/web/spaces/${sp.space.guid}">${sp.space.name}</a></td>${countCells(sp.counts)}</tr>`)}`,
      )}</tbody></table></div>`
}
<h2 id="behind-h">Apps behind on patches</h2>
${
  s.behind.length === 0
    ? html`<p>Every app you can see is on its stack's latest version.</p>`
    : html`<p>${s.behind.length} app${s.behind.length === 1 ? ' is' : 's are'} on an older stack version than the latest${s.behind.length > shownBehind.length ? html` (the first ${shownBehind.length} shown)` : ''}.</p>
<div class="table-wrap" tabindex="0"><table aria-labelledby="behind-h"><thead><tr><th scope="col">App</th><th scope="col">Org / space</th><th scope="col">Stack</th><th scope="col">On version</th><th scope="col">Latest</th><th scope="col">Auto-rebase</th></tr></thead>
<tbody>${shownBehind.map(
        (b) =>
          html`<tr><td><a href="/web/apps/${b.app.guid}">${b.app.name}</a></td><td>${b.org.name} / ${b.space.name}</td><td><a href="/web/stacks/${b.stack}">${b.stack}</a></td><td class="behind">${b.version}</td><td>${b.latest}</td><td>${b.app.autoRebase === false ? 'off (pinned)' : 'on'}</td></tr>`,
      )}</tbody></table></div>`
}`;
  return page({ title: 'Home', perms: r.perms, body });
}

export function cards(t: AppCounts): Html {
  const item = (label: string, n: number) => html`<li><span class="n">${n}</span>${label}</li>`;
  return html`<ul class="cards" aria-label="App counts">${item('apps', t.apps)}${item('running', t.running)}${item('crashed', t.crashed)}${item('staging', t.staging)}${item('stopped', t.stopped)}${item('behind on patches', t.behind)}</ul>`;
}

function countCells(c: AppCounts): Html {
  return html`<td class="num">${c.apps}</td><td class="num">${c.running}</td><td class="num">${c.crashed}</td><td class="num">${c.staging}</td><td class="num">${c.stopped}</td><td class="num${c.behind > 0 ? ' behind' : ''}">${c.behind}</td>`;
}
