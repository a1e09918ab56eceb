import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  addRandomImage,
  commandExists,
  makeFixtureTree,
  podmanEnv,
  run,
  sha256File,
  slipwayOk,
  startDistribution,
  startSlipwayRegistry,
  tempDir,
  type GeneratedImage,
  type RegistryProcess,
} from './helpers.js';

/**
 * Slipway's registry (`slipway registry serve`, a real socket, no auth) used by real
 * clients from Debian's packages: skopeo copies to and from it, to CNCF Distribution
 * 2.8 and back with identical manifest digests (images, indexes, Docker schema 2),
 * podman pushes and pulls, and an image imported into the store is served at once.
 */

const exec = promisify(execFile);
const ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');

const haveTools = commandExists('skopeo') && commandExists('docker-registry') && commandExists('umoci');
const havePodman = commandExists('podman') && commandExists('runc');

const sha256 = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** `skopeo inspect --raw`: the manifest bytes exactly as the registry serves them. */
async function rawManifest(ref: string): Promise<Buffer> {
  const { stdout } = await exec('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], {
    encoding: 'buffer',
    maxBuffer: 16 << 20,
  });
  return stdout;
}

/** The Docker-Content-Digest a HEAD on the manifest answers with (any manifest type accepted). */
async function headDigest(registry: RegistryProcess, repo: string, reference: string): Promise<string> {
  const res = await fetch(`${registry.url}/v2/${repo}/manifests/${reference}`, {
    method: 'HEAD',
    headers: { Accept: ACCEPT },
  });
  assert.equal(res.status, 200, `HEAD ${repo}:${reference} on ${registry.url}`);
  return res.headers.get('docker-content-digest')!;
}

/** The digest of `ref` as served: raw bytes hashed, and the same digest in the HEAD's Docker-Content-Digest. */
async function servedDigest(registry: RegistryProcess, repo: string, reference: string): Promise<string> {
  const digest = sha256(await rawManifest(`${registry.host}/${repo}:${reference}`));
  assert.equal(
    await headDigest(registry, repo, reference),
    digest,
    `${registry.url} ${repo}:${reference}: header and bytes disagree`,
  );
  return digest;
}

/** Every blob file of an OCI layout, by digest, with its bytes hashed (a layout's files must match their names). */
async function layoutBlobs(layout: string): Promise<Set<string>> {
  const names = await readdir(join(layout, 'blobs/sha256'));
  const found = new Set<string>();
  for (const name of names.filter((n) => !n.startsWith('.'))) {
    assert.equal(
      await sha256File(join(layout, 'blobs/sha256', name)),
      `sha256:${name}`,
      `${layout}: blob ${name} does not match its name`,
    );
    found.add(`sha256:${name}`);
  }
  return found;
}

describe('the Slipway registry with skopeo, podman and CNCF Distribution', {
  skip: !process.env.CI && !haveTools && 'skopeo, umoci or docker-registry is not installed',
}, () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let slip: RegistryProcess;
  let dist: RegistryProcess;
  let layout: string;
  let random: GeneratedImage;
  const skopeo = (...args: string[]) => run('skopeo', ['--insecure-policy', ...args]);

  before(async () => {
    work = await tempDir('registry-interop');
    home = join(work.path, 'home');
    layout = join(work.path, 'layout');
    random = await addRandomImage(layout, 'random', [
      { seed: 'interop-base', size: 3e6 },
      { seed: 'interop-mid', size: 2e6 },
      { seed: 'interop-top', size: 1e6 },
      { seed: 'interop-app', size: 500_000 },
    ]);
    [slip, dist] = await Promise.all([startSlipwayRegistry(home), startDistribution(join(work.path, 'distribution'))]);
  });
  after(async () => {
    await Promise.all([slip?.stop(), dist?.stop()]);
    await work.cleanup();
  });

  test('skopeo pushes a four-layer image and pulls it back byte for byte', async () => {
    await skopeo('copy', '--dest-tls-verify=false', `oci:${layout}:random`, `docker://${slip.host}/interop/random:v1`);
    assert.equal(await servedDigest(slip, 'interop/random', 'v1'), random.digest);
    assert.deepEqual(
      await rawManifest(`${slip.host}/interop/random:v1`),
      random.manifest,
      'the exact manifest bytes pushed',
    );
    const pulled = join(work.path, 'pulled-random');
    await skopeo('copy', '--src-tls-verify=false', `docker://${slip.host}/interop/random:v1`, `oci:${pulled}:v1`);
    const index = JSON.parse(await readFile(join(pulled, 'index.json'), 'utf8'));
    assert.equal(index.manifests[0].digest, random.digest);
    const blobs = await layoutBlobs(pulled);
    for (const layer of random.layers) assert.ok(blobs.has(layer.digest), `layer ${layer.digest} pulled`);
    // By digest too, and a blob GET hashes to its name.
    assert.equal(await headDigest(slip, 'interop/random', random.digest), random.digest);
    const layer = random.layers[1]!;
    const res = await fetch(`${slip.url}/v2/interop/random/blobs/${layer.digest}`);
    assert.equal(res.status, 200);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), layer.digest);
  });

  test('Slipway -> Distribution -> Slipway keeps the manifest digest (OCI image)', async () => {
    await skopeo('copy', '--dest-tls-verify=false', `oci:${layout}:random`, `docker://${slip.host}/interop/to-dist:v1`);
    await skopeo(
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${slip.host}/interop/to-dist:v1`,
      `docker://${dist.host}/interop/from-slip:v1`,
    );
    await skopeo(
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${dist.host}/interop/from-slip:v1`,
      `docker://${slip.host}/interop/back:v1`,
    );
    const digests = [
      await servedDigest(slip, 'interop/to-dist', 'v1'),
      await servedDigest(dist, 'interop/from-slip', 'v1'),
      await servedDigest(slip, 'interop/back', 'v1'),
    ];
    assert.deepEqual(digests, [random.digest, random.digest, random.digest]);
  });

  test('a Docker schema 2 image made by skopeo round-trips through Distribution with one digest', async () => {
    await skopeo(
      'copy',
      '--dest-tls-verify=false',
      '--format',
      'v2s2',
      `oci:${layout}:random`,
      `docker://${slip.host}/interop/docker:v1`,
    );
    const raw = await rawManifest(`${slip.host}/interop/docker:v1`);
    assert.equal(JSON.parse(raw.toString()).mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    const res = await fetch(`${slip.url}/v2/interop/docker/manifests/v1`, { headers: { Accept: ACCEPT } });
    assert.equal(res.headers.get('content-type'), 'application/vnd.docker.distribution.manifest.v2+json');
    await skopeo(
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${slip.host}/interop/docker:v1`,
      `docker://${dist.host}/interop/docker:v1`,
    );
    await skopeo(
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${dist.host}/interop/docker:v1`,
      `docker://${slip.host}/interop/docker-back:v1`,
    );
    const want = sha256(raw);
    assert.equal(await servedDigest(dist, 'interop/docker', 'v1'), want);
    assert.equal(await servedDigest(slip, 'interop/docker-back', 'v1'), want);
  });

  test('a multi-layer image made by umoci (real tar layers) round-trips through Distribution', async () => {
    const umoci = join(work.path, 'umoci');
    const bundle = join(work.path, 'umoci-bundle');
    await run('umoci', ['init', '--layout', umoci]);
    await run('umoci', ['new', '--image', `${umoci}:app`]);
    for (let i = 0; i < 3; i++) {
      await run('umoci', ['unpack', '--rootless', '--image', `${umoci}:app`, bundle]);
      if (i === 0) await makeFixtureTree(join(bundle, 'rootfs'));
      await writeFile(join(bundle, 'rootfs', `layer-${i}.txt`), `layer ${i}\n`.repeat(1000 * (i + 1)));
      await run('umoci', ['repack', '--image', `${umoci}:app`, bundle]);
      await run('rm', ['-rf', bundle]);
    }
    const want = JSON.parse(await readFile(join(umoci, 'index.json'), 'utf8')).manifests.find(
      (m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name'] === 'app',
    ).digest as string;
    await skopeo('copy', '--dest-tls-verify=false', `oci:${umoci}:app`, `docker://${slip.host}/interop/umoci:v1`);
    const manifest = JSON.parse((await rawManifest(`${slip.host}/interop/umoci:v1`)).toString());
    assert.equal(manifest.layers.length, 3);
    await skopeo(
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${slip.host}/interop/umoci:v1`,
      `docker://${dist.host}/interop/umoci:v1`,
    );
    await skopeo(
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${dist.host}/interop/umoci:v1`,
      `docker://${slip.host}/interop/umoci-back:v1`,
    );
    assert.deepEqual(
      [
        await servedDigest(slip, 'interop/umoci', 'v1'),
        await servedDigest(dist, 'interop/umoci', 'v1'),
        await servedDigest(slip, 'interop/umoci-back', 'v1'),
      ],
      [want, want, want],
    );
    // And it unpacks: pulled back into a layout, umoci reads every layer.
    const pulled = join(work.path, 'umoci-pulled');
    await skopeo('copy', '--src-tls-verify=false', `docker://${slip.host}/interop/umoci-back:v1`, `oci:${pulled}:app`);
    await run('umoci', ['unpack', '--rootless', '--image', `${pulled}:app`, join(work.path, 'umoci-unpacked')]);
    assert.equal(
      await readFile(join(work.path, 'umoci-unpacked/rootfs/layer-2.txt'), 'utf8'),
      'layer 2\n'.repeat(3000),
    );
  });

  test('an OCI index of two platforms (slipway import --arch) round-trips with skopeo --all', async () => {
    const rootfs = join(work.path, 'index-rootfs');
    await makeFixtureTree(rootfs);
    const indexLayout = join(work.path, 'index-layout');
    const children = [];
    for (const arch of ['amd64', 'arm64']) {
      await writeFile(join(rootfs, 'arch.txt'), `${arch}\n`);
      await slipwayOk(home, ['import', '--rootfs', rootfs, '--arch', arch, `multi/${arch}:v1`]);
      await slipwayOk(home, ['copy', `multi/${arch}:v1`, `oci:${indexLayout}:${arch}`]);
      const { digest } = JSON.parse(await slipwayOk(home, ['inspect', '--json', `multi/${arch}:v1`]));
      const { size } = await stat(join(indexLayout, 'blobs/sha256', digest.slice(7)));
      children.push({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest,
        size,
        platform: { os: 'linux', architecture: arch },
      });
    }
    // The index written by hand into the layout, next to its two images.
    const indexBytes = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: children }),
    );
    const indexDigest = sha256(indexBytes);
    await writeFile(join(indexLayout, 'blobs/sha256', indexDigest.slice(7)), indexBytes);
    const top = JSON.parse(await readFile(join(indexLayout, 'index.json'), 'utf8'));
    top.manifests.push({
      mediaType: 'application/vnd.oci.image.index.v1+json',
      digest: indexDigest,
      size: indexBytes.length,
      annotations: { 'org.opencontainers.image.ref.name': 'multi' },
    });
    await writeFile(join(indexLayout, 'index.json'), JSON.stringify(top));

    await skopeo(
      'copy',
      '--all',
      '--dest-tls-verify=false',
      `oci:${indexLayout}:multi`,
      `docker://${slip.host}/interop/multi:v1`,
    );
    assert.deepEqual(await rawManifest(`${slip.host}/interop/multi:v1`), indexBytes);
    const res = await fetch(`${slip.url}/v2/interop/multi/manifests/v1`, { headers: { Accept: ACCEPT } });
    assert.equal(res.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
    for (const child of children) assert.equal(await headDigest(slip, 'interop/multi', child.digest), child.digest);

    await skopeo(
      'copy',
      '--all',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${slip.host}/interop/multi:v1`,
      `docker://${dist.host}/interop/multi:v1`,
    );
    await skopeo(
      'copy',
      '--all',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${dist.host}/interop/multi:v1`,
      `docker://${slip.host}/interop/multi-back:v1`,
    );
    assert.equal(await servedDigest(dist, 'interop/multi', 'v1'), indexDigest);
    assert.equal(await servedDigest(slip, 'interop/multi-back', 'v1'), indexDigest);
    // One platform pulled on its own from the index: skopeo picks the arm64 child.
    const arm = JSON.parse(
      await skopeo(
        'inspect',
        '--tls-verify=false',
        '--override-arch',
        'arm64',
        `docker://${slip.host}/interop/multi-back:v1`,
      ),
    );
    const armManifest = JSON.parse(
      (await rawManifest(`${slip.host}/interop/multi-back@${children[1]!.digest}`)).toString(),
    );
    assert.equal(arm.Architecture, 'arm64');
    assert.deepEqual(
      arm.Layers,
      armManifest.layers.map((l: { digest: string }) => l.digest),
    );
  });

  test('an image imported into the store while the server runs is pullable at once, no copy', async () => {
    const rootfs = join(work.path, 'local-rootfs');
    await makeFixtureTree(rootfs);
    await slipwayOk(home, ['import', '--rootfs', rootfs, 'local/app:v1', '--cmd', '/bin/hello']);
    const digest = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'local/app:v1'])).digest as string;
    assert.equal(await servedDigest(slip, 'local/app', 'v1'), digest);
    const pulled = join(work.path, 'pulled-local');
    await skopeo('copy', '--src-tls-verify=false', `docker://${slip.host}/local/app:v1`, `oci:${pulled}:v1`);
    assert.equal(JSON.parse(await skopeo('inspect', `oci:${pulled}:v1`)).Digest, digest);
    await layoutBlobs(pulled);
    const tags = (await (await fetch(`${slip.url}/v2/local/app/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['v1']);
  });

  test('podman pulls an imported image, pushes it under another name and pulls that back', {
    skip: !process.env.CI && !havePodman && 'podman or runc is not installed',
  }, async () => {
    const rootfs = join(work.path, 'podman-rootfs');
    await makeFixtureTree(rootfs);
    await slipwayOk(home, ['import', '--rootfs', rootfs, 'podman/src:v1', '--cmd', '/bin/hello']);
    const original = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'podman/src:v1']));
    const configDigest = JSON.parse(await readFile(join(home, 'blobs/sha256', original.digest.slice(7)), 'utf8')).config
      .digest;
    const pm = await podmanEnv(join(work.path, 'podman'));
    const env = { ...pm.env, REGISTRY_AUTH_FILE: join(work.path, 'podman', 'auth.json') };
    await writeFile(env.REGISTRY_AUTH_FILE, '{}');
    const podman = (...args: string[]) => run('podman', [...pm.args, ...args], env);
    const src = `${slip.host}/podman/src:v1`;
    const dst = `${slip.host}/podman/pushed:v1`;
    await podman('pull', '--tls-verify=false', src);
    const imageId = (await podman('image', 'inspect', '--format', '{{.Id}}', src)).trim();
    assert.equal(`sha256:${imageId}`, configDigest, 'podman keeps the config: same image ID');
    await podman('tag', src, dst);
    await podman('push', '--tls-verify=false', dst);
    const pushed = await servedDigest(slip, 'podman/pushed', 'v1');
    await podman('rmi', src, dst);
    await podman('pull', '--tls-verify=false', dst);
    assert.equal(JSON.parse(await podman('image', 'inspect', '--format', '{{json .Digest}}', dst)), pushed);
    const back = JSON.parse(await podman('image', 'inspect', dst))[0];
    assert.deepEqual(
      back.RootFS.Layers,
      original.layers.map((l: { diffID: string }) => l.diffID),
    );
    assert.deepEqual(back.Config.Cmd, ['/bin/hello']);
  });
});
