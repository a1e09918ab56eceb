import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { newGuid } from '../model.js';
import type { Build } from '../workload.js';
import { PLATFORM_MIGRATIONS, PLATFORM_SCHEMA_VERSION } from './platform-schema.js';
import { ALL, q } from './platform-store-fixture.js';
import { SqlitePlatformStore } from './sqlite-platform-store.js';
import { ROUTING_TABLE_SQL } from './sqlite-route-store.js';
import { WORKLOAD_SQL } from './sqlite-workload-store.js';
import { describeWorkloadStore } from './workload-store-contract.js';
import { WorkloadFixture } from './workload-store-fixture.js';

const root = await mkdtemp(join(tmpdir(), 'slipway-workload-store-'));
let n = 0;
const freshFile = () => join(root, `platform-${++n}.sqlite`);
after(() => rm(root, { recursive: true, force: true }));

async function openPair(file = freshFile()) {
  const platform = await SqlitePlatformStore.open(file);
  return { platform, workloads: platform.workloads, fx: new WorkloadFixture(platform, platform.workloads) };
}

describeWorkloadStore('SqliteWorkloadStore', () => openPair());

describe('SqliteWorkloadStore on disk', () => {
  it('keeps everything across a close and open', async () => {
    const file = freshFile();
    const first = await openPair(file);
    const { fx, workloads: w } = first;
    const { space, app } = await fx.world();
    const pkg = await fx.package(app, { state: 'READY', checksum: 'sha256:1' });
    const build = await fx.build(pkg, { createdBy: { guid: newGuid(), name: 'alice' } });
    const claimed = await w.claimBuild('host:1', fx.time(), '1970-01-01T00:00:00.000Z');
    const droplet = await fx.droplet(app, { buildGuid: build.guid, packageGuid: pkg.guid });
    await w.setCurrentDroplet(app.guid, droplet.guid);
    const pinned = await first.platform.updateApp(app.guid, { autoRebase: false });
    const web = await fx.process(app, 'web', { instances: 2 });
    const i0 = await fx.instance(web, droplet, 0, { details: 'started' });
    const domain = await fx.domain('apps.example.com');
    const route = await fx.route(space, domain, 'web', '/x');
    const destinations = await w.addDestinations(route.guid, [fx.destinationValue(route, app)]);
    const revision = await fx.revision(app, droplet);
    const deployment = await fx.deployment(app, droplet, { revisionGuid: revision.guid });
    await w.addResources([{ sha1: 'a'.repeat(40), size: 3 }]);
    const table = await w.routingTable();
    await first.platform.close();

    const second = await openPair(file);
    const s = second.workloads;
    try {
      assert.deepEqual(await s.getPackage(pkg.guid), pkg);
      assert.deepEqual(await s.getBuild(build.guid), claimed);
      assert.deepEqual(await s.getDroplet(droplet.guid), droplet);
      assert.deepEqual(await s.currentDroplet(app.guid), droplet);
      assert.deepEqual(await second.platform.getApp(app.guid), pinned);
      assert.deepEqual(await s.findProcess(app.guid, 'web'), web);
      assert.deepEqual(await s.instancesOnHost(i0.host), [i0]);
      assert.deepEqual(await s.getDomain(domain.guid), domain);
      assert.deepEqual(await s.getRoute(route.guid), route);
      assert.deepEqual(await s.destinationsOf(route.guid), destinations);
      assert.deepEqual(await s.routingTable(), table);
      assert.deepEqual(await s.getRevision(revision.guid), revision);
      assert.deepEqual(await s.activeDeployment(app.guid), deployment);
      assert.deepEqual(await s.knownResources(['a'.repeat(40)]), new Set(['a'.repeat(40)]));
      // The rules hold after a reopen as before it.
      assert.equal((await second.fx.revision(app, droplet)).version, 2);
      await assert.rejects(second.fx.route(space, domain, 'web', '/x'), /Route already exists/);
    } finally {
      await second.platform.close();
    }
  });

  it('upgrades a database of schema 1: its apps run no droplet and are auto-rebased', async () => {
    const file = freshFile();
    const db = new Database(file);
    db.exec(PLATFORM_MIGRATIONS[0]!);
    db.pragma('user_version = 1');
    const t = new Date().toISOString();
    db.prepare("INSERT INTO orgs VALUES (1, 'o', 'acme', 'acme', 'acme', 0, '{}', '{}', ?, ?)").run(t, t);
    db.prepare("INSERT INTO spaces VALUES (1, 's', 'o', 'dev', 'dev', 'dev', '{}', '{}', ?, ?)").run(t, t);
    db.prepare(
      `INSERT INTO apps VALUES (1, 'a', 's', 'o', 'web', 'web', 'web', 'STOPPED', 'buildpack', NULL,
         '{"type":"buildpack","data":{"buildpacks":[],"stack":null}}', '{}', '{}', '{}', ?, ?)`,
    ).run(t, t);
    db.close();
    const { platform, workloads, fx } = await openPair(file);
    try {
      const app = (await platform.getApp('a'))!;
      assert.equal(app.autoRebase, true);
      assert.equal(app.currentDropletGuid, undefined);
      const droplet = await fx.droplet(app);
      await workloads.setCurrentDroplet(app.guid, droplet.guid);
      assert.equal((await platform.getApp('a'))?.currentDropletGuid, droplet.guid);
    } finally {
      await platform.close();
    }
    const check = new Database(file, { readonly: true });
    assert.equal(check.pragma('user_version', { simple: true }), PLATFORM_SCHEMA_VERSION);
    assert.deepEqual(check.pragma('foreign_key_check'), []);
    check.close();
  });

  it('gives each build to exactly one of two worker processes claiming at once', async (t) => {
    const file = freshFile();
    const { platform, fx } = await openPair(file);
    const { app } = await fx.world();
    const pkg = await fx.package(app, { state: 'READY' });
    const builds: Build[] = [];
    for (let i = 0; i < 200; i++) builds.push(await fx.build(pkg));
    await platform.close();

    const child = fileURLToPath(new URL('./testdata/claim-builds.ts', import.meta.url));
    const workers = ['w1', 'w2'].map((id) => {
      const proc = spawn(process.execPath, ['--import', 'tsx', child, file, id, '2'], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      const lines = createInterface({ input: proc.stdout });
      const out: string[] = [];
      const ready = new Promise<void>((resolve) =>
        lines.on('line', (line) => (line === 'ready' ? resolve() : out.push(line))),
      );
      return { id, proc, out, ready, exit: once(proc, 'exit') };
    });
    await Promise.all(workers.map((w) => w.ready));
    for (const w of workers) w.proc.stdin.end('go\n');
    const codes = await Promise.all(workers.map((w) => w.exit));
    assert.deepEqual(
      codes.map(([code]) => code),
      [0, 0],
    );
    const got = workers.map((w) => JSON.parse(w.out.join('')) as string[]);
    t.diagnostic(`w1 took ${got[0]!.length} builds, w2 ${got[1]!.length}`);
    const all = got.flat();
    assert.equal(all.length, builds.length, `no build twice (w1 ${got[0]!.length}, w2 ${got[1]!.length})`);
    assert.deepEqual([...all].sort(), builds.map((b) => b.guid).sort());
    assert.ok(
      got.every((g) => g.length > 0),
      `both workers took some (w1 ${got[0]!.length}, w2 ${got[1]!.length})`,
    );

    const check = await openPair(file);
    try {
      for (const [i, w] of workers.entries()) {
        for (const guid of got[i]!) assert.equal((await check.workloads.getBuild(guid))?.workerId, w.id);
      }
    } finally {
      await check.platform.close();
    }
  });

  it('answers the router, the build workers and the reconciler through indexes (EXPLAIN QUERY PLAN)', async () => {
    const file = freshFile();
    await (await SqlitePlatformStore.open(file)).close();
    const db = new Database(file, { readonly: true });
    const plan = (sql: string, ...params: unknown[]) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail);
    try {
      const claim = plan(WORKLOAD_SQL.claimBuild, 'w', 't', 't', 's', 's');
      assert.ok(
        claim.some((d) => /SEARCH builds USING INTEGER PRIMARY KEY \(rowid=\?\)/.test(d)),
        claim.join('\n'),
      );
      assert.ok(
        claim.some((d) => /SCAN q USING COVERING INDEX builds_queue/.test(d)),
        claim.join('\n'),
      );
      assert.ok(!claim.some((d) => /TEMP B-TREE/.test(d)), claim.join('\n'));

      const instancesOf = plan(WORKLOAD_SQL.instancesOf, 'p');
      assert.ok(
        instancesOf.some((d) => /SEARCH t USING INDEX instances_by_process \(process_guid=\?\)/.test(d)),
        instancesOf.join('\n'),
      );
      assert.ok(!instancesOf.some((d) => /TEMP B-TREE/.test(d)), instancesOf.join('\n'));

      const onHost = plan(WORKLOAD_SQL.instancesOnHost, 'h');
      assert.ok(
        onHost.some((d) => /SEARCH t USING INDEX instances_by_host \(host=\?\)/.test(d)),
        onHost.join('\n'),
      );
      assert.ok(!onHost.some((d) => /TEMP B-TREE/.test(d)), onHost.join('\n'));

      const active = plan(WORKLOAD_SQL.activeDeployment, 'a');
      assert.ok(
        active.some((d) => /SEARCH t USING INDEX deployments_active \(app_guid=\?\)/.test(d)),
        active.join('\n'),
      );

      // Routes in rowid order, domains once, each route's destinations by the index (sorted per route only).
      const table = plan(ROUTING_TABLE_SQL);
      assert.ok(
        table.some((d) => /^SCAN r$/.test(d)),
        table.join('\n'),
      );
      assert.ok(
        table.some((d) => /SEARCH x USING INDEX route_destinations_by_route \(route_guid=\?\)/.test(d)),
        table.join('\n'),
      );
      assert.ok(!table.some((d) => /SCAN x|TEMP B-TREE FOR ORDER BY/.test(d)), table.join('\n'));
    } finally {
      db.close();
    }
  });

  it('answers the routing table of 1,000 routes and 2,000 destinations within 10 ms', async (t) => {
    const { platform, workloads: w, fx } = await openPair();
    try {
      const org = await fx.org('acme');
      const spaces = [await fx.space(org, 'dev'), await fx.space(org, 'prod')];
      const domain = await fx.domain('apps.example.com');
      const apps = [];
      for (let i = 0; i < 100; i++) apps.push(await fx.app(spaces[i % 2]!, `app-${i}`));
      const setup = performance.now();
      for (let i = 0; i < 1000; i++) {
        const space = spaces[i % 2]!;
        const route = await fx.route(space, domain, `host-${i}`, i % 3 === 0 ? '/api' : '');
        await w.addDestinations(route.guid, [
          fx.destinationValue(route, apps[i % 100]!),
          fx.destinationValue(route, apps[(i + 1) % 100]!, { port: 9000 }),
        ]);
      }
      t.diagnostic(`setup: 1,000 routes and 2,000 destinations in ${(performance.now() - setup).toFixed(0)} ms`);
      const first = await w.routingTable();
      assert.equal(first.length, 1000);
      assert.equal(
        first.reduce((sum, e) => sum + e.destinations.length, 0),
        2000,
      );
      const times: number[] = [];
      for (let i = 0; i < 15; i++) {
        const start = performance.now();
        await w.routingTable();
        times.push(performance.now() - start);
      }
      times.sort((a, b) => a - b);
      const median = times[Math.floor(times.length / 2)]!;
      const best = times[0]!;
      t.diagnostic(
        `routingTable: median ${median.toFixed(2)} ms, best ${best.toFixed(2)}, worst ${times.at(-1)!.toFixed(2)}`,
      );
      // The best of 15: the suite runs two files at once on two cores, and a median can land on another test's turn.
      assert.ok(best < 10, `routingTable took ${best.toFixed(2)} ms at best (median of 15 ${median.toFixed(2)})`);

      const process = await fx.process(apps[0]!, 'web', { instances: 50 });
      const droplet = await fx.droplet(apps[0]!);
      for (let i = 0; i < 50; i++) await fx.instance(process, droplet, i);
      const start = performance.now();
      for (let i = 0; i < 100; i++) await w.instancesOf(process.guid);
      const perCall = (performance.now() - start) / 100;
      t.diagnostic(`instancesOf (50 instances): ${perCall.toFixed(3)} ms a call`);
      assert.ok(perCall < 5, `instancesOf took ${perCall.toFixed(2)} ms a call`);
      assert.equal((await w.listRoutes(q(), { appGuids: [apps[0]!.guid] }, ALL)).total, 20);
    } finally {
      await platform.close();
    }
  });
});
