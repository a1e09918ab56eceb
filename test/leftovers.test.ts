import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RuntimePaths } from '../src/runtime/paths.js';
import { RuntimeState } from '../src/runtime/state.js';
import { stackVersions } from '../src/stack/stack-catalog.js';
import type { LocalStore } from '../src/store/local-store.js';
import { buildStore, writeBuildpacks } from './build-fixtures.js';
import { ROOT, run, slipway, slipwayOk } from './helpers.js';

/**
 * Every container Slipway starts dies with the CLI that started it: a build and a
 * `run --rm` ended by SIGINT, SIGTERM, SIGHUP or a broken pipe leave no runc container,
 * no mount and no scratch directory; what a SIGKILL leaves, the next `slipway gc`
 * sweeps. Real runc, overlayfs, loop-mounted build volumes; nothing is mocked.
 */
const isRoot = process.getuid?.() === 0;

describe('leftovers of a killed CLI', { skip: !isRoot && 'builds and containers need root' }, () => {
  let home: string;
  let store: LocalStore;
  let cleanup: () => Promise<void>;
  let app: string;
  let bp: string;

  before(async () => {
    ({ home, store, cleanup } = await buildStore());
    app = join(home, 'app-src');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'hello.txt'), 'hi\n');
    // A build that never ends by itself and writes all the time (so a broken pipe shows).
    bp = writeBuildpacks(join(home, 'bps'), [
      { id: 'test/forever', build: 'echo building; while :; do echo tick; sleep 0.2; done' },
    ])[0]!;
  });
  after(async () => {
    await slipway(home, ['gc', '--layer-cache']);
    await cleanup();
  });

  /** What a build or a container could leave: runc containers, mounts below the home, scratch directories. */
  async function leftovers(): Promise<{ runc: string[]; mounts: string[]; scratch: string[] }> {
    const runcRoot = join(home, 'runtime', 'runc');
    const runcIds = existsSync(runcRoot)
      ? (await run('runc', ['--root', runcRoot, 'list', '-q'])).split('\n').filter(Boolean)
      : [];
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m.startsWith(`${home}/`));
    const scratch: string[] = [];
    const tmp = join(home, 'tmp');
    if (existsSync(tmp)) scratch.push(...readdirSync(tmp).filter((n) => n.startsWith('stage-')));
    const volumes = join(home, 'build-volumes');
    if (existsSync(volumes)) scratch.push(...readdirSync(volumes).filter((n) => n.endsWith('.mnt')));
    const containers = join(home, 'runtime', 'containers');
    if (existsSync(containers)) scratch.push(...readdirSync(containers));
    return { runc: runcIds, mounts, scratch };
  }
  const none = { runc: [], mounts: [], scratch: [] };

  /** Starts the CLI; resolves once `ready` appears on its stderr, with the child and its exit. */
  async function start(
    args: string[],
    ready: RegExp,
  ): Promise<{ child: ChildProcess; exit: Promise<number | null>; stderr: () => string }> {
    const child = spawn(process.execPath, ['--', join(ROOT, 'bin/slipway.js'), ...args], {
      env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    // A CLI that does not end is a failure, not a hang: it is killed after 30 s.
    const exit = new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        stderr += d.toString();
        if (ready.test(stderr)) {
          child.stderr!.off('data', onData);
          child.stderr!.on('data', (more: Buffer) => (stderr += more.toString()));
          resolve();
        }
      };
      child.stderr!.on('data', onData);
      child.stdout!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (ready.test(stderr)) resolve();
      });
      void exit.then((code) => reject(new Error(`slipway ${args.join(' ')} exited ${code} first:\n${stderr}`)));
    });
    return { child, exit, stderr: () => stderr };
  }

  const buildArgs = () => ['build', 'apps/forever', '--path', app, '-b', bp];

  for (const [signal, status] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    test(`a build ended by ${signal} says interrupted, exits ${status} and leaves nothing`, async () => {
      const { child, exit, stderr } = await start(buildArgs(), /tick/);
      child.kill(signal);
      assert.equal(await exit, status, stderr());
      assert.match(stderr(), /interrupted/);
      assert.doesNotMatch(stderr(), /the build container ended/);
      assert.deepEqual(await leftovers(), none);
    });
  }

  test('a build whose output pipe breaks (slipway build 2>&1 | head) leaves nothing', async () => {
    const { child, exit } = await start(buildArgs(), /tick/);
    child.stdout!.destroy();
    child.stderr!.destroy();
    assert.equal(await exit, 141);
    assert.deepEqual(await leftovers(), none);
  });

  const loop = ['sh', '-c', 'while :; do echo tick; sleep 0.2; done'];

  for (const [signal, status] of [
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    test(`run --rm ended by ${signal}: the process gets the signal (exit ${status}) and nothing is left`, async () => {
      const { child, exit, stderr } = await start(['run', '--rm', 'default/run', '--', ...loop], /tick/);
      child.kill(signal);
      assert.equal(await exit, status, stderr());
      assert.deepEqual(await leftovers(), none);
    });
  }

  test('run --rm whose output pipe breaks leaves nothing', async () => {
    const { child, exit } = await start(['run', '--rm', 'default/run', '--', ...loop], /tick/);
    child.stdout!.destroy();
    child.stderr!.destroy();
    // The process (no longer PID 1, the init is) dies of SIGPIPE as it would outside a container.
    assert.equal(await exit, 141);
    assert.deepEqual(await leftovers(), none);
  });

  test('after a SIGKILL of the CLI its containers die at once, and the next slipway gc sweeps the rest', async () => {
    const build = await start(buildArgs(), /tick/);
    build.child.kill('SIGKILL');
    await build.exit;
    const runRm = await start(['run', '--rm', 'default/run', '--', ...loop], /tick/);
    runRm.child.kill('SIGKILL');
    await runRm.exit;
    // No handler sees a SIGKILL: the watchdog of each container does, with no slipway command run.
    const deadline = Date.now() + 5000;
    while ((await leftovers()).runc.length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual((await leftovers()).runc, [], 'the containers died with the CLI');
    const left = await leftovers();
    assert.ok(left.mounts.length > 0, "the build's volume is left mounted for gc to find");
    const out = await slipwayOk(home, ['gc']);
    assert.match(out, /Cleaned up after killed commands: 2 containers removed/);
    assert.deepEqual(await leftovers(), none);
    assert.doesNotMatch(await slipwayOk(home, ['ps']), /slipway-build|default\/run/);
  });

  test('a CLI killed while it exports leaves its scratch in the store, where the next gc removes it', async () => {
    // A launch layer of random bytes: its compression keeps the export busy for seconds.
    const big = writeBuildpacks(join(home, 'bps-big'), [
      {
        id: 'test/big',
        build:
          'mkdir -p "$CNB_LAYERS_DIR/big" && head -c 300000000 /dev/urandom > "$CNB_LAYERS_DIR/big/blob" && printf "[types]\\nlaunch = true\\n" > "$CNB_LAYERS_DIR/big.toml"',
      },
    ])[0]!;
    const systemTmp = () => readdirSync(tmpdir()).filter((n) => n.startsWith('slipway-export-'));
    const before = new Set(systemTmp());
    const build = await start(['build', 'apps/big', '--path', app, '-b', big], /===> EXPORTING/);
    await new Promise((r) => setTimeout(r, 300));
    build.child.kill('SIGKILL');
    await build.exit;
    const owner = `pid:${build.child.pid}@${hostname()}`;
    assert.ok(existsSync(join(home, 'tmp', owner)), 'the scratch of the killed CLI is in the store');
    assert.deepEqual(
      systemTmp().filter((n) => !before.has(n)),
      [],
      'nothing of it in the system temp directory',
    );
    const out = await slipwayOk(home, ['gc']);
    assert.match(out, /[1-9]\d* scratch directories/);
    assert.ok(!existsSync(join(home, 'tmp', owner)), 'gc removed it though it is younger than the grace period');
    assert.deepEqual(await leftovers(), none);
  });

  test('gc keeps the unpacked layers of every stack version builds run on; gc --layer-cache drops them', async () => {
    const [version] = await stackVersions(store, 'default');
    const stack = version!.build.config.rootfs.diff_ids;
    const cached = () => {
      const state = new RuntimeState(new RuntimePaths(home).stateDb);
      try {
        return new Set(state.layers().map((l) => l.diffId));
      } finally {
        state.close();
      }
    };
    assert.ok(
      stack.every((d) => cached().has(d)),
      'the builds above unpacked the build image',
    );
    await slipwayOk(home, ['gc', '--grace', '0']);
    assert.ok(
      stack.every((d) => cached().has(d)),
      'no container uses them, but the next build does: kept',
    );
    await slipwayOk(home, ['gc', '--layer-cache']);
    assert.ok(!stack.some((d) => cached().has(d)), '--layer-cache drops them');
  });
});
