import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalStore } from '../src/store/local-store.js';
import { ROOT, slipwayOk, tempDir } from './helpers.js';
import { appLayers, makeApp, makeStackVersion, osRelease } from './rebase-fixtures.js';

/**
 * SIGKILL a fleet rebase (`slipway rebase --all`, a child process) at random moments,
 * several times over the same store: after each kill `slipway verify` passes and every
 * tag is on its old digest or on the one a rebase that ran to the end gives it (rebase
 * is reproducible, so a copy of the store rebased without a kill says which that is).
 * Lease writes commit without an fsync of their own: this is the test that they still
 * leave no half state behind.
 */

const N = 120;
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

function killAt(path: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--', join(ROOT, 'bin/slipway.js'), ...FLEET], {
      env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: path },
      stdio: 'ignore',
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
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
      await killAt(home, Math.floor(Math.random() * full));
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
