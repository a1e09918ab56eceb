import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { checkPage, chromiumMissing, foreignHosts, launch, signIn, viewer } from './dashboard-browser.js';
import { tempDir } from './helpers.js';
import {
  type InProcessPlatform,
  makeImage,
  makeReferrer,
  PlatformClient,
  startInProcessPlatform,
  type TestImage,
} from './platform-world.js';

/**
 * The dashboard in a real browser (Debian's chromium, headless) against `slipway serve`
 * in-process, API only (nothing runs): sign-in with the platform's users, what each
 * role sees (a developer the actions and the env; a space auditor the same pages
 * without either; another org's user a 404 for the app; an org manager the members),
 * an accessibility check and a screenshot of each page, and no request to any host
 * but the server.
 */

const PW = 'a-long-password-1';

describe('dashboard pages in chromium: roles decide what a page shows', {
  skip: chromiumMissing(),
  timeout: 300_000,
}, () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let p: InProcessPlatform;
  let browser: Browser;
  let client: PlatformClient;
  let ids: { org: string; space: string; app: string; otherOrg: string };
  let image: TestImage;
  let referrer: TestImage;

  before(async () => {
    dir = await tempDir('dashboard-pages');
    p = await startInProcessPlatform(join(dir.path, 'home'));
    client = new PlatformClient(p.url);
    const admin = await client.login('admin', p.adminPassword);
    const org = await client.createOrg(admin, 'acme');
    const space = await client.createSpace(admin, org, 'dev');
    const otherOrg = await client.createOrg(admin, 'globex');
    const users: Record<string, string> = {};
    for (const u of ['dev', 'auditor', 'manager', 'stranger']) users[u] = await client.createUser(admin, u, PW);
    for (const u of ['dev', 'auditor', 'manager']) await client.orgRole(admin, users[u]!, org, 'organization_user');
    await client.orgRole(admin, users.manager!, org, 'organization_manager');
    await client.orgRole(admin, users.stranger!, otherOrg, 'organization_manager');
    await client.spaceRole(admin, users.dev!, space, 'space_developer');
    await client.spaceRole(admin, users.auditor!, space, 'space_auditor');
    const dev = await client.login('dev', PW);
    const app = await client.createApp(dev, space, 'web-shop', { SECRET_TOKEN: 's3cr3t-value' });
    ids = { org, space, app, otherOrg };
    // The developer pushes an image of the app and a referrer of it (an SBOM-like artifact) to the registry.
    const scope = ['repository:acme/dev/web-shop:pull,push'];
    const token = await client.registryToken({ username: 'dev', password: PW }, scope);
    image = makeImage(['dash-layer-1', 'dash-layer-2']);
    referrer = makeReferrer(image, 'application/vnd.example.sbom+json');
    assert.equal((await client.pushImage(token, 'acme/dev/web-shop', 'v1', image)).status, 201);
    assert.equal((await client.pushImage(token, 'acme/dev/web-shop', referrer.digest, referrer)).status, 201);
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await p?.close();
    await dir?.cleanup();
  });

  it("a visitor is sent to sign in; a wrong password is refused with a message; the cf CLI still gets CF's root document at /", async () => {
    const v = await viewer(browser);
    await v.page.goto(`${p.url}/web/apps/${ids.app}`);
    assert.equal(new URL(v.page.url()).pathname, '/web/login');
    await v.page.getByLabel('User name').fill('dev');
    await v.page.getByLabel('Password').fill('wrong-password');
    await v.page.getByRole('button', { name: 'Sign in' }).click();
    await v.page.getByRole('alert').waitFor();
    assert.match(await v.page.getByRole('alert').innerText(), /Wrong user name or password/);
    await checkPage(v.page, 'login');
    await v.page.getByLabel('Password').fill(PW);
    await v.page.getByRole('button', { name: 'Sign in' }).click();
    await v.page.waitForURL(`${p.url}/web/apps/${ids.app}`);
    const root = await fetch(`${p.url}/`, { headers: { accept: 'application/json' } });
    assert.ok(
      ((await root.json()) as { links: Record<string, unknown> }).links.cloud_controller_v3,
      'GET / without text/html is the API root',
    );
    await v.context.close();
  });

  it('a space developer: home counts the app; the app page has the actions and the env; every page passes axe', async () => {
    const v = await viewer(browser);
    await signIn(v, p.url, 'dev', PW);
    const home = v.page;
    assert.match(await home.getByRole('link', { name: 'acme' }).innerText(), /acme/);
    assert.equal(await home.getByRole('link', { name: 'globex' }).count(), 0, 'no other org on the home page');
    assert.match(await home.locator('.cards').innerText(), /1\s*apps/);
    await checkPage(home, 'home-developer');
    await home.getByRole('link', { name: 'dev', exact: true }).click();
    await home.getByRole('link', { name: 'web-shop' }).click();
    await home.waitForURL(`${p.url}/web/apps/${ids.app}`);
    assert.equal(await home.getByRole('heading', { name: 'Actions' }).count(), 1);
    for (const b of ['Start', 'Restart (rolling)', 'Scale'])
      assert.equal(await home.getByRole('button', { name: b, exact: true }).count(), 1, `button ${b}`);
    assert.match(await home.locator('#env').innerText(), /SECRET_TOKEN\s+s3cr3t-value/);
    assert.match(await home.locator('#state').innerText(), /State\s+STOPPED/);
    assert.doesNotMatch(
      await home.locator('main').innerText(),
      /<section|<dl/,
      'live sections are HTML, not escaped text',
    );
    await home.locator('main[data-connected="true"]').waitFor({ timeout: 10_000 });
    await checkPage(home, 'app-developer');
    // A start without a droplet is refused by the API's own rule, shown in its words.
    await home.getByRole('button', { name: 'Start', exact: true }).click();
    assert.match(await home.locator('main').innerText(), /Assign a droplet before starting this app/);
    for (const [path, name] of [
      ['/web/stacks', 'stacks'],
      ['/web/registry', 'registry'],
      [`/web/spaces/${ids.space}`, 'space-developer'],
    ] as const) {
      await home.goto(`${p.url}${path}`);
      await checkPage(home, name);
    }
    // The developer is not a space manager: no members on the space page.
    assert.equal(await home.getByRole('heading', { name: 'Members and roles' }).count(), 0);
    assert.deepEqual(foreignHosts(v.requests, p.host), [], 'no request to any host but the server');
    await v.context.close();
  });

  it('a space auditor: the same pages, no action buttons, no env', async () => {
    const v = await viewer(browser, { mobile: true });
    await signIn(v, p.url, 'auditor', PW);
    await v.page.goto(`${p.url}/web/apps/${ids.app}`);
    assert.equal(await v.page.getByRole('heading', { name: 'web-shop' }).count(), 1);
    assert.equal(await v.page.getByRole('heading', { name: 'Actions' }).count(), 0);
    assert.equal(await v.page.locator('form[action*="/actions/"]').count(), 0, 'no action form at all');
    assert.equal(await v.page.locator('#env').count(), 0);
    assert.doesNotMatch(await v.page.content(), /s3cr3t-value/);
    await checkPage(v.page, 'app-auditor-phone');
    // A form posted anyway is refused by the policy.
    const res = await v.page.request.post(`${p.url}/web/apps/${ids.app}/actions/stop`, { maxRedirects: 0 });
    assert.equal(res.status(), 403);
    assert.deepEqual(foreignHosts(v.requests, p.host), []);
    await v.context.close();
  });

  it("another org's user: the app's URL answers 404, its image and events too", async () => {
    const v = await viewer(browser);
    await signIn(v, p.url, 'stranger', PW);
    for (const path of [`/web/apps/${ids.app}`, `/web/apps/${ids.app}/image`, `/web/spaces/${ids.space}`]) {
      const res = await v.page.goto(`${p.url}${path}`);
      assert.equal(res?.status(), 404, path);
    }
    await checkPage(v.page, 'app-other-org-404');
    const events = await v.page.request.get(`${p.url}/web/apps/${ids.app}/events`);
    assert.equal(events.status(), 404);
    assert.equal(await (await v.page.goto(`${p.url}/`))?.status(), 200);
    assert.equal(await v.page.getByRole('link', { name: 'acme' }).count(), 0);
    await v.context.close();
  });

  it('an org manager sees the members and gives a role by user name; a space role appears on the space page', async () => {
    const v = await viewer(browser);
    await signIn(v, p.url, 'manager', PW);
    await v.page.goto(`${p.url}/web/spaces/${ids.space}`);
    const members = v.page.locator('tr.member');
    assert.match(await members.allInnerTexts().then((t) => t.join('\n')), /auditor\s+space_auditor/);
    await v.page.getByLabel('User name').fill('manager');
    await v.page.getByLabel('Role', { exact: true }).selectOption('space_manager');
    await v.page.getByRole('button', { name: 'Give role' }).click();
    await v.page.waitForURL(`${p.url}/web/spaces/${ids.space}`);
    assert.match(await v.page.locator('tr.member', { hasText: 'manager' }).innerText(), /space_manager/);
    await checkPage(v.page, 'space-members-manager');
    await v.page.goto(`${p.url}/web/orgs/${ids.org}`);
    assert.match(await v.page.locator('tr.member', { hasText: 'stranger' }).count().then(String), /^0$/);
    await checkPage(v.page, 'org-members-manager');
    await v.context.close();
  });

  it('the registry page lists the repositories one may read, with tags, digests and referrers; not to another org', async () => {
    const v = await viewer(browser);
    await signIn(v, p.url, 'auditor', PW);
    await v.page.goto(`${p.url}/web/registry`);
    await v.page.getByRole('link', { name: 'acme/dev/web-shop' }).click();
    const main = await v.page.locator('main').innerText();
    assert.match(main, new RegExp(`v1\\s+${image.digest}`));
    assert.match(main, new RegExp(`${referrer.digest} \\(application/vnd.example.sbom\\+json\\)`));
    await checkPage(v.page, 'registry-repository');
    await v.context.close();
    const s = await viewer(browser);
    await signIn(s, p.url, 'stranger', PW);
    await s.page.goto(`${p.url}/web/registry`);
    assert.equal(await s.page.getByRole('link', { name: 'acme/dev/web-shop' }).count(), 0);
    const res = await s.page.goto(`${p.url}/web/registry/repository?name=acme/dev/web-shop`);
    assert.equal(res?.status(), 404);
    await s.context.close();
  });

  it('signing out revokes the session: its refresh token no longer signs anyone in', async () => {
    const v = await viewer(browser);
    await signIn(v, p.url, 'dev', PW);
    const refresh = (await v.context.cookies()).find((c) => c.name === 'slipway_rt');
    assert.ok(refresh, 'a refresh cookie');
    await v.page.getByRole('button', { name: 'Sign out' }).click();
    await v.page.waitForURL(`${p.url}/web/login`);
    assert.deepEqual(
      (await v.context.cookies()).filter((c) => c.name.startsWith('slipway_')),
      [],
      'the cookies are gone',
    );
    // The old refresh token put back by hand (no access token): sent to sign in, not let in.
    await v.context.addCookies([refresh]);
    await v.page.goto(`${p.url}/`);
    assert.equal(new URL(v.page.url()).pathname, '/web/login');
    await v.context.close();
  });

  it('assets are served by digest name, cached immutably; an unknown digest is 404', async () => {
    const html = await (await fetch(`${p.url}/web/login`)).text();
    const css = /href="(\/web\/assets\/dashboard\.[0-9a-f]{16}\.css)"/.exec(html)?.[1];
    assert.ok(css, html);
    const res = await fetch(`${p.url}${css}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('cache-control') ?? '', /immutable/);
    assert.equal((await fetch(`${p.url}/web/assets/dashboard.0000000000000000.css`)).status, 404);
  });
});
