import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ContainerRuntime } from '../src/runtime/containers.js';
import { tempDir } from './helpers.js';
import { APPS_DOMAIN, AppPusher, LoadGenerator, removeContainers } from './platform-apps.js';
import { PlatformClient, type ServeProcess, startServe } from './platform-world.js';

/**
 * Desired state survives the server: `slipway serve` (a child process) runs 5 apps and
 * is SIGKILLed; started again on the same home, it adopts the containers still running
 * (the same containers, same init processes, same instance records: no restart of a
 * healthy instance), routes to them again, and nothing is lost. Needs root (runc).
 */

const ROOT = join(import.meta.dirname, '..');
const PERL_APP = join(ROOT, 'test/fixtures/perl-web');
const skip = process.getuid?.() === 0 ? false : 'needs root (runc, slirp4netns)';

describe('platform: SIGKILL of slipway serve with apps running', { skip, timeout: 900_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let home: string;
  let passwordFile: string;
  let serve: ServeProcess | undefined;

  before(async () => {
    dir = await tempDir('platform-adopt');
    home = join(dir.path, 'home');
    await mkdir(home, { recursive: true });
    passwordFile = join(dir.path, 'admin-pw');
    await writeFile(passwordFile, 'admin-secret-pw');
  });
  after(async () => {
    await serve?.kill();
    await removeContainers(home);
    await dir.cleanup();
  });

  const containers = async () => {
    const runtime = ContainerRuntime.open(home);
    try {
      return new Map((await runtime.list()).filter((c) => c.status === 'running').map((c) => [c.name, c.initPid]));
    } finally {
      runtime.close();
    }
  };

  it('adopts the running instances after a restart: no healthy instance restarted, every app answers, nothing lost', async () => {
    serve = await startServe(home, passwordFile, ['--domain', APPS_DOMAIN, '--build-workers', '2']);
    let client = new PlatformClient(serve.url);
    let admin = await client.login('admin', 'admin-secret-pw');
    let pusher = new AppPusher(client, serve.routerUrl!, APPS_DOMAIN);
    const org = await client.createOrg(admin, 'acme');
    const space = await client.createSpace(admin, org, 'dev');
    const names = ['a0', 'a1', 'a2', 'a3', 'a4'];
    for (const n of names)
      await pusher.push(admin, space, n, PERL_APP, { buildpacks: ['slipway/procfile'], instances: n === 'a0' ? 2 : 1 });
    const before = await containers();
    assert.equal(before.size, 6);
    const instancesBefore = (await client.ok('GET', '/v3/processes?per_page=100', admin)).resources.length;

    await serve.kill();
    serve = undefined;
    pusher.close();
    // The containers do not depend on the server: they run on.
    assert.deepEqual(await containers(), before);

    serve = await startServe(home, passwordFile, ['--domain', APPS_DOMAIN, '--build-workers', '2']);
    client = new PlatformClient(serve.url);
    admin = await client.login('admin', 'admin-secret-pw');
    pusher = new AppPusher(client, serve.routerUrl!, APPS_DOMAIN);
    try {
      // The router learns the adopted instances at the reconciler's first pass.
      for (const n of names)
        await pusher.waitFor(
          async () => ((await pusher.get(n)).status === 200 ? true : undefined),
          30_000,
          `${n} through the new router`,
        );
      const load = new LoadGenerator(() => pusher.get(names[Date.now() % names.length]!), 2);
      await new Promise((r) => setTimeout(r, 3000));
      await load.stop();
      assert.deepEqual(load.failures, []);
      assert.deepEqual(await containers(), before, 'the same containers, the same init processes: none restarted');
      assert.equal((await client.ok('GET', '/v3/processes?per_page=100', admin)).resources.length, instancesBefore);
      const a0 = (await client.ok('GET', '/v3/processes?per_page=100', admin)).resources.find(
        (p: { instances: number }) => p.instances === 2,
      );
      const stats = (await client.ok('GET', `/v3/processes/${a0.guid}/stats`, admin)).resources;
      assert.deepEqual(
        stats.map((s: { state: string }) => s.state),
        ['RUNNING', 'RUNNING'],
      );
      assert.ok(
        stats.every((s: { uptime: number }) => s.uptime >= 3),
        'their uptime runs on from before the kill',
      );
    } finally {
      pusher.close();
    }
  });
});
