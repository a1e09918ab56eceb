import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { homeSummary } from '../src/platform/dashboard/home-summary.js';
import { stackOverview } from '../src/platform/dashboard/stack-overview.js';
import type { App, Role, User } from '../src/platform/model.js';
import { Permissions } from '../src/platform/policy.js';
import { SqlitePlatformStore } from '../src/platform/store/sqlite-platform-store.js';
import { WorkloadFixture } from '../src/platform/store/workload-store-fixture.js';
import { ensureDefaultStack } from '../src/stack/default-stack.js';
import { LocalStore } from '../src/store/local-store.js';
import { tempDir } from './helpers.js';

/**
 * The dashboard's platform queries on the SQLite store and a real default stack (from
 * the stack cache): the home page's counts (running, crashed, staging, stopped) and
 * apps behind on patches, a stack's apps per version and blast radius, each only over
 * what the viewer's roles let them read.
 */
describe('dashboard queries: home counts, apps behind, a stack overview, by visibility', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let store: SqlitePlatformStore;
  let images: LocalStore;
  let latest: string;
  let dev: User;
  let devRoles: Role[];
  let admin: User;
  const apps: Record<string, App> = {};

  before(async () => {
    dir = await tempDir('dashboard-queries');
    images = await LocalStore.open(join(dir.path, 'home'));
    latest = (await ensureDefaultStack(images)).version;
    store = await SqlitePlatformStore.open(join(dir.path, 'platform.sqlite'));
    const f = new WorkloadFixture(store, store.workloads);
    admin = await f.user('root', ['admin']);
    dev = await f.user('dev');
    const acme = await f.org('acme');
    const globex = await f.org('globex');
    const dash = await f.space(acme, 'dash');
    const far = await f.space(globex, 'far');
    await f.member(dev, dash, 'space_developer');
    devRoles = (
      await store.listRoles({ page: 1, perPage: 50, orderBy: 'created_at' }, { userGuids: [dev.guid] }, { kind: 'all' })
    ).items;
    /** An app with a web process, a current droplet on `version` and one instance in `state`. */
    const make = async (
      space: typeof dash,
      name: string,
      o: { started: boolean; version?: string; instance?: 'RUNNING' | 'CRASHED'; staging?: boolean; pinned?: boolean },
    ) => {
      let app = await f.app(space, name, {
        state: o.started ? 'STARTED' : 'STOPPED',
        ...(o.pinned ? { autoRebase: false } : {}),
      });
      const process = await f.process(app);
      if (o.version) {
        const droplet = await f.droplet(app, { stack: 'default', stackVersion: o.version });
        await store.workloads.setCurrentDroplet(app.guid, droplet.guid);
        if (o.instance) await f.instance(process, droplet, 0, { state: o.instance });
      }
      if (o.staging) await f.build(await f.package(app), { state: 'STAGING' });
      app = (await store.getApp(app.guid))!;
      apps[name] = app;
    };
    await make(dash, 'serving', { started: true, version: latest, instance: 'RUNNING' });
    await make(dash, 'crashing', { started: true, version: `${latest}-old`, instance: 'CRASHED' });
    await make(dash, 'building', { started: false, staging: true });
    await make(dash, 'parked', { started: false, version: `${latest}-old`, pinned: true });
    await make(far, 'elsewhere', { started: true, version: `${latest}-old`, instance: 'RUNNING' });
  });
  after(async () => {
    await store?.close();
    await images?.close();
    await dir?.cleanup();
  });

  const devPerms = () => new Permissions({ kind: 'user', user: dev, roles: devRoles });
  const adminPerms = () => new Permissions({ kind: 'user', user: admin, roles: [] });

  // A stopped app with a build in progress counts as staging, not stopped.
  it("a developer's home: the counts of their space only, and its apps behind on patches", async () => {
    const s = await homeSummary({ perms: devPerms(), store, workloads: store.workloads, images });
    assert.deepEqual(s.totals, { apps: 4, running: 1, crashed: 1, staging: 1, stopped: 1, behind: 2 });
    assert.deepEqual(
      s.orgs.map((o) => [o.org.name, o.spaces.map((x) => x.space.name)]),
      [['acme', ['dash']]],
    );
    assert.deepEqual(s.behind.map((b) => [b.app.name, b.version, b.latest]).sort(), [
      ['crashing', `${latest}-old`, latest],
      ['parked', `${latest}-old`, latest],
    ]);
  });

  it("an admin's home counts every org; the other org's app is behind too", async () => {
    const s = await homeSummary({ perms: adminPerms(), store, workloads: store.workloads, images });
    assert.equal(s.totals.apps, 5);
    assert.equal(s.totals.running, 2);
    assert.equal(s.totals.behind, 3);
    assert.deepEqual(s.orgs.map((o) => [o.org.name, o.counts.apps]).sort(), [
      ['acme', 4],
      ['globex', 1],
    ]);
  });

  it("a stack's overview: apps per version and the blast radius (rolled, rebased only, pinned), within visibility", async () => {
    const o = await stackOverview({ perms: devPerms(), store, workloads: store.workloads, images }, 'default');
    const byVersion = Object.fromEntries(o.byVersion.map((v) => [v.version, v.apps.map((a) => a.name).sort()]));
    assert.deepEqual(byVersion[latest], ['serving']);
    assert.deepEqual(byVersion[`${latest}-old`], ['crashing', 'parked']);
    assert.deepEqual(o.blastRadius.roll.map((a) => a.name).sort(), ['crashing', 'serving']);
    assert.deepEqual(
      o.blastRadius.pinned.map((a) => a.name),
      ['parked'],
    );
    assert.deepEqual([o.onLatest, o.onStack], [1, 3]);
    const all = await stackOverview({ perms: adminPerms(), store, workloads: store.workloads, images }, 'default');
    assert.equal(all.onStack, 4, 'the admin sees the other org’s app on the stack too');
  });
});
