import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Digest } from '../oci/digest.js';
import { LocalStore } from './local-store.js';

const CHILD = fileURLToPath(new URL('./testdata/store-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

let home: string;
before(async () => {
  home = await mkdtemp(join(tmpdir(), 'slipway-crash-'));
});
after(async () => {
  await rm(home, { recursive: true, force: true });
});

/** Starts the child script; `lines` yields its stdout line by line. */
function startChild(
  mode: string,
  ...args: string[]
): { child: ChildProcess; lines: AsyncIterableIterator<string>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, mode, home, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // 'exit' fires once the child is reaped: only then does a pid check see it dead.
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines: createInterface({ input: child.stdout! })[Symbol.asyncIterator](), exited };
}

async function nextLine(lines: AsyncIterableIterator<string>): Promise<string> {
  const { value, done } = await lines.next();
  assert.ok(!done, 'the child ended before printing');
  return value;
}

async function blobsIn(store: LocalStore): Promise<Set<Digest>> {
  const set = new Set<Digest>();
  for await (const d of store.blobs.list()) set.add(d);
  return set;
}

describe('store across processes', () => {
  it('survives SIGKILL at random moments: no half blob, no tag without its blobs, GC cleans up', {
    timeout: 180_000,
  }, async () => {
    let stored = 0;
    for (let round = 0; round < 8; round++) {
      const { child, lines, exited } = startChild('crash-loop');
      assert.equal(await nextLine(lines), 'ready');
      const counting = (async () => {
        for await (const line of lines) if (line.startsWith('stored ')) stored++;
      })();
      // Spread the kills over writing, fsync, commit, manifest recording and GC.
      await sleep(100 + Math.random() * 2400);
      child.kill('SIGKILL');
      await exited;
      await counting;
    }
    assert.ok(stored > 0, 'some rounds stored an image before being killed');

    const store = await LocalStore.open(home);
    try {
      const report = await store.verify();
      assert.deepEqual(report.problems, [], 'every blob whole, every manifest complete, every tag on a manifest');
      const tagged = await store.meta.listTagged();
      assert.ok(tagged.length >= stored, `each stored image left its tags (${tagged.length} tags, ${stored} images)`);
      for (const t of tagged) {
        const desc = await store.resolve(t.repository, t.tag);
        for (const ref of (await store.meta.getManifest(t.repository, desc.digest))!.references)
          assert.ok(await store.blobs.stat(ref));
      }

      const leftovers = await store.blobs.listIngests();
      const gc = await store.gc({ linkGraceMs: 0 });
      assert.equal(gc.ingestsRemoved, leftovers.length, 'every ingest of a killed writer is removed');
      assert.deepEqual(await store.blobs.listIngests(), []);

      const needed = new Set<Digest>();
      for (const m of await store.meta.listManifests()) for (const d of [m.digest, ...m.references]) needed.add(d);
      assert.deepEqual(
        [...(await blobsIn(store))].sort(),
        [...needed].sort(),
        'after GC exactly the needed blobs remain',
      );
      assert.deepEqual((await store.verify()).problems, []);
    } finally {
      await store.close();
    }
  });

  it('lets two processes write the same blob at the same time; both succeed', { timeout: 60_000 }, async () => {
    const children = [startChild('put-same', 'same seed', '24'), startChild('put-same', 'same seed', '24')];
    const outputs = await Promise.all(
      children.map(async ({ lines, exited }) => {
        const line = await nextLine(lines);
        assert.equal(await exited, 0);
        return line;
      }),
    );
    assert.match(outputs[0]!, /^blob sha256:[0-9a-f]{64}$/);
    assert.equal(outputs[0], outputs[1]);
    const digest = outputs[0]!.slice('blob '.length) as Digest;
    const store = await LocalStore.open(home);
    try {
      assert.equal((await store.blobs.stat(digest))?.size, 24 << 20);
      assert.deepEqual((await store.verify()).problems, []);
      assert.deepEqual(await store.blobs.listIngests(), []);
    } finally {
      await store.close();
    }
  });
});
