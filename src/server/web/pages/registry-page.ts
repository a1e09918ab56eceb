import { html } from 'hono/html';
import { SlipwayError } from '../../../errors.js';
import { readableRepositories, repositoryDetail } from '../../../platform/dashboard/registry-listing.js';
import { bytes, type Html, page } from '../layout.js';
import type { WebRequest } from '../web-context.js';

/** The registry: the repositories the viewer may list (as the registry's own scopes decide), and one's tags, digests and referrers. */

export async function registryPage(r: WebRequest, host: string): Promise<Html> {
  const repos = await readableRepositories({ perms: r.perms, store: r.deps.store, images: r.deps.images });
  const body = html`<h1>Registry</h1>
<p>Pull with <code>podman pull ${host}/NAME</code> after <code>podman login ${host}</code>.</p>
${
  repos.length === 0
    ? html`<p class="muted">No repositories you may read.</p>`
    : html`<div class="table-wrap" tabindex="0"><table aria-label="Repositories"><thead><tr><th scope="col">Repository</th><th scope="col">You may</th></tr></thead><tbody>${repos.map(
        (repo) =>
          html`<tr><td><a href="/web/registry/repository?name=${encodeURIComponent(repo.name)}">${repo.name}</a></td><td>${repo.actions.join(', ')}</td></tr>`,
      )}</tbody></table></div>`
}`;
  return page({ title: 'Registry', perms: r.perms, body });
}

export async function repositoryPage(r: WebRequest, name: string, host: string): Promise<Html> {
  const d = await repositoryDetail({ perms: r.perms, store: r.deps.store, images: r.deps.images }, name);
  if (!d) throw new SlipwayError('NOT_FOUND', `no repository ${name} you may read`);
  const body = html`<p class="muted"><a href="/web/registry">Registry</a></p>
<h1>${d.name}</h1>
<p><code>${host}/${d.name}</code>${d.appGuid ? html` · <a href="/web/apps/${d.appGuid}">the app</a>` : ''}</p>
<h2 id="tags-h">Tags</h2>
${
  d.tags.length === 0
    ? html`<p class="muted">No tags.</p>`
    : html`<div class="table-wrap" tabindex="0"><table aria-labelledby="tags-h"><thead><tr><th scope="col">Tag</th><th scope="col">Digest</th></tr></thead><tbody>${d.tags.map(
        (t) => html`<tr><td>${t.tag}</td><td><code>${t.digest ?? ''}</code></td></tr>`,
      )}</tbody></table></div>`
}
<h2 id="man-h">Manifests</h2>
<div class="table-wrap" tabindex="0"><table aria-labelledby="man-h"><thead><tr><th scope="col">Digest</th><th scope="col">Media type</th><th scope="col" class="num">Size</th><th scope="col">Referrers</th></tr></thead><tbody>${d.manifests.map(
    (m) =>
      html`<tr><td><code>${m.digest}</code></td><td>${m.mediaType}</td><td class="num">${bytes(m.size)}</td><td>${
        m.referrers.length === 0
          ? 'none'
          : m.referrers.map((x) => html`<code>${x.digest}</code>${x.artifactType ? ` (${x.artifactType})` : ''}<br>`)
      }</td></tr>`,
  )}</tbody></table></div>`;
  return page({ title: d.name, perms: r.perms, body });
}
