/**
 * bench/dashboard.ts: how fast the dashboard's pages load in headless chromium
 * (Debian's, driven by playwright-core) from `slipway serve --no-run` started from
 * source as a child process, on a platform seeded through the SqlitePlatformStore:
 *
 * - app: the app page of one app in a space of 1,000 apps (each with a web process and
 *   a current droplet), as that space's developer;
 * - home: the home page as an admin, who sees 10,000 apps across 100 orgs (the 1,000
 *   above plus 9,000 over 99 orgs x 10 spaces), half of them started;
 * - reference: the same data as JSON from the v3 API in the same run (`GET
 *   /v3/apps?space_guids=...&per_page=1000`, and the admin's first 5,000 apps), fetched
 *   by Node. No other dashboard (Stratos, Harbor) runs on this machine to compare with.
 *
 * Each figure is the median of --runs page loads (after one warm-up): first byte
 * (navigation start to the response's first byte) and full load (to the load event,
 * the stylesheet and script included; they are cached by digest after the first load,
 * as in a browser). Target: under 300 ms.
 *
 *   node --import tsx bench/dashboard.ts [--runs 7]
 *
 * Droplet digests are synthetic (no image behind them): the image facts of other apps
 * are not read, as they would be for the image page (which is not measured here).
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { hashPassword } from '../src/auth/password.js';
import { emptyMetadata, newGuid, now } from '../src/platform/model.js';
import { SqlitePlatformStore } from '../src/platform/store/sqlite-platform-store.js';
import { CHROMIUM } from '../test/dashboard-browser.js';
import { tempDir } from '../test/helpers.js';
import { PlatformClient, startServe } from '../test/platform-world.js';
import { BENCH_CACHE, median } from './common.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
const RUNS = Number(values.runs);
const PASSWORD = 'bench-password';
const TARGET_MS = 300;

interface Seeded {
  crowdSpace: string;
  oneApp: string;
}

async function seed(dir: string): Promise<Seeded> {
  const store = await SqlitePlatformStore.open(join(dir, 'platform.sqlite'));
  const w = store.workloads;
  const stamp = () => ({ createdAt: now(), updatedAt: now(), metadata: emptyMetadata() });
  const passwordHash = await hashPassword(PASSWORD);
  // The admin too: `serve` makes one only in an empty store.
  await store.createUser(
    { guid: newGuid(), username: 'admin', origin: 'uaa', globalRoles: ['admin'], ...stamp() },
    { passwordHash },
  );
  const dev = await store.createUser(
    { guid: newGuid(), username: 'dev', origin: 'uaa', globalRoles: [], ...stamp() },
    { passwordHash },
  );
  let n = 0;
  const app = async (spaceGuid: string, name: string) => {
    const a = await store.createApp({
      guid: newGuid(),
      name,
      slug: name,
      spaceGuid,
      state: n++ % 2 === 0 ? 'STARTED' : 'STOPPED',
      lifecycle: { type: 'buildpack', data: { buildpacks: [], stack: 'default' } },
      environmentVariables: {},
      ...stamp(),
    });
    await w.upsertProcess({
      guid: newGuid(),
      appGuid: a.guid,
      type: 'web',
      command: null,
      instances: 1,
      memoryMb: 256,
      diskMb: 1024,
      healthCheck: { type: 'port' },
      ...stamp(),
    });
    const d = await w.createDroplet({
      guid: newGuid(),
      appGuid: a.guid,
      state: 'STAGED',
      digest: `sha256:${'0'.repeat(56)}${(n % 256).toString(16).padStart(8, '0')}`,
      processTypes: { web: 'node server.js' },
      buildpacks: [],
      stack: 'default',
      stackVersion: '1',
      executionMetadata: '',
      ...stamp(),
    });
    await w.setCurrentDroplet(a.guid, d.guid);
    return a.guid;
  };
  const org = async (name: string) =>
    store.createOrg({ guid: newGuid(), name, slug: name, suspended: false, ...stamp() });
  const space = async (orgGuid: string, name: string) =>
    store.createSpace({ guid: newGuid(), name, slug: name, orgGuid, ...stamp() });
  const big = await org('org-0');
  const crowd = await space(big.guid, 'crowd');
  await store.createRole({
    guid: newGuid(),
    type: 'organization_user',
    userGuid: dev.guid,
    orgGuid: big.guid,
    ...stamp(),
  });
  await store.createRole({
    guid: newGuid(),
    type: 'space_developer',
    userGuid: dev.guid,
    spaceGuid: crowd.guid,
    ...stamp(),
  });
  let oneApp = '';
  for (let i = 0; i < 1000; i++) {
    const g = await app(crowd.guid, `app-${i}`);
    if (i === 500) oneApp = g;
  }
  const spaces: string[] = [];
  for (let o = 1; o < 100; o++) {
    const og = await org(`org-${o}`);
    for (let s = 0; s < 10; s++) spaces.push((await space(og.guid, `space-${s}`)).guid);
  }
  for (let i = 0; i < 9000; i++) await app(spaces[i % spaces.length]!, `app-${Math.floor(i / spaces.length)}`);
  await store.close();
  return { crowdSpace: crowd.guid, oneApp };
}

async function main(): Promise<void> {
  const dir = await tempDir('bench-dashboard');
  const home = join(dir.path, 'home');
  await mkdir(home, { recursive: true });
  // The seeded platform is kept in the bench cache (seeding takes a while) and copied for each run.
  const cache = join(BENCH_CACHE, 'dashboard');
  if (!existsSync(join(cache, 'seeded.json'))) {
    await rm(cache, { recursive: true, force: true });
    await mkdir(cache, { recursive: true });
    const t0 = performance.now();
    const s = await seed(cache);
    await writeFile(join(cache, 'seeded.json'), JSON.stringify(s));
    process.stderr.write(`seeded 10,000 apps in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  const seeded = JSON.parse(await readFile(join(cache, 'seeded.json'), 'utf8')) as Seeded;
  await copyFile(join(cache, 'platform.sqlite'), join(home, 'platform.sqlite'));
  await writeFile(join(dir.path, 'admin-pw'), PASSWORD);
  const serve = await startServe(home, join(dir.path, 'admin-pw'), ['--no-run']);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  const client = new PlatformClient(serve.url);
  try {
    const measure = async (user: string, path: string) => {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${serve.url}/web/login`);
      await page.getByLabel('User name').fill(user);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByLabel('Password').press('Enter');
      await page.waitForURL(`${serve.url}/`);
      const ttfb: number[] = [];
      const load: number[] = [];
      for (let i = 0; i <= RUNS; i++) {
        await page.goto(`${serve.url}${path}`, { waitUntil: 'load' });
        const t = (await page.evaluate(
          "(() => { const n = performance.getEntriesByType('navigation')[0]; return { ttfb: n.responseStart - n.startTime, load: n.loadEventEnd - n.startTime }; })()",
        )) as { ttfb: number; load: number };
        if (i === 0) continue; // warm-up
        ttfb.push(t.ttfb);
        load.push(t.load);
      }
      await context.close();
      return { ttfb: median(ttfb), load: median(load) };
    };
    const api = async (user: string, path: string) => {
      const auth = await client.login(user, PASSWORD);
      const times: number[] = [];
      for (let i = 0; i <= RUNS; i++) {
        const s = performance.now();
        const res = await client.call('GET', path, auth);
        if (res.status !== 200) throw new Error(`${path}: ${res.status} ${res.text.slice(0, 200)}`);
        if (i > 0) times.push(performance.now() - s);
      }
      return median(times);
    };
    const appPage = await measure('dev', `/web/apps/${seeded.oneApp}`);
    const homePage = await measure('admin', '/');
    const appApi = await api('dev', `/v3/apps?space_guids=${seeded.crowdSpace}&per_page=1000`);
    const homeApi = await api('admin', '/v3/apps?per_page=5000');
    const ms = (v: number) => `${v.toFixed(0)} ms`;
    const verdict = (v: number) => (v < TARGET_MS ? 'under target' : 'OVER target');
    console.log(
      `\nDashboard page loads in headless chromium ${await browser.version()}, median of ${RUNS} (${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)})\n`,
    );
    console.log('| page | first byte | full load | target 300 ms | v3 API JSON of the same apps (reference) |');
    console.log('|---|---|---|---|---|');
    console.log(
      `| app page, 1,000 apps in the space (developer) | ${ms(appPage.ttfb)} | ${ms(appPage.load)} | ${verdict(appPage.load)} | ${ms(appApi)} (1,000 apps) |`,
    );
    console.log(
      `| home, 10,000 apps in 100 orgs (admin) | ${ms(homePage.ttfb)} | ${ms(homePage.load)} | ${verdict(homePage.load)} | ${ms(homeApi)} (first 5,000 apps) |`,
    );
    console.log(`\n${JSON.stringify({ appPage, homePage, appApiMs: appApi, homeApiMs: homeApi })}`);
  } finally {
    await browser.close();
    await serve.stop();
    await dir.cleanup();
  }
}

await main();
