/**
 * Build workers on the shared queue: two `slipway worker`s, each with a store of its
 * own, take builds through the load balancer in front of two `slipway serve` nodes on
 * one PostgreSQL database and one blob store. Ten builds spread over both; a worker
 * SIGKILLed in the middle of a build loses it to the other once its claim goes stale
 * (`serve --claim-timeout`), which stages it; no build is staged twice or into a tag
 * twice.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureDefaultStack } from '../src/stack/default-stack.js';
import { LocalStore } from '../src/store/local-store.js';
import { commandExists, ROOT, tempDir } from './helpers.js';
import { PlatformClient } from './platform-world.js';
import { startNodes, type ScaleOutNodes, waitFor } from './scale-out-world.js';
import { startScaleOutBackends, type ScaleOutBackends } from './scale-out-backends.js';

const PASSWORD = 'workers-admin-pw';
const CLAIM_TIMEOUT_S = 4;
const sandbox = process.getuid?.() === 0 && commandExists('runc') && commandExists('zip');

interface Worker {
  child: ChildProcess;
  events: { event: string; build?: string; digest?: string }[];
  stderr: () => string;
}

describe('two build workers on one queue, behind the load balancer', {
  skip: sandbox ? false : 'needs root, runc and zip',
}, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let backends: ScaleOutBackends;
  let cluster: ScaleOutNodes;
  let c: PlatformClient;
  let auth: string;
  let space: string;
  const workers: Worker[] = [];

  const startWorker = (name: string): Worker => {
    const home = join(dir.path, name);
    mkdirSync(home, { recursive: true });
    const child = spawn(
      process.execPath,
      [
        '--',
        join(ROOT, 'bin/slipway.js'),
        '--json',
        'worker',
        '--server',
        cluster.lb.url,
        '--secret-file',
        join(dir.path, 'worker-secret'),
        '--network',
        'none',
      ],
      { env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const w: Worker = { child, events: [], stderr: () => stderr };
    let stderr = '';
    let line = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.on('data', (d: Buffer) => {
      line += d.toString();
      for (let nl = line.indexOf('\n'); nl >= 0; nl = line.indexOf('\n')) {
        w.events.push(JSON.parse(line.slice(0, nl)));
        line = line.slice(nl + 1);
      }
    });
    workers.push(w);
    return w;
  };

  /** An app of examples/procfile with a file of its own (so each build has its own source), its build queued. */
  const queueBuild = async (name: string): Promise<{ app: string; build: string }> => {
    const src = join(dir.path, 'src', name);
    cpSync(join(ROOT, 'examples/procfile'), src, { recursive: true });
    writeFileSync(join(src, 'which.txt'), `${name}\n`);
    const zip = join(dir.path, `${name}.zip`);
    execFileSync('zip', ['-q', '-X', '-r', zip, '.'], { cwd: src });
    const app = (
      await c.ok('POST', '/v3/apps', auth, {
        name,
        lifecycle: { type: 'buildpack', data: { buildpacks: ['slipway/procfile'], stack: null } },
        relationships: { space: { data: { guid: space } } },
      })
    ).guid as string;
    const pkg = (
      await c.ok('POST', '/v3/packages', auth, { type: 'bits', relationships: { app: { data: { guid: app } } } })
    ).guid as string;
    const form = new FormData();
    form.append('resources', '[]');
    form.append('bits', new Blob([readFileSync(zip)], { type: 'application/zip' }), 'bits.zip');
    const up = await fetch(`${c.base}/v3/packages/${pkg}/upload`, {
      method: 'POST',
      headers: { authorization: auth },
      body: form,
    });
    assert.equal(up.status, 200, await up.text());
    const build = (await c.ok('POST', '/v3/builds', auth, { package: { guid: pkg } })).guid as string;
    return { app, build };
  };

  /** Whether the build is STAGED; throws when it FAILED. */
  const staged = async (build: string): Promise<boolean> => {
    const b = await c.ok('GET', `/v3/builds/${build}`, auth);
    if (b.state === 'FAILED') throw new Error(`build ${build} failed: ${b.error}`);
    return b.state === 'STAGED';
  };

  before(async () => {
    dir = await tempDir('slipway-workers');
    backends = await startScaleOutBackends();
    // The platform's default stack, from the stack cache as the other tests get it, into the shared store.
    const store = await LocalStore.open(join(dir.path, 'seed'), backends.storage);
    try {
      await ensureDefaultStack(store);
    } finally {
      await store.close();
    }
    const passwordFile = join(dir.path, 'admin-password');
    writeFileSync(passwordFile, PASSWORD, { mode: 0o600 });
    cluster = await startNodes(dir.path, 2, passwordFile, backends.env, [
      '--build-workers',
      '0',
      '--claim-timeout',
      String(CLAIM_TIMEOUT_S),
    ]);
    // The worker secret is the platform's (shared through the database): any node's home has it.
    cpSync(join(cluster.homes[0]!, 'worker-secret'), join(dir.path, 'worker-secret'));
    c = new PlatformClient(cluster.lb.url);
    auth = await c.login('admin', PASSWORD);
    const org = await c.createOrg(auth, 'acme');
    space = await c.createSpace(auth, org, 'dev');
  });
  after(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
    await cluster?.stop();
    await backends?.stop();
    await dir?.cleanup();
  });

  test('ten builds spread over both workers, each staged once', { timeout: 15 * 60_000 }, async () => {
    const a = startWorker('worker-a');
    const b = startWorker('worker-b');
    const queued = [];
    for (let i = 0; i < 10; i++) queued.push(await queueBuild(`app${i}`));
    for (const q of queued)
      await waitFor(
        () => staged(q.build),
        () => `build ${q.build} not staged:\n${a.stderr()}\n${b.stderr()}`,
        10 * 60_000,
      );
    const stagedBy = (w: Worker) => w.events.filter((e) => e.event === 'staged').map((e) => e.build);
    assert.ok(stagedBy(a).length > 0 && stagedBy(b).length > 0, `a ${stagedBy(a).length}, b ${stagedBy(b).length}`);
    assert.deepEqual(
      [...stagedBy(a), ...stagedBy(b)].sort(),
      queued.map((q) => q.build).sort(),
      'every build staged by exactly one worker',
    );
    for (const q of queued) {
      const droplets = await c.ok('GET', `/v3/apps/${q.app}/droplets`, auth);
      assert.equal(droplets.resources.length, 1, `app ${q.app} has one droplet`);
    }
  });

  test('a worker SIGKILLed mid-build loses the build to the other, which stages it', {
    timeout: 10 * 60_000,
  }, async () => {
    const [a, b] = workers as [Worker, Worker];
    // Only worker a is free to claim: b is paused (SIGSTOP) until a has the build.
    b.child.kill('SIGSTOP');
    const q = await queueBuild('killed');
    await waitFor(
      async () => a.events.some((e) => e.event === 'claimed' && e.build === q.build),
      () => `worker a did not claim ${q.build}:\n${a.stderr()}`,
      60_000,
    );
    a.child.kill('SIGKILL');
    b.child.kill('SIGCONT');
    const t0 = Date.now();
    await waitFor(
      () => staged(q.build),
      () => `build ${q.build} not staged after the kill:\n${b.stderr()}`,
      5 * 60_000,
    );
    assert.ok(Date.now() - t0 >= (CLAIM_TIMEOUT_S - 1) * 1000, 'taken over only once the claim went stale');
    assert.ok(
      b.events.some((e) => e.event === 'staged' && e.build === q.build),
      'staged by the other worker',
    );
    const droplets = await c.ok('GET', `/v3/apps/${q.app}/droplets`, auth);
    assert.equal(droplets.resources.length, 1);
  });
});
