import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importRootfs } from '../copy/import-rootfs.js';
import { artifactFromBlobs } from '../image/blob-image.js';
import { digestOf, type Digest } from '../oci/digest.js';
import { allowAll } from '../server/auth/types.js';
import { serveRegistry, type RunningRegistry } from '../server/registry/serve.js';
import { LocalStore } from '../store/local-store.js';
import { localDestination, readLocal } from './local.js';
import { writeArtifact } from './write-artifact.js';
import { RegistryClient } from '../registry/client/client.js';
import { RemoteDestination } from './remote-destination.js';
import { RemoteBlobSource } from '../registry/client/remote-source.js';

describe('remote source and destination', () => {
  let dir: string;
  let local: LocalStore;
  let served: LocalStore;
  let registry: RunningRegistry;
  let client: RegistryClient;
  let imported: Digest;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-remote-'));
    local = await LocalStore.open(join(dir, 'local'));
    served = await LocalStore.open(join(dir, 'served'));
    const tree = join(dir, 'rootfs');
    await mkdir(join(tree, 'app'), { recursive: true });
    await writeFile(join(tree, 'app', 'main.js'), 'console.log("hi")\n');
    imported = (await importRootfs(local, tree, 'team/app', 'v1')).digest as Digest;
    registry = await serveRegistry({ store: served, auth: allowAll, addr: '127.0.0.1:0' });
    client = new RegistryClient(new URL(registry.url).host, { backoffMs: 5 });
  });
  after(async () => {
    await registry.close();
    await local.close();
    await served.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('pushes a local image to repo:tag, then a second push sends no blob', async () => {
    const { artifact } = await readLocal(local, 'team/app', 'v1');
    const dest = new RemoteDestination(client, 'team/app', 'v1');
    const report = await writeArtifact(dest, artifact);
    await dest.close(true);
    assert.equal(report.descriptor.digest, imported);
    assert.equal(report.blobsSent, 2);
    const again = await writeArtifact(
      new RemoteDestination(client, 'team/app', 'v1'),
      (await readLocal(local, 'team/app', 'v1')).artifact,
    );
    assert.equal(again.blobsSent, 0);
    assert.equal(again.blobsSkipped, 2);
    assert.equal(
      (await client.headManifest('team/app', 'v1', ['application/vnd.oci.image.manifest.v1+json']))?.digest,
      imported,
    );
  });

  test('reads the remote image lazily and copies it into a store with the same digests', async () => {
    const source = new RemoteBlobSource(client, 'team/app');
    const desc = await source.resolve('v1');
    assert.equal(desc.digest, imported);
    const artifact = await artifactFromBlobs(source, desc);
    assert.equal(artifact.kind, 'image');
    if (artifact.kind !== 'image') return;
    const [layer] = await artifact.image.layers();
    const chunks: Buffer[] = [];
    for await (const c of await source.open(await layer!.digest())) chunks.push(c as Buffer);
    assert.equal(digestOf(Buffer.concat(chunks)), await layer!.digest());
    const dest = await localDestination(local, 'team/pulled', 'v1');
    const report = await writeArtifact(dest, artifact);
    await dest.close(true);
    assert.equal(report.descriptor.digest, imported);
    assert.equal((await local.resolve('team/pulled', 'v1')).digest, imported);
  });
});
