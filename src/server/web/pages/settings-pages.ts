import { html } from 'hono/html';
import { getOrg } from '../../../platform/actions/organizations.js';
import { createRole, deleteRole } from '../../../platform/actions/roles.js';
import { getSpace } from '../../../platform/actions/spaces.js';
import { membersOf, type Member } from '../../../platform/dashboard/members.js';
import { allPages } from '../../../platform/dashboard/visible-fleet.js';
import { parseBody } from '../../../platform/messages/common.js';
import { RoleCreateMessage } from '../../../platform/messages/roles.js';
import { ORG_ROLE_TYPES, SPACE_ROLE_TYPES } from '../../../platform/roles.js';
import { type Html, page, state } from '../layout.js';
import type { WebRequest } from '../web-context.js';

/**
 * An org's and a space's pages: their spaces or apps, and for those who manage them
 * (org managers; space managers and org managers) the members and their roles, with
 * forms to give and take roles (the v3 roles actions: the same rules and errors).
 */

export async function orgPage(r: WebRequest, guid: string): Promise<Html> {
  const org = await getOrg(r.ctx, guid);
  const manage = r.perms.canAssignOrgRole(org.guid, org.suspended);
  const spaces = await allPages((q) =>
    r.deps.store.listSpaces(q, { organizationGuids: [org.guid] }, r.perms.spaceVisibility()),
  );
  const members = manage ? await membersOf(r.ctx, { orgGuid: org.guid }) : [];
  const body = html`<h1>Organization ${org.name}</h1>
<h2 id="spaces-h">Spaces</h2>
${spaces.length === 0 ? html`<p class="muted">No spaces you can see.</p>` : html`<ul aria-labelledby="spaces-h">${spaces.map((s) => html`<li><a href="/web/spaces/${s.guid}">${s.name}</a></li>`)}</ul>`}
${manage ? membersSection(members, `/web/orgs/${org.guid}/roles`, ORG_ROLE_TYPES) : ''}`;
  return page({ title: org.name, perms: r.perms, body });
}

export async function spacePage(r: WebRequest, guid: string): Promise<Html> {
  const { space, org } = await getSpace(r.ctx, guid);
  const manage = r.perms.canAssignSpaceRole({ space, org });
  const apps = await allPages((q) => r.deps.store.listApps(q, { spaceGuids: [space.guid] }, r.perms.spaceVisibility()));
  const members = manage ? await membersOf(r.ctx, { spaceGuid: space.guid }) : [];
  const body = html`<p class="muted"><a href="/web/orgs/${org.guid}">${org.name}</a></p>
<h1>Space ${space.name}</h1>
<h2 id="apps-h">Apps</h2>
${
  apps.length === 0
    ? html`<p class="muted">No apps.</p>`
    : html`<div class="table-wrap" tabindex="0"><table aria-labelledby="apps-h"><thead><tr><th scope="col">App</th><th scope="col">State</th><th scope="col">Updated</th></tr></thead><tbody>${apps.map(
        (a) =>
          html`<tr><td><a href="/web/apps/${a.guid}">${a.name}</a></td><td>${state(a.state)}</td><td>${a.updatedAt}</td></tr>`,
      )}</tbody></table></div>`
}
${manage ? membersSection(members, `/web/spaces/${space.guid}/roles`, SPACE_ROLE_TYPES) : ''}`;
  return page({ title: space.name, perms: r.perms, body });
}

function membersSection(members: Member[], action: string, types: readonly string[]): Html {
  return html`<section aria-labelledby="members-h"><h2 id="members-h">Members and roles</h2>
<div class="table-wrap" tabindex="0"><table aria-labelledby="members-h"><thead><tr><th scope="col">User</th><th scope="col">Roles</th></tr></thead><tbody>${members.map(
    (m) =>
      html`<tr class="member"><td>${m.user.username}</td><td>${m.roles.map(
        (role) =>
          html`<form method="post" action="${action}/${role.guid}/delete" class="inline" style="display:inline"><span>${role.type}</span> <button type="submit" class="secondary" aria-label="Remove ${role.type} from ${m.user.username}">Remove</button></form> `,
      )}</td></tr>`,
  )}</tbody></table></div>
<form method="post" action="${action}" class="inline"><label for="username">User name</label><input id="username" name="username" required>
<label for="type">Role</label><select id="type" name="type">${types.map((t) => html`<option>${t}</option>`)}</select> <button type="submit">Give role</button></form></section>`;
}

/** Gives a role by user name (CC's role create with relationships.user.data.username). */
export async function addRole(
  r: WebRequest,
  where: { orgGuid: string } | { spaceGuid: string },
  form: URLSearchParams,
) {
  const input = parseBody(RoleCreateMessage, {
    type: form.get('type') ?? '',
    relationships: {
      user: { data: { username: form.get('username') ?? '' } },
      ...('orgGuid' in where
        ? { organization: { data: { guid: where.orgGuid } } }
        : { space: { data: { guid: where.spaceGuid } } }),
    },
  });
  return createRole(r.ctx, input);
}

export async function removeRole(r: WebRequest, roleGuid: string): Promise<void> {
  await deleteRole(r.ctx, roleGuid);
}
