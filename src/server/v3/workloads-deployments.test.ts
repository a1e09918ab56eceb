import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Droplet } from '../../platform/workload.js';
import { WorkloadWorld } from './testdata/workload-world.js';

/** An app with a package and a build per droplet, as pushes leave them. */
async function staged(x: WorkloadWorld, n: number): Promise<Droplet[]> {
  const out: Droplet[] = [];
  for (let i = 0; i < n; i++) {
    const pkg = await x.call('POST', '/v3/packages', 'spaceDeveloper', {
      type: 'bits',
      relationships: { app: { data: { guid: x.w.web.guid } } },
    });
    assert.equal((await x.upload(pkg.body.guid, 'spaceDeveloper', [])).status, 200);
    const build = await x.call('POST', '/v3/builds', 'spaceDeveloper', { package: { guid: pkg.body.guid } });
    assert.equal(build.status, 201, JSON.stringify(build.body));
    out.push(await x.stage(x.w.web, build.body.guid, { web: `node v${i}.js` }, `sha256:${String(i).repeat(64)}`));
  }
  return out;
}

describe('v3 workloads: start, stop, scale, processes, deployments, revisions, rollback', () => {
  let x: WorkloadWorld;
  beforeEach(async () => {
    x = await WorkloadWorld.create();
  });
  afterEach(async () => {
    await x.close();
  });

  it('start needs a current droplet (CC: Assign a droplet...); stop and start set the state; supporters may, auditors may not', async () => {
    const app = x.w.web.guid;
    const early = await x.call('POST', `/v3/apps/${app}/actions/start`, 'spaceDeveloper');
    assert.equal(early.status, 422);
    assert.deepEqual(early.body.errors, [
      { code: 10008, title: 'CF-UnprocessableEntity', detail: 'Assign a droplet before starting this app.' },
    ]);
    const [d] = await staged(x, 1);
    assert.equal(
      (
        await x.call('PATCH', `/v3/apps/${app}/relationships/current_droplet`, 'spaceSupporter', {
          data: { guid: d!.guid },
        })
      ).status,
      200,
    );
    const before = x.signals.desired;
    const started = await x.call('POST', `/v3/apps/${app}/actions/start`, 'spaceSupporter');
    assert.equal(started.status, 200);
    assert.equal(started.body.state, 'STARTED');
    assert.ok(x.signals.desired > before, 'the reconciler is told');
    assert.equal((await x.call('POST', `/v3/apps/${app}/actions/stop`, 'spaceAuditor')).status, 403);
    assert.equal((await x.call('POST', `/v3/apps/${app}/actions/restart`, 'spaceManager')).status, 403);
    assert.equal((await x.call('POST', `/v3/apps/${app}/actions/stop`, 'otherOrgDeveloper')).status, 404);
    assert.equal(
      (await x.call('POST', `/v3/apps/${app}/actions/stop`, 'otherOrgDeveloper')).body.errors[0].detail,
      'App not found',
    );
    const stopped = await x.call('POST', `/v3/apps/${app}/actions/stop`, 'spaceDeveloper');
    assert.equal(stopped.body.state, 'STOPPED');
    // Stopped: no stats entries (the cf CLI shows no instances).
    const web = (await x.get(`/v3/apps/${app}/processes`, 'spaceDeveloper')).body.resources[0];
    assert.deepEqual((await x.get(`/v3/processes/${web.guid}/stats`, 'spaceAuditor')).body.resources, []);
    const events = (await x.get(`/v3/audit_events?target_guids=${app}`, 'admin')).body.resources.map(
      (e: any) => e.type,
    );
    for (const t of ['audit.app.start', 'audit.app.stop', 'audit.app.droplet.mapped']) assert.ok(events.includes(t), t);
    // Wrong droplets: another app's, removing it.
    const other = await x.call('PATCH', `/v3/apps/${app}/relationships/current_droplet`, 'spaceDeveloper', {
      data: { guid: 'nope' },
    });
    assert.equal(
      other.body.errors[0].detail,
      'Unable to assign current droplet. Ensure the droplet exists and belongs to this app.',
    );
    const remove = await x.call('PATCH', `/v3/apps/${app}/relationships/current_droplet`, 'spaceDeveloper', {
      data: null,
    });
    assert.equal(remove.status, 422);
    const rel = await x.get(`/v3/apps/${app}/relationships/current_droplet`, 'spaceAuditor');
    assert.deepEqual(rel.body.data, { guid: d!.guid });
  });

  it('scale (cf scale) by app and type and by guid; Process not found; process update; list filters and embed=process_instances', async () => {
    const app = x.w.web.guid;
    const [d] = await staged(x, 1);
    await x.call('PATCH', `/v3/apps/${app}/relationships/current_droplet`, 'spaceDeveloper', {
      data: { guid: d!.guid },
    });
    const scaled = await x.call('POST', `/v3/apps/${app}/processes/web/actions/scale`, 'spaceSupporter', {
      instances: 3,
      memory_in_mb: 512,
    });
    assert.equal(scaled.status, 202);
    assert.deepEqual([scaled.body.instances, scaled.body.memory_in_mb, scaled.body.disk_in_mb], [3, 512, 1024]);
    const missing = await x.call('POST', `/v3/apps/${app}/processes/worker/actions/scale`, 'spaceDeveloper', {
      instances: 1,
    });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.errors[0].detail, 'Process not found');
    const bad = await x.call('POST', `/v3/processes/${scaled.body.guid}/actions/scale`, 'spaceDeveloper', {
      instances: -1,
    });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.errors[0].detail, 'Instances must be greater than or equal to 0');
    assert.equal(
      (await x.call('POST', `/v3/processes/${scaled.body.guid}/actions/scale`, 'spaceAuditor', { instances: 1 }))
        .status,
      403,
    );
    const byGuid = await x.call('POST', `/v3/processes/${scaled.body.guid}/actions/scale`, 'spaceDeveloper', {
      disk_in_mb: 2048,
    });
    assert.equal(byGuid.body.disk_in_mb, 2048);

    const updated = await x.call('PATCH', `/v3/processes/${scaled.body.guid}`, 'spaceDeveloper', {
      command: 'node other.js',
      health_check: { type: 'http', data: { endpoint: '/ready', timeout: 60 } },
    });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.command, 'node other.js');
    assert.deepEqual(updated.body.health_check, {
      type: 'http',
      data: { timeout: 60, invocation_timeout: null, interval: null, endpoint: '/ready' },
    });
    // Commands are secrets: redacted for auditors and managers (CC), shown to developers.
    assert.equal(
      (await x.get(`/v3/processes/${scaled.body.guid}`, 'spaceAuditor')).body.command,
      '[PRIVATE DATA HIDDEN]',
    );
    const unset = await x.call('PATCH', `/v3/processes/${scaled.body.guid}`, 'spaceDeveloper', { command: null });
    assert.equal(unset.body.command, 'node v0.js', "null: the droplet's command");

    // cf apps (API >= 3.211): processes of a space with their instances embedded.
    const web = scaled.body.guid as string;
    const at = new Date('2024-06-01T00:00:00Z').toISOString();
    await x.workloads.putInstance({
      guid: 'i0',
      appGuid: app,
      processGuid: web,
      processType: 'web',
      index: 0,
      dropletGuid: d!.guid,
      host: 'h',
      containerName: 'c0',
      port: 40000,
      state: 'RUNNING',
      since: at,
      crashCount: 0,
    });
    const embedded = await x.get(`/v3/processes?embed=process_instances&space_guids=${x.w.dev.guid}`, 'spaceAuditor');
    assert.equal(embedded.status, 200);
    const proc = embedded.body.resources.find((p: any) => p.guid === web);
    assert.deepEqual(proc.process_instances, [{ index: 0, state: 'RUNNING', since: Date.parse(at) / 1000 }]);
    assert.deepEqual(proc.relationships.app, { data: { guid: app } });
    const plain = await x.get(`/v3/processes?app_guids=${app}&types=web`, 'spaceDeveloper');
    assert.equal(plain.body.resources.length, 1);
    assert.equal(plain.body.resources[0].process_instances, undefined);
    assert.equal((await x.get(`/v3/processes?embed=nope`, 'spaceDeveloper')).status, 400);
    assert.equal((await x.get('/v3/processes', 'otherOrgDeveloper')).body.resources.length, 0);
    assert.equal((await x.get(`/v3/processes/${web}`, 'otherOrgDeveloper')).body.errors[0].detail, 'Process not found');
    assert.equal((await x.get(`/v3/processes/${web}/sidecars`, 'otherOrgDeveloper')).status, 404);
  });

  it('a rolling deployment: the current droplet at once, the previous kept, a revision; cancel brings it back; supersede; rollback by revision', async () => {
    const app = x.w.web.guid;
    const [d1, d2, d3] = await staged(x, 3);
    await x.call('PATCH', `/v3/apps/${app}/relationships/current_droplet`, 'spaceDeveloper', {
      data: { guid: d1!.guid },
    });
    await x.call('POST', `/v3/apps/${app}/actions/start`, 'spaceDeveloper');

    // cf restart --strategy rolling --max-in-flight 2 (the CLI sends the unset options as null).
    const made = await x.call('POST', '/v3/deployments', 'spaceSupporter', {
      droplet: { guid: d2!.guid },
      strategy: 'rolling',
      options: {
        max_in_flight: 2,
        web_instances: null,
        memory_in_mb: null,
        disk_in_mb: null,
        log_rate_limit_in_bytes_per_second: null,
      },
      relationships: { app: { data: { guid: app } } },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const dep = made.body;
    assert.deepEqual(dep.status.value, 'ACTIVE');
    assert.deepEqual(dep.status.reason, 'DEPLOYING');
    assert.equal(dep.strategy, 'rolling');
    assert.deepEqual(dep.options, { max_in_flight: 2 });
    assert.deepEqual(dep.droplet, { guid: d2!.guid });
    assert.deepEqual(dep.previous_droplet, { guid: d1!.guid });
    assert.equal(dep.new_processes[0].type, 'web');
    assert.ok(dep.revision.guid);
    assert.ok(dep.links.cancel);
    const now = await x.get(`/v3/apps/${app}/droplets/current`, 'spaceDeveloper');
    assert.equal(now.body.guid, d2!.guid, 'the current droplet is the deployment’s at once');
    const active = await x.get(
      `/v3/deployments?app_guids=${app}&order_by=-created_at&page=1&per_page=1&status_values=ACTIVE`,
      'spaceAuditor',
    );
    assert.deepEqual(
      active.body.resources.map((r: any) => r.guid),
      [dep.guid],
    );
    // Scaling web while a deployment is in flight: CC refuses.
    const scale = await x.call('POST', `/v3/apps/${app}/processes/web/actions/scale`, 'spaceDeveloper', {
      instances: 2,
    });
    assert.equal(scale.body.errors[0].detail, 'Cannot scale this process while a deployment is in flight.');

    // cancel: CANCELING, the previous droplet back.
    assert.equal((await x.call('POST', `/v3/deployments/${dep.guid}/actions/cancel`, 'spaceAuditor')).status, 404);
    const canceled = await x.call('POST', `/v3/deployments/${dep.guid}/actions/cancel`, 'spaceDeveloper');
    assert.equal(canceled.status, 200);
    assert.equal(canceled.body.status.reason, 'CANCELING');
    assert.equal((await x.get(`/v3/apps/${app}/droplets/current`, 'spaceDeveloper')).body.guid, d1!.guid);
    const twice = await x.call('POST', `/v3/deployments/${dep.guid}/actions/cancel`, 'spaceDeveloper');
    assert.equal(twice.body.errors[0].detail, 'Cannot cancel a CANCELING deployment');

    // A new deployment supersedes the active one; max_in_flight defaults to 1; the app's current droplet by default.
    const next = await x.call('POST', '/v3/deployments', 'spaceDeveloper', {
      droplet: { guid: d3!.guid },
      relationships: { app: { data: { guid: app } } },
    });
    assert.deepEqual(next.body.options, { max_in_flight: 1 });
    const old = await x.get(`/v3/deployments/${dep.guid}`, 'spaceDeveloper');
    assert.deepEqual([old.body.status.value, old.body.status.reason], ['FINALIZED', 'SUPERSEDED']);
    const list = await x.get(`/v3/deployments?app_guids=${app}&order_by=-created_at`, 'spaceDeveloper');
    assert.deepEqual(
      list.body.resources.map((r: any) => r.guid),
      [next.body.guid, dep.guid],
    );

    // Revisions: one per droplet rolled out; a rollback deploys a revision's droplet.
    const revs = await x.get(`/v3/apps/${app}/revisions`, 'spaceAuditor');
    assert.deepEqual(
      revs.body.resources.map((r: any) => [r.version, r.droplet.guid, r.deployable]),
      [
        [1, d1!.guid, true],
        [2, d2!.guid, true],
        [3, d3!.guid, true],
      ],
    );
    assert.equal(revs.body.resources[0].description, 'Initial revision.');
    assert.equal(revs.body.resources[1].description, 'New droplet deployed.');
    assert.deepEqual(revs.body.resources[0].processes, { web: { command: null } }, 'CC keeps custom commands only');
    const v1 = revs.body.resources[0];
    assert.equal((await x.get(`/v3/revisions/${v1.guid}`, 'spaceDeveloper')).body.version, 1);
    assert.equal((await x.get(`/v3/revisions/${v1.guid}`, 'otherOrgDeveloper')).status, 404);
    assert.deepEqual(
      (await x.get(`/v3/apps/${app}/revisions?versions=2`, 'spaceDeveloper')).body.resources.map((r: any) => r.version),
      [2],
    );
    const rollback = await x.call('POST', '/v3/deployments', 'spaceDeveloper', {
      revision: { guid: v1.guid },
      relationships: { app: { data: { guid: app } } },
    });
    assert.equal(rollback.status, 201, JSON.stringify(rollback.body));
    assert.deepEqual(rollback.body.droplet, { guid: d1!.guid });
    assert.equal(rollback.body.revision.version, 4);
    const v4 = await x.get(`/v3/revisions/${rollback.body.revision.guid}`, 'spaceDeveloper');
    assert.equal(v4.body.description, 'Rolled back to revision 1.');
    const types = (
      await x.get(
        `/v3/audit_events?target_guids=${app}&types=audit.app.deployment.create,audit.app.deployment.cancel`,
        'admin',
      )
    ).body.resources.map((e: any) => e.type);
    assert.equal(types.filter((t: string) => t === 'audit.app.deployment.create').length, 3);
    assert.ok(types.includes('audit.app.deployment.cancel'));
  });

  it("deployment errors in CC's words; a stopped app is started with its deployment DEPLOYED", async () => {
    const app = x.w.web.guid;
    const rel = { relationships: { app: { data: { guid: app } } } };
    const none = await x.call('POST', '/v3/deployments', 'spaceDeveloper', rel);
    assert.equal(
      none.body.errors[0].detail,
      'Invalid droplet. Please specify a droplet in the request or set a current droplet for the app.',
    );
    for (const who of ['spaceAuditor', 'spaceManager', 'otherOrgDeveloper'] as const) {
      const r = await x.call('POST', '/v3/deployments', who, rel);
      assert.equal(r.status, 422, who);
      assert.equal(r.body.errors[0].detail, 'Unable to use app. Ensure that the app exists and you have access to it.');
    }
    const canary = await x.call('POST', '/v3/deployments', 'spaceDeveloper', { ...rel, strategy: 'canary' });
    assert.equal(canary.status, 422);
    const [d] = await staged(x, 1);
    const stopped = await x.call('POST', '/v3/deployments', 'spaceDeveloper', { ...rel, droplet: { guid: d!.guid } });
    assert.deepEqual([stopped.body.status.value, stopped.body.status.reason], ['FINALIZED', 'DEPLOYED']);
    assert.equal(stopped.body.links.cancel, undefined);
    assert.equal((await x.get(`/v3/apps/${app}`, 'spaceDeveloper')).body.state, 'STARTED');
    assert.equal((await x.get('/v3/deployments/nope', 'admin')).body.errors[0].detail, 'Deployment not found');
    assert.equal((await x.get(`/v3/deployments/${stopped.body.guid}`, 'otherOrgDeveloper')).status, 404);
  });

  it('builds: READY packages only (CC: Bad request), one STAGING at a time, who may stage; droplet lists, download and its permissions', async () => {
    const app = x.w.web.guid;
    const pkg = await x.call('POST', '/v3/packages', 'spaceDeveloper', {
      type: 'bits',
      relationships: { app: { data: { guid: app } } },
    });
    const early = await x.call('POST', '/v3/builds', 'spaceDeveloper', { package: { guid: pkg.body.guid } });
    assert.equal(early.status, 400);
    assert.equal(early.body.errors[0].detail, 'Bad request: Cannot stage package whose state is not ready.');
    await x.upload(pkg.body.guid, 'spaceDeveloper', []);
    for (const who of ['spaceAuditor', 'otherOrgDeveloper'] as const) {
      const r = await x.call('POST', '/v3/builds', who, { package: { guid: pkg.body.guid } });
      assert.equal(r.status, 422, who);
      assert.equal(
        r.body.errors[0].detail,
        'Unable to use package. Ensure that the package exists and you have access to it.',
      );
    }
    const b = await x.call('POST', '/v3/builds', 'spaceSupporter', { package: { guid: pkg.body.guid } });
    assert.equal(b.status, 201, 'supporters restage');
    const second = await x.call('POST', '/v3/builds', 'spaceDeveloper', { package: { guid: pkg.body.guid } });
    assert.equal(second.body.errors[0].detail, 'Only one build can be STAGING at a time per application.');
    assert.deepEqual(
      (await x.get(`/v3/apps/${app}/builds?states=STAGING`, 'spaceAuditor')).body.resources.map((r: any) => r.guid),
      [b.body.guid],
    );
    assert.equal((await x.get(`/v3/builds?app_guids=${app}`, 'otherOrgDeveloper')).body.resources.length, 0);
    assert.equal(
      (await x.get(`/v3/builds/${b.body.guid}`, 'otherOrgDeveloper')).body.errors[0].detail,
      'Build not found',
    );

    const d = await x.stage(x.w.web, b.body.guid);
    const byPackage = await x.get(
      `/v3/packages/${pkg.body.guid}/droplets?page=1&per_page=1&states=STAGED`,
      'spaceDeveloper',
    );
    assert.deepEqual(
      byPackage.body.resources.map((r: any) => r.guid),
      [d.guid],
    );
    assert.deepEqual(
      (await x.get(`/v3/apps/${app}/droplets`, 'spaceDeveloper')).body.resources.map((r: any) => r.guid),
      [d.guid],
    );
    assert.deepEqual((await x.get(`/v3/apps/${app}/droplets?current=true`, 'spaceDeveloper')).body.resources, []);
    assert.equal((await x.get(`/v3/droplets?app_guids=${app}`, 'spaceDeveloper')).body.resources.length, 1);

    const image = `api.example.com/${x.w.acme.slug}/${x.w.dev.slug}/${x.w.web.slug}@${d.digest}`;
    for (const who of ['spaceDeveloper', 'spaceAuditor', 'spaceManager', 'orgManager', 'globalAuditor'] as const) {
      const r = await x.get(`/v3/droplets/${d.guid}/download`, who);
      assert.equal(r.status, 200, who);
      assert.equal(r.body.image, image);
    }
    assert.equal((await x.get(`/v3/droplets/${d.guid}/download`, 'spaceSupporter')).status, 403);
    assert.equal((await x.get(`/v3/droplets/${d.guid}/download`, 'otherOrgDeveloper')).status, 404);
    assert.equal((await x.get(`/v3/droplets/${d.guid}/download`, 'orgAuditor')).status, 404);
    assert.equal((await x.get(`/v3/droplets/${d.guid}`, 'orgAuditor')).body.errors[0].detail, 'Droplet not found');
    // Process types are secrets.
    assert.deepEqual((await x.get(`/v3/droplets/${d.guid}`, 'spaceAuditor')).body.process_types, {
      web: '[PRIVATE DATA HIDDEN]',
    });
  });

  it("cf create-app: the app comes with its web process (CC's AppCreate)", async () => {
    const made = await x.call('POST', '/v3/apps', 'spaceDeveloper', {
      name: 'fresh',
      relationships: { space: { data: { guid: x.w.dev.guid } } },
    });
    assert.equal(made.status, 201);
    const procs = await x.get(`/v3/apps/${made.body.guid}/processes`, 'spaceDeveloper');
    assert.deepEqual(
      procs.body.resources.map((p: any) => [p.type, p.instances, p.memory_in_mb, p.health_check.type, p.command]),
      [['web', 1, 1024, 'port', null]],
    );
  });

  it('the OpenAPI document lists the workload routes', async () => {
    const doc = (await x.get('/v3/openapi.json')).body;
    const ids = new Set(
      Object.values(doc.paths as Record<string, Record<string, { operationId: string }>>).flatMap((p) =>
        Object.values(p).map((o) => o.operationId),
      ),
    );
    for (const id of [
      'applyManifest',
      'diffManifest',
      'uploadPackage',
      'matchResources',
      'createBuild',
      'getCurrentDroplet',
      'setCurrentDroplet',
      'downloadDroplet',
      'startApp',
      'stopApp',
      'restartApp',
      'listProcesses',
      'scaleAppProcess',
      'getProcessStats',
      'listProcessSidecars',
      'getOrgDefaultDomain',
      'createRoute',
      'addRouteDestinations',
      'removeRouteDestination',
      'listServiceRouteBindings',
      'createDeployment',
      'cancelDeployment',
      'listAppRevisions',
      'getLogCacheInfo',
      'readLogs',
    ])
      assert.ok(ids.has(id), id);
  });
});
