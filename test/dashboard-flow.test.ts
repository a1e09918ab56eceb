import assert from 'node:assert/strict';
import { cp, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { type RunningPlatformServer, startPlatformServer } from '../src/server/index.js';
import { ensureDefaultStack } from '../src/stack/default-stack.js';
import { LocalStore } from '../src/store/local-store.js';
import { checkPage, chromiumMissing, foreignHosts, launch, signIn, type Viewer, viewer } from './dashboard-browser.js';
import { commandExists, ROOT, slipway, tempDir } from './helpers.js';
import { PlatformClient } from './platform-world.js';

/**
 * The dashboard end to end, in chromium, on a platform that runs apps (router, a build
 * worker, runc): an admin makes an org, a space and a developer; the developer signs
 * in, pushes the Node example with the CLI and watches its build log arrive on the app
 * page live, then 2 instances running; restarts with a rolling deployment and watches
 * it progress; the image page lists the layers `slipway inspect` lists, with the same
 * sizes; an admin updates the stack from the stacks page (after a confirmation) and
 * the app shows under the new version, no longer behind. No request leaves the server.
 */

const ADMIN_PW = 'admin-secret-dash';
const DEV_PW = 'developer-secret-1';
const DOMAIN = 'apps.dash.test';
const runs = process.getuid?.() === 0 && commandExists('runc');
const skip = chromiumMissing() || (runs ? false : 'needs root and runc');

/** Asks `check` (in the page, through locators) until it holds; the page is never reloaded. */
async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${what}: not within ${ms / 1000} s`);
}

describe('dashboard end to end: push, live log and instances, rolling restart, image, stack update', {
  skip,
  timeout: 25 * 60_000,
}, () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let store: LocalStore;
  let server: RunningPlatformServer;
  let browser: Browser;
  let client: PlatformClient;
  let admin: string;
  let dev: Viewer;
  let appGuid = '';
  let host = '';
  const cfHome = () => join(dir.path, 'cli-home');
  const cf = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    slipway(cfHome(), ['cf', ...args], { SLIPWAY_CF_CONFIG: join(dir.path, 'cf.json'), ...env });

  before(async () => {
    dir = await tempDir('dashboard-flow');
    store = await LocalStore.open(join(dir.path, 'home'));
    await ensureDefaultStack(store);
    await writeFile(join(dir.path, 'admin-pw'), ADMIN_PW, { mode: 0o600 });
    server = await startPlatformServer({
      store,
      addr: '127.0.0.1:0',
      adminPasswordFile: join(dir.path, 'admin-pw'),
      gcIntervalMs: 0,
      gcGraceMs: 3600_000,
      warn: (m) => process.stderr.write(`[serve] ${m.split('\n')[0]}\n`),
      domain: DOMAIN,
      run: { routerAddr: '127.0.0.1:0', buildWorkers: 1, intervalMs: 300, drainMs: 200 },
    });
    host = new URL(server.url).host;
    client = new PlatformClient(server.url);
    admin = await client.login('admin', ADMIN_PW);
    const org = await client.createOrg(admin, 'acme');
    const space = await client.createSpace(admin, org, 'dev');
    const user = await client.createUser(admin, 'dev', DEV_PW);
    await client.orgRole(admin, user, org, 'organization_user');
    await client.spaceRole(admin, user, space, 'space_developer');
    browser = await launch();
    dev = await viewer(browser);
    await signIn(dev, server.url, 'dev', DEV_PW);
  });
  after(async () => {
    await browser?.close();
    if (server) {
      await client
        .call(
          'DELETE',
          `/v3/organizations/${(await client.ok('GET', '/v3/organizations?names=acme', admin)).resources[0]?.guid}?recursive=true`,
          admin,
        )
        .catch(() => undefined);
      const containers = join(dir.path, 'home', 'runtime', 'containers');
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
        if ((await readdir(containers).catch(() => [])).length === 0) break;
        await new Promise((r) => setTimeout(r, 300));
      }
      await server.close();
    }
    await store?.close();
    await dir?.cleanup();
  });

  it('the developer pushes the Node example with the CLI and watches the build log arrive live, then 2 instances running', async () => {
    const login = await cf(['login', '-a', server.url, '-u', 'dev'], { SLIPWAY_CF_PASSWORD: DEV_PW });
    assert.equal(login.code, 0, login.stderr);
    assert.equal((await cf(['target', '-o', 'acme', '-s', 'dev'])).code, 0);
    const app = join(dir.path, 'nodejs');
    await cp(join(ROOT, 'examples/nodejs'), app, { recursive: true });
    const push = cf(['push', 'hello', '-p', app, '-i', '2', '-m', '128M']);
    const devToken = await client.login('dev', DEV_PW);
    for (const deadline = Date.now() + 120_000; !appGuid && Date.now() < deadline; ) {
      appGuid = (await client.ok('GET', '/v3/apps?names=hello', devToken)).resources[0]?.guid ?? '';
      if (!appGuid) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(appGuid, 'the push made the app');
    const page = dev.page;
    await page.goto(`${server.url}/web/apps/${appGuid}`);
    await page.locator('main[data-connected="true"]').waitFor();
    const atLoad = (await page.locator('#log').innerText()).split('\n').filter((l) => l.startsWith('STG')).length;
    // Lines the server pushes after the page loaded (no reload): the staging output, live.
    await until(
      'staging lines arrive in the log without a reload',
      600_000,
      async () =>
        (await page.locator('#log').innerText()).split('\n').filter((l) => l.startsWith('STG')).length > atLoad + 2,
    );
    const pushed = await push;
    assert.equal(pushed.code, 0, `${pushed.stdout}\n${pushed.stderr}`);
    await until('2 of 2 instances running', 120_000, async () =>
      /^2 of 2$/.test(await page.locator('#running-count').innerText()),
    );
    assert.equal(await page.locator('#instances tr.instance', { hasText: 'RUNNING' }).count(), 2);
    assert.match(await page.locator('#builds').innerText(), /STAGED/);
    await checkPage(page, 'flow-app-running');
  });

  it('restarts with a rolling deployment and watches it progress to DEPLOYED', async (t) => {
    const page = dev.page;
    // A rollout of cached images can end within a poll's interval: the page records every
    // state its deployments row shows, from its first render on.
    await page.addInitScript(`
      window.deploymentRows = [];
      const record = () => {
        const row = document.querySelector('#deployments tr.deployment');
        if (row && row.innerText) window.deploymentRows.push(row.innerText);
      };
      document.addEventListener('DOMContentLoaded', () => {
        record();
        new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
      });
    `);
    await page.getByRole('button', { name: 'Restart (rolling)' }).click();
    await page.waitForURL(`${server.url}/web/apps/${appGuid}`);
    await page.locator('main[data-connected="true"]').waitFor();
    // The record holds every state the row showed; the wait only says when the rollout ended.
    await until('the rollout DEPLOYED', 120_000, async () =>
      /DEPLOYED/.test(await page.locator('#deployments tr.deployment').first().innerText()),
    );
    const recorded = (await page.evaluate('window.deploymentRows')) as string[];
    const states = [...new Set(recorded.map((text) => text.replace(/\s+/g, ' ').trim().replace(/^\S+ /, '')))];
    assert.ok(
      states.some((s) => /DEPLOYED 2 of 2 new instances/.test(s)),
      `ends DEPLOYED: ${states.join(' | ')}`,
    );
    // The page re-renders its live sections once a second (src/server/web/live.ts): a rollout
    // of cached images that ends within about that (the deployment's own times say so, to the
    // second, as CC writes them) may show only its end; a longer one must be seen in progress.
    const { resources } = (await client.ok('GET', `/v3/deployments?app_guids=${appGuid}`, admin)) as {
      resources: { created_at: string; status: { details: { last_status_change: string } } }[];
    };
    const rollout = resources.sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at)).at(-1)!;
    const seconds = (Date.parse(rollout.status.details.last_status_change) - Date.parse(rollout.created_at)) / 1000;
    if (states.some((s) => /DEPLOYING/.test(s))) t.diagnostic('seen DEPLOYING, then DEPLOYED');
    else {
      assert.ok(seconds <= 2, `a rollout of ${seconds} s, never seen in progress: ${states.join(' | ')}`);
      t.diagnostic(`the rollout took ${seconds} s, within the page's refresh: only its end was shown`);
    }
    await checkPage(page, 'flow-app-deployed');
  });

  it('restages: the package is built again and its droplet rolls out', async () => {
    const page = dev.page;
    const rows = (what: string) => page.locator(`#${what} tr.${what.slice(0, -1)}`);
    const builds = await rows('builds').count();
    const deployments = await rows('deployments').count();
    await page.getByRole('button', { name: 'Restage (rolling)' }).click();
    await page.waitForURL(`${server.url}/web/apps/${appGuid}`);
    await page.locator('main[data-connected="true"]').waitFor();
    await until(
      'a new build staged',
      600_000,
      async () =>
        (await rows('builds').count()) === builds + 1 && /STAGED/.test(await rows('builds').first().innerText()),
    );
    await until(
      'its droplet deployed',
      180_000,
      async () =>
        (await rows('deployments').count()) === deployments + 1 &&
        /DEPLOYED\s+2 of 2 new instances/.test(await rows('deployments').first().innerText()),
    );
  });

  it('the image page lists the layers slipway inspect lists, with the same sizes', async () => {
    const page = dev.page;
    await page.goto(`${server.url}/web/apps/${appGuid}/image`);
    const digest = await page.locator('#image-digest').innerText();
    const shown = await page.locator('li.layer').evaluateAll((els) =>
      els.map((e) => ({
        digest: e.getAttribute('data-digest'),
        size: Number(e.getAttribute('data-size')),
        kind: e.className,
      })),
    );
    const inspected = await slipway(join(dir.path, 'home'), ['--json', 'inspect', `apps/${appGuid}@${digest}`]);
    assert.equal(inspected.code, 0, inspected.stderr);
    const layers = (JSON.parse(inspected.stdout) as { layers: { digest: string; size: number }[] }).layers;
    assert.deepEqual(
      shown.map((l) => ({ digest: l.digest, size: l.size })),
      layers.map((l) => ({ digest: l.digest, size: l.size })),
    );
    assert.ok(
      shown.some((l) => /kind-stack/.test(l.kind)),
      'a stack layer',
    );
    assert.ok(
      shown.some((l) => /kind-app/.test(l.kind)),
      'the app layer',
    );
    assert.ok(
      shown.some((l) => /kind-buildpack/.test(l.kind)),
      'a buildpack layer',
    );
    await checkPage(page, 'flow-image');
  });

  it('an admin updates the stack from the stacks page after a confirmation; the app is on the new version, not behind', async () => {
    const a = await viewer(browser);
    await signIn(a, server.url, 'admin', ADMIN_PW);
    await a.page.goto(`${server.url}/web/stacks/default`);
    const before = await a.page.locator('#latest-version').innerText();
    const oldDroplet = (await client.ok('GET', `/v3/apps/${appGuid}/droplets/current`, admin)).guid as string;
    await a.page.getByLabel('Run image packages to add (space-separated, optional)').fill('netbase');
    await a.page.getByRole('button', { name: 'Review the update…' }).click();
    assert.match(await a.page.locator('#blast-radius').innerText(), /Rebased and rolled \(started\)\s+1: hello/);
    await checkPage(a.page, 'flow-stack-confirm');
    await a.page.getByRole('button', { name: 'Yes, update and roll out' }).click();
    await a.page.waitForURL(/\/web\/stacks\/default\?job=/);
    await a.page.locator('main[data-connected="true"]').waitFor();
    await until('the update job ends', 900_000, async () =>
      /COMPLETE|FAILED/.test(await a.page.locator('#rollout').innerText()),
    );
    const rollout = await a.page.locator('#rollout').innerText();
    assert.match(rollout, /COMPLETE/, rollout);
    assert.match(rollout, /1 of 1 apps on version/);
    await checkPage(a.page, 'flow-stack-rolled');
    await a.page.goto(`${server.url}/web/stacks/default`);
    const latest = await a.page.locator('#latest-version').innerText();
    assert.notEqual(latest, before, 'a new version');
    assert.match(await a.page.locator(`tr[data-version="${latest}"] td.apps`).innerText(), /1: hello/);
    // The package changes from the version before to the latest, as `stack inspect --diff`: netbase added.
    assert.match(await a.page.locator('tr', { hasText: 'netbase' }).first().innerText(), /netbase\s+added/);
    await checkPage(a.page, 'flow-stack-diff');
    // The rebased image beside the one before: the stack's layers differ, the app's are the same bytes.
    await dev.page.goto(`${server.url}/web/apps/${appGuid}/image?compare=${oldDroplet}`);
    assert.equal(await dev.page.locator('#stack-version').innerText(), latest);
    const differs = await dev.page.locator('tr.differs').allInnerTexts();
    const same = await dev.page.locator('tr.same').allInnerTexts();
    assert.ok(
      differs.length > 0 && differs.every((r) => /stack/.test(r)),
      `only stack layers differ: ${differs.join(' | ')}`,
    );
    assert.ok(
      same.some((r) => /\bapp\b/.test(r)),
      `the app layer is the same: ${same.join(' | ')}`,
    );
    await checkPage(dev.page, 'flow-image-compare');
    await dev.page.goto(`${server.url}/`);
    assert.match(await dev.page.locator('.cards').innerText(), /0\s*behind on patches/);
    assert.match(await dev.page.locator('main').innerText(), /Every app you can see is on its stack's latest version/);
    await checkPage(dev.page, 'flow-home');
    assert.deepEqual(foreignHosts([...dev.requests, ...a.requests], host), [], 'no request to any host but the server');
    await a.context.close();
  });
});
