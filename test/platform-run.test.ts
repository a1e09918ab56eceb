import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ContainerRuntime } from '../src/runtime/containers.js';
import { type AppPusher, LoadGenerator, type RunningPlatform, startRunningPlatform } from './platform-apps.js';
import type { PlatformClient } from './platform-world.js';

/**
 * The platform's whole flow on a real `slipway serve` (in this process): push ->
 * stage in the sandbox -> instances in runc behind the router; what users see when an
 * instance dies, while a rolling deployment runs, when a start command exits at once;
 * and who may do what to a running app. Needs root, runc and slirp4netns.
 */

const ROOT = join(import.meta.dirname, '..');
const PERL_APP = join(ROOT, 'test/fixtures/perl-web');
const skip = process.getuid?.() === 0 ? false : 'needs root (runc, slirp4netns)';

describe('platform: push, stage, run behind the router', { skip, timeout: 900_000 }, () => {
  let p: RunningPlatform;
  let client: PlatformClient;
  let pusher: AppPusher;
  let pstore: RunningPlatform['pstore'];
  let dir: string;
  const who: Record<'dev' | 'aud' | 'sup' | 'out', string> = { dev: '', aud: '', sup: '', out: '' };
  let space: string;

  before(async () => {
    p = await startRunningPlatform('platform-run');
    ({ client, pusher, pstore, space } = p);
    dir = p.home;
    const { admin, org } = p;
    const other = await client.createOrg(admin, 'globex');
    const otherSpace = await client.createSpace(admin, other, 'prod');
    const roles = { dev: 'space_developer', aud: 'space_auditor', sup: 'space_supporter' } as const;
    for (const name of ['dev', 'aud', 'sup', 'out'] as const) {
      const guid = await client.createUser(admin, name, `pw-${name}`);
      await client.orgRole(admin, guid, name === 'out' ? other : org, 'organization_user');
      if (name === 'out') await client.spaceRole(admin, guid, otherSpace, 'space_developer');
      else await client.spaceRole(admin, guid, space, roles[name]);
      who[name] = await client.login(name, `pw-${name}`);
    }
  });

  after(async () => {
    await p?.close();
  });

  it('pushes the Node example as a space developer; a one-line change uploads only that file and rolls out', async () => {
    const app = join(dir, 'nodejs');
    await cp(join(ROOT, 'examples/nodejs'), app, { recursive: true });
    const first = await pusher.push(who.dev, space, 'hello', app, { buildTimeout: 600 });
    assert.ok(first.uploadedFiles.includes('server.js'));
    const answer = await pusher.get('hello');
    assert.equal(answer.status, 200);
    assert.match(answer.body, /Hello from Slipway/);

    await writeFile(join(app, 'greeting.js'), "module.exports = { greeting: 'Hello again from Slipway' };\n");
    const second = await pusher.push(who.dev, space, 'hello', app, { rolling: { maxInFlight: 1 } });
    assert.deepEqual(second.uploadedFiles, ['greeting.js'], 'resource matching: only the changed file goes up');
    assert.equal(second.matched, first.uploadedFiles.length - 1);
    assert.ok(second.uploadedBytes < 1024, `the zip holds one small file (${second.uploadedBytes} bytes)`);
    assert.ok(second.deployment);
    assert.match((await pusher.get('hello')).body, /Hello again from Slipway/);
  });

  let perl: Awaited<ReturnType<AppPusher['push']>>;

  it('three instances; one killed from outside: no request fails, it comes back, stats show it', async () => {
    perl = await pusher.push(who.dev, space, 'perl', PERL_APP, { instances: 3, buildpacks: ['slipway/procfile'] });
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) seen.add((await pusher.get('perl')).body);
    assert.equal(seen.size, 3, `round-robin over the three instances: ${[...seen].join(' | ')}`);

    const victim = (await pstore.workloads.instancesOf(perl.process)).find((i) => i.index === 1)!;
    const load = new LoadGenerator(() => pusher.get('perl'), 4);
    await new Promise((r) => setTimeout(r, 500));
    // From outside the platform: its init process killed, as an OOM kill or a crash would.
    const runtime = ContainerRuntime.open(p.home);
    const pid = (await runtime.get(victim.containerName)).initPid!;
    runtime.close();
    process.kill(pid, 'SIGKILL');
    // The reconciler notices, CRASHED, started again at once (CF: the first three crashes restart at once).
    const back = await pusher.waitFor(
      async () => {
        const now = await pstore.workloads.instancesOf(perl.process);
        const one = now.find((i) => i.index === 1 && i.state === 'RUNNING');
        return one && one.guid !== victim.guid ? one : undefined;
      },
      30_000,
      'index 1 to run again',
    );
    await new Promise((r) => setTimeout(r, 500));
    await load.stop();
    assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.ok + load.failures.length} failed`);
    assert.ok(load.ok > 20, `the load ran (${load.ok})`);
    assert.equal(back.crashCount, 1);
    const stats = await pusher.stats(who.dev, perl.process);
    assert.deepEqual(
      stats.map((s) => s.state),
      ['RUNNING', 'RUNNING', 'RUNNING'],
    );
    assert.ok(stats[1]!.uptime < stats[0]!.uptime, 'index 1 is the new one');
  });

  it('a rolling deployment under steady load: no request fails, never fewer than instances - max_in_flight healthy', async () => {
    const app = join(dir, 'perl-v2');
    await cp(PERL_APP, app, { recursive: true });
    const source = await readFile(join(app, 'server.pl'), 'utf8');
    await writeFile(join(app, 'server.pl'), source.replace("my $version = 'v1';", "my $version = 'v2';"));
    const load = new LoadGenerator(() => pusher.get('perl'), 4);
    let fewest = 3;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const running = (await pstore.workloads.instancesOf(perl.process)).filter((i) => i.state === 'RUNNING');
        fewest = Math.min(fewest, running.length);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const pushed = await pusher.push(who.dev, space, 'perl', app, { rolling: { maxInFlight: 1 }, instances: 3 });
    sampling = false;
    await sampler;
    await load.stop();
    assert.deepEqual(load.failures, [], `${load.failures.length} of ${load.ok + load.failures.length} failed`);
    assert.ok(fewest >= 2, `at least 3 - 1 instances were RUNNING at every sample (fewest ${fewest})`);
    // DEPLOYED once the new instances serve and the old ones are out of the router; the old drain, then go.
    const serving = (await pstore.workloads.instancesOf(perl.process)).filter((i) => i.state !== 'STOPPING');
    assert.deepEqual(
      serving.map((i) => [i.index, i.dropletGuid, i.state]),
      [0, 1, 2].map((i) => [i, pushed.droplet, 'RUNNING']),
      'the new droplet on indexes 0..2, nothing else serving',
    );
    await pusher.waitFor(
      async () =>
        (await pstore.workloads.instancesOf(perl.process)).every((i) => i.dropletGuid === pushed.droplet) || undefined,
      10_000,
      'the old instances to drain and go',
    );
    for (let i = 0; i < 6; i++) assert.match((await pusher.get('perl')).body, /^hello v2 from [012]\n$/);
  });

  it('a start command that exits at once: CRASHED, and the log says why', async () => {
    const crash = await pusher.push(who.dev, space, 'crasher', PERL_APP, {
      buildpacks: ['slipway/procfile'],
      command: 'perl -e \'print "cannot find my config\\n"; exit 3\'',
      noStart: true,
    });
    await client.ok('POST', `/v3/apps/${crash.app}/actions/start`, who.dev, undefined, 200);
    const crashed = await pusher.waitFor(
      async () => (await pusher.stats(who.dev, crash.process)).find((s) => s.state === 'CRASHED'),
      30_000,
      'the instance to crash',
    );
    assert.match(crashed.details ?? '', /exited with status 3/);
    const logs = await client.ok('GET', `/api/v1/read/${crash.app}?limit=1000`, who.dev);
    const lines = (logs.envelopes.batch as { log: { payload: string } }[]).map((e) =>
      Buffer.from(e.log.payload, 'base64').toString(),
    );
    assert.ok(
      lines.some((l) => l.includes('cannot find my config')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => /crashed: exited with status 3/.test(l)),
      lines.join('\n'),
    );
    assert.equal((await pusher.get('crasher')).status, 503, 'the router: no available endpoints');
  });

  it("roles: an auditor sees the app and its logs but cannot push, scale or restart; a supporter restarts and restages but cannot push; another org's developer sees nothing", async () => {
    const app = perl.app;
    assert.equal((await client.call('GET', `/v3/apps/${app}`, who.aud)).status, 200);
    assert.equal((await client.call('GET', `/api/v1/read/${app}`, who.aud)).status, 200);
    const pkg = { type: 'bits', relationships: { app: { data: { guid: app } } } };
    assert.equal((await client.call('POST', '/v3/packages', who.aud, pkg)).status, 403);
    assert.equal(
      (await client.call('POST', `/v3/processes/${perl.process}/actions/scale`, who.aud, { instances: 1 })).status,
      403,
    );
    assert.equal((await client.call('POST', `/v3/apps/${app}/actions/restart`, who.aud)).status, 403);

    assert.equal((await client.call('POST', '/v3/packages', who.sup, pkg)).status, 403, 'a supporter cannot push');
    const droplet = (await client.ok('GET', `/v3/apps/${app}/droplets/current`, who.sup)).guid;
    const packageGuid = (await client.ok('GET', `/v3/droplets/${droplet}`, who.sup)).relationships?.package?.data?.guid;
    if (packageGuid) {
      const restage = await client.call('POST', '/v3/builds', who.sup, { package: { guid: packageGuid } });
      assert.equal(restage.status, 201, `a supporter restages: ${restage.text}`);
    }
    assert.equal((await client.call('POST', `/v3/apps/${app}/actions/restart`, who.sup)).status, 200);
    await pusher.waitRunning(who.sup, perl.process, 3);

    assert.equal((await client.call('GET', `/v3/apps/${app}`, who.out)).status, 404);
    assert.equal((await client.call('GET', `/api/v1/read/${app}`, who.out)).status, 404);
    assert.equal((await client.call('POST', `/v3/apps/${app}/actions/restart`, who.out)).status, 404);
  });
});
