import { html } from 'hono/html';
import { currentDroplet, getDroplet } from '../../../platform/actions/builds.js';
import { getApp } from '../../../platform/actions/workload-context.js';
import { appImage, diffLayerStacks, type AppImage, type ImageLayer } from '../../../platform/dashboard/app-image.js';
import { bytes, type Html, page, shortDigest } from '../layout.js';
import type { WebRequest } from '../web-context.js';

/**
 * The image page: an app's image drawn as its layer stack, base at the bottom, each
 * layer with what made it, its size and the other apps that share it; with
 * `?compare=APP_GUID` (or a droplet guid) two images side by side, differing layers marked.
 */

export async function imagePage(r: WebRequest, guid: string, compare?: string): Promise<Html> {
  const ctx = r.ctx;
  const { app } = await getApp(ctx, guid);
  const droplet = await currentDroplet(ctx, guid);
  const deps = { perms: r.perms, store: r.deps.store, workloads: r.deps.workloads, facts: r.facts };
  const image = await appImage(deps, app, droplet);
  let other: { name: string; image: AppImage } | undefined;
  if (compare) {
    const byApp = await getApp(ctx, compare).catch(() => undefined);
    const otherDroplet = byApp ? await currentDroplet(ctx, compare) : (await getDroplet(ctx, compare)).resource;
    const otherApp = byApp?.app ?? (await getApp(ctx, otherDroplet.appGuid)).app;
    other = {
      name: byApp ? otherApp.name : `${otherApp.name} (droplet ${compare.slice(0, 8)})`,
      image: await appImage(deps, otherApp, otherDroplet),
    };
  }
  const body = html`<p class="muted"><a href="/web/apps/${guid}">${app.name}</a></p>
<h1>Image of ${app.name}</h1>
<dl class="facts">
<dt>Digest</dt><dd><code id="image-digest">${image.digest}</code></dd>
<dt>Stack</dt><dd><a href="/web/stacks/${image.stack}">${image.stack}</a>, version <span id="stack-version">${image.stackVersion}</span></dd>
<dt>Size (layers, compressed)</dt><dd>${bytes(image.size)}</dd>
<dt>Process types</dt><dd>${Object.entries(image.processTypes).map(([t, c]) => html`<code>${t}</code>: <code>${c}</code><br>`)}</dd>
<dt>Buildpacks</dt><dd>${image.buildpacks.map((b) => html`${b.name}${b.version ? ` ${b.version}` : ''}<br>`)}</dd>
${Object.entries(image.labels).map(([k, v]) => html`<dt><code>${k}</code></dt><dd><code>${v}</code></dd>`)}
</dl>
<h2 id="layers-h">Layers (base at the bottom)</h2>
<ol class="stack" aria-labelledby="layers-h" reversed>${image.layers.map((l) => layerItem(l))}</ol>
<form method="get" action="/web/apps/${guid}/image" class="inline"><label for="compare">Compare with (app or droplet guid)</label><input id="compare" name="compare" value="${compare ?? ''}" size="38"><button type="submit">Compare</button></form>
${other ? comparison(app.name, image, other) : ''}`;
  return page({ title: `Image of ${app.name}`, perms: r.perms, body });
}

function layerWhat(l: ImageLayer): string {
  if (l.kind === 'buildpack')
    return `${l.buildpack?.id ?? '?'}${l.buildpack?.version ? `@${l.buildpack.version}` : ''}: ${l.name ?? ''}`;
  return l.name ?? l.kind;
}

function layerItem(l: ImageLayer): Html {
  const shown = l.sharedWith.slice(0, 5);
  return html`<li class="layer kind-${l.kind}" data-digest="${l.digest}" data-size="${l.size}"><span class="what">${layerWhat(l)}</span><span class="muted">${l.kind}</span><span class="size">${bytes(l.size)}</span><code title="${l.digest}">${shortDigest(l.digest)}</code><span class="shared">${
    l.sharedWith.length === 0
      ? 'not shared'
      : html`shared with ${l.sharedWith.length} app${l.sharedWith.length === 1 ? '' : 's'}: ${shown.map((a, i) => html`${i > 0 ? ', ' : ''}<a href="/web/apps/${a.guid}">${a.name}</a>`)}${l.sharedWith.length > shown.length ? ', …' : ''}`
  }</span></li>`;
}

function comparison(leftName: string, left: AppImage, right: { name: string; image: AppImage }): Html {
  const rows = diffLayerStacks(left.layers, right.image.layers);
  const differ = rows.filter((r) => !r.same).length;
  return html`<h2 id="cmp-h">Side by side: ${leftName} and ${right.name}</h2>
<p>${differ === 0 ? 'Every layer is the same.' : `${differ} of ${rows.length} layers differ.`}</p>
<div class="table-wrap" tabindex="0"><table aria-labelledby="cmp-h"><thead><tr><th scope="col" class="num">#</th><th scope="col">${leftName}</th><th scope="col">${right.name}</th><th scope="col">Same?</th></tr></thead>
<tbody>${rows.map(
    (row, i) =>
      html`<tr class="${row.same ? 'same' : 'differs'}"><td class="num">${i}</td><td>${row.left ? html`${layerWhat(row.left)} <code>${shortDigest(row.left.digest)}</code> ${bytes(row.left.size)}` : '—'}</td><td>${row.right ? html`${layerWhat(row.right)} <code>${shortDigest(row.right.digest)}</code> ${bytes(row.right.size)}` : '—'}</td><td>${row.same ? 'same' : 'differs'}</td></tr>`,
  )}</tbody></table></div>`;
}
