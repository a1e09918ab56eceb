import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SlipwayError } from '../errors.js';
import { JobRunner } from './jobs.js';
import { type App, emptyMetadata, newGuid, slugOf } from './model.js';
import { SqlitePlatformStore } from './store/sqlite-platform-store.js';

describe('jobs: deletes run in the background and end COMPLETE or FAILED', () => {
  let dir: string;
  let store: SqlitePlatformStore;
  const at = () => new Date().toISOString();
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-jobs-'));
    store = await SqlitePlatformStore.open(join(dir, 'p.sqlite'));
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function appInNewSpace(name: string): Promise<App> {
    const org = await store.createOrg({
      guid: newGuid(),
      name: `org-${name}`,
      slug: slugOf(`org-${name}`),
      suspended: false,
      metadata: emptyMetadata(),
      createdAt: at(),
      updatedAt: at(),
    });
    const space = await store.createSpace({
      guid: newGuid(),
      name: 's',
      slug: 's',
      orgGuid: org.guid,
      metadata: emptyMetadata(),
      createdAt: at(),
      updatedAt: at(),
    });
    return store.createApp({
      guid: newGuid(),
      name,
      slug: slugOf(name),
      spaceGuid: space.guid,
      state: 'STOPPED',
      lifecycle: { type: 'buildpack', data: { buildpacks: [], stack: null } },
      environmentVariables: {},
      metadata: emptyMetadata(),
      createdAt: at(),
      updatedAt: at(),
    });
  }

  it('a space delete cascades, then the images of its apps go; the job is COMPLETE', async () => {
    const app = await appInNewSpace('one');
    const told: string[][] = [];
    const jobs = new JobRunner({
      store,
      images: { deleteImages: async (apps) => void told.push(apps.map((a) => a.guid)) },
    });
    const job = await jobs.start('space.delete', app.spaceGuid);
    assert.equal(job.state, 'PROCESSING');
    await jobs.idle();
    assert.equal((await store.getJob(job.guid))?.state, 'COMPLETE');
    assert.deepEqual(told, [[app.guid]]);
    assert.equal(await store.getApp(app.guid), undefined);
  });

  it('a failure is FAILED with the CF error of its cause; deleting what is gone completes', async () => {
    const app = await appInNewSpace('two');
    const jobs = new JobRunner({
      store,
      images: {
        deleteImages: async () => {
          throw new SlipwayError('INVALID_ARGUMENT', 'the registry refused');
        },
      },
    });
    const failed = await jobs.start('app.delete', app.guid);
    const gone = await jobs.start('organization.delete', newGuid());
    await jobs.idle();
    const f = await store.getJob(failed.guid);
    assert.equal(f?.state, 'FAILED');
    assert.deepEqual(f?.errors, [{ code: 10008, title: 'CF-UnprocessableEntity', detail: 'the registry refused' }]);
    assert.ok(await store.getApp(app.guid), 'the app stays when its images could not be deleted');
    assert.equal((await store.getJob(gone.guid))?.state, 'COMPLETE');
  });
});
