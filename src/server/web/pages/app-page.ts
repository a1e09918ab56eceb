import { html, raw } from 'hono/html';
import { getEnvironmentVariables } from '../../../platform/actions/apps.js';
import { listAuditEvents } from '../../../platform/actions/audit-events.js';
import { currentDroplet, listBuilds } from '../../../platform/actions/builds.js';
import { listDeployments, listRevisions } from '../../../platform/actions/deployments.js';
import { readLogs } from '../../../platform/actions/logs.js';
import { listProcesses, processStats } from '../../../platform/actions/processes.js';
import { appRoutes, routeDetails } from '../../../platform/actions/routes.js';
import { getApp, type WorkloadContext } from '../../../platform/actions/workload-context.js';
import { dropletVulnerabilities, type VulnerabilityData } from '../../../platform/dashboard/image-vulnerabilities.js';
import { AuditEventListMessage } from '../../../platform/messages/audit-events.js';
import { BuildListMessage } from '../../../platform/messages/builds.js';
import { DeploymentListMessage, RevisionListMessage } from '../../../platform/messages/deployments.js';
import { parseLogRead } from '../../../platform/messages/log-cache.js';
import { ProcessListMessage } from '../../../platform/messages/processes.js';
import { RouteListMessage } from '../../../platform/messages/routes.js';
import { bytes, duration, type Html, page, shortDigest, state } from '../layout.js';
import { query, type WebRequest } from '../web-context.js';
import { summaryText } from './image-page.js';

/**
 * The app page: state, live instances, routes, processes, env (for who reads secrets),
 * builds with the staging log, deployments with their progress, revisions, events; the
 * actions the viewer's roles allow (start, stop, rolling restart, restage, scale, rollback),
 * and none of those they do not; the current image's known vulnerabilities, counted.
 * Live sections are re-rendered by live.ts.
 */

export async function appPage(r: WebRequest, guid: string): Promise<Html> {
  const ctx = r.ctx;
  const found = await getApp(ctx, guid);
  const { app, space, org } = found;
  const manage = ctx.perms.canManageApps(found);
  const secrets = ctx.perms.canReadSecrets(found);
  const [routes, processes, revisions, events, log, live, vulns] = await Promise.all([
    routesOf(ctx, guid),
    listProcesses(ctx, ProcessListMessage.parse(query({ per_page: '100' })), guid),
    listRevisions(ctx, guid, RevisionListMessage.parse(query({ per_page: '10', order_by: '-created_at' }))),
    listAuditEvents(
      ctx,
      AuditEventListMessage.parse(query({ target_guids: guid, per_page: '15', order_by: '-created_at' })),
    ),
    readLogs(ctx, guid, parseLogRead(query({ limit: '1000', envelope_types: 'LOG' }))),
    liveSections(ctx, guid),
    // No current droplet (never staged): nothing to say about vulnerabilities.
    currentDroplet(ctx, guid).then(
      (d) => dropletVulnerabilities(r.deps.images, d),
      () => undefined,
    ),
  ]);
  const env = secrets ? (await getEnvironmentVariables(ctx, guid)).app.environmentVariables : undefined;
  const web = processes.items.find((p) => p.process.type === 'web');
  const body = html`<p class="muted"><a href="/web/orgs/${org.guid}">${org.name}</a> / <a href="/web/spaces/${space.guid}">${space.name}</a></p>
<h1>${app.name}</h1>
${raw(live.state)}
${
  manage
    ? html`<section aria-labelledby="actions-h"><h2 id="actions-h">Actions</h2><div class="actions">
${app.state === 'STARTED' ? actionForm(guid, 'stop', 'Stop', 'secondary') : actionForm(guid, 'start', 'Start')}
${actionForm(guid, 'restart', 'Restart (rolling)')}
${actionForm(guid, 'restage', 'Restage (rolling)', 'secondary')}
${
  web
    ? html`<form method="post" action="/web/apps/${guid}/actions/scale" class="inline"><label for="scale-instances">Instances</label><input id="scale-instances" name="instances" type="number" min="0" max="100" value="${web.process.instances}" required><button type="submit">Scale</button></form>`
    : ''
}
${
  revisions.items.length > 1
    ? html`<form method="post" action="/web/apps/${guid}/actions/rollback" class="inline"><label for="revision">Revision</label><select id="revision" name="revision">${revisions.items
        .slice(1)
        .map(
          (rev) => html`<option value="${rev.guid}">${rev.version}: ${rev.description}</option>`,
        )}</select><button type="submit">Roll back</button></form>`
    : ''
}
</div></section>`
    : ''
}
<p><a href="/web/apps/${guid}/image">The image: its layer stack</a></p>
${vulns ? vulnerabilityLine(guid, vulns) : ''}
${raw(live.instances)}
<section aria-labelledby="routes-h"><h2 id="routes-h">Routes</h2>
${routes.length === 0 ? html`<p class="muted">No routes.</p>` : html`<ul>${routes.map((u) => html`<li><a href="${u.href}">${u.text}</a></li>`)}</ul>`}
</section>
<section aria-labelledby="proc-h"><h2 id="proc-h">Processes</h2>
<div class="table-wrap" tabindex="0"><table aria-labelledby="proc-h"><thead><tr><th scope="col">Type</th><th scope="col" class="num">Instances</th><th scope="col" class="num">Memory</th><th scope="col" class="num">Disk</th><th scope="col">Health check</th><th scope="col">Command</th></tr></thead>
<tbody>${processes.items.map(
    (p) =>
      html`<tr><td>${p.process.type}</td><td class="num">${p.process.instances}</td><td class="num">${p.process.memoryMb} MB</td><td class="num">${p.process.diskMb} MB</td><td>${p.process.healthCheck.type}</td><td><code>${p.command ?? ''}</code></td></tr>`,
  )}</tbody></table></div></section>
${
  env
    ? html`<section aria-labelledby="env-h"><h2 id="env-h">Environment variables</h2>
${
  Object.keys(env).length === 0
    ? html`<p class="muted">None set.</p>`
    : html`<dl class="facts" id="env">${Object.entries(env).map(([k, v]) => html`<dt><code>${k}</code></dt><dd><code>${v}</code></dd>`)}</dl>`
}</section>`
    : ''
}
${raw(live.builds)}
<section aria-labelledby="log-h"><h2 id="log-h">Staging and app log</h2>
<pre class="log" id="log" tabindex="0" role="log" aria-label="Log lines">${log.map((l) => `${l.source}${l.instance ? `/${l.instance}` : ''} ${l.text}\n`).join('')}</pre></section>
${raw(live.deployments)}
<section aria-labelledby="rev-h"><h2 id="rev-h">Revisions</h2>
${
  revisions.items.length === 0
    ? html`<p class="muted">No revisions yet.</p>`
    : html`<div class="table-wrap" tabindex="0"><table aria-labelledby="rev-h"><thead><tr><th scope="col" class="num">Version</th><th scope="col">Description</th><th scope="col">Created</th></tr></thead><tbody>${revisions.items.map(
        (rev) => html`<tr><td class="num">${rev.version}</td><td>${rev.description}</td><td>${rev.createdAt}</td></tr>`,
      )}</tbody></table></div>`
}</section>
<section aria-labelledby="ev-h"><h2 id="ev-h">Events</h2>
${
  events.items.length === 0
    ? html`<p class="muted">No events you may see.</p>`
    : html`<div class="table-wrap" tabindex="0"><table aria-labelledby="ev-h"><thead><tr><th scope="col">When</th><th scope="col">Type</th><th scope="col">By</th></tr></thead><tbody>${events.items.map(
        (e) => html`<tr><td>${e.createdAt}</td><td>${e.type}</td><td>${e.actor.name}</td></tr>`,
      )}</tbody></table></div>`
}</section>`;
  return page({ title: app.name, perms: r.perms, body, live: `/web/apps/${guid}/events` });
}

function vulnerabilityLine(guid: string, v: VulnerabilityData): Html {
  if (v.state === 'no-data')
    return html`<p class="muted" id="vulnerabilities">No vulnerability data: import advisories with <code>slipway vulndb import</code>.</p>`;
  if (v.state === 'error')
    return html`<p class="muted" id="vulnerabilities">Vulnerability data could not be read: ${v.message}</p>`;
  if (v.summary.total === 0) return html`<p id="vulnerabilities">No known vulnerabilities in the current image.</p>`;
  return html`<p id="vulnerabilities"><a href="/web/apps/${guid}/image#vulns-h">${summaryText(v.summary)}</a></p>`;
}

function actionForm(guid: string, action: string, label: string, kind = ''): Html {
  return html`<form method="post" action="/web/apps/${guid}/actions/${action}"><button type="submit"${kind ? html` class="${kind}"` : ''}>${label}</button></form>`;
}

async function routesOf(ctx: WorkloadContext, guid: string): Promise<{ href: string; text: string }[]> {
  const page = await appRoutes(ctx, guid, RouteListMessage.parse(query({ per_page: '50' })));
  const details = await routeDetails(ctx, page.items);
  const port = ctx.services.routerPort;
  return page.items.flatMap((route) => {
    const domain = details.get(route.guid)?.domain;
    if (!domain) return [];
    const host = route.host ? `${route.host}.${domain.name}` : domain.name;
    const text = `${host}${route.path}`;
    return [{ text, href: `http://${host}${port && port !== 80 ? `:${port}` : ''}${route.path}` }];
  });
}

/** The sections the live stream re-renders, each an element with its id. */
export interface LiveSections {
  state: string;
  instances: string;
  builds: string;
  deployments: string;
}

export async function liveSections(ctx: WorkloadContext, guid: string): Promise<LiveSections> {
  const { app } = await getApp(ctx, guid);
  const [processes, builds, deployments] = await Promise.all([
    listProcesses(ctx, ProcessListMessage.parse(query({ per_page: '100' })), guid),
    listBuilds(ctx, BuildListMessage.parse(query({ per_page: '5', order_by: '-created_at' })), guid),
    listDeployments(
      ctx,
      DeploymentListMessage.parse(query({ app_guids: guid, per_page: '5', order_by: '-created_at' })),
    ),
  ]);
  const stats = await Promise.all(processes.items.map((p) => processStats(ctx, p.process.guid)));
  const instances = stats.flatMap((s) =>
    s.stats.map((i) => ({ type: s.process.type, desired: s.process.instances, ...i })),
  );
  const running = instances.filter((i) => i.state === 'RUNNING').length;
  const deploymentRows = await Promise.all(
    deployments.items.map(async (d) => {
      const web = processes.items.find((p) => p.process.type === 'web')?.process;
      const fresh = web ? (await ctx.workloads.instancesOf(web.guid)).filter((i) => i.deploymentGuid === d.guid) : [];
      return { d, done: fresh.filter((i) => i.state === 'RUNNING').length, of: web?.instances ?? 0 };
    }),
  );
  const stateHtml =
    await html`<dl class="facts" id="state"><dt>State</dt><dd>${state(app.state)}</dd><dt>Instances running</dt><dd id="running-count">${running} of ${instances.length}</dd><dt>Lifecycle</dt><dd>${app.lifecycle.type}${app.lifecycle.data.stack ? `, stack ${app.lifecycle.data.stack}` : ''}</dd></dl>`;
  const instancesHtml = await html`<section aria-labelledby="inst-h" id="instances"><h2 id="inst-h">Instances</h2>
${
  instances.length === 0
    ? html`<p class="muted">No instances.</p>`
    : html`<div class="table-wrap" tabindex="0"><table aria-labelledby="inst-h"><thead><tr><th scope="col">Process</th><th scope="col" class="num">Index</th><th scope="col">State</th><th scope="col" class="num">Uptime</th><th scope="col" class="num">CPU</th><th scope="col" class="num">Memory</th><th scope="col">Image digest</th></tr></thead>
<tbody>${instances.map((i) => {
        const s = 'digest' in i ? i : undefined;
        return html`<tr class="instance"><td>${i.type}</td><td class="num">${i.index}</td><td>${state(i.state)}</td><td class="num">${duration(i.uptime)}</td><td class="num">${s ? `${(s.cpu * 100).toFixed(1)}%` : ''}</td><td class="num">${s ? bytes(s.memoryBytes) : ''}</td><td>${s ? html`<code title="${s.digest}">${shortDigest(s.digest)}</code>` : ''}</td></tr>`;
      })}</tbody></table></div>`
}</section>`;
  const buildsHtml = await html`<section aria-labelledby="builds-h" id="builds"><h2 id="builds-h">Builds</h2>
${
  builds.items.length === 0
    ? html`<p class="muted">No builds.</p>`
    : html`<div class="table-wrap" tabindex="0"><table aria-labelledby="builds-h"><thead><tr><th scope="col">Created</th><th scope="col">State</th><th scope="col">By</th><th scope="col">Error</th></tr></thead><tbody>${builds.items.map(
        (b) =>
          html`<tr class="build"><td>${b.createdAt}</td><td>${state(b.state)}</td><td>${b.createdBy?.name ?? ''}</td><td>${b.error ?? ''}</td></tr>`,
      )}</tbody></table></div>`
}</section>`;
  const deploymentsHtml = await html`<section aria-labelledby="dep-h" id="deployments"><h2 id="dep-h">Deployments</h2>
${
  deploymentRows.length === 0
    ? html`<p class="muted">No deployments.</p>`
    : html`<div class="table-wrap" tabindex="0"><table aria-labelledby="dep-h"><thead><tr><th scope="col">Created</th><th scope="col">Status</th><th scope="col">Progress</th></tr></thead><tbody>${deploymentRows.map(
        ({ d, done, of }) => {
          const finished = d.statusValue === 'FINALIZED';
          const n = finished && d.statusReason === 'DEPLOYED' ? of : done;
          return html`<tr class="deployment"><td>${d.createdAt}</td><td>${state(d.statusReason)}</td><td><progress max="${Math.max(1, of)}" value="${Math.min(n, of)}" aria-label="Deployment progress"></progress> ${Math.min(n, of)} of ${of} new instances</td></tr>`;
        },
      )}</tbody></table></div>`
}</section>`;
  return {
    state: stateHtml.toString(),
    instances: instancesHtml.toString(),
    builds: buildsHtml.toString(),
    deployments: deploymentsHtml.toString(),
  };
}
