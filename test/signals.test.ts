import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ContainerRuntime } from '../src/runtime/index.js';
import { buildStore } from './build-fixtures.js';
import { freePort, ROOT, slipway, slipwayOk } from './helpers.js';

/**
 * Signals reach the app: `slipway run` puts a small init (catatonit) at PID 1, so the
 * Node example (which, as PID 1, would shrug off SIGINT and SIGTERM) stops on one
 * Ctrl-C and on `slipway stop` at once. Real runc, the example built by the CLI.
 */
const isRoot = process.getuid?.() === 0;

describe('signals reach the app', { skip: !isRoot && 'running containers needs root' }, () => {
  let home: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    ({ home, cleanup } = await buildStore());
    await slipwayOk(home, ['build', 'node-web', '--path', join(ROOT, 'examples/nodejs')]);
  });
  after(async () => {
    await slipway(home, ['container', 'rm', '--force', 'web']);
    await slipway(home, ['gc', '--layer-cache']);
    await cleanup();
  });

  async function serving(port: number): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`);
        if (res.ok) return;
      } catch {
        // not yet
      }
      if (Date.now() > deadline) throw new Error(`nothing answers on ${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  test('a foreground run of the Node example stops on one SIGINT within 1 s', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      ['--', join(ROOT, 'bin/slipway.js'), 'run', '--rm', '--port', String(port), 'node-web'],
      { env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await serving(port);
    const t0 = performance.now();
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exit;
    clearTimeout(timer);
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `stopped after ${Math.round(ms)} ms:\n${output}`);
    assert.equal(code, 130, 'node ended by SIGINT');
  });

  test('stop of the Node example takes under 1 s and reports exit 0 or 143, not 137', async () => {
    const port = await freePort();
    await slipwayOk(home, ['run', '-d', '--name', 'web', '--port', String(port), 'node-web']);
    await serving(port);
    const runtime = ContainerRuntime.open(home);
    try {
      const t0 = performance.now();
      const stopped = await runtime.stop('web');
      const ms = performance.now() - t0;
      assert.ok(ms < 1000, `stop took ${Math.round(ms)} ms`);
      assert.ok(stopped.exitCode === 0 || stopped.exitCode === 143, `exit ${stopped.exitCode}`);
    } finally {
      runtime.close();
    }
    // The CLI says the same (the container is stopped already: it reports it).
    assert.match(await slipwayOk(home, ['stop', 'web']), /^web: exited \((0|143)\)$/m);
    await slipwayOk(home, ['container', 'rm', 'web']);
  });

  test('the init is PID 1 and reaps orphans; --no-init runs the process as PID 1 itself', async () => {
    // An orphan (the backgrounded sleep, its parent gone) becomes the init's child; a zombie the init never waited for would show as Z.
    const withInit = await slipwayOk(home, [
      'run',
      '--rm',
      'node-web',
      '--',
      'sh',
      '-c',
      'echo $$; sh -c "sleep 0.1 & exit 0"; sleep 0.4; grep -l "^State:.*Z" /proc/[0-9]*/status | wc -l; cat /proc/1/cmdline | tr "\\0" " "',
    ]);
    const [pid, zombies, init] = withInit.trim().split('\n');
    assert.notEqual(pid, '1', 'the command is not PID 1');
    assert.equal(zombies, '0', 'the orphan was reaped');
    assert.match(init!, /^\/dev\/init -- /);
    assert.equal(
      (await slipwayOk(home, ['run', '--rm', '--no-init', 'node-web', '--', 'sh', '-c', 'echo $$'])).trim(),
      '1',
    );
  });
});
