import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStore } from '../store/local-store.js';
import { importRootfs, layerFromDirectory } from '../copy/import-rootfs.js';
import { readLocal, storeBlobSource } from '../transport/local.js';
import { extractLayer } from '../layer/extract.js';
import { BlobLayer } from './blob-image.js';
import { append, withAnnotations, withContainerConfig, withLabels } from './mutate.js';
import { flatten } from './flatten.js';
import { validateImage } from './validate.js';
import type { Image, Layer } from './types.js';

describe('images: pure mutations, flatten, validate', () => {
  let dir: string;
  let store: LocalStore;
  let base: Image;

  const storedLayer = async (tree: string): Promise<Layer> =>
    store.withLease(async (lease) => {
      const w = await layerFromDirectory(lease, tree, 'gzip');
      return new BlobLayer(
        storeBlobSource(store),
        { mediaType: w.mediaType, digest: w.digest, size: w.size },
        w.diffId,
      );
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-image-'));
    store = await LocalStore.open(join(dir, 'home'));
    const tree = join(dir, 'base');
    await mkdir(join(tree, 'etc'), { recursive: true });
    await writeFile(join(tree, 'etc/keep'), 'keep\n');
    await writeFile(join(tree, 'etc/remove-me'), 'gone later\n');
    await importRootfs(store, tree, 'base', 'v1', { config: { Cmd: ['/bin/sh'] } });
    base = ((await readLocal(store, 'base', 'v1')).artifact as { image: Image }).image;
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('an imported image is valid', async () => {
    await validateImage(base);
  });

  test('append returns a new image, adds history, and leaves its input untouched', async () => {
    const before = await base.digest();
    const tree = join(dir, 'app');
    await mkdir(tree, { recursive: true });
    await writeFile(join(tree, 'app.txt'), 'app\n');
    const layer = await storedLayer(tree);
    const next = await append(base, { layer, history: { created_by: 'test: add app' } });
    assert.equal(await base.digest(), before);
    assert.notEqual(await next.digest(), before);
    assert.equal((await next.layers()).length, 2);
    const config = await next.config();
    assert.equal(config.rootfs.diff_ids[1], await layer.diffId());
    assert.equal(config.history?.at(-1)?.created_by, 'test: add app');
    assert.deepEqual(config.config?.Cmd, ['/bin/sh']);
    await validateImage(next);
  });

  test('labels, annotations and config changes are pure and show up in the documents', async () => {
    const labelled = await withLabels(base, { team: 'platform' });
    const annotated = await withAnnotations(labelled, { 'org.opencontainers.image.version': '1.0' });
    const configured = await withContainerConfig(annotated, (c) => ({ ...c, Env: ['A=1'] }));
    assert.equal((await base.config()).config?.Labels?.team, undefined);
    assert.equal((await configured.config()).config?.Labels?.team, 'platform');
    assert.deepEqual((await configured.config()).config?.Env, ['A=1']);
    assert.equal((await configured.manifest()).annotations?.['org.opencontainers.image.version'], '1.0');
    const unlabelled = await withLabels(configured, { team: undefined });
    assert.equal((await unlabelled.config()).config?.Labels?.team, undefined);
    await validateImage(configured);
    // The same change made twice gives the same digest: values, not identities.
    assert.equal(await (await withLabels(base, { team: 'platform' })).digest(), await labelled.digest());
  });

  test('flatten applies whiteouts and yields one layer with the merged tree', async () => {
    const upper = join(dir, 'upper');
    await mkdir(join(upper, 'etc'), { recursive: true });
    await writeFile(join(upper, 'etc/.wh.remove-me'), '');
    await writeFile(join(upper, 'etc/added'), 'new\n');
    const withDelete = await append(base, { layer: await storedLayer(upper) });
    const flat = await flatten(withDelete, storedLayer);
    assert.equal((await flat.layers()).length, 1);
    assert.equal((await flat.config()).history?.length, 1);
    await validateImage(flat);
    const out = join(dir, 'flat-out');
    await mkdir(out);
    await extractLayer(await (await flat.layers())[0]!.uncompressed(), out);
    assert.deepEqual((await readdir(join(out, 'etc'))).sort(), ['added', 'keep']);
  });

  test('validate reports a layer whose stored bytes were corrupted', async () => {
    const tree = join(dir, 'victim');
    await mkdir(tree, { recursive: true });
    await writeFile(join(tree, 'data'), 'x'.repeat(10000));
    const layer = await storedLayer(tree);
    const image = await append(base, { layer });
    const path = join(store.home, 'blobs', 'sha256', (await layer.digest()).slice(7));
    await chmod(path, 0o644);
    await writeFile(path, 'not the layer');
    await assert.rejects(validateImage(image), new RegExp((await layer.digest()).slice(7)));
  });
});
