import { html } from 'hono/html';
import { type Html, page } from '../layout.js';

/** The sign-in form (a plain form post: works without the script). */
export function loginPage(o: { next: string; error?: string; username?: string }): Html {
  const body = html`<div class="login"><h1>Sign in to Slipway</h1>
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
<form method="post" action="/web/login">
<input type="hidden" name="next" value="${o.next}">
<label for="username">User name</label><input id="username" name="username" autocomplete="username" value="${o.username ?? ''}" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form></div>`;
  return page({ title: 'Sign in', body });
}

/** An error page: what went wrong, in the API's words. */
export function errorPage(o: { status: number; title: string; detail: string; signedIn: boolean }): Html {
  const body = html`<h1>${o.status === 404 ? 'Not found' : o.title}</h1><p>${o.detail}</p><p><a href="/">Home</a></p>`;
  return page({ title: o.title, body });
}
