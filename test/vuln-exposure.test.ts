import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { appRepository } from '../src/platform/app-images.js';
import { cveExposure } from '../src/platform/exposure.js';
import { SqlitePlatformStore } from '../src/platform/store/sqlite-platform-store.js';
import { WorkloadFixture } from '../src/platform/store/workload-store-fixture.js';
import type { Visibility } from '../src/platform/store/platform-store.js';
import { createStack } from '../src/stack/index.js';
import { LocalStore } from '../src/store/local-store.js';
import { importAdvisories } from '../src/vuln/import.js';
import { VulnDb } from '../src/vuln/vuln-db.js';
import { layerOf, localImage, makeApp } from './rebase-fixtures.js';
import { slipway, tempDir } from './helpers.js';

/**
 * "Which running apps have CVE-X?" on a platform's own stores: apps whose instances run
 * an image with the CVE are listed with org and space (one running it, one crashed on
 * it, one running an image without it, one whose old droplet still runs mid-rollout);
 * images never inventoried are inventoried on the way; a user sees only their spaces;
 * the CLI finds the home's platform database by itself.
 */
let home: { path: string; cleanup: () => Promise<void> };
let store: LocalStore;
let platform: SqlitePlatformStore;
let f: WorkloadFixture;

async function rootfs(dir: string, libfoo: string): Promise<void> {
  await mkdir(join(dir, 'etc'), { recursive: true });
  await mkdir(join(dir, 'var/lib/dpkg'), { recursive: true });
  await writeFile(join(dir, 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n');
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\n');
  await writeFile(
    join(dir, 'var/lib/dpkg/status'),
    `Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nSource: foo\nVersion: ${libfoo}\n`,
  );
}

const TRACKER = {
  foo: {
    'CVE-2099-1111': {
      releases: { bookworm: { status: 'resolved', fixed_version: '1.2-1', urgency: 'high' } },
    },
  },
};

before(async () => {
  home = await tempDir('vuln-exposure');
  store = await LocalStore.open(home.path);
  platform = await SqlitePlatformStore.open(join(home.path, 'platform.sqlite'));
  f = new WorkloadFixture(platform, platform.workloads);
});

after(async () => {
  await platform?.close();
  await store?.close();
  await home?.cleanup();
});

describe('scan --cve: the running apps exposed', () => {
  test('lists each app running an affected image with its org, space and instances; not the crashed, the fixed or the invisible', async () => {
    const old = join(home.path, 'old');
    const patched = join(home.path, 'patched');
    await rootfs(old, '1.1-1');
    await rootfs(patched, '1.2-1');
    await createStack(store, 'vuln', {
      source: { kind: 'rootfs', build: old, run: old },
      cacheDir: join(home.path, 'c'),
    });
    await createStack(store, 'fixed', {
      source: { kind: 'rootfs', build: patched, run: patched },
      cacheDir: join(home.path, 'c'),
    });
    const vulnRun = await localImage(store, 'vuln/run:1');
    const fixedRun = await localImage(store, 'fixed/run:1');

    const org = await f.org('acme');
    const prod = await f.space(org, 'prod');
    const dev = await f.space(org, 'dev');
    const image = async (app: { guid: string; name: string }, stack: string, run: typeof vulnRun, tag: string) => {
      const layers = [await layerOf(store, { [`workspace/${app.name}.js`]: `console.log("${app.name} ${tag}")\n` })];
      return makeApp(store, stack, { image: run, digest: await run.digest() }, appRepository(app.guid), tag, layers);
    };
    const deploy = async (space: typeof prod, name: string, stack: string, state: 'RUNNING' | 'CRASHED') => {
      const app = await f.app(space, name, { state: 'STARTED' });
      const droplet = await f.droplet(app, {
        digest: await image(app, stack, stack === 'vuln' ? vulnRun : fixedRun, 'b1'),
        state: 'STAGED',
      });
      const web = await f.process(app, 'web', { instances: 2 });
      await f.instance(web, droplet, 0, { state });
      await f.instance(web, droplet, 1, { state });
      return { app, droplet, web };
    };
    const web = await deploy(prod, 'web', 'vuln', 'RUNNING');
    await deploy(prod, 'broken', 'vuln', 'CRASHED');
    const safe = await deploy(dev, 'safe', 'fixed', 'RUNNING');
    // Mid-rollout: one instance on the patched droplet, one still on the old, vulnerable one.
    const rolling = await deploy(dev, 'rolling', 'vuln', 'RUNNING');
    const patchedDroplet = await f.droplet(rolling.app, {
      digest: await image(rolling.app, 'fixed', fixedRun, 'b2'),
      state: 'STAGED',
    });
    await f.instance(rolling.web, patchedDroplet, 2, { state: 'RUNNING' });

    await writeFile(join(home.path, 'tracker.json'), JSON.stringify(TRACKER));
    await importAdvisories(store.home, join(home.path, 'tracker.json'));
    // Nothing was scanned yet: the exposure inventories what runs.
    const db = VulnDb.open(store.home);
    assert.equal(db.inventory(web.droplet.digest), undefined);
    db.close();

    const all: Visibility = { kind: 'all' };
    const exposure = await cveExposure(
      { store: platform, workloads: platform.workloads, images: store, visibility: all },
      'CVE-2099-1111',
    );
    assert.deepEqual(
      exposure.apps.map((a) => [a.org.name, a.space.name, a.app.name, a.instances, a.findings.map((x) => x.package)]),
      [
        ['acme', 'dev', 'rolling', { web: 2 }, ['libfoo1']],
        ['acme', 'prod', 'web', { web: 2 }, ['libfoo1']],
      ],
    );
    assert.equal(exposure.apps.find((a) => a.app.name === 'web')?.image, web.droplet.digest);
    assert.equal(exposure.apps.find((a) => a.app.name === 'rolling')?.droplet, rolling.droplet.guid);
    assert.ok(!exposure.apps.some((a) => a.image === safe.droplet.digest || a.image === patchedDroplet.digest));
    // Images are those inventoried: what runs (the crashed app's image was never scanned, so it is not known here).
    assert.deepEqual(exposure.images.map((i) => i.image).sort(), [web.droplet.digest, rolling.droplet.digest].sort());

    // A developer of dev sees dev's app only.
    const dana = await f.user('dana');
    await f.member(dana, dev);
    const mine = await cveExposure(
      {
        store: platform,
        workloads: platform.workloads,
        images: store,
        visibility: await f.spaceVisibility(dana),
      },
      'CVE-2099-1111',
    );
    assert.deepEqual(
      mine.apps.map((a) => a.app.name),
      ['rolling'],
    );

    // The CLI finds the home's platform.sqlite itself.
    const cli = await slipway(home.path, ['scan', '--json', '--cve', 'CVE-2099-1111']);
    assert.equal(cli.code, 0, cli.stderr);
    const parsed = JSON.parse(cli.stdout) as {
      apps: { org: { name: string }; space: { name: string }; app: { name: string } }[];
    };
    assert.deepEqual(
      parsed.apps.map((a) => `${a.org.name}/${a.space.name}/${a.app.name}`),
      ['acme/dev/rolling', 'acme/prod/web'],
    );
    const text = await slipway(home.path, ['scan', '--cve', 'CVE-2099-1111']);
    assert.match(text.stdout, /2 running apps have it:\n {2}acme\/dev\/rolling \(web x2, sha256:[0-9a-f]{12}\): /);
  });
});
