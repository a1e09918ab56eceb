import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { Digest } from '../src/oci/digest.js';
import { imageVulnerabilities, summarize, type Finding } from '../src/platform/dashboard/image-vulnerabilities.js';
import type { Droplet } from '../src/platform/workload.js';
import { generateSbom } from '../src/sbom/sbom.js';
import type { SbomComponent } from '../src/sbom/types.js';
import { summaryText } from '../src/server/web/pages/image-page.js';
import { importAdvisories } from '../src/vuln/import.js';
import { checkPage, chromiumMissing, foreignHosts, launch, signIn, type Viewer, viewer } from './dashboard-browser.js';
import { commandExists, ROOT } from './helpers.js';
import { type RunningPlatform, startRunningPlatform } from './platform-apps.js';

/**
 * The image page's SBOM and vulnerability data and the app page's count, in chromium,
 * for an app really staged (the Procfile example on the default stack, left stopped):
 * before any advisory is imported both pages say there is no vulnerability data, the
 * layers still count their packages; then a Debian tracker JSON and an OSV record,
 * written here from the formats for packages the image's SBOM lists, are imported and
 * the image page lists the three findings (package, versions, severity, layer, remedy)
 * and the app page counts them, linking to the image page. axe passes on every page.
 */

const PW = 'developer-secret-2';
const runs = process.getuid?.() === 0 && commandExists('runc');
const skip = chromiumMissing() || (runs ? false : 'needs root and runc (staging)');

describe('dashboard: an app image’s SBOM and vulnerabilities', { skip, timeout: 15 * 60_000 }, () => {
  let p: RunningPlatform;
  let browser: Browser;
  let dev: Viewer;
  let appGuid = '';
  let digest: Digest;
  let components: SbomComponent[] = [];
  const pkg = (name: string) => {
    const c = components.find((x) => x.ecosystem === 'deb' && x.name === name);
    assert.ok(c, `the image's SBOM lists ${name}`);
    return { ...c, source: c.source ?? c.name, sourceVersion: c.sourceVersion ?? c.version };
  };

  before(async () => {
    p = await startRunningPlatform('dashboard-vulns');
    const user = await p.client.createUser(p.admin, 'dev', PW);
    await p.client.orgRole(p.admin, user, p.org, 'organization_user');
    await p.client.spaceRole(p.admin, user, p.space, 'space_developer');
    const token = await p.client.login('dev', PW);
    const pushed = await p.pusher.push(token, p.space, 'proc', join(ROOT, 'examples/procfile'), {
      noStart: true,
      buildTimeout: 900,
    });
    appGuid = pushed.app;
    digest = (await p.client.ok('GET', `/v3/droplets/${pushed.droplet}`, token)).checksum.value;
    digest = `sha256:${digest.replace(/^sha256:/, '')}` as Digest;
    const sbom = await generateSbom({ transport: 'local', name: `apps/${appGuid}`, digest }, async () => p.store, {
      attach: false,
    });
    components = sbom.inventory.components;
    browser = await launch();
    dev = await viewer(browser);
    await signIn(dev, p.server.url, 'dev', PW);
  });
  after(async () => {
    await browser?.close();
    await p?.close();
  });

  it('without advisories: both pages say there is no vulnerability data; the layers count their packages', async () => {
    const page = dev.page;
    await page.goto(`${p.server.url}/web/apps/${appGuid}/image`);
    assert.equal(await page.locator('#image-digest').textContent(), digest);
    assert.equal(
      await page.locator('#vuln-note').textContent(),
      'No vulnerability data: import advisories with slipway vulndb import.',
    );
    assert.equal(await page.locator('tr.finding').count(), 0);
    const base = components.filter((c) => c.ecosystem === 'deb' && c.layer === pkg('bash').layer).length;
    assert.ok(base > 10, `the base has Debian packages (${base})`);
    assert.match(await page.locator('li.layer.kind-stack').first().innerText(), new RegExp(`\\b${base} packages\\b`));
    await checkPage(page, 'vulns-image-no-data');
    await page.goto(`${p.server.url}/web/apps/${appGuid}`);
    assert.equal(
      await page.locator('#vulnerabilities').textContent(),
      'No vulnerability data: import advisories with slipway vulndb import.',
    );
    await checkPage(page, 'vulns-app-no-data');
  });

  it('with a Debian tracker JSON and an OSV record imported: the findings on the image page, their count on the app page', async () => {
    const zlib = pkg('zlib1g');
    const bash = pkg('bash');
    const adduser = pkg('adduser');
    // Fixed versions just above what the image has: affected, and no version of the stack has the fix.
    const zlibFix = `${zlib.sourceVersion}+deb12u99`;
    const bashFix = `${bash.sourceVersion}+deb12u99`;
    const tracker = {
      [zlib.source]: {
        'CVE-2099-7001': {
          description: 'zlib overflows',
          scope: 'remote',
          releases: { bookworm: { status: 'resolved', fixed_version: zlibFix, urgency: 'high' } },
        },
      },
      [adduser.source]: { 'CVE-2099-7002': { releases: { bookworm: { status: 'open', urgency: 'low' } } } },
    };
    const osv = {
      schema_version: '1.6.0',
      id: 'DSA-9999-1',
      modified: '2099-01-01T00:00:00Z',
      aliases: ['CVE-2099-7003'],
      summary: 'bash runs what it should not',
      affected: [
        {
          package: { ecosystem: 'Debian:12', name: bash.source },
          ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: bashFix }] }],
        },
      ],
      database_specific: { severity: 'CRITICAL' },
    };
    const trackerFile = join(p.home, 'tracker.json');
    const osvFile = join(p.home, 'DSA-9999-1.json');
    await writeFile(trackerFile, JSON.stringify(tracker));
    await writeFile(osvFile, JSON.stringify(osv));
    assert.equal((await importAdvisories(p.home, trackerFile)).added, 2);
    assert.equal((await importAdvisories(p.home, osvFile)).added, 1);

    const page = dev.page;
    await page.goto(`${p.server.url}/web/apps/${appGuid}/image`);
    assert.equal(await page.locator('#vuln-note').textContent(), '3 known vulnerabilities (1 critical, 1 high).');
    assert.match(await page.locator('main').innerText(), /Checked against 3 advisories, imported 2\d{3}-/);
    const row = async (cve: string) =>
      (await page.locator(`tr.finding[data-cve="${cve}"]`).innerText()).replace(/\s+/g, ' ').trim();
    assert.equal(
      await row('CVE-2099-7001'),
      `CVE-2099-7001 zlib1g${zlib.source !== 'zlib1g' ? ` (source ${zlib.source})` : ''} ${zlib.version} → ${zlibFix} high base no fixed stack version yet (fixed in ${zlibFix})`,
    );
    assert.match(
      await row('CVE-2099-7003'),
      new RegExp(
        `^CVE-2099-7003 \\(DSA-9999-1\\) bash .*→ ${reEscape(bashFix)} critical base no fixed stack version yet`,
      ),
    );
    assert.match(
      await row('CVE-2099-7002'),
      /^CVE-2099-7002 adduser \S+ → no fix yet low base no fixed stack version yet$/,
    );
    // Most severe first.
    assert.deepEqual(
      await page.locator('tr.finding').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-cve'))),
      ['CVE-2099-7003', 'CVE-2099-7001', 'CVE-2099-7002'],
    );
    assert.match(await page.locator('li.layer.kind-stack').first().innerText(), /\b3 vulnerabilities\b/);
    assert.equal(await page.locator('li.layer.kind-app a.vulns').count(), 0, 'none in the app layer');
    await checkPage(page, 'vulns-image-findings');

    await page.goto(`${p.server.url}/web/apps/${appGuid}`);
    const count = page.locator('#vulnerabilities a');
    assert.equal(await count.textContent(), '3 known vulnerabilities (1 critical, 1 high)');
    await checkPage(page, 'vulns-app-count');
    await count.click();
    await page.waitForURL(`${p.server.url}/web/apps/${appGuid}/image#vulns-h`);
    assert.equal(await page.locator('tr.finding').count(), 3);
    assert.deepEqual(
      foreignHosts(dev.requests, new URL(p.server.url).host),
      [],
      'no request to any host but the server',
    );
  });

  it('an image that cannot be scanned is a short note, not an error of the page', async () => {
    const missing = { appGuid, digest: `sha256:${'0'.repeat(64)}` } as Droplet;
    const v = await imageVulnerabilities(p.store, missing);
    assert.equal(v.vulnerabilities.state, 'error');
    assert.equal(v.components, undefined);
    assert.deepEqual(v.findingsByLayer, {});
  });
});

describe('the vulnerability summary of the app page', () => {
  const finding = (severity: Finding['severity'], rebaseTo?: string): Finding => ({
    cve: 'CVE-2099-1',
    advisory: 'CVE-2099-1',
    ecosystem: 'deb',
    package: 'p',
    installed: '1',
    source: 'p',
    severity,
    layer: 'sha256:x',
    where: 'base',
    remedy: '',
    ...(rebaseTo ? { fixed: '2', rebaseTo: { stack: 'default', version: rebaseTo } } : {}),
  });

  it('counts by severity, and says when a rebase fixes them', () => {
    assert.equal(
      summaryText(summarize([finding('critical', '3'), finding('low', '2'), finding('medium', '3')])),
      '3 known vulnerabilities (1 critical) - fixed by rebasing to default version 3',
    );
    assert.equal(
      summaryText(summarize([finding('high', '2'), finding('high')])),
      '2 known vulnerabilities (2 high) - 1 fixed by rebasing to default version 2',
    );
    assert.equal(summaryText(summarize([finding('low')])), '1 known vulnerability');
  });
});

function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
