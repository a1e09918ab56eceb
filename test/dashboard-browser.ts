import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { ROOT } from './helpers.js';

/**
 * TEST SUPPORT for the dashboard's browser tests: Debian's chromium, headless, driven
 * by playwright-core; each signed-in user a context of its own (its own cookies) that
 * logs every request the page makes; axe-core run in the page; screenshots under
 * tmp/dashboard-screenshots (gitignored).
 */

export const CHROMIUM = process.env.SLIPWAY_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, 'tmp', 'dashboard-screenshots');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

export function chromiumMissing(): string | false {
  return existsSync(CHROMIUM) ? false : `needs chromium (${CHROMIUM}): bash scripts/install.sh --test`;
}

export async function launch(): Promise<Browser> {
  // --no-sandbox: the tests run as root, where chromium's own sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
}

export interface Viewer {
  context: BrowserContext;
  page: Page;
  /** Every URL the pages of this context requested. */
  requests: string[];
}

export async function viewer(browser: Browser, options: { mobile?: boolean } = {}): Promise<Viewer> {
  // bypassCSP lets the test inject axe-core; the pages' own policy allows no script but theirs.
  const context = await browser.newContext({
    bypassCSP: true,
    viewport: options.mobile ? { width: 390, height: 844 } : { width: 1366, height: 800 },
  });
  const requests: string[] = [];
  context.on('request', (r) => requests.push(r.url()));
  const page = await context.newPage();
  return { context, page, requests };
}

/** Signs in through the form, as a person would (keyboard: fill the fields, Enter). */
export async function signIn(v: Viewer, base: string, username: string, password: string): Promise<void> {
  await v.page.goto(`${base}/`);
  assert.match(new URL(v.page.url()).pathname, /^\/web\/login$/, 'a visitor without a session is sent to sign in');
  await v.page.getByLabel('User name').fill(username);
  await v.page.getByLabel('Password').fill(password);
  await v.page.getByLabel('Password').press('Enter');
  await v.page.waitForURL(`${base}/`);
}

/** axe-core in the page: the violations of impact serious or critical (none is the goal). */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE });
  // A string: the function runs in the page, where `axe` and `document` are (not in this file's Node types).
  const result = (await page.evaluate("axe.run(document, { resultTypes: ['violations'] })")) as {
    violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[];
  };
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** A screenshot of the whole page, and the accessibility check that must pass on it. */
export async function checkPage(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  assert.deepEqual(await seriousViolations(page), [], `${name}: accessibility`);
}

/** The hosts the requests went to, other than `host`. */
export function foreignHosts(requests: string[], host: string): string[] {
  return [...new Set(requests.map((u) => new URL(u).host))].filter((h) => h !== host);
}
