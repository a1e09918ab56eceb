import { type Context, Hono } from 'hono';
import { cfErrorOf } from '../../platform/cf-errors.js';
import type { Caller } from '../../platform/policy.js';
import { appAction } from './app-actions.js';
import { serveAsset } from './assets.js';
import type { Html } from './layout.js';
import { appEvents, stackEvents } from './live.js';
import { appPage } from './pages/app-page.js';
import { homePage } from './pages/home-page.js';
import { imagePage } from './pages/image-page.js';
import { errorPage, loginPage } from './pages/login-page.js';
import { registryPage, repositoryPage } from './pages/registry-page.js';
import { addRole, orgPage, removeRole, spacePage } from './pages/settings-pages.js';
import { confirmUpdatePage, stackPage, stacksPage, startUpdate } from './pages/stacks-page.js';
import { WebSessions } from './session.js';
import { type WebDeps, type WebRequest, webRequests } from './web-context.js';

export type { WebDeps } from './web-context.js';

/**
 * The web dashboard, served by `slipway serve` on the API's origin: `/` (for a browser)
 * and `/web/...`. Server-rendered HTML with one small script for live views; every
 * page is made from the platform's actions and queries with the viewer's Permissions
 * (the v3 API's policy), so what another org's user may not read answers 404 here too.
 *
 * @example
 * const web = createWebApp({ store, workloads, services, jobs: v3.jobs, stackUpdates, stacks, images, identity });
 * const res = await web.request('/web/login');
 */
export function createWebApp(deps: WebDeps): Hono {
  const sessions = new WebSessions(deps.identity);
  const requestFor = webRequests(deps);
  const app = new Hono();

  /** A page for a signed-in viewer; without a session, the sign-in form (then back here). */
  const signedIn =
    (render: (c: Context, r: WebRequest) => Promise<Html | Response>) =>
    async (c: Context): Promise<Response> => {
      const caller: Caller = await sessions.caller(c);
      if (caller.kind === 'anonymous') {
        if (c.req.method !== 'GET' || c.req.header('accept') === 'text/event-stream')
          return c.text('sign in first', 401);
        const url = new URL(c.req.url);
        return c.redirect(`/web/login?next=${encodeURIComponent(url.pathname + url.search)}`, 303);
      }
      if (c.req.method === 'POST' && !sameOrigin(c)) return c.text('cross-origin form posts are refused', 403);
      const out = await render(c, requestFor(caller));
      return out instanceof Response ? out : htmlResponse(c, await out);
    };

  app.get('/web/assets/*', (c) => serveAsset(c));
  app.get('/web/login', (c) => htmlResponse(c, loginPage({ next: safeNext(c.req.query('next')) })));
  app.post('/web/login', async (c) => {
    const form = new URLSearchParams(await c.req.text());
    const username = form.get('username') ?? '';
    const next = safeNext(form.get('next') ?? undefined);
    const ok = await sessions.signIn(c, username, form.get('password') ?? '', (guid) => deps.store.getUser(guid));
    if (!ok) return htmlResponse(c, loginPage({ next, username, error: 'Wrong user name or password.' }), 401);
    return c.redirect(next, 303);
  });
  app.post('/web/logout', async (c) => {
    await sessions.signOut(c);
    return c.redirect('/web/login', 303);
  });

  app.get(
    '/',
    signedIn((_c, r) => homePage(r)),
  );
  app.get(
    '/web/orgs/:guid',
    signedIn((c, r) => orgPage(r, c.req.param('guid')!)),
  );
  app.get(
    '/web/spaces/:guid',
    signedIn((c, r) => spacePage(r, c.req.param('guid')!)),
  );
  for (const [kind, path] of [
    ['org', '/web/orgs/:guid/roles'],
    ['space', '/web/spaces/:guid/roles'],
  ] as const) {
    app.post(
      path,
      signedIn(async (c, r) => {
        const guid = c.req.param('guid')!;
        await addRole(r, kind === 'org' ? { orgGuid: guid } : { spaceGuid: guid }, await form(c));
        return c.redirect(path.replace(':guid', guid).replace(/\/roles$/, ''), 303);
      }),
    );
    app.post(
      `${path}/:role/delete`,
      signedIn(async (c, r) => {
        await removeRole(r, c.req.param('role')!);
        return c.redirect(path.replace(':guid', c.req.param('guid')!).replace(/\/roles$/, ''), 303);
      }),
    );
  }
  app.get(
    '/web/apps/:guid',
    signedIn((c, r) => appPage(r, c.req.param('guid')!)),
  );
  app.get(
    '/web/apps/:guid/events',
    signedIn((c, r) => appEvents(c, r, c.req.param('guid')!)),
  );
  app.get(
    '/web/apps/:guid/image',
    signedIn((c, r) => imagePage(r, c.req.param('guid')!, c.req.query('compare') || undefined)),
  );
  app.post(
    '/web/apps/:guid/actions/:action',
    signedIn(async (c, r) => {
      const guid = c.req.param('guid')!;
      await appAction(r, guid, c.req.param('action')!, await form(c));
      return c.redirect(`/web/apps/${guid}`, 303);
    }),
  );
  app.get(
    '/web/stacks',
    signedIn((_c, r) => stacksPage(r)),
  );
  app.get(
    '/web/stacks/:name',
    signedIn((c, r) => {
      const q = c.req.query();
      return stackPage(r, c.req.param('name')!, {
        ...(q.from ? { from: q.from } : {}),
        ...(q.to ? { to: q.to } : {}),
        ...(q.job ? { job: q.job } : {}),
      });
    }),
  );
  app.get(
    '/web/stacks/:name/events',
    signedIn((c, r) => stackEvents(c, r, c.req.param('name')!, c.req.query('job') ?? '')),
  );
  app.post(
    '/web/stacks/:name/update',
    signedIn(async (c, r) => {
      const name = c.req.param('name')!;
      const f = await form(c);
      if (f.get('confirm') !== 'yes') return confirmUpdatePage(r, name, f);
      const job = await startUpdate(r, name, f);
      return c.redirect(`/web/stacks/${encodeURIComponent(name)}?job=${job.guid}`, 303);
    }),
  );
  app.get(
    '/web/registry',
    signedIn((c, r) => registryPage(r, new URL(c.req.url).host)),
  );
  app.get(
    '/web/registry/repository',
    signedIn((c, r) => repositoryPage(r, c.req.query('name') ?? '', new URL(c.req.url).host)),
  );

  app.notFound((c) =>
    htmlResponse(c, errorPage({ status: 404, title: 'Not found', detail: 'No such page.', signedIn: false }), 404),
  );
  app.onError((err, c) => {
    const e = cfErrorOf(err);
    if (e.status >= 500) deps.onError?.(err, `${c.req.method} ${new URL(c.req.url).pathname}`);
    return htmlResponse(c, errorPage({ status: e.status, title: e.title, detail: e.detail, signedIn: true }), e.status);
  });
  return app;
}

async function htmlResponse(c: Context, body: Html, status = 200): Promise<Response> {
  c.header('cache-control', 'no-store');
  c.header('x-content-type-options', 'nosniff');
  c.header('x-frame-options', 'DENY');
  // Nothing but this origin: no CDN, no inline script, no third-party request.
  c.header(
    'content-security-policy',
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
  );
  return c.html(await body, status as 200);
}

async function form(c: Context): Promise<URLSearchParams> {
  return new URLSearchParams(await c.req.text());
}

/** A form post from another site is refused (SameSite=Strict cookies already stop most; Origin makes sure). */
function sameOrigin(c: Context): boolean {
  const origin = c.req.header('origin');
  if (!origin) return true;
  const host = c.req.header('x-forwarded-host') ?? c.req.header('host');
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** Where to go after signing in: a path on this site only. */
function safeNext(next: string | undefined): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

/** Whether `slipway serve` should answer a request with the dashboard: `/web/...`, and `/` for a browser (the cf CLI gets CF's root document). */
export function isWebRequest(request: Request): boolean {
  const path = new URL(request.url).pathname;
  if (path.startsWith('/web/')) return true;
  return path === '/' && request.method === 'GET' && (request.headers.get('accept') ?? '').includes('text/html');
}
