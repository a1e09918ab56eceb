import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalStore } from '../src/store/local-store.js';
import { ROOT, slipwayOk, startSlipwayRegistry, tempDir } from './helpers.js';
import { appLayers, makeApp, makeStackVersion, osRelease } from './rebase-fixtures.js';

/**
 * SIGKILL a fleet rebase (`slipway rebase --all`, a child process) at random moments,
 * several times over the same store: after each kill `slipway verify` passes and every
 * tag is on its old digest or on the one a rebase that ran to the end gives it (rebase
 * is reproducible, so a copy of the store rebased without a kill says which that is).
 * Lease writes commit without an fsync of their own, and writes commit in groups (one
 * transaction for the concurrent images' tags, the WAL fsynced after): this is the test
 * that they still leave no half state behind; in the local store a fleet writes its
 * images in batches (configs, manifests, then the batch's tags in one group commit),
 * here of 20, so the kills land before, amid and between batches. The same again over a registry, SIGKILLed
 * in the middle of the fleet's manifest PUTs (its blob writes and group commits).
 */

const N = 120;
// Batches of 20 (500 by default) for every slipway this test starts: a kill lands before, amid or between them.
process.env['SLIPWAY_REBASE_BATCH'] = '20';
let work: { path: string; cleanup: () => Promise<void> };
let home: string;
const FLEET = ['--quiet', 'rebase', '--all', '--stack', 'crash', '--concurrency', '8'];

async function tagsOf(path: string): Promise<Map<string, string>> {
  const store = await LocalStore.open(path);
  try {
    const out = new Map<string, string>();
    for (const t of await store.meta.listTagged())
      if (t.repository.startsWith('apps/')) out.set(`${t.repository}:${t.tag}`, t.digest);
    return out;
  } finally {
    await store.close();
  }
}

function killAt(path: string, ms: number, args = FLEET, kill?: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--', join(ROOT, 'bin/slipway.js'), ...args], {
      env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: path },
      stdio: 'ignore',
    });
    // With `kill`, that (the registry) is what dies; the client goes with it.
    const timer = setTimeout(() => void (kill ?? (async () => undefined))().then(() => child.kill('SIGKILL')), ms);
    child.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

before(async () => {
  work = await tempDir('rebase-fleet-crash');
  home = join(work.path, 'home');
  const store = await LocalStore.open(home);
  try {
    const v1 = await makeStackVersion(store, 'crash', '1');
    const layers = await appLayers(store);
    for (let i = 0; i < N; i++)
      await makeApp(store, 'crash', v1, `apps/app-${i % 12}`, `v${i}`, layers, { env: [`APP=${i}`] });
    await makeStackVersion(store, 'crash', '2', {
      layers: [{ 'bin/true': '#!/bin/sh\n' }, { 'etc/os-release': osRelease('2') }],
    });
  } finally {
    await store.close();
  }
  await cp(home, join(work.path, 'pristine'), { recursive: true });
});
after(() => work?.cleanup());

describe('crash safety of a fleet rebase', () => {
  test('random SIGKILLs leave every tag on its old or its new digest, and the store verifies', async (t) => {
    const old = await tagsOf(home);
    assert.equal(old.size, N);
    const whole = join(work.path, 'whole');
    await cp(home, whole, { recursive: true });
    const started = Date.now();
    await slipwayOk(whole, FLEET);
    const full = Date.now() - started;
    const rebased = await tagsOf(whole);
    for (const [tag, digest] of rebased) assert.notEqual(digest, old.get(tag), `${tag} moved in the uncut run`);

    let moved = 0;
    for (let round = 0; round < 6; round++) {
      // Even rounds cut a fleet from the start (a run that once finished leaves later ones nothing to cut);
      // odd ones go on from where the last was cut.
      if (round % 2 === 0) {
        await rm(home, { recursive: true, force: true });
        await cp(join(work.path, 'pristine'), home, { recursive: true });
      }
      // The first quarter of a run is mostly the CLI starting: the kills land after it.
      await killAt(home, Math.floor((0.25 + 0.75 * Math.random()) * full));
      await slipwayOk(home, ['verify']);
      const now = await tagsOf(home);
      assert.deepEqual([...now.keys()].sort(), [...old.keys()].sort(), `round ${round}: no tag lost or added`);
      moved = 0;
      for (const [tag, digest] of now) {
        assert.ok(
          digest === old.get(tag) || digest === rebased.get(tag),
          `round ${round}: ${tag} is on ${digest}, neither its old nor its new digest`,
        );
        if (digest === rebased.get(tag)) moved++;
      }
      t.diagnostic(`round ${round}: ${moved} of ${N} on their new digest`);
    }
    // Run to the end, the cut store reaches what the uncut one did.
    await slipwayOk(home, FLEET);
    await slipwayOk(home, ['verify']);
    assert.deepEqual(await tagsOf(home), rebased, `after ${moved} of ${N} had moved, the last run finishes the rest`);
  });
});

describe('crash safety of a fleet rebase over a registry', () => {
  test('a registry SIGKILLed amid the fleet leaves every tag on its old or its new digest, and the store verifies', async (t) => {
    const reg = join(work.path, 'registry-home');
    const whole = join(work.path, 'registry-whole');
    // The fixtures as they were before the test above moved them.
    await cp(join(work.path, 'pristine'), reg, { recursive: true });
    await cp(join(work.path, 'pristine'), whole, { recursive: true });
    const fleet = (host: string) => [...FLEET, '--registry', host];
    let registry = await startSlipwayRegistry(whole, ['--gc-interval', '0']);
    const started = Date.now();
    await slipwayOk(whole, fleet(registry.host));
    const full = Date.now() - started;
    await registry.stop();
    const rebased = await tagsOf(whole);
    const before = await tagsOf(reg);
    assert.equal(before.size, N);
    for (const [tag, digest] of rebased) assert.notEqual(digest, before.get(tag), `${tag} moved in the uncut run`);

    for (let round = 0; round < 4; round++) {
      registry = await startSlipwayRegistry(reg, ['--gc-interval', '0']);
      // Early in the run more often than not: each round goes on from where the last was cut.
      await killAt(reg, Math.floor(Math.random() * full * 0.6), fleet(registry.host), () => registry.kill());
      await registry.kill(); // when the fleet finished first
      await slipwayOk(reg, ['verify']);
      const now = await tagsOf(reg);
      assert.deepEqual([...now.keys()].sort(), [...before.keys()].sort(), `round ${round}: no tag lost or added`);
      let moved = 0;
      for (const [tag, digest] of now) {
        assert.ok(
          digest === before.get(tag) || digest === rebased.get(tag),
          `round ${round}: ${tag} is on ${digest}, neither its old nor its new digest`,
        );
        if (digest === rebased.get(tag)) moved++;
      }
      t.diagnostic(`registry round ${round}: ${moved} of ${N} on their new digest`);
    }
    registry = await startSlipwayRegistry(reg, ['--gc-interval', '0']);
    try {
      await slipwayOk(reg, fleet(registry.host));
    } finally {
      await registry.stop();
    }
    await slipwayOk(reg, ['verify']);
    assert.deepEqual(await tagsOf(reg), rebased);
  });
});
