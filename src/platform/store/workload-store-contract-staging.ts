import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newGuid } from '../model.js';
import type { Build } from '../workload.js';
import { ALL, guids, q, refused } from './platform-store-fixture.js';
import type { WorkloadHarness } from './workload-store-fixture.js';

const CLAIM_STALE_MS = 60_000;
const before = (iso: string, ms: number) => new Date(Date.parse(iso) - ms).toISOString();

/** The WorkloadStore contract, part 1: packages, builds and the staging queue, droplets and an app's current droplet. */
export function stagingContract(h: WorkloadHarness): void {
  describe('packages', () => {
    it('creates, reads and updates a package; clears an optional field given as undefined', async () => {
      const { app } = await h.fx.world();
      const pkg = await h.fx.package(app);
      assert.equal(pkg.state, 'AWAITING_UPLOAD');
      assert.deepEqual(await h.workloads.getPackage(pkg.guid), pkg);
      const ready = await h.workloads.updatePackage(pkg.guid, { state: 'READY', checksum: 'sha256:abc' });
      assert.equal(ready?.state, 'READY');
      assert.equal(ready?.checksum, 'sha256:abc');
      const failed = await h.workloads.updatePackage(pkg.guid, { state: 'FAILED', error: 'upload broke' });
      assert.equal(failed?.checksum, 'sha256:abc', 'a field left out is kept');
      assert.equal(failed?.error, 'upload broke');
      const cleared = await h.workloads.updatePackage(pkg.guid, { error: undefined });
      assert.equal(cleared?.error, undefined);
      assert.equal(cleared?.state, 'FAILED');
      assert.equal(await h.workloads.updatePackage(newGuid(), { state: 'READY' }), undefined);
      assert.equal(await h.workloads.getPackage(newGuid()), undefined);
      const docker = await h.fx.package(app, { type: 'docker', image: 'nginx:1', state: 'READY' });
      assert.deepEqual(await h.workloads.getPackage(docker.guid), docker);
    });

    it("refuses a package of an app that does not exist (CC's text)", async () => {
      const { space } = await h.fx.world();
      const ghost = h.fx.appValue(space, 'ghost');
      await refused(
        h.workloads.createPackage(h.fx.packageValue(ghost)),
        'NOT_FOUND',
        'App is invalid. Ensure it exists and you have access to it.',
        'app',
      );
    });

    it('lists packages by app, state and guid, oldest first or newest first (-created_at, as the cf CLI asks)', async () => {
      const { space, app } = await h.fx.world();
      const other = await h.fx.app(space, 'api');
      const a = await h.fx.package(app);
      const b = await h.fx.package(app, { state: 'READY' });
      const c = await h.fx.package(other, { state: 'READY' });
      const list = async (filter: Parameters<typeof h.workloads.listPackages>[1], orderBy = 'created_at') =>
        (await h.workloads.listPackages(q({ orderBy }), filter, ALL)).items.map((p) => p.guid);
      assert.deepEqual(await list({}), [a.guid, b.guid, c.guid]);
      assert.deepEqual(await list({}, '-created_at'), [c.guid, b.guid, a.guid]);
      assert.deepEqual(await list({ appGuids: [app.guid] }, '-created_at'), [b.guid, a.guid]);
      assert.deepEqual(await list({ states: ['READY'] }), [b.guid, c.guid]);
      assert.deepEqual(await list({ guids: [c.guid, a.guid] }), [a.guid, c.guid]);
      assert.deepEqual(await list({ appGuids: [] }), [], 'an empty list matches nothing');
      const page = await h.workloads.listPackages(q({ perPage: 2, page: 2 }), {}, ALL);
      assert.deepEqual(
        page.items.map((p) => p.guid),
        [c.guid],
      );
      assert.equal(page.total, 3);
      await refused(h.workloads.listPackages(q({ orderBy: 'name' }), {}, ALL), 'INVALID_ARGUMENT');
    });
  });

  describe('builds', () => {
    it('creates, reads and updates a build: staged with a droplet, or failed with its error', async () => {
      const { app } = await h.fx.world();
      const pkg = await h.fx.package(app, { state: 'READY' });
      const build = await h.fx.build(pkg, { createdBy: { guid: newGuid(), name: 'alice' } });
      assert.deepEqual(await h.workloads.getBuild(build.guid), build);
      assert.equal(build.workerId, undefined);
      const droplet = await h.fx.droplet(app, { buildGuid: build.guid, packageGuid: pkg.guid });
      const staged = await h.workloads.updateBuild(build.guid, { state: 'STAGED', dropletGuid: droplet.guid });
      assert.equal(staged?.state, 'STAGED');
      assert.equal(staged?.dropletGuid, droplet.guid);
      assert.deepEqual(staged?.createdBy, build.createdBy);
      const other = await h.fx.build(pkg);
      const failed = await h.workloads.updateBuild(other.guid, {
        state: 'FAILED',
        error: 'BuildpackCompileFailed - App staging failed in the buildpack compile phase',
      });
      assert.equal(failed?.error, 'BuildpackCompileFailed - App staging failed in the buildpack compile phase');
      assert.equal(failed?.dropletGuid, undefined);
      assert.equal(await h.workloads.updateBuild(newGuid(), { state: 'FAILED' }), undefined);
    });

    it("refuses a build of a package that does not exist or is another app's", async () => {
      const { space, app } = await h.fx.world();
      const other = await h.fx.app(space, 'api');
      const pkg = await h.fx.package(other);
      const text = 'Unable to use package. Ensure that the package exists and you have access to it.';
      await refused(h.workloads.createBuild(h.fx.buildValue(h.fx.packageValue(app))), 'NOT_FOUND', text, 'package');
      await refused(
        h.workloads.createBuild(h.fx.buildValue(pkg, { appGuid: app.guid })),
        'INVALID_ARGUMENT',
        text,
        'package',
      );
    });

    it('lists builds by app, package and state', async () => {
      const { space, app } = await h.fx.world();
      const api = await h.fx.app(space, 'api');
      const p1 = await h.fx.package(app);
      const p2 = await h.fx.package(api);
      const b1 = await h.fx.build(p1);
      const b2 = await h.fx.build(p1, { state: 'FAILED', error: 'x' });
      const b3 = await h.fx.build(p2);
      const list = async (filter: Parameters<typeof h.workloads.listBuilds>[1], orderBy = 'created_at') =>
        (await h.workloads.listBuilds(q({ orderBy }), filter, ALL)).items.map((b) => b.guid);
      assert.deepEqual(await list({}), [b1.guid, b2.guid, b3.guid]);
      assert.deepEqual(await list({ appGuids: [app.guid] }, '-created_at'), [b2.guid, b1.guid]);
      assert.deepEqual(await list({ packageGuids: [p2.guid] }), [b3.guid]);
      assert.deepEqual(await list({ states: ['STAGING'] }), [b1.guid, b3.guid]);
      assert.deepEqual(await list({ states: ['STAGING'], appGuids: [api.guid] }), [b3.guid]);
    });
  });

  describe('the staging queue', () => {
    it('gives the oldest STAGING build nobody holds, then the next; none when all are held', async () => {
      const { app } = await h.fx.world();
      const pkg = await h.fx.package(app, { state: 'READY' });
      await h.fx.build(pkg, { state: 'STAGED' });
      const first = await h.fx.build(pkg);
      const second = await h.fx.build(pkg);
      await h.fx.build(pkg, { state: 'FAILED', error: 'x' });
      const at = h.fx.time();
      const stale = before(at, CLAIM_STALE_MS);
      const one = await h.workloads.claimBuild('host:1', at, stale);
      assert.equal(one?.guid, first.guid);
      assert.equal(one?.workerId, 'host:1');
      assert.equal(one?.claimedAt, at);
      assert.equal(one?.state, 'STAGING');
      assert.deepEqual(await h.workloads.getBuild(first.guid), one, 'the claim is stored');
      const two = await h.workloads.claimBuild('host:2', at, stale);
      assert.equal(two?.guid, second.guid);
      assert.equal(await h.workloads.claimBuild('host:3', at, stale), undefined);
    });

    it('gives a build again when its claim went stale; a heartbeat keeps it, and only its holder can beat', async () => {
      const { app } = await h.fx.world();
      const pkg = await h.fx.package(app, { state: 'READY' });
      const build = await h.fx.build(pkg);
      const t0 = h.fx.time();
      assert.equal((await h.workloads.claimBuild('w1', t0, before(t0, CLAIM_STALE_MS)))?.guid, build.guid);
      const t1 = new Date(Date.parse(t0) + 30_000).toISOString();
      assert.equal(await h.workloads.claimBuild('w2', t1, before(t1, CLAIM_STALE_MS)), undefined, 'fresh: held');
      assert.equal(await h.workloads.touchBuildClaim(build.guid, 'w2', t1), false, 'not its claim');
      assert.equal(await h.workloads.touchBuildClaim(build.guid, 'w1', t1), true);
      const t2 = new Date(Date.parse(t0) + 80_000).toISOString();
      assert.equal(
        await h.workloads.claimBuild('w2', t2, before(t2, CLAIM_STALE_MS)),
        undefined,
        'the heartbeat at t1 keeps it past t0 + 60 s',
      );
      const t3 = new Date(Date.parse(t1) + 61_000).toISOString();
      const taken = await h.workloads.claimBuild('w2', t3, before(t3, CLAIM_STALE_MS));
      assert.equal(taken?.guid, build.guid, 'no heartbeat for over 60 s: taken again');
      assert.equal(taken?.workerId, 'w2');
      assert.equal(await h.workloads.touchBuildClaim(build.guid, 'w1', t3), false, 'the old holder lost it');
      await h.workloads.updateBuild(build.guid, { state: 'STAGED' });
      assert.equal(await h.workloads.touchBuildClaim(build.guid, 'w2', t3), false, 'a finished build has no claim');
      const t4 = new Date(Date.parse(t3) + 3_600_000).toISOString();
      assert.equal(await h.workloads.claimBuild('w3', t4, before(t4, CLAIM_STALE_MS)), undefined);
    });

    it('gives each build to exactly one of many workers claiming at once', async () => {
      const { app } = await h.fx.world();
      const pkg = await h.fx.package(app, { state: 'READY' });
      const builds: Build[] = [];
      for (let i = 0; i < 20; i++) builds.push(await h.fx.build(pkg));
      const at = h.fx.time();
      const stale = before(at, CLAIM_STALE_MS);
      const worker = async (id: string) => {
        const got: string[] = [];
        for (;;) {
          const b = await h.workloads.claimBuild(id, at, stale);
          if (b === undefined) return got;
          assert.equal(b.workerId, id);
          got.push(b.guid);
        }
      };
      const results = await Promise.all(['a:1', 'b:2', 'c:3', 'd:4'].map(worker));
      const all = results.flat();
      assert.equal(all.length, builds.length, 'no build given twice');
      assert.deepEqual([...all].sort(), guids(builds));
      for (const [i, id] of ['a:1', 'b:2', 'c:3', 'd:4'].entries()) {
        for (const guid of results[i]!) assert.equal((await h.workloads.getBuild(guid))?.workerId, id);
      }
    });
  });

  describe('droplets', () => {
    it('creates, reads and updates a droplet (a rebase moves its digest and stack version)', async () => {
      const { space, app } = await h.fx.world();
      const pkg = await h.fx.package(app);
      const build = await h.fx.build(pkg);
      const droplet = await h.fx.droplet(app, {
        buildGuid: build.guid,
        packageGuid: pkg.guid,
        processTypes: { web: 'npm start', worker: 'node worker.js' },
        executionMetadata: '{"entrypoint":["/cnb/lifecycle/launcher"]}',
      });
      assert.deepEqual(await h.workloads.getDroplet(droplet.guid), droplet);
      const rebased = await h.fx.droplet(app, { rebasedFrom: droplet.guid, stackVersion: '1.0.1' });
      assert.equal((await h.workloads.getDroplet(rebased.guid))?.rebasedFrom, droplet.guid);
      const moved = await h.workloads.updateDroplet(droplet.guid, {
        digest: `sha256:${'b'.repeat(64)}`,
        stackVersion: '1.0.2',
      });
      assert.equal(moved?.digest, `sha256:${'b'.repeat(64)}`);
      assert.equal(moved?.stackVersion, '1.0.2');
      assert.deepEqual(moved?.processTypes, droplet.processTypes, 'left out: kept');
      assert.equal(
        (await h.workloads.updateDroplet(droplet.guid, { state: 'EXPIRED', processTypes: {} }))?.state,
        'EXPIRED',
      );
      assert.equal(await h.workloads.updateDroplet(newGuid(), { state: 'EXPIRED' }), undefined);
      await refused(
        h.workloads.createDroplet(h.fx.dropletValue(h.fx.appValue(space, 'ghost'))),
        'NOT_FOUND',
        /^App with guid ".*" does not exist, or you do not have access to it\.$/,
        'app',
      );
    });

    it('lists droplets by app, package, state and stack', async () => {
      const { space, app } = await h.fx.world();
      const api = await h.fx.app(space, 'api');
      const pkg = await h.fx.package(app);
      const d1 = await h.fx.droplet(app, { packageGuid: pkg.guid });
      const d2 = await h.fx.droplet(app, { state: 'FAILED', stack: 'jammy' });
      const d3 = await h.fx.droplet(api);
      const list = async (filter: Parameters<typeof h.workloads.listDroplets>[1], orderBy = 'created_at') =>
        (await h.workloads.listDroplets(q({ orderBy }), filter, ALL)).items.map((d) => d.guid);
      assert.deepEqual(await list({}), [d1.guid, d2.guid, d3.guid]);
      assert.deepEqual(await list({}, '-created_at'), [d3.guid, d2.guid, d1.guid]);
      assert.deepEqual(await list({ appGuids: [app.guid] }), [d1.guid, d2.guid]);
      assert.deepEqual(await list({ packageGuids: [pkg.guid] }), [d1.guid]);
      assert.deepEqual(await list({ states: ['STAGED'] }), [d1.guid, d3.guid]);
      assert.deepEqual(await list({ stacks: ['jammy'] }), [d2.guid]);
    });

    it("sets an app's current droplet only to its own STAGED one (CC's 422 text), and clears it", async () => {
      const { space, app } = await h.fx.world();
      const api = await h.fx.app(space, 'api');
      assert.equal(await h.workloads.currentDroplet(app.guid), undefined);
      assert.equal((await h.platform.getApp(app.guid))?.currentDropletGuid, undefined);
      const droplet = await h.fx.droplet(app);
      await h.workloads.setCurrentDroplet(app.guid, droplet.guid);
      assert.deepEqual(await h.workloads.currentDroplet(app.guid), droplet);
      assert.equal((await h.platform.getApp(app.guid))?.currentDropletGuid, droplet.guid);
      const listed = await h.platform.listApps(q(), { guids: [app.guid] }, ALL);
      assert.equal(listed.items[0]?.currentDropletGuid, droplet.guid);

      const text = 'Unable to assign current droplet. Ensure the droplet exists and belongs to this app.';
      const theirs = await h.fx.droplet(api);
      await refused(h.workloads.setCurrentDroplet(app.guid, theirs.guid), 'INVALID_ARGUMENT', text, 'droplet');
      const staging = await h.fx.droplet(app, { state: 'PROCESSING_UPLOAD' });
      await refused(h.workloads.setCurrentDroplet(app.guid, staging.guid), 'INVALID_ARGUMENT', text, 'droplet');
      await refused(h.workloads.setCurrentDroplet(app.guid, newGuid()), 'INVALID_ARGUMENT', text, 'droplet');
      await refused(h.workloads.setCurrentDroplet(newGuid(), droplet.guid), 'NOT_FOUND', undefined, 'app');
      assert.equal((await h.workloads.currentDroplet(app.guid))?.guid, droplet.guid, 'a refusal changes nothing');

      await refused(
        h.platform.updateApp(app.guid, { currentDropletGuid: theirs.guid }),
        'INVALID_ARGUMENT',
        text,
        'droplet',
      );
      const next = await h.fx.droplet(app);
      assert.equal(
        (await h.platform.updateApp(app.guid, { currentDropletGuid: next.guid }))?.currentDropletGuid,
        next.guid,
      );
      await h.workloads.setCurrentDroplet(app.guid, null);
      assert.equal(await h.workloads.currentDroplet(app.guid), undefined);
      assert.equal((await h.platform.getApp(app.guid))?.currentDropletGuid, undefined);
    });

    it('keeps an app auto-rebased unless pinned, through create, update, get and list', async () => {
      const { space, app } = await h.fx.world();
      assert.equal(app.autoRebase, true, 'the default');
      const pinned = await h.fx.app(space, 'pinned', { autoRebase: false });
      assert.equal(pinned.autoRebase, false);
      assert.equal((await h.platform.getApp(pinned.guid))?.autoRebase, false);
      assert.equal((await h.platform.updateApp(app.guid, { autoRebase: false }))?.autoRebase, false);
      assert.equal((await h.platform.updateApp(app.guid, { name: 'renamed' }))?.autoRebase, false, 'kept');
      assert.equal((await h.platform.updateApp(pinned.guid, { autoRebase: true }))?.autoRebase, true);
      const page = await h.platform.listApps(q({ orderBy: 'name' }), { spaceGuids: [space.guid] }, ALL);
      assert.deepEqual(
        page.items.map((a) => [a.name, a.autoRebase]),
        [
          ['pinned', true],
          ['renamed', false],
        ],
      );
      await refused(
        h.platform.createApp(h.fx.appValue(space, 'early', { currentDropletGuid: newGuid() })),
        'INVALID_ARGUMENT',
        'Unable to assign current droplet. Ensure the droplet exists and belongs to this app.',
        'droplet',
      );
    });
  });
}
