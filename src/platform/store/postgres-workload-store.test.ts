import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startPostgres, type PostgresCluster } from '../../store/postgres-test-cluster.js';
import type { Build } from '../workload.js';
import { ALL, q } from './platform-store-fixture.js';
import { PostgresPlatformStore } from './postgres-platform-store.js';
import { PlatformTestDatabase } from './testdata/postgres-platform-db.js';
import { describeWorkloadStore } from './workload-store-contract.js';
import { WorkloadFixture } from './workload-store-fixture.js';

// A real PostgreSQL 15 (scripts/install.sh --test); no skipping when it is absent.
const cluster: PostgresCluster = await startPostgres();
const db = await PlatformTestDatabase.create(cluster);
after(() => cluster.stop().catch(() => undefined));

async function openPair(store?: PostgresPlatformStore) {
  const platform = store ?? (await db.fresh());
  return { platform, workloads: platform.workloads, fx: new WorkloadFixture(platform, platform.workloads) };
}

describeWorkloadStore('PostgresWorkloadStore (contract)', () => openPair());

describe('PostgresWorkloadStore', () => {
  it('gives each build to exactly one worker of two nodes (two pools) claiming at once', async (t) => {
    const { platform, fx } = await openPair();
    const { app } = await fx.world();
    const pkg = await fx.package(app, { state: 'READY' });
    const builds: Build[] = [];
    for (let i = 0; i < 200; i++) builds.push(await fx.build(pkg));
    await platform.close();

    // Two nodes, each with its own pool and three workers claiming in a loop, all released together.
    const nodes = await Promise.all([PostgresPlatformStore.open(db.url), PostgresPlatformStore.open(db.url)]);
    try {
      const workers = nodes.flatMap((node, n) => [1, 2, 3].map((w) => ({ node, id: `node${n}:w${w}` })));
      const claim = async ({ node, id }: (typeof workers)[number]) => {
        const got: string[] = [];
        for (;;) {
          const b = await node.workloads.claimBuild(id, new Date().toISOString(), '1970-01-01T00:00:00.000Z');
          if (b === undefined) return got;
          assert.equal(b.workerId, id);
          got.push(b.guid);
        }
      };
      const got = await Promise.all(workers.map(claim));
      const all = got.flat();
      t.diagnostic(`claims per worker: ${got.map((g) => g.length).join(', ')}`);
      assert.equal(all.length, builds.length, 'no build given twice, none left behind');
      assert.deepEqual([...all].sort(), builds.map((b) => b.guid).sort());
      for (const n of [0, 1]) {
        const byNode = got.filter((_, i) => workers[i]!.node === nodes[n]).flat();
        assert.ok(byNode.length > 0, `node ${n} took some`);
      }
      // What each worker was told is what the database holds.
      const stored = await nodes[0]!.workloads.listBuilds(q({ perPage: 500 }), {}, ALL);
      const holder = new Map(stored.items.map((b) => [b.guid, b.workerId]));
      for (const [i, w] of workers.entries()) for (const guid of got[i]!) assert.equal(holder.get(guid), w.id);
    } finally {
      for (const n of nodes) await n.close();
    }
  });

  it('lets a worker on another node take a build whose claim went stale, and only one of two that try', async () => {
    const { platform, fx } = await openPair();
    const { app } = await fx.world();
    const pkg = await fx.package(app, { state: 'READY' });
    const build = await fx.build(pkg);
    const t0 = new Date('2030-01-01T00:00:00.000Z');
    const at = (s: number) => new Date(t0.getTime() + s * 1000).toISOString();
    assert.equal((await platform.workloads.claimBuild('dead', at(0), at(-60)))?.guid, build.guid);
    await platform.close();
    const nodes = await Promise.all([PostgresPlatformStore.open(db.url), PostgresPlatformStore.open(db.url)]);
    try {
      // 61 s later, the dead worker's claim is stale: both nodes try at once, one gets it.
      const tries = await Promise.all(nodes.map((n, i) => n.workloads.claimBuild(`live${i}`, at(61), at(1))));
      const winners = tries.filter((b) => b !== undefined);
      assert.equal(winners.length, 1, 'one node takes it over');
      assert.equal(
        await nodes[0]!.workloads.touchBuildClaim(build.guid, 'dead', at(62)),
        false,
        'the dead one lost it',
      );
      assert.equal(await nodes[1]!.workloads.touchBuildClaim(build.guid, winners[0]!.workerId!, at(62)), true);
    } finally {
      for (const n of nodes) await n.close();
    }
  });

  it('keeps everything across a close and open (another node reads it all back)', async () => {
    const first = await openPair();
    const { fx, workloads: w } = first;
    const { space, app } = await fx.world();
    const pkg = await fx.package(app, { state: 'READY', checksum: 'sha256:1' });
    const build = await fx.build(pkg, { createdBy: { guid: 'u', name: 'alice' } });
    const droplet = await fx.droplet(app, { buildGuid: build.guid, packageGuid: pkg.guid });
    await w.setCurrentDroplet(app.guid, droplet.guid);
    const web = await fx.process(app, 'web', { instances: 2 });
    const i0 = await fx.instance(web, droplet, 0, { details: 'started', networkPid: 4242 });
    const domain = await fx.domain('apps.example.com');
    const route = await fx.route(space, domain, 'web', '/x');
    await w.addDestinations(route.guid, [fx.destinationValue(route, app, { port: 9000 })]);
    const revision = await fx.revision(app, droplet);
    const deployment = await fx.deployment(app, droplet, { revisionGuid: revision.guid });
    const table = await w.routingTable();
    await first.platform.close();

    const second = await openPair(await PostgresPlatformStore.open(db.url));
    try {
      const s = second.workloads;
      assert.deepEqual(await s.getBuild(build.guid), build);
      assert.deepEqual(await s.currentDroplet(app.guid), droplet);
      assert.deepEqual(await s.instancesOnHost(i0.host), [i0]);
      assert.deepEqual(await s.routingTable(), table);
      assert.deepEqual(await s.activeDeployment(app.guid), deployment);
      assert.equal((await second.fx.revision(app, droplet)).version, 2);
    } finally {
      await second.platform.close();
    }
  });
});
