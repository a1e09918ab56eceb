import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeFixtureTree, run, slipway, slipwayOk, tempDir } from './helpers.js';

/** The CLI as scripts and people meet it: stable JSON, --quiet, --help, clear errors. */
describe('slipway CLI', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let rootfs: string;

  before(async () => {
    work = await tempDir('cli');
    home = join(work.path, 'home');
    rootfs = join(work.path, 'rootfs');
    await makeFixtureTree(rootfs);
  });
  after(() => work.cleanup());

  test('--quiet prints nothing; images --json has the stable fields', async () => {
    const quiet = await slipway(home, [
      '--quiet',
      'import',
      '--rootfs',
      rootfs,
      'team/app:v1',
      '--user',
      '1000:1000',
      '--workdir',
      '/app',
    ]);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stdout, '');
    assert.equal(quiet.stderr, '');
    const images = JSON.parse(await slipwayOk(home, ['images', '--json']));
    assert.equal(images.length, 1);
    assert.deepEqual(Object.keys(images[0]).sort(), ['created', 'digest', 'mediaType', 'name', 'size', 'tag']);
    assert.equal(images[0].name, 'team/app');
    assert.equal(images[0].tag, 'v1');
    assert.match(images[0].digest, /^sha256:[a-f0-9]{64}$/);
    const info = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'team/app:v1']));
    assert.equal(images[0].size, info.size);
    assert.ok(info.size > info.layers[0].size, 'size counts the manifest, config and layers');
  });

  test('inspect --json has the stable fields, layers base first with digest and diffID', async () => {
    const info = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'team/app:v1']));
    for (const k of ['name', 'digest', 'size', 'mediaType', 'platform', 'config', 'labels', 'layers'])
      assert.ok(k in info, `inspect --json lacks ${k}`);
    assert.equal(info.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(info.config.User, '1000:1000');
    assert.equal(info.config.WorkingDir, '/app');
    assert.equal(info.platform.os, 'linux');
    assert.equal(info.layers.length, 1);
    assert.deepEqual(Object.keys(info.layers[0]).sort(), ['diffID', 'digest', 'mediaType', 'size']);
    assert.equal(info.layers[0].mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  });

  test('a zstd layer is written on request and reads back through any tool', async () => {
    await slipwayOk(home, ['import', '--rootfs', rootfs, 'team/app:zstd', '--compression', 'zstd']);
    const info = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'team/app:zstd']));
    assert.equal(info.layers[0].mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
    const gz = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'team/app:v1']));
    assert.equal(
      info.layers[0].diffID,
      gz.layers[0].diffID,
      'the same tree has the same diffID whatever the compression',
    );
    const listing = await run('sh', [
      '-c',
      `zstd -dc ${join(home, 'blobs/sha256', info.layers[0].digest.slice(7))} | tar -tf -`,
    ]);
    assert.match(listing, /bin\/hello/);
  });

  test('a rootfs tarball is imported byte for byte as the layer', async () => {
    const tarball = join(work.path, 'rootfs.tar.gz');
    await run('tar', ['-czf', tarball, '-C', rootfs, '.']);
    await slipwayOk(home, ['import', '--rootfs', tarball, 'team/tarball']);
    const info = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'team/tarball']));
    const diff = (await run('sh', ['-c', `gzip -dc ${tarball} | sha256sum`])).split(' ')[0];
    assert.equal(info.layers[0].diffID, `sha256:${diff}`);
  });

  test('a multi-platform index imports whole with --all, or one platform, and exports with the same digest', async () => {
    const layout = join(work.path, 'multi');
    await slipwayOk(home, ['import', '--rootfs', rootfs, 'multi:amd64', '--arch', 'amd64']);
    await slipwayOk(home, [
      'import',
      '--rootfs',
      rootfs,
      'multi:arm64',
      '--arch',
      'arm64',
      '--variant',
      'v8',
      '--env',
      'ARM=1',
    ]);
    await slipwayOk(home, ['copy', 'multi:amd64', `oci:${layout}:amd64`]);
    await slipwayOk(home, ['copy', 'multi:arm64', `oci:${layout}:arm64`]);
    const top = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
    const platforms: Record<string, object> = {
      amd64: { architecture: 'amd64', os: 'linux' },
      arm64: { architecture: 'arm64', os: 'linux', variant: 'v8' },
    };
    const children = top.manifests.map(
      (m: { mediaType: string; digest: string; size: number; annotations: Record<string, string> }) => ({
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.size,
        platform: platforms[m.annotations['org.opencontainers.image.ref.name']!],
      }),
    );
    const raw = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: children }),
    );
    const digest = `sha256:${createHash('sha256').update(raw).digest('hex')}`;
    await writeFile(join(layout, 'blobs/sha256', digest.slice(7)), raw);
    top.manifests.push({
      mediaType: 'application/vnd.oci.image.index.v1+json',
      digest,
      size: raw.length,
      annotations: { 'org.opencontainers.image.ref.name': 'multi' },
    });
    await writeFile(join(layout, 'index.json'), JSON.stringify(top));

    const all = JSON.parse(await slipwayOk(home, ['--json', 'import', '--all', `oci:${layout}:multi`, 'multi:all']));
    assert.equal(all.digest, digest, 'the index keeps its digest');
    const arm = JSON.parse(await slipwayOk(home, ['inspect', '--json', '--platform', 'linux/arm64', 'multi:all']));
    assert.equal(arm.index.digest, digest);
    assert.deepEqual(arm.config.Env, ['ARM=1']);
    const one = JSON.parse(
      await slipwayOk(home, ['--json', 'import', '--platform', 'linux/arm64/v8', `oci:${layout}:multi`, 'multi:one']),
    );
    assert.equal(one.digest, arm.digest, "one platform is that platform's image manifest");
    const archive = join(work.path, 'multi.tar');
    await slipwayOk(home, ['copy', '--all', 'multi:all', `oci-archive:${archive}:multi`]);
    const served = await run('skopeo', ['inspect', '--raw', `oci-archive:${archive}:multi`]);
    assert.equal(`sha256:${createHash('sha256').update(served).digest('hex')}`, digest);
    const missing = await slipway(home, ['import', '--platform', 'linux/s390x', `oci:${layout}:multi`, 'multi:none']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /s390x/);
  });

  test('bad input fails with a message naming what is wrong', async () => {
    const cases: [string[], RegExp][] = [
      [['import', '--rootfs', join(work.path, 'nope'), 'x:y'], /does not exist/],
      [['import', '--rootfs', rootfs, 'Bad/Name'], /lowercase/],
      [['import', '--rootfs', rootfs], /NAME/],
      [['inspect', 'missing:tag'], /missing/],
      [['copy', 'team/app:v1', 'oci:'], /DIR|empty/i],
      [['import', 'oci:/nonexistent/layout:v1', 'x'], /not an OCI image layout/],
      [['import', '--rootfs', rootfs, 'x', '--env', 'NOEQUALS'], /KEY=VALUE/],
      [['copy', 'team/app:v1', '127.0.0.1:9/org/app:v1'], /cannot reach the registry 127\.0\.0\.1:9.*ECONNREFUSED/],
      [['pull', 'containers-storage:app'], /not supported/],
    ];
    for (const [args, message] of cases) {
      const r = await slipway(home, args);
      assert.equal(r.code, 1, `slipway ${args.join(' ')} should fail`);
      assert.match(r.stderr, message, `slipway ${args.join(' ')}: ${r.stderr}`);
    }
    const notTar = join(work.path, 'not-a-tar');
    await writeFile(notTar, 'hello, I am not a tarball'.repeat(100));
    const r = await slipway(home, ['import', '--rootfs', notTar, 'x:bad']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not a tar/);
    // Nothing stored was harmed by the failures.
    const v = await slipway(home, ['verify']);
    assert.equal(v.code, 0, v.stdout);
  });

  test('every command has --help with an example', async () => {
    for (const cmd of ['import', 'copy', 'images', 'inspect', 'tag', 'rm', 'gc', 'verify']) {
      const help = await slipwayOk(home, [cmd, '--help']);
      assert.match(help, /Example/, `${cmd} --help has no example`);
      assert.match(help, new RegExp(`slipway ${cmd}`));
    }
  });

  test('tag shares the manifest; rmi then gc frees exactly what no tag needs', async () => {
    await slipwayOk(home, ['tag', 'team/app:v1', 'other/name:t']);
    const a = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'team/app:v1']));
    const b = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'other/name:t']));
    assert.equal(a.digest, b.digest);
    await slipwayOk(home, ['import', '--rootfs', rootfs, 'team/app:v1', '--env', 'X=1']);
    // v1 moved: the old manifest is still held by other/name:t, so gc removes nothing of it.
    const first = JSON.parse(await slipwayOk(home, ['gc', '--json', '--keep-untagged', '--grace', '0']));
    assert.equal(first.blobsRemoved, 0);
    await slipwayOk(home, ['rmi', 'other/name:t']);
    const kept = JSON.parse(await slipwayOk(home, ['gc', '--json', '--keep-untagged', '--grace', '0']));
    assert.equal(kept.blobsRemoved, 0, 'the untagged manifest in team/app still holds its blobs');
    const second = JSON.parse(await slipwayOk(home, ['gc', '--json', '--grace', '0']));
    assert.equal(second.manifestsRemoved, 1);
    assert.equal(second.blobsRemoved, 2, 'the old manifest and its config (the layer is shared)');
    for (const tag of ['v1', 'zstd']) await slipwayOk(home, ['inspect', '--json', `team/app:${tag}`]);
    assert.equal((await slipway(home, ['verify'])).code, 0);
  });
});
