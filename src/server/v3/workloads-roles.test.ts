import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PRINCIPALS, type Principal } from './testdata/world.js';
import { WorkloadWorld } from './testdata/workload-world.js';

/**
 * Who reads the workload of a space (CC's ROLES_FOR_SPACE_READING and global readers):
 * everyone else gets 404, as for the app itself. Writes are in the other files' cells.
 */
const READERS: readonly Principal[] = [
  'admin',
  'adminReadOnly',
  'globalAuditor',
  'orgManager',
  'spaceDeveloper',
  'spaceManager',
  'spaceAuditor',
  'spaceSupporter',
];

describe('v3 workloads: the read matrix (every principal x every workload read)', () => {
  let x: WorkloadWorld;
  const paths: string[] = [];
  before(async () => {
    x = await WorkloadWorld.create();
    const app = x.w.web.guid;
    const pkg = (
      await x.call('POST', '/v3/packages', 'spaceDeveloper', {
        type: 'bits',
        relationships: { app: { data: { guid: app } } },
      })
    ).body;
    await x.upload(pkg.guid, 'spaceDeveloper', []);
    const build = (await x.call('POST', '/v3/builds', 'spaceDeveloper', { package: { guid: pkg.guid } })).body;
    const droplet = await x.stage(x.w.web, build.guid);
    await x.call('PATCH', `/v3/apps/${app}/relationships/current_droplet`, 'spaceDeveloper', {
      data: { guid: droplet.guid },
    });
    const dep = (
      await x.call('POST', '/v3/deployments', 'spaceDeveloper', { relationships: { app: { data: { guid: app } } } })
    ).body;
    const web = (await x.workloads.findProcess(app, 'web'))!;
    const revision = (
      await x.workloads.listRevisions({ page: 1, perPage: 1, orderBy: 'version' }, { appGuids: [app] }, { kind: 'all' })
    ).items[0]!;
    paths.push(
      `/v3/packages/${pkg.guid}`,
      `/v3/packages/${pkg.guid}/droplets`,
      `/v3/builds/${build.guid}`,
      `/v3/apps/${app}/builds`,
      `/v3/droplets/${droplet.guid}`,
      `/v3/apps/${app}/droplets`,
      `/v3/apps/${app}/droplets/current`,
      `/v3/apps/${app}/processes`,
      `/v3/apps/${app}/processes/web`,
      `/v3/processes/${web.guid}`,
      `/v3/processes/${web.guid}/stats`,
      `/v3/processes/${web.guid}/sidecars`,
      `/v3/deployments/${dep.guid}`,
      `/v3/apps/${app}/revisions`,
      `/v3/revisions/${revision.guid}`,
      `/v3/apps/${app}/routes`,
      `/api/v1/read/${app}`,
    );
  });
  after(async () => {
    await x.close();
  });

  it('space readers 200, everyone else 404 (anonymous 401)', async () => {
    const wrong: string[] = [];
    for (const who of PRINCIPALS) {
      const want = READERS.includes(who) ? 200 : 404;
      for (const path of paths) {
        const got = (await x.get(path, who)).status;
        if (got !== want) wrong.push(`${who} ${path}: ${got}, not ${want}`);
      }
    }
    for (const path of paths) if ((await x.get(path, 'anonymous')).status !== 401) wrong.push(`anonymous ${path}`);
    assert.deepEqual(wrong, []);
  });

  it('lists are filtered by what the caller reads: another org sees none of it', async () => {
    for (const list of ['/v3/packages', '/v3/builds', '/v3/droplets', '/v3/processes', '/v3/deployments']) {
      assert.equal((await x.get(list, 'otherOrgDeveloper')).body.resources.length, 0, list);
      assert.equal((await x.get(list, 'orgAuditor')).body.resources.length, 0, list);
      assert.ok((await x.get(list, 'spaceAuditor')).body.resources.length > 0, list);
    }
  });

  it('writes by the cells CC has: packages only developers; builds, droplets, scale, start, stop developers and supporters', async () => {
    const app = x.w.web.guid;
    const rel = { relationships: { app: { data: { guid: app } } } };
    const cells: [Principal, string, string, unknown, number][] = [
      ['spaceSupporter', 'POST', '/v3/packages', { type: 'bits', ...rel }, 403],
      ['spaceAuditor', 'POST', '/v3/packages', { type: 'bits', ...rel }, 403],
      ['otherOrgDeveloper', 'POST', '/v3/packages', { type: 'bits', ...rel }, 422],
      ['spaceDeveloper', 'POST', '/v3/packages', { type: 'bits', ...rel }, 201],
      ['spaceSupporter', 'POST', `/v3/apps/${app}/actions/restart`, undefined, 200],
      ['spaceAuditor', 'POST', `/v3/apps/${app}/actions/restart`, undefined, 403],
      ['orgManager', 'POST', `/v3/apps/${app}/actions/restart`, undefined, 403],
      ['adminReadOnly', 'POST', `/v3/apps/${app}/actions/restart`, undefined, 403],
      ['admin', 'POST', `/v3/apps/${app}/actions/restart`, undefined, 200],
    ];
    for (const [who, method, path, body, want] of cells)
      assert.equal((await x.call(method, path, who, body)).status, want, `${who} ${method} ${path}`);
  });
});
