import { html, raw } from 'hono/html';
import { getJob } from '../../../platform/actions/audit-events.js';
import {
  stackDiff,
  stackNames,
  stackOverview,
  type StackOverview,
} from '../../../platform/dashboard/stack-overview.js';
import { parseBody } from '../../../platform/messages/common.js';
import { StackUpdateMessage } from '../../../platform/messages/stack-updates.js';
import type { Job } from '../../../platform/model.js';
import type { PackageDiff } from '../../../stack/packages.js';
import { bytes, type Html, page, state } from '../layout.js';
import type { WebRequest } from '../web-context.js';

/**
 * Stacks: each stack's versions, package changes between any two (`stack inspect
 * --diff`), the apps on each version, an update's blast radius; admins start an
 * update here (a confirmation page first) and watch its rollout live.
 */

export async function stacksPage(r: WebRequest): Promise<Html> {
  const names = await stackNames(r.deps.images);
  const body = html`<h1>Stacks</h1>
${names.length === 0 ? html`<p>No stacks yet.</p>` : html`<ul>${names.map((n) => html`<li><a href="/web/stacks/${n}">${n}</a></li>`)}</ul>`}`;
  return page({ title: 'Stacks', perms: r.perms, body });
}

export async function stackPage(
  r: WebRequest,
  name: string,
  q: { from?: string; to?: string; job?: string },
): Promise<Html> {
  const o = await stackOverview(stackDeps(r), name);
  const versions = o.inspection.versions.map((v) => v.version);
  const from = q.from ?? versions.at(-2) ?? versions[0]!;
  const to = q.to ?? o.inspection.latest;
  const diff = versions.length > 1 ? await stackDiff(r.deps.images, name, from, to).catch(() => undefined) : undefined;
  const body = html`<p class="muted"><a href="/web/stacks">Stacks</a></p>
<h1>Stack ${name}</h1>
<dl class="facts"><dt>Stack id</dt><dd><code>${o.inspection.stackId}</code></dd><dt>Latest version</dt><dd id="latest-version">${o.inspection.latest}</dd>
${o.inspection.distro ? html`<dt>Distribution</dt><dd>${o.inspection.distro.name ?? ''} ${o.inspection.distro.version ?? ''}</dd>` : ''}</dl>
${q.job ? raw(await rolloutSection(r, name, q.job)) : ''}
<h2 id="versions-h">Versions and the apps on them</h2>
<div class="table-wrap" tabindex="0"><table aria-labelledby="versions-h"><thead><tr><th scope="col">Version</th><th scope="col">Recorded</th><th scope="col" class="num">Run image</th><th scope="col" class="num">Packages</th><th scope="col">Apps you see on it</th></tr></thead>
<tbody>${o.byVersion.map((v) => {
    const info = o.inspection.versions.find((x) => x.version === v.version);
    const shown = v.apps.slice(0, 20);
    return html`<tr data-version="${v.version}"><td>${v.version}${v.version === o.inspection.latest ? ' (latest)' : ''}</td><td>${info?.recorded ?? ''}</td><td class="num">${info ? bytes(info.run.layerSize) : ''}</td><td class="num">${info?.run.packages ?? ''}</td><td class="apps">${v.apps.length}${shown.map((a, i) => html`${i === 0 ? ': ' : ', '}<a href="/web/apps/${a.guid}">${a.name}</a>`)}${v.apps.length > shown.length ? ', …' : ''}</td></tr>`;
  })}</tbody></table></div>
<h2 id="diff-h">Package changes</h2>
${
  versions.length < 2
    ? html`<p class="muted">One version only.</p>`
    : html`<form method="get" action="/web/stacks/${name}" class="inline"><label for="from">From</label><select id="from" name="from">${versions.map((v) => html`<option${v === from ? ' selected' : ''}>${v}</option>`)}</select>
<label for="to">to</label><select id="to" name="to">${versions.map((v) => html`<option${v === to ? ' selected' : ''}>${v}</option>`)}</select><button type="submit">Compare</button></form>
${diff ? html`<h3>Run image</h3>${diffTable(diff.run)}<h3>Build image</h3>${diffTable(diff.build)}` : html`<p class="error">No such versions.</p>`}`
}
<h2 id="blast-h">Blast radius of an update</h2>
${blastRadius(o)}
${r.perms.canManagePlatformResources() ? updateForm(name) : ''}`;
  return page({
    title: `Stack ${name}`,
    perms: r.perms,
    body,
    ...(q.job ? { live: `/web/stacks/${name}/events?job=${q.job}` } : {}),
  });
}

/** The confirmation an admin sees before an update starts: what it will do, to which apps. */
export async function confirmUpdatePage(r: WebRequest, name: string, form: URLSearchParams): Promise<Html> {
  const o = await stackOverview(stackDeps(r), name);
  const body = html`<h1>Update stack ${name}?</h1>
<p>This makes the stack's next version${form.get('run_packages') ? html` with the run packages <code>${form.get('run_packages')}</code>` : ''} and rolls every app below onto it.</p>
${blastRadius(o)}
<form method="post" action="/web/stacks/${name}/update"><input type="hidden" name="confirm" value="yes">
${['run_packages', 'build_packages', 'remove_packages'].map((k) => html`<input type="hidden" name="${k}" value="${form.get(k) ?? ''}">`)}
<div class="actions"><button type="submit" class="danger">Yes, update and roll out</button> <a href="/web/stacks/${name}">Cancel</a></div></form>`;
  return page({ title: `Update ${name}?`, perms: r.perms, body });
}

/** Starts the update job (StackUpdates.start asks the policy: admins only). */
export async function startUpdate(r: WebRequest, name: string, form: URLSearchParams): Promise<Job> {
  const list = (k: string) => (form.get(k) ?? '').split(/[\s,]+/).filter(Boolean);
  const input = parseBody(StackUpdateMessage, {
    rollout: true,
    run_packages: list('run_packages'),
    build_packages: list('build_packages'),
    remove_packages: list('remove_packages'),
  });
  return r.deps.stackUpdates.start(r.ctx, name, {
    rollout: true,
    maxInFlight: input.max_in_flight ?? 4,
    runPackages: input.run_packages ?? [],
    buildPackages: input.build_packages ?? [],
    removePackages: input.remove_packages ?? [],
    refresh: false,
  });
}

/** The live rollout: the job's state and how many of the stack's apps are on its latest version. */
export async function rolloutSection(r: WebRequest, name: string, jobGuid: string): Promise<string> {
  const job = await getJob(r.ctx, jobGuid);
  const o = await stackOverview(stackDeps(r), name);
  const out = await html`<section id="rollout" aria-labelledby="rollout-h"><h2 id="rollout-h">Update in progress</h2>
<p>Job ${state(job.state)}${job.state === 'PROCESSING' ? '' : html` at ${job.updatedAt}`}.</p>
<p><progress max="${Math.max(1, o.onStack)}" value="${o.onLatest}" aria-label="Apps on the latest version"></progress> <span id="rollout-count">${o.onLatest} of ${o.onStack}</span> apps on version ${o.inspection.latest}</p>
${job.errors.length > 0 ? html`<p class="error">${job.errors.map((e) => e.detail).join('; ')}</p>` : ''}
${job.warnings.length > 0 ? html`<ul>${job.warnings.map((w) => html`<li>${w}</li>`)}</ul>` : ''}
</section>`;
  return out.toString();
}

function stackDeps(r: WebRequest) {
  return { perms: r.perms, store: r.deps.store, workloads: r.deps.workloads, images: r.deps.images };
}

function blastRadius(o: StackOverview): Html {
  const list = (apps: { guid: string; name: string }[]) =>
    apps.length === 0
      ? html`none`
      : html`${apps.slice(0, 30).map((a, i) => html`${i > 0 ? ', ' : ''}<a href="/web/apps/${a.guid}">${a.name}</a>`)}${apps.length > 30 ? ', …' : ''}`;
  return html`<dl class="facts" id="blast-radius"><dt>Rebased and rolled (started)</dt><dd>${o.blastRadius.roll.length}: ${list(o.blastRadius.roll)}</dd>
<dt>Rebased only (stopped)</dt><dd>${o.blastRadius.rebaseOnly.length}: ${list(o.blastRadius.rebaseOnly)}</dd>
<dt>Left alone (auto-rebase off)</dt><dd>${o.blastRadius.pinned.length}: ${list(o.blastRadius.pinned)}</dd></dl>`;
}

function updateForm(name: string): Html {
  return html`<h2 id="update-h">Update the stack</h2>
<form method="post" action="/web/stacks/${name}/update" aria-labelledby="update-h">
<label for="run_packages">Run image packages to add (space-separated, optional)</label><input id="run_packages" name="run_packages" size="40">
<label for="build_packages">Build image packages to add</label><input id="build_packages" name="build_packages" size="40">
<label for="remove_packages">Packages to remove</label><input id="remove_packages" name="remove_packages" size="40">
<div class="actions"><button type="submit">Review the update…</button></div></form>`;
}

function diffTable(d: PackageDiff): Html {
  const rows = [
    ...d.added.map((c) => ({ change: 'added', ...c })),
    ...d.removed.map((c) => ({ change: 'removed', ...c })),
    ...d.changed.map((c) => ({ change: 'upgraded', ...c })),
  ];
  if (rows.length === 0) return html`<p class="muted">No package changes.</p>`;
  return html`<div class="table-wrap" tabindex="0"><table><thead><tr><th scope="col">Package</th><th scope="col">Change</th><th scope="col">From</th><th scope="col">To</th></tr></thead><tbody>${rows.map(
    (c) => html`<tr><td>${c.name}</td><td>${c.change}</td><td>${c.from ?? ''}</td><td>${c.to ?? ''}</td></tr>`,
  )}</tbody></table></div>`;
}
