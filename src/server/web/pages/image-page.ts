import { html } from 'hono/html';
import { currentDroplet, getDroplet } from '../../../platform/actions/builds.js';
import { getApp } from '../../../platform/actions/workload-context.js';
import { appImage, diffLayerStacks, type AppImage, type ImageLayer } from '../../../platform/dashboard/app-image.js';
import {
  imageVulnerabilities,
  type ImageVulnerabilities,
  type VulnerabilityData,
  type VulnerabilitySummary,
} from '../../../platform/dashboard/image-vulnerabilities.js';
import { bytes, type Html, page, shortDigest } from '../layout.js';
import type { WebRequest } from '../web-context.js';

/**
 * The image page: an app's image drawn as its layer stack, base at the bottom, each
 * layer with what made it, its size, its SBOM's package count and the other apps that
 * share it; the image's known vulnerabilities; with `?compare=APP_GUID` (or a droplet
 * guid) two images side by side, differing layers marked.
 */

export async function imagePage(r: WebRequest, guid: string, compare?: string): Promise<Html> {
  const ctx = r.ctx;
  const { app } = await getApp(ctx, guid);
  const droplet = await currentDroplet(ctx, guid);
  const deps = { perms: r.perms, store: r.deps.store, workloads: r.deps.workloads, facts: r.facts };
  const [image, vulns] = await Promise.all([
    appImage(deps, app, droplet),
    imageVulnerabilities(r.deps.images, droplet),
  ]);
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
<ol class="stack" aria-labelledby="layers-h" reversed>${image.layers.map((l) => layerItem(l, vulns))}</ol>
${vulnerabilitySection(vulns.vulnerabilities)}
<form method="get" action="/web/apps/${guid}/image" class="inline"><label for="compare">Compare with (app or droplet guid)</label><input id="compare" name="compare" value="${compare ?? ''}" size="38"><button type="submit">Compare</button></form>
${other ? comparison(app.name, image, other) : ''}`;
  return page({ title: `Image of ${app.name}`, perms: r.perms, body });
}

function layerWhat(l: ImageLayer): string {
  if (l.kind === 'buildpack')
    return `${l.buildpack?.id ?? '?'}${l.buildpack?.version ? `@${l.buildpack.version}` : ''}: ${l.name ?? ''}`;
  return l.name ?? l.kind;
}

function layerItem(l: ImageLayer, v: ImageVulnerabilities): Html {
  const shown = l.sharedWith.slice(0, 5);
  const packages = v.components?.[l.diffId] ?? 0;
  const found = v.findingsByLayer[l.diffId] ?? 0;
  return html`<li class="layer kind-${l.kind}" data-digest="${l.digest}" data-size="${l.size}"><span class="what">${layerWhat(l)}</span><span class="muted">${l.kind}</span><span class="size">${bytes(l.size)}</span><code title="${l.digest}">${shortDigest(l.digest)}</code>${
    v.components ? html`<span class="packages">${plural(packages, 'package')}</span>` : ''
  }${found > 0 ? html`<a class="vulns" href="#vulns-h">${plural(found, 'vulnerability', 'vulnerabilities')}</a>` : ''}<span class="shared">${
    l.sharedWith.length === 0
      ? 'not shared'
      : html`shared with ${l.sharedWith.length} app${l.sharedWith.length === 1 ? '' : 's'}: ${shown.map((a, i) => html`${i > 0 ? ', ' : ''}<a href="/web/apps/${a.guid}">${a.name}</a>`)}${l.sharedWith.length > shown.length ? ', …' : ''}`
  }</span></li>`;
}

function vulnerabilitySection(v: VulnerabilityData): Html {
  const head = html`<h2 id="vulns-h">Known vulnerabilities</h2>`;
  if (v.state === 'no-data')
    return html`${head}<p class="muted" id="vuln-note">No vulnerability data: import advisories with <code>slipway vulndb import</code>.</p>`;
  if (v.state === 'error')
    return html`${head}<p class="muted" id="vuln-note">Vulnerability data could not be read: ${v.message}</p>`;
  const against = html`<p class="muted">Checked against ${plural(v.advisories, 'advisory', 'advisories')}, imported ${v.databaseImported}.</p>`;
  if (v.findings.length === 0) return html`${head}<p id="vuln-note">None known.</p>${against}`;
  return html`${head}<p id="vuln-note">${summaryText(v.summary)}.</p>${against}
<div class="table-wrap" tabindex="0"><table aria-labelledby="vulns-h"><thead><tr><th scope="col">CVE</th><th scope="col">Package</th><th scope="col">Installed → fixed</th><th scope="col">Severity</th><th scope="col">Layer</th><th scope="col">Remedy</th></tr></thead>
<tbody>${v.findings.map(
    (f) =>
      html`<tr class="finding" data-cve="${f.cve}"><td>${f.cve}${f.advisory !== f.cve ? html` <span class="muted">(${f.advisory})</span>` : ''}</td><td>${f.package}${f.source !== f.package ? html` <span class="muted">(source ${f.source})</span>` : ''}</td><td><code>${f.installed}</code> → ${f.fixed ? html`<code>${f.fixed}</code>` : 'no fix yet'}</td><td><span class="sev sev-${f.severity}">${f.severity}</span></td><td>${f.where}</td><td>${f.remedy}</td></tr>`,
  )}</tbody></table></div>`;
}

/** "3 known vulnerabilities (1 critical, 1 high) - 2 fixed by rebasing to default version 3". */
export function summaryText(s: VulnerabilitySummary): string {
  const severe = s.bySeverity.filter((b) => b.severity === 'critical' || b.severity === 'high');
  const counts = severe.length > 0 ? ` (${severe.map((b) => `${b.count} ${b.severity}`).join(', ')})` : '';
  const rebase = !s.rebaseTo
    ? ''
    : s.fixedByRebase === s.total
      ? ` - fixed by rebasing to ${s.rebaseTo.stack} version ${s.rebaseTo.version}`
      : ` - ${s.fixedByRebase} fixed by rebasing to ${s.rebaseTo.stack} version ${s.rebaseTo.version}`;
  return `${s.total} known ${s.total === 1 ? 'vulnerability' : 'vulnerabilities'}${counts}${rebase}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
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
