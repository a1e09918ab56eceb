import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LoadGenerator, type RunningPlatform, startRunningPlatform } from './platform-apps.js';

/**
 * The patching story end to end on a real platform: 10 running apps and one pinned;
 * the default stack gets a package (a new version), and with `rollout` every app is
 * rebased (no build) and rolled, answering from the new base, while a load generator
 * hits them all; the pinned app is listed as behind and left alone. Needs root (runc,
 * slirp4netns) and mmdebstrap (the new run image; its layers are cached).
 */

const ROOT = join(import.meta.dirname, '..');
const PERL_APP = join(ROOT, 'test/fixtures/perl-web');
const skip = process.getuid?.() === 0 ? false : 'needs root (runc, slirp4netns)';
const MARKER = 'netbase';

describe('platform: update-stack --rollout', { skip, timeout: 1_500_000 }, () => {
  let p: RunningPlatform;

  before(async () => {
    p = await startRunningPlatform('platform-rollout');
  });
  after(async () => {
    await p?.close();
  });

  it('rebases and rolls every app to the new stack version (no rebuild), without a failed request; the pinned app stays', async () => {
    const { client, pusher, admin, space } = p;
    const names = Array.from({ length: 10 }, (_, i) => `app${i}`);
    const pushed = [];
    // Two at a time: the build workers are two.
    for (let i = 0; i < names.length; i += 2)
      pushed.push(
        ...(await Promise.all(
          names
            .slice(i, i + 2)
            .map((n) => pusher.push(admin, space, n, PERL_APP, { buildpacks: ['slipway/procfile'] })),
        )),
      );
    const pinned = await pusher.push(admin, space, 'pinned', PERL_APP, { buildpacks: ['slipway/procfile'] });
    await client.ok('PATCH', `/v3/apps/${pinned.app}`, admin, { slipway: { auto_rebase: false } });
    for (const n of [...names, 'pinned']) assert.equal((await pusher.get(n, `/marker?pkg=${MARKER}`)).body, 'no\n');
    const builds = async () => (await client.ok('GET', '/v3/builds?per_page=1', admin)).pagination.total_results;
    const buildsBefore = await builds();
    const pinnedDroplet = (await client.ok('GET', `/v3/apps/${pinned.app}/droplets/current`, admin)).guid;

    const stack = (await client.ok('GET', '/v3/stacks?names=default', admin)).resources[0];
    const loads = names.map((n) => new LoadGenerator(() => pusher.get(n), 1));
    const res = await client.call('POST', `/v3/stacks/${stack.guid}/actions/update`, admin, {
      rollout: true,
      run_packages: [MARKER],
      max_in_flight: 4,
    });
    assert.equal(res.status, 202, res.text);
    const job = res.headers.get('location')!;
    await pusher.waitFor(
      async () => {
        const j = await client.ok('GET', job, admin);
        if (j.state === 'FAILED') throw new Error(`the update failed: ${JSON.stringify(j.errors)}`);
        return j.state === 'COMPLETE' ? j : undefined;
      },
      1_200_000,
      'the stack update',
    );
    for (const l of loads) await l.stop();
    const failures = loads.flatMap((l) => l.failures);
    const sent = loads.reduce((n, l) => n + l.ok + l.failures.length, 0);
    assert.deepEqual(failures, [], `${failures.length} of ${sent} requests failed during the rollout`);
    assert.ok(sent > 50, `the load ran (${sent})`);

    const report = await client.ok('GET', `/v3/stack_rollouts/${job.split('/').pop()}`, admin);
    assert.equal(report.new_version, true);
    const byName = new Map(report.apps.map((a: { app: { name: string } }) => [a.app.name, a]));
    for (const n of names) {
      const entry = byName.get(n) as {
        status: string;
        from: string;
        to: string;
        digest: string;
        previous_digest: string;
      };
      assert.equal(entry?.status, 'rolled', `${n}: ${JSON.stringify(entry)}`);
      assert.equal(entry.to, report.version);
      assert.notEqual(entry.digest, entry.previous_digest);
      assert.equal((await pusher.get(n, `/marker?pkg=${MARKER}`)).body, 'yes\n', `${n} answers from the new base`);
    }
    assert.equal((byName.get('pinned') as { status: string }).status, 'pinned');
    assert.equal(await builds(), buildsBefore, 'no build: every app was rebased, not restaged');

    assert.equal((await pusher.get('pinned', `/marker?pkg=${MARKER}`)).body, 'no\n', 'the pinned app is untouched');
    assert.equal((await client.ok('GET', `/v3/apps/${pinned.app}/droplets/current`, admin)).guid, pinnedDroplet);
    const behind = (await client.ok('GET', '/v3/apps_behind', admin)).resources;
    assert.deepEqual(
      behind.map((b: { app: { name: string }; auto_rebase: boolean }) => [b.app.name, b.auto_rebase]),
      [['pinned', false]],
    );
    // A second update has nothing to roll: every app is current or pinned.
    const again = await client.call('POST', `/v3/stacks/${stack.guid}/actions/update`, admin, { rollout: true });
    const second = again.headers.get('location')!;
    await pusher.waitFor(
      async () => ((await client.ok('GET', second, admin)).state === 'COMPLETE' ? true : undefined),
      600_000,
      'the second update',
    );
    const report2 = await client.ok('GET', `/v3/stack_rollouts/${second.split('/').pop()}`, admin);
    assert.deepEqual([...new Set(report2.apps.map((a: { status: string }) => a.status))].sort(), ['current', 'pinned']);
  });
});
