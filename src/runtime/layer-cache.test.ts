import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { getAttributeSync } from '@napi-rs/xattr';
import { type RawEntry, tarBuffer } from '../../test/fixtures/hostile/tar.js';
import { isSlipwayError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import { LayerCache, type CacheableLayer } from './layer-cache.js';
import { RuntimePaths } from './paths.js';
import { RuntimeState } from './state.js';

const isRoot = process.getuid?.() === 0;
const here = fileURLToPath(new URL('.', import.meta.url));

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'slipway-layer-cache-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

function sha256(b: Buffer): Digest {
  return `sha256:${createHash('sha256').update(b).digest('hex')}` as Digest;
}

/** A tar written to a file, as a CacheableLayer. */
async function layerFile(name: string, entries: RawEntry[]): Promise<CacheableLayer & { file: string }> {
  const tar = await tarBuffer(entries);
  const file = join(work, `${name}.tar`);
  writeFileSync(file, tar);
  return { file, diffId: sha256(tar), size: tar.length, open: async () => createReadStream(file) };
}

/** A layer with `count` files of 64 KiB: big enough that unpacking takes a while. */
function bulky(name: string, count: number): Promise<CacheableLayer & { file: string }> {
  const entries: RawEntry[] = [{ name: 'data', type: 'directory' }];
  for (let i = 0; i < count; i++) entries.push({ name: `data/${name}-${i}`, content: Buffer.alloc(65536, i % 251) });
  return layerFile(name, entries);
}

function openCache(home: string): { cache: LayerCache; state: RuntimeState; paths: RuntimePaths } {
  const paths = new RuntimePaths(home);
  const state = new RuntimeState(paths.stateDb);
  return { cache: new LayerCache(paths, state, { pollMs: 20 }), state, paths };
}

/** Runs `ensure` for a layer file in another process, reading it slowly (`delayMs` per 64 KiB) so races and kills can hit mid-unpack. */
function ensureInChild(
  home: string,
  layer: { file: string; diffId: string; size: number },
  delayMs: number,
): { exit: Promise<{ code: number | null; stdout: string; stderr: string }>; pid: number; kill: () => void } {
  const script = `
    import { createReadStream } from 'node:fs';
    import { Readable } from 'node:stream';
        import { LayerCache } from ${JSON.stringify(join(here, 'layer-cache.ts'))};
    import { RuntimePaths } from ${JSON.stringify(join(here, 'paths.ts'))};
    import { RuntimeState } from ${JSON.stringify(join(here, 'state.ts'))};
    const paths = new RuntimePaths(${JSON.stringify(home)});
    const state = new RuntimeState(paths.stateDb);
    const slow = async function* () { for await (const c of createReadStream(${JSON.stringify(layer.file)}, { highWaterMark: 65536 })) { await new Promise((r) => setTimeout(r, ${delayMs})); yield c; } };
    const n = await new LayerCache(paths, state, { pollMs: 20 }).ensure([{ diffId: ${JSON.stringify(layer.diffId)}, size: ${layer.size}, open: async () => Readable.from(slow()) }]);
    process.stdout.write(String(n));
    state.close();`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { exit, pid: child.pid!, kill: () => child.kill('SIGKILL') };
}

describe('LayerCache', { skip: !isRoot && 'overlay whiteouts (0/0 devices, trusted.* xattrs) need root' }, () => {
  it('unpacks a layer in overlay form: whiteouts as 0/0 character devices, opaque directories with the xattr', async () => {
    const { cache, state } = openCache(join(work, 'h-form'));
    const layer = await layerFile('whiteouts', [
      { name: 'etc', type: 'directory' },
      { name: 'etc/.wh.motd' },
      { name: 'opt', type: 'directory' },
      { name: 'opt/.wh..wh..opq' },
      { name: 'opt/new', content: 'n' },
    ]);
    assert.equal(await cache.ensure([layer]), 1);
    const dir = cache.dir(layer.diffId);
    const wh = lstatSync(join(dir, 'etc/motd'));
    assert.equal(wh.isCharacterDevice() && wh.rdev === 0, true);
    assert.equal(getAttributeSync(join(dir, 'opt'), 'trusted.overlay.opaque')?.toString(), 'y');
    assert.equal(readFileSync(join(dir, 'opt/new'), 'utf8'), 'n');
    assert.equal(state.layer(layer.diffId)?.state, 'ready');
    state.close();
  });

  it('unpacks a layer once, however often it is asked for', async () => {
    const { cache, state } = openCache(join(work, 'h-once'));
    const layer = await layerFile('once', [{ name: 'a', content: 'a' }]);
    assert.equal(await cache.ensure([layer, layer]), 1);
    const ino = statSync(cache.dir(layer.diffId)).ino;
    assert.equal(await cache.ensure([layer]), 0);
    assert.equal(statSync(cache.dir(layer.diffId)).ino, ino);
    assert.equal(state.layer(layer.diffId)?.unpacks, 1);
    state.close();
  });

  it('refuses a layer whose tar is not its diffID, and leaves nothing behind', async () => {
    const { cache, state, paths } = openCache(join(work, 'h-lie'));
    const layer = await layerFile('liar', [{ name: 'a', content: 'a' }]);
    const lie = { ...layer, diffId: sha256(Buffer.from('something else')) };
    await assert.rejects(cache.ensure([lie]), (err) => isSlipwayError(err, 'DIGEST_MISMATCH'));
    assert.equal(cache.has(lie.diffId), false);
    assert.deepEqual(readdirSync(paths.layers), []);
    assert.equal(state.layer(lie.diffId), undefined);
    state.close();
  });

  it('two processes racing for the same layer unpack it once, into one directory', async () => {
    const home = join(work, 'h-race');
    const layer = await bulky('race', 64);
    const [a, b] = [ensureInChild(home, layer, 5), ensureInChild(home, layer, 5)];
    const results = await Promise.all([a.exit, b.exit]);
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      results.map((r) => Number(r.stdout)).sort(),
      [0, 1],
      'one process unpacked, the other waited for it',
    );
    const { state, paths } = openCache(home);
    assert.equal(state.layer(layer.diffId)?.unpacks, 1);
    assert.deepEqual(readdirSync(paths.layers), [layer.diffId.slice(7)]);
    assert.equal(readdirSync(join(paths.layers, layer.diffId.slice(7), 'data')).length, 64);
    state.close();
  });

  it('a process killed while unpacking leaves no layer directory; the next run unpacks it and gc removes the leftover', async () => {
    const home = join(work, 'h-crash');
    const layer = await bulky('crash', 64);
    const child = ensureInChild(home, layer, 20);
    const paths = new RuntimePaths(home);
    // Kill it once the temporary directory has content.
    for (let i = 0; ; i++) {
      const tmp = existsSync(paths.layers) ? readdirSync(paths.layers).find((n) => n.startsWith('.tmp-')) : undefined;
      if (tmp && existsSync(join(paths.layers, tmp, 'data'))) break;
      assert.ok(i < 500, 'the child never started unpacking');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill();
    await child.exit;
    const { cache, state } = openCache(home);
    assert.equal(cache.has(layer.diffId), false, 'no half layer under its real name');
    assert.equal(state.layer(layer.diffId)?.state, 'unpacking', 'the dead process still holds its claim');
    assert.equal(await cache.ensure([layer]), 1, 'the claim of a dead process is taken over');
    assert.equal(readdirSync(join(cache.dir(layer.diffId), 'data')).length, 64);
    const report = cache.gc();
    assert.equal(report.partialsRemoved, 1);
    assert.equal(report.layersRemoved, 1, 'no container uses it');
    assert.deepEqual(readdirSync(paths.layers), []);
    state.close();
  });

  it('gc keeps the layers a container references and removes the others', async () => {
    const { cache, state } = openCache(join(work, 'h-gc'));
    const used = await layerFile('used', [{ name: 'u', content: 'u' }]);
    const unused = await layerFile('unused', [{ name: 'x', content: 'x' }]);
    await cache.ensure([used, unused]);
    state.write(() =>
      state.addContainer(
        { name: 'c1', id: 'id1', image: 'img', digest: 'sha256:00', detached: false, command: [], owner: null },
        [used.diffId],
      ),
    );
    assert.deepEqual(
      { ...cache.gc(), layerBytesFreed: 0 },
      { layersRemoved: 1, layerBytesFreed: 0, partialsRemoved: 0 },
    );
    assert.equal(cache.has(used.diffId), true);
    assert.equal(cache.has(unused.diffId), false);
    state.write(() => state.removeContainer('c1'));
    assert.equal(cache.gc().layersRemoved, 1);
    assert.equal(cache.has(used.diffId), false);
    state.close();
  });
});
