import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BASE } from './testdata/world.js';
import { DOMAIN, makeZip, WorkloadWorld } from './testdata/workload-world.js';

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
const resource = (path: string, content: string, mode = '644') => ({
  path,
  mode,
  checksum: { value: sha1(content) },
  size_in_bytes: Buffer.byteLength(content),
});

const FILES = {
  'server.js': "require('http').createServer((q, s) => s.end('hi')).listen(process.env.PORT);\n",
  'package.json': '{"name":"myapp","version":"1.0.0"}\n',
  'lib/util.js': 'module.exports = 1;\n',
};

const MANIFEST = `---
applications:
- name: myapp
  memory: 256M
  instances: 2
  path: /abs/path/app
  default-route: true
  env:
    GREETING: hello
  colour: blue
`;

describe('v3 workloads: cf push, as the cf CLI sends it', () => {
  let x: WorkloadWorld;
  beforeEach(async () => {
    x = await WorkloadWorld.create();
  });
  afterEach(async () => {
    await x.close();
  });

  it('the whole sequence: diff, apply_manifest, matches, package, upload, build, droplet, current droplet, restart, processes, stats, summary, logs', async () => {
    const space = x.w.dev.guid;
    // 1. manifest_diff against nothing: every key is an add.
    const diff = await x.yaml(`/v3/spaces/${space}/manifest_diff`, 'spaceDeveloper', MANIFEST);
    assert.equal(diff.status, 201);
    assert.ok(
      diff.body.diff.some((d: any) => d.op === 'add' && d.path === '/applications/0/memory' && d.value === '256M'),
    );

    // 2. apply_manifest: the app exists (STOPPED) when it answers; the job applies the rest.
    const applied = await x.yaml(`/v3/spaces/${space}/actions/apply_manifest`, 'spaceDeveloper', MANIFEST);
    assert.equal(applied.status, 202);
    const location = applied.headers.get('location') as string;
    assert.match(location, new RegExp(`^${BASE}/v3/jobs/`));
    const job = await x.job(location);
    assert.equal(job.body.state, 'COMPLETE', JSON.stringify(job.body.errors));
    assert.equal(job.body.operation, 'space.apply_manifest');
    assert.deepEqual(
      job.body.warnings.map((w: any) => w.detail),
      ["For application 'myapp': unknown key 'colour' was ignored"],
    );

    // 3. AppByName
    const apps = await x.get(`/v3/apps?names=myapp&space_guids=${space}`, 'spaceDeveloper');
    assert.equal(apps.body.resources.length, 1);
    const app = apps.body.resources[0];
    assert.equal(app.state, 'STOPPED');
    assert.equal(app.lifecycle.type, 'buildpack');
    assert.deepEqual(app.relationships.current_droplet, { data: { guid: null } });
    const processes = await x.get(`/v3/apps/${app.guid}/processes`, 'spaceDeveloper');
    const web = processes.body.resources[0];
    assert.equal(web.type, 'web');
    assert.equal(web.instances, 2);
    assert.equal(web.memory_in_mb, 256);
    assert.equal(web.health_check.type, 'port');
    const env = await x.get(`/v3/apps/${app.guid}/environment_variables`, 'spaceDeveloper');
    assert.deepEqual(env.body.var, { GREETING: 'hello' });
    const routes = await x.get(`/v3/apps/${app.guid}/routes`, 'spaceDeveloper');
    assert.deepEqual(
      routes.body.resources.map((r: any) => r.url),
      [`myapp.${DOMAIN}`],
    );
    assert.equal(routes.body.resources[0].destinations[0].app.guid, app.guid);

    // 4. resource_matches: nothing is known yet.
    const all = Object.entries(FILES).map(([p, c]) => resource(p, c));
    const none = await x.call('POST', '/v3/resource_matches', 'spaceDeveloper', { resources: all });
    assert.equal(none.status, 201);
    assert.deepEqual(none.body, { resources: [] });

    // 5.-7. package, upload (resources [] and the zip), READY at once.
    const pkg = await x.call('POST', '/v3/packages', 'spaceDeveloper', {
      type: 'bits',
      relationships: { app: { data: { guid: app.guid } } },
    });
    assert.equal(pkg.status, 201);
    assert.equal(pkg.body.state, 'AWAITING_UPLOAD');
    assert.equal(pkg.body.links.upload.href, `${BASE}/v3/packages/${pkg.body.guid}/upload`);
    const zip = await makeZip(FILES);
    const uploaded = await x.upload(pkg.body.guid, 'spaceDeveloper', [], zip);
    assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
    assert.equal(uploaded.body.state, 'READY');
    assert.match(uploaded.body.data.checksum.value, /^[0-9a-f]{64}$/);
    assert.equal((await x.get(`/v3/packages/${pkg.body.guid}`, 'spaceDeveloper')).body.state, 'READY');
    const latest = await x.get(
      `/v3/packages?app_guids=${app.guid}&order_by=-created_at&page=1&per_page=1&states=READY`,
      'spaceDeveloper',
    );
    assert.deepEqual(
      latest.body.resources.map((p: any) => p.guid),
      [pkg.body.guid],
    );

    // 8. Log Cache: info, then the latest envelope (none yet).
    const info = await x.get('/api/v1/info');
    assert.equal(info.body.version, '2.11.4');
    const empty = await x.get(
      `/api/v1/read/${app.guid}?descending=true&limit=1&start_time=-6795364578871345152`,
      'spaceDeveloper',
    );
    assert.deepEqual(empty.body, { envelopes: { batch: [] } });

    // 9.-10. the build: STAGING and queued for the workers; a worker records the droplet.
    const before = x.signals.builds;
    const build = await x.call('POST', '/v3/builds', 'spaceDeveloper', { package: { guid: pkg.body.guid } });
    assert.equal(build.status, 201);
    assert.equal(build.body.state, 'STAGING');
    assert.equal(build.body.droplet, null);
    assert.equal(build.body.created_by.name, 'spaceDeveloper');
    assert.equal(x.signals.builds, before + 1);
    const myapp = (await x.store.getApp(app.guid))!;
    x.logs.write(app.guid, 'STG', '0', 'OUT', 'Installing node');
    const droplet = await x.stage(myapp, build.body.guid, { web: 'node server.js', worker: 'node worker.js' });
    const staged = await x.get(`/v3/builds/${build.body.guid}`, 'spaceDeveloper');
    assert.equal(staged.body.state, 'STAGED');
    assert.deepEqual(staged.body.droplet, { guid: droplet.guid });

    // 11. the droplet
    const d = await x.get(`/v3/droplets/${droplet.guid}`, 'spaceDeveloper');
    assert.equal(d.body.state, 'STAGED');
    assert.equal(d.body.checksum.value, 'ab'.repeat(32));
    assert.deepEqual(d.body.process_types, { web: 'node server.js', worker: 'node worker.js' });
    assert.equal(d.body.buildpacks[0].buildpack_name, 'nodejs');
    const current404 = await x.get(`/v3/apps/${app.guid}/droplets/current`, 'spaceDeveloper');
    assert.equal(current404.status, 404);
    assert.equal(current404.body.errors[0].detail, 'Droplet not found');

    // 12. current droplet, restart
    const set = await x.call('PATCH', `/v3/apps/${app.guid}/relationships/current_droplet`, 'spaceDeveloper', {
      data: { guid: droplet.guid },
    });
    assert.equal(set.status, 200);
    assert.deepEqual(set.body.data, { guid: droplet.guid });
    const restarted = await x.call('POST', `/v3/apps/${app.guid}/actions/restart`, 'spaceDeveloper');
    assert.equal(restarted.status, 200);
    assert.equal(restarted.body.state, 'STARTED');
    assert.deepEqual(restarted.body.relationships.current_droplet, { data: { guid: droplet.guid } });

    // 13. processes: the droplet's types became processes (worker with 0 instances); stats from the runtime.
    const after = await x.get(`/v3/apps/${app.guid}/processes`, 'spaceDeveloper');
    assert.deepEqual(
      after.body.resources.map((p: any) => [p.type, p.instances, p.command]),
      [
        ['web', 2, 'node server.js'],
        ['worker', 0, 'node worker.js'],
      ],
    );
    x.stats.byProcess.set(web.guid, [
      {
        index: 0,
        state: 'RUNNING',
        uptime: 12.7,
        host: '127.0.0.1',
        port: 40001,
        memoryBytes: 31_457_280,
        cpu: 0.02,
        diskBytes: 4096,
        memQuotaBytes: 268_435_456,
        diskQuotaBytes: 1_073_741_824,
        digest: droplet.digest,
      },
    ]);
    const stats = await x.get(`/v3/processes/${web.guid}/stats`, 'spaceDeveloper');
    assert.equal(stats.status, 200);
    const [first, second] = stats.body.resources;
    assert.equal(first.index, 0);
    assert.equal(first.state, 'RUNNING');
    assert.equal(first.uptime, 12);
    assert.equal(first.usage.mem, 31_457_280);
    assert.equal(first.usage.disk, 4096);
    assert.equal(first.usage.cpu, 0.02);
    assert.equal(first.usage.cpu_entitlement, 0.02);
    assert.equal(first.mem_quota, 268_435_456);
    assert.equal(first.routable, true);
    assert.equal(first.details, null);
    assert.equal(first.type, 'web');
    assert.equal(first.digest, droplet.digest);
    // index 1 is wanted and not reported: DOWN (the cf CLI keeps polling).
    assert.deepEqual([second.index, second.state, second.uptime], [1, 'DOWN', 0]);

    // 14. the summary calls
    const p = await x.get(`/v3/processes/${web.guid}`, 'spaceDeveloper');
    assert.equal(p.body.command, 'node server.js');
    const sidecars = await x.get(`/v3/processes/${web.guid}/sidecars`, 'spaceDeveloper');
    assert.deepEqual(sidecars.body.resources, []);
    assert.equal(sidecars.body.pagination.total_results, 0);
    const current = await x.get(`/v3/apps/${app.guid}/droplets/current`, 'spaceDeveloper');
    assert.equal(current.body.guid, droplet.guid);
    assert.match(current.body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const active = await x.get(
      `/v3/deployments?app_guids=${app.guid}&order_by=-created_at&page=1&per_page=1&status_values=ACTIVE`,
      'spaceDeveloper',
    );
    assert.deepEqual(active.body.resources, []);

    // cf logs --recent: staging lines are STG, base64 payloads, newest first with descending=true.
    x.logs.write(app.guid, 'APP/PROC/WEB', '0', 'ERR', 'listening');
    const recent = await x.get(
      `/api/v1/read/${app.guid}?descending=true&envelope_types=LOG&limit=1000&start_time=-6795364578871345152`,
      'spaceAuditor',
    );
    const batch = recent.body.envelopes.batch;
    assert.deepEqual(
      batch.map((e: any) => [
        e.tags.source_type,
        e.instance_id,
        e.log.type,
        Buffer.from(e.log.payload, 'base64').toString(),
      ]),
      [
        ['APP/PROC/WEB', '0', 'ERR', 'listening'],
        ['STG', '0', 'OUT', 'Staging complete'],
        ['STG', '0', 'OUT', 'Installing node'],
      ],
    );
    for (const e of batch) {
      assert.deepEqual(Object.keys(e).sort(), ['instance_id', 'log', 'source_id', 'tags', 'timestamp']);
      assert.match(e.timestamp, /^\d+$/);
      assert.equal(e.source_id, app.guid);
    }
    // The walk: ascending from a time, the oldest first, at most limit.
    const from = BigInt(batch[1].timestamp);
    const walk = await x.get(
      `/api/v1/read/${app.guid}?envelope_types=LOG&limit=1&start_time=${from}`,
      'spaceDeveloper',
    );
    assert.deepEqual(
      walk.body.envelopes.batch.map((e: any) => e.timestamp),
      [batch[1].timestamp],
    );
    const until = await x.get(`/api/v1/read/${app.guid}?start_time=0&end_time=${from}`, 'spaceDeveloper');
    assert.equal(until.body.envelopes.batch.length, 1);
    const counters = await x.get(`/api/v1/read/${app.guid}?envelope_types=COUNTER`, 'spaceDeveloper');
    assert.deepEqual(counters.body.envelopes.batch, []);
    assert.equal((await x.get(`/api/v1/read/${app.guid}`, 'otherOrgDeveloper')).status, 404);
    assert.equal((await x.get(`/api/v1/read/${app.guid}?limit=5000`, 'spaceDeveloper')).status, 400);

    // The root document's log_cache link is the API itself.
    const root = await x.get('/');
    assert.equal(root.body.links.log_cache.href, BASE);

    // Audit events of the push, CC's types.
    const events = await x.get(`/v3/audit_events?target_guids=${app.guid}&per_page=100`, 'admin');
    const types = new Set(events.body.resources.map((e: any) => e.type));
    for (const t of [
      'audit.app.create',
      'audit.app.apply_manifest',
      'audit.app.map-route',
      'audit.app.package.create',
      'audit.app.package.upload',
      'audit.app.build.create',
      'audit.app.droplet.mapped',
      'audit.app.restart',
    ])
      assert.ok(types.has(t), t);
  });

  it('a second push uploads only what changed: the matched files go as resources, the zip holds the rest (or is left out)', async () => {
    const app = x.w.web;
    const first = await x.call('POST', '/v3/packages', 'spaceDeveloper', {
      type: 'bits',
      relationships: { app: { data: { guid: app.guid } } },
    });
    assert.equal((await x.upload(first.body.guid, 'spaceDeveloper', [], await makeZip(FILES))).status, 200);

    const changed = { ...FILES, 'server.js': `${FILES['server.js']}// one line more\n` };
    const all = Object.entries(changed).map(([p, c]) => resource(p, c, p === 'server.js' ? '755' : '644'));
    const matches = await x.call('POST', '/v3/resource_matches', 'spaceDeveloper', { resources: all });
    assert.deepEqual(matches.body.resources.map((r: any) => r.path).sort(), ['lib/util.js', 'package.json']);
    for (const r of matches.body.resources) assert.match(r.mode, /^[0-7]{3}$/);

    const second = await x.call('POST', '/v3/packages', 'spaceDeveloper', {
      type: 'bits',
      relationships: { app: { data: { guid: app.guid } } },
    });
    const zip = await makeZip({ 'server.js': changed['server.js'] });
    const up = await x.upload(second.body.guid, 'spaceDeveloper', matches.body.resources, zip);
    assert.equal(up.status, 200, JSON.stringify(up.body));
    const dir = await mkdtemp(join(tmpdir(), 'slipway-pkg-'));
    try {
      await x.packages.extract(second.body.guid, dir);
      assert.equal(await readFile(join(dir, 'server.js'), 'utf8'), changed['server.js']);
      assert.equal(await readFile(join(dir, 'lib/util.js'), 'utf8'), FILES['lib/util.js']);
      assert.deepEqual((await readdir(dir)).sort(), ['lib', 'package.json', 'server.js']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    // Everything matched: no bits part at all.
    const third = await x.call('POST', '/v3/packages', 'spaceDeveloper', {
      type: 'bits',
      relationships: { app: { data: { guid: app.guid } } },
    });
    const everything = (await x.call('POST', '/v3/resource_matches', 'spaceDeveloper', { resources: all })).body
      .resources;
    assert.equal(everything.length, 3);
    const none = await x.upload(third.body.guid, 'spaceDeveloper', everything);
    assert.equal(none.status, 200, JSON.stringify(none.body));
    assert.equal(none.body.state, 'READY');
  });

  it("upload errors: bits only once, a resource the platform lacks, a broken zip (FAILED), not multipart, another's package", async () => {
    const app = x.w.web;
    const mk = async () =>
      (
        await x.call('POST', '/v3/packages', 'spaceDeveloper', {
          type: 'bits',
          relationships: { app: { data: { guid: app.guid } } },
        })
      ).body.guid;
    const pkg = await mk();
    assert.equal((await x.upload(pkg, 'spaceDeveloper', [], await makeZip(FILES))).status, 200);
    const again = await x.upload(pkg, 'spaceDeveloper', [], await makeZip(FILES));
    assert.equal(again.status, 422);
    assert.equal(
      again.body.errors[0].detail,
      'Bits may be uploaded only once. Create a new package to upload different bits.',
    );

    const lacking = await mk();
    const unknown = await x.upload(lacking, 'spaceDeveloper', [resource('x.js', 'never sent')]);
    assert.equal(unknown.status, 422);
    assert.match(unknown.body.errors[0].detail, /x\.js/);
    assert.equal((await x.get(`/v3/packages/${lacking}`, 'spaceDeveloper')).body.state, 'FAILED');

    const broken = await mk();
    const bad = await x.upload(broken, 'spaceDeveloper', [], Buffer.from('this is not a zip'));
    assert.equal(bad.status, 422);
    const failed = await x.get(`/v3/packages/${broken}`, 'spaceDeveloper');
    assert.equal(failed.body.state, 'FAILED');
    assert.ok(failed.body.data.error);

    const plain = await mk();
    const notMultipart = await x.call('POST', `/v3/packages/${plain}/upload`, 'spaceDeveloper', { resources: [] });
    assert.equal(notMultipart.status, 400);
    assert.equal(notMultipart.body.errors[0].title, 'CF-BadRequest');
    const badResources = await x.call(
      'POST',
      `/v3/packages/${plain}/upload`,
      'spaceDeveloper',
      x.multipart([{ path: 1 }]).body,
      {
        'content-type': x.multipart([]).contentType,
      },
    );
    assert.equal(badResources.status, 400, 'a body whose boundary is not the content type one');

    assert.equal((await x.upload(plain, 'otherOrgDeveloper', [])).status, 404);
    assert.equal((await x.upload(plain, 'spaceAuditor', [])).status, 403);
    assert.equal((await x.upload(plain, 'spaceSupporter', [])).status, 403);
    const docker = await x.call('POST', '/v3/packages', 'spaceDeveloper', {
      type: 'docker',
      relationships: { app: { data: { guid: app.guid } } },
      data: { image: 'nginx' },
    });
    assert.equal((await x.upload(docker.body.guid, 'spaceDeveloper', [])).status, 422);
  });

  it('apply_manifest: CC errors in the answer (not yaml, no applications, bad values), routes, no-route, random-route, processes', async () => {
    const space = x.w.dev.guid;
    const url = `/v3/spaces/${space}/actions/apply_manifest`;
    const notYaml = await x.call('POST', url, 'spaceDeveloper', 'applications: []');
    assert.equal(notYaml.status, 400);
    assert.equal(notYaml.body.errors[0].detail, 'Bad request: Content-Type must be yaml');
    const noApps = await x.yaml(url, 'spaceDeveloper', 'version: 1\n');
    assert.equal(noApps.status, 422);
    assert.equal(noApps.body.errors[0].detail, "Cannot parse manifest with no 'applications' field.");
    const bad = await x.yaml(url, 'spaceDeveloper', 'applications:\n- name: a\n  memory: 12Q\n  instances: -1\n');
    assert.equal(bad.status, 422);
    assert.equal(
      bad.body.errors[0].detail,
      "For application 'a': Instances must be greater than or equal to 0, For application 'a': Memory must use a supported unit: B, K, KB, M, MB, G, GB, T, or TB",
    );
    const unnamed = await x.yaml(url, 'spaceDeveloper', 'applications:\n- memory: 1G\n');
    assert.equal(unnamed.body.errors[0].detail, 'For application at index 0: Name must not be empty');
    const version = await x.yaml(url, 'spaceDeveloper', 'version: 2\napplications:\n- name: a\n');
    assert.equal(
      version.body.errors[0].detail,
      'Unsupported manifest schema version. Currently supported versions: [1].',
    );
    assert.equal((await x.yaml(url, 'spaceDeveloper', 'applications: [')).status, 400);
    assert.equal(
      (await x.store.listApps({ page: 1, perPage: 10, orderBy: 'name' }, { names: ['a'] }, { kind: 'all' })).total,
      0,
    );

    // routes given, processes, health checks, buildpacks and stack.
    const m = `applications:
- name: shop
  buildpacks: [ruby_buildpack]
  stack: trixie
  health-check-type: http
  health-check-http-endpoint: /health
  timeout: 30
  command: bundle exec puma
  routes:
  - route: shop.${DOMAIN}/api
  - route: www.${DOMAIN}
  processes:
  - type: worker
    instances: 3
    memory: 1G
    disk_quota: 2G
    health-check-type: process
`;
    const job = await x.job((await x.yaml(url, 'spaceDeveloper', m)).headers.get('location')!);
    assert.equal(job.body.state, 'COMPLETE', JSON.stringify(job.body.errors));
    const shop = (await x.get(`/v3/apps?names=shop&space_guids=${space}`, 'spaceDeveloper')).body.resources[0];
    assert.deepEqual(shop.lifecycle.data, { buildpacks: ['ruby_buildpack'], stack: 'trixie' });
    const procs = (await x.get(`/v3/apps/${shop.guid}/processes`, 'spaceDeveloper')).body.resources;
    const web = procs.find((p: any) => p.type === 'web');
    const worker = procs.find((p: any) => p.type === 'worker');
    assert.deepEqual(web.health_check, {
      type: 'http',
      data: { timeout: 30, invocation_timeout: null, interval: null, endpoint: '/health' },
    });
    assert.equal(web.command, 'bundle exec puma');
    assert.deepEqual(
      [worker.instances, worker.memory_in_mb, worker.disk_in_mb, worker.health_check.type],
      [3, 1024, 2048, 'process'],
    );
    const urls = (await x.get(`/v3/apps/${shop.guid}/routes`, 'spaceDeveloper')).body.resources
      .map((r: any) => r.url)
      .sort();
    assert.deepEqual(urls, [`shop.${DOMAIN}/api`, `www.${DOMAIN}`]);
    // default-route adds nothing once the app has routes; no-route unmaps them all.
    await x.job(
      (await x.yaml(url, 'spaceDeveloper', 'applications:\n- name: shop\n  default-route: true\n')).headers.get(
        'location',
      )!,
    );
    assert.equal((await x.get(`/v3/apps/${shop.guid}/routes`, 'spaceDeveloper')).body.resources.length, 2);
    await x.job(
      (await x.yaml(url, 'spaceDeveloper', 'applications:\n- name: shop\n  no-route: true\n')).headers.get('location')!,
    );
    assert.equal((await x.get(`/v3/apps/${shop.guid}/routes`, 'spaceDeveloper')).body.resources.length, 0);
    // random-route: APP-word-word-xx.<default domain>
    await x.job(
      (await x.yaml(url, 'spaceDeveloper', 'applications:\n- name: shop\n  random-route: true\n')).headers.get(
        'location',
      )!,
    );
    const random = (await x.get(`/v3/apps/${shop.guid}/routes`, 'spaceDeveloper')).body.resources;
    assert.equal(random.length, 1);
    assert.match(random[0].url, new RegExp(`^shop-[a-z]+-[a-z]+-[a-z]{2}\\.${DOMAIN.replaceAll('.', '\\.')}$`));

    // manifest_diff against the app as it is.
    const diff = await x.yaml(
      `/v3/spaces/${space}/manifest_diff`,
      'spaceDeveloper',
      'applications:\n- name: shop\n  stack: trixie\n  instances: 4\n  timeout: 30\n',
    );
    assert.deepEqual(diff.body.diff, [{ op: 'replace', path: '/applications/0/instances', was: 1, value: 4 }]);

    // An unknown buildpack fails the job in CC's words.
    const failing = await x.job(
      (
        await x.yaml(url, 'spaceDeveloper', 'applications:\n- name: shop\n  buildpacks: [nope_buildpack]\n')
      ).headers.get('location')!,
    );
    assert.equal(failing.body.state, 'FAILED');
    assert.equal(
      failing.body.errors[0].detail,
      `For application 'shop': Buildpack "nope_buildpack" must be an existing admin buildpack or a valid git URI`,
    );
  });

  it('the default route another space holds: the job fails CF-RouteTaken; a default domain exists for every org', async () => {
    const prod = x.w.prod.guid;
    const url = (s: string) => `/v3/spaces/${s}/actions/apply_manifest`;
    const mine = await x.job(
      (
        await x.yaml(url(prod), 'otherOrgDeveloper', 'applications:\n- name: shared\n  default-route: true\n')
      ).headers.get('location')!,
      'otherOrgDeveloper',
    );
    assert.equal(mine.body.state, 'COMPLETE');
    const taken = await x.job(
      (
        await x.yaml(url(x.w.dev.guid), 'spaceDeveloper', 'applications:\n- name: shared\n  default-route: true\n')
      ).headers.get('location')!,
    );
    assert.equal(taken.body.state, 'FAILED');
    assert.equal(taken.body.errors[0].title, 'CF-RouteTaken');
    assert.equal(taken.body.errors[0].code, 210003);
    assert.match(taken.body.errors[0].detail, /^For application 'shared': For route 'shared\.apps\.example\.com': /);
    const def = await x.get(`/v3/organizations/${x.w.acme.guid}/domains/default`, 'orgUser');
    assert.equal(def.status, 200);
    assert.equal(def.body.name, DOMAIN);
    assert.deepEqual(def.body.relationships.organization, { data: null });
    assert.equal((await x.get(`/v3/organizations/${x.w.acme.guid}/domains/default`, 'otherOrgDeveloper')).status, 404);
  });

  it('apply_manifest and manifest_diff: developers; auditors and supporters 403; another org 404', async () => {
    const url = `/v3/spaces/${x.w.dev.guid}/actions/apply_manifest`;
    const m = 'applications:\n- name: x1\n';
    assert.equal((await x.yaml(url, 'spaceAuditor', m)).status, 403);
    assert.equal((await x.yaml(url, 'spaceSupporter', m)).status, 403);
    assert.equal((await x.yaml(url, 'spaceManager', m)).status, 403);
    assert.equal((await x.yaml(url, 'orgManager', m)).status, 403);
    assert.equal((await x.yaml(url, 'otherOrgDeveloper', m)).status, 404);
    assert.equal((await x.yaml(url, 'orgUser', m)).status, 404);
    assert.equal((await x.yaml(`/v3/spaces/${x.w.dev.guid}/manifest_diff`, 'spaceSupporter', m)).status, 403);
    assert.equal((await x.yaml(url, 'admin', m)).status, 202);
  });
});
