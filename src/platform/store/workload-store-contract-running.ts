import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newGuid } from '../model.js';
import { ALL, q, refused } from './platform-store-fixture.js';
import { sha1Of, type WorkloadHarness } from './workload-store-fixture.js';

/** The WorkloadStore contract, part 2: processes, instances, deployments, revisions and resource matching. */
export function runningContract(h: WorkloadHarness): void {
  describe('processes', () => {
    it('upserts by (app, type): a second upsert updates the one there (its guid and creation stay)', async () => {
      const { space, app } = await h.fx.world();
      const web = await h.fx.process(app, 'web');
      assert.deepEqual(await h.workloads.getProcess(web.guid), web);
      assert.deepEqual(await h.workloads.findProcess(app.guid, 'web'), web);
      const again = await h.workloads.upsertProcess(
        h.fx.processValue(app, 'web', {
          command: 'npm start',
          instances: 3,
          healthCheck: { type: 'http', endpoint: '/health' },
        }),
      );
      assert.equal(again.guid, web.guid);
      assert.equal(again.createdAt, web.createdAt);
      assert.equal(again.command, 'npm start');
      assert.equal(again.instances, 3);
      assert.deepEqual(again.healthCheck, { type: 'http', endpoint: '/health' });
      const worker = await h.fx.process(app, 'worker');
      assert.notEqual(worker.guid, web.guid);
      assert.equal(
        (await h.workloads.listProcesses(q(), { appGuids: [app.guid] }, ALL)).total,
        2,
        'one process per type',
      );
      assert.equal(await h.workloads.findProcess(app.guid, 'clock'), undefined);
      await refused(
        h.workloads.upsertProcess(h.fx.processValue(h.fx.appValue(space, 'ghost'))),
        'NOT_FOUND',
        undefined,
        'app',
      );
    });

    it("scales and updates a process; a null command goes back to the droplet's", async () => {
      const { app } = await h.fx.world();
      const web = await h.fx.process(app, 'web', { command: 'node a.js' });
      const scaled = await h.workloads.updateProcess(web.guid, { instances: 5, memoryMb: 512, diskMb: 2048 });
      assert.deepEqual(
        [scaled?.instances, scaled?.memoryMb, scaled?.diskMb, scaled?.command],
        [5, 512, 2048, 'node a.js'],
      );
      const reset = await h.workloads.updateProcess(web.guid, { command: null, healthCheck: { type: 'process' } });
      assert.equal(reset?.command, null);
      assert.deepEqual(reset?.healthCheck, { type: 'process' });
      assert.equal(reset?.instances, 5);
      assert.equal(await h.workloads.updateProcess(newGuid(), { instances: 1 }), undefined);
    });

    it("keeps a process's version (a restart's marker) through scales and upserts, and an instance's", async () => {
      const { app } = await h.fx.world();
      const web = await h.fx.process(app, 'web');
      assert.equal(web.version, undefined, 'never restarted');
      const renewed = await h.workloads.updateProcess(web.guid, { version: 'v2' });
      assert.equal(renewed?.version, 'v2');
      assert.equal((await h.workloads.updateProcess(web.guid, { instances: 3 }))?.version, 'v2');
      assert.equal((await h.workloads.upsertProcess({ ...web, instances: 2 })).version, 'v2');
      const droplet = await h.fx.droplet(app);
      const inst = h.fx.instanceValue(renewed!, droplet, 0);
      await h.workloads.putInstance({ ...inst, processVersion: 'v2' });
      assert.equal((await h.workloads.instancesOf(web.guid))[0]?.processVersion, 'v2');
    });

    it('lists processes by app, type, space and guid', async () => {
      const acme = await h.fx.org('acme');
      const dev = await h.fx.space(acme, 'dev');
      const prod = await h.fx.space(acme, 'prod');
      const a = await h.fx.app(dev, 'a');
      const b = await h.fx.app(prod, 'b');
      const aWeb = await h.fx.process(a, 'web');
      const aWorker = await h.fx.process(a, 'worker');
      const bWeb = await h.fx.process(b, 'web');
      const list = async (filter: Parameters<typeof h.workloads.listProcesses>[1]) =>
        (await h.workloads.listProcesses(q(), filter, ALL)).items.map((p) => p.guid);
      assert.deepEqual(await list({}), [aWeb.guid, aWorker.guid, bWeb.guid]);
      assert.deepEqual(await list({ types: ['web'] }), [aWeb.guid, bWeb.guid]);
      assert.deepEqual(await list({ spaceGuids: [prod.guid] }), [bWeb.guid]);
      assert.deepEqual(await list({ spaceGuids: [] }), []);
      assert.deepEqual(await list({ appGuids: [a.guid], types: ['worker'] }), [aWorker.guid]);
      assert.deepEqual(await list({ guids: [bWeb.guid] }), [bWeb.guid]);
    });
  });

  describe('instances', () => {
    it("records, replaces, updates and deletes instances; lists a process's by index and a host's", async () => {
      const { space, app } = await h.fx.world();
      const api = await h.fx.app(space, 'api');
      const droplet = await h.fx.droplet(app);
      const apiDroplet = await h.fx.droplet(api);
      const web = await h.fx.process(app, 'web');
      const apiWeb = await h.fx.process(api, 'web');
      const i1 = await h.fx.instance(web, droplet, 1);
      const i0 = await h.fx.instance(web, droplet, 0, { deploymentGuid: newGuid(), networkPid: 31337 });
      const elsewhere = await h.fx.instance(web, droplet, 2, { host: 'host-b' });
      const theirs = await h.fx.instance(apiWeb, apiDroplet, 0);
      assert.deepEqual(await h.workloads.instancesOf(web.guid), [i0, i1, elsewhere], 'all hosts, by index');
      assert.deepEqual(await h.workloads.instancesOnHost('host-b'), [elsewhere]);
      const both = await h.workloads.instancesOfProcesses([web.guid, apiWeb.guid, newGuid()]);
      assert.deepEqual(
        both.filter((i) => i.processGuid === web.guid),
        [i0, i1, elsewhere],
        'many processes: each by index',
      );
      assert.deepEqual(
        both.filter((i) => i.processGuid === apiWeb.guid),
        [theirs],
      );
      assert.equal(both.length, 4);
      assert.deepEqual(await h.workloads.instancesOfProcesses([]), []);
      const onA = await h.workloads.instancesOnHost('host-a');
      assert.equal(onA.length, 3);
      assert.deepEqual(new Set(onA.map((i) => i.guid)), new Set([i0.guid, i1.guid, theirs.guid]));

      await h.workloads.updateInstance(i1.guid, {
        state: 'CRASHED',
        crashCount: 1,
        details: 'APP/PROC/WEB exited with status 1',
        restartAt: h.fx.time(),
      });
      const crashed = (await h.workloads.instancesOf(web.guid))[1]!;
      assert.equal(crashed.state, 'CRASHED');
      assert.equal(crashed.details, 'APP/PROC/WEB exited with status 1');
      assert.equal(crashed.port, i1.port, 'left out: kept');
      await h.workloads.updateInstance(i1.guid, {
        state: 'RUNNING',
        details: undefined,
        restartAt: undefined,
        port: 62000,
      });
      const back = (await h.workloads.instancesOf(web.guid))[1]!;
      assert.deepEqual(back, { ...i1, state: 'RUNNING', crashCount: 1, port: 62000 }, 'undefined clears');
      await h.workloads.updateInstance(i1.guid, { networkPid: 4242, containerName: 'slipway-web-1b' });
      const attached = (await h.workloads.instancesOf(web.guid))[1]!;
      assert.equal(attached.networkPid, 4242);
      assert.equal(attached.containerName, 'slipway-web-1b');
      assert.equal(attached.port, 62000);
      await h.workloads.updateInstance(i1.guid, { networkPid: undefined });
      assert.equal((await h.workloads.instancesOf(web.guid))[1]!.networkPid, undefined);

      await h.workloads.putInstance({ ...i0, state: 'STOPPING', containerName: 'renamed' });
      const replaced = (await h.workloads.instancesOf(web.guid))[0]!;
      assert.deepEqual(replaced, { ...i0, state: 'STOPPING', containerName: 'renamed' }, 'put replaces by guid');

      await h.workloads.deleteInstance(i0.guid);
      await h.workloads.deleteInstance(i0.guid);
      await h.workloads.updateInstance(i0.guid, { state: 'DOWN' });
      assert.deepEqual(
        (await h.workloads.instancesOf(web.guid)).map((i) => i.guid),
        [i1.guid, elsewhere.guid],
        'a deleted instance stays deleted',
      );
      assert.deepEqual(await h.workloads.instancesOnHost('host-z'), []);
    });

    it("refuses an instance of a process that does not exist or is another app's", async () => {
      const { space, app } = await h.fx.world();
      const api = await h.fx.app(space, 'api');
      const droplet = await h.fx.droplet(app);
      const web = await h.fx.process(app, 'web');
      const apiWeb = await h.fx.process(api, 'web');
      await refused(
        h.workloads.putInstance(h.fx.instanceValue({ ...web, guid: newGuid() }, droplet, 0)),
        'NOT_FOUND',
        undefined,
        'process',
      );
      await refused(
        h.workloads.putInstance(h.fx.instanceValue({ ...apiWeb, appGuid: app.guid }, droplet, 0)),
        'INVALID_ARGUMENT',
        undefined,
        'process',
      );
    });
  });

  describe('deployments', () => {
    it('keeps at most one ACTIVE deployment per app: a new one supersedes the last in the same step', async () => {
      const { space, app } = await h.fx.world();
      const api = await h.fx.app(space, 'api');
      const d1 = await h.fx.droplet(app);
      const d2 = await h.fx.droplet(app);
      const first = await h.fx.deployment(app, d1);
      assert.deepEqual(await h.workloads.getDeployment(first.guid), first);
      assert.deepEqual(await h.workloads.activeDeployment(app.guid), first);
      const theirs = await h.fx.deployment(api, await h.fx.droplet(api));
      const second = await h.fx.deployment(app, d2, { previousDropletGuid: d1.guid, maxInFlight: 2 });
      assert.equal((await h.workloads.activeDeployment(app.guid))?.guid, second.guid);
      const superseded = await h.workloads.getDeployment(first.guid);
      assert.equal(superseded?.statusValue, 'FINALIZED');
      assert.equal(superseded?.statusReason, 'SUPERSEDED');
      assert.equal(superseded?.lastStatusChange, second.createdAt, 'superseded when the new one began');
      assert.equal((await h.workloads.getDeployment(theirs.guid))?.statusValue, 'ACTIVE', "another app's stays");
      assert.equal(second.previousDropletGuid, d1.guid);
      assert.equal(second.maxInFlight, 2);

      const done = await h.workloads.updateDeployment(second.guid, {
        statusValue: 'FINALIZED',
        statusReason: 'DEPLOYED',
        lastStatusChange: h.fx.time(),
      });
      assert.equal(done?.statusReason, 'DEPLOYED');
      assert.equal(await h.workloads.activeDeployment(app.guid), undefined);
      const third = await h.fx.deployment(app, d1);
      await refused(h.workloads.updateDeployment(second.guid, { statusValue: 'ACTIVE' }), 'CONFLICT');
      assert.equal((await h.workloads.activeDeployment(app.guid))?.guid, third.guid);
      assert.equal(await h.workloads.updateDeployment(newGuid(), { statusReason: 'CANCELED' }), undefined);
    });

    it("refuses a deployment of another app's droplet, one not STAGED, or for an app that does not exist", async () => {
      const { space, app } = await h.fx.world();
      const api = await h.fx.app(space, 'api');
      const text = 'Unable to assign current droplet. Ensure the droplet exists and belongs to this app.';
      await refused(h.fx.deployment(app, await h.fx.droplet(api)), 'INVALID_ARGUMENT', text, 'droplet');
      await refused(h.fx.deployment(app, await h.fx.droplet(app, { state: 'FAILED' })), 'INVALID_ARGUMENT', text);
      await refused(
        h.fx.deployment(h.fx.appValue(space, 'ghost'), await h.fx.droplet(app)),
        'NOT_FOUND',
        'Unable to use app. Ensure that the app exists and you have access to it.',
        'app',
      );
      assert.equal(await h.workloads.activeDeployment(app.guid), undefined);
    });

    it('links a revision, and lists deployments by app, status and guid, newest first as the cf CLI asks', async () => {
      const { space, app } = await h.fx.world();
      const api = await h.fx.app(space, 'api');
      const droplet = await h.fx.droplet(app);
      const a = await h.fx.deployment(app, droplet);
      const b = await h.fx.deployment(app, droplet);
      const c = await h.fx.deployment(api, await h.fx.droplet(api));
      const revision = await h.fx.revision(app, droplet);
      assert.equal(
        (await h.workloads.updateDeployment(b.guid, { revisionGuid: revision.guid }))?.revisionGuid,
        revision.guid,
      );
      const list = async (filter: Parameters<typeof h.workloads.listDeployments>[1], orderBy = 'created_at') =>
        (await h.workloads.listDeployments(q({ orderBy }), filter, ALL)).items.map((d) => d.guid);
      assert.deepEqual(await list({}), [a.guid, b.guid, c.guid]);
      assert.deepEqual(await list({ appGuids: [app.guid] }, '-created_at'), [b.guid, a.guid]);
      assert.deepEqual(await list({ statusValues: ['ACTIVE'] }), [b.guid, c.guid]);
      assert.deepEqual(await list({ statusValues: ['FINALIZED'] }), [a.guid]);
      assert.deepEqual(await list({ guids: [c.guid] }), [c.guid]);
      assert.equal((await h.workloads.updateDeployment(b.guid, { revisionGuid: undefined }))?.revisionGuid, undefined);
    });
  });

  describe('revisions', () => {
    it("numbers an app's revisions 1, 2, 3, ..., each app on its own", async () => {
      const { space, app } = await h.fx.world();
      const api = await h.fx.app(space, 'api');
      const droplet = await h.fx.droplet(app);
      const apiDroplet = await h.fx.droplet(api);
      const r1 = await h.fx.revision(app, droplet, { environmentVariables: { A: '1' } });
      const r2 = await h.fx.revision(app, droplet, { description: 'New droplet deployed.' });
      const other = await h.fx.revision(api, apiDroplet);
      const r3 = await h.fx.revision(app, droplet, { processes: { web: 'npm start' }, deployable: false });
      assert.deepEqual([r1.version, r2.version, r3.version, other.version], [1, 2, 3, 1]);
      assert.deepEqual(await h.workloads.getRevision(r3.guid), r3);
      assert.deepEqual(r3.processes, { web: 'npm start' });
      assert.equal(r3.deployable, false);
      assert.deepEqual(r1.environmentVariables, { A: '1' });
      const list = async (filter: Parameters<typeof h.workloads.listRevisions>[1], orderBy = 'created_at') =>
        (await h.workloads.listRevisions(q({ orderBy }), filter, ALL)).items.map((r) => r.guid);
      assert.deepEqual(await list({ appGuids: [app.guid] }), [r1.guid, r2.guid, r3.guid]);
      assert.deepEqual(await list({ appGuids: [app.guid], versions: [1, 3] }), [r1.guid, r3.guid]);
      assert.deepEqual(await list({ versions: [1] }), [r1.guid, other.guid]);
      assert.deepEqual(await list({ versions: [] }), []);
      assert.deepEqual(await list({ appGuids: [app.guid] }, '-version'), [r3.guid, r2.guid, r1.guid]);
    });

    it('gives distinct versions to revisions made at once', async () => {
      const { app } = await h.fx.world();
      const droplet = await h.fx.droplet(app);
      const made = await Promise.all(Array.from({ length: 10 }, () => h.fx.revision(app, droplet)));
      assert.deepEqual(
        made.map((r) => r.version).sort((a, b) => a - b),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
    });

    it("refuses a revision of another app's droplet, or for an app that does not exist", async () => {
      const { space, app } = await h.fx.world();
      const api = await h.fx.app(space, 'api');
      await refused(h.fx.revision(app, await h.fx.droplet(api)), 'INVALID_ARGUMENT', undefined, 'droplet');
      await refused(
        h.fx.revision(h.fx.appValue(space, 'ghost'), await h.fx.droplet(app)),
        'NOT_FOUND',
        undefined,
        'app',
      );
      assert.equal((await h.fx.revision(app, await h.fx.droplet(app))).version, 1, 'a refusal takes no number');
    });
  });

  describe('resource matching', () => {
    it('knows the sha1s it was given (any case), once each, and nothing else', async () => {
      assert.deepEqual(await h.workloads.knownResources([sha1Of(1)]), new Set());
      await h.workloads.addResources([
        { sha1: sha1Of(1), size: 10 },
        { sha1: sha1Of(0xabc).toUpperCase(), size: 20 },
      ]);
      await h.workloads.addResources([{ sha1: sha1Of(1), size: 10 }]);
      await h.workloads.addResources([]);
      const known = await h.workloads.knownResources([sha1Of(1), sha1Of(2), sha1Of(0xabc), 'not-a-sha1']);
      assert.deepEqual(known, new Set([sha1Of(1), sha1Of(0xabc)]));
      assert.deepEqual(await h.workloads.knownResources([sha1Of(1).toUpperCase()]), new Set([sha1Of(1).toUpperCase()]));
      assert.deepEqual(await h.workloads.knownResources([]), new Set());
      await refused(h.workloads.addResources([{ sha1: 'xyz', size: 1 }]), 'INVALID_ARGUMENT', undefined, 'sha1');
      await refused(h.workloads.addResources([{ sha1: sha1Of(3), size: -1 }]), 'INVALID_ARGUMENT', undefined, 'size');
      assert.deepEqual(await h.workloads.knownResources([sha1Of(3)]), new Set(), 'a refused batch adds nothing');
    });

    it('answers for thousands of sha1s at once', async () => {
      const files = Array.from({ length: 3000 }, (_, i) => ({ sha1: sha1Of(i + 1), size: i }));
      await h.workloads.addResources(files.filter((_, i) => i % 2 === 0));
      const known = await h.workloads.knownResources(files.map((f) => f.sha1));
      assert.equal(known.size, 1500);
      assert.ok(known.has(sha1Of(1)));
      assert.ok(!known.has(sha1Of(2)));
    });
  });
}
