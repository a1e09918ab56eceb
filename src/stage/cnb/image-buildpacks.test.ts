import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { isSlipwayError } from '../../errors.js';
import { type RawEntry, tarBuffer } from '../../../test/fixtures/hostile/tar.js';
import { extractBuildpackLayer, isBuildpackageSpec, layersOf } from './image-buildpacks.js';

const extract = async (entries: RawEntry[]) => {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-bplayer-'));
  try {
    await extractBuildpackLayer(Readable.from([await tarBuffer(entries)]), dir);
    return readdirSync(dir, { recursive: true }).map(String).sort();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
const unsafe = (err: unknown) => isSlipwayError(err, 'UNSAFE_ARCHIVE_ENTRY');

describe('buildpack layers of builder images and buildpackages', () => {
  it('takes /cnb/buildpacks/ entries, relative to it, and skips the rest of the layer', async () => {
    const got = await extract([
      { name: 'etc/passwd', content: 'root:x:0:0\n' },
      { name: 'cnb/', type: 'directory' },
      { name: 'cnb/order.toml', content: '' },
      { name: 'cnb/buildpacks/', type: 'directory' },
      { name: 'cnb/buildpacks/test_a/1.0.0/buildpack.toml', content: 'api = "0.10"\n' },
      { name: 'cnb/buildpacks/test_a/1.0.0/bin/build', content: '#!/bin/sh\n', mode: 0o755 },
      {
        name: 'cnb/buildpacks/test_a/1.0.0/bin/detect',
        type: 'link',
        linkname: 'cnb/buildpacks/test_a/1.0.0/bin/build',
      },
    ]);
    assert.deepEqual(got, [
      'test_a',
      'test_a/1.0.0',
      'test_a/1.0.0/bin',
      'test_a/1.0.0/bin/build',
      'test_a/1.0.0/bin/detect',
      'test_a/1.0.0/buildpack.toml',
    ]);
  });

  it('refuses an entry climbing out of /cnb/buildpacks, an absolute one, a hard link to outside, a symlinked buildpack dir', async () => {
    await assert.rejects(extract([{ name: 'cnb/buildpacks/x/1/../../../../etc/evil', content: 'x' }]), unsafe);
    await assert.rejects(extract([{ name: '/cnb/buildpacks/x/1/buildpack.toml', content: 'x' }]), unsafe);
    await assert.rejects(extract([{ name: 'usr/../../escape', content: 'x' }]), unsafe);
    await assert.rejects(
      extract([{ name: 'cnb/buildpacks/x/1/passwd', type: 'link', linkname: 'etc/passwd' }]),
      (err: unknown) => unsafe(err) && /outside \/cnb\/buildpacks/.test((err as Error).message),
    );
    await assert.rejects(
      extract([{ name: 'cnb/buildpacks/x', type: 'symlink', linkname: '/etc' }]),
      (err: unknown) => unsafe(err) && /not a directory/.test((err as Error).message),
    );
    await assert.rejects(
      extract([
        { name: 'cnb/buildpacks/x/', type: 'directory' },
        { name: 'cnb/buildpacks/x/1', type: 'symlink', linkname: '/' },
      ]),
      unsafe,
    );
    // Through a symlink planted by an earlier entry: the extractor refuses to follow it.
    await assert.rejects(
      extract([
        { name: 'cnb/buildpacks/x', type: 'symlink', linkname: '/tmp' },
        { name: 'cnb/buildpacks/x/1/buildpack.toml', content: 'x' },
      ]),
      unsafe,
    );
    assert.equal(existsSync('/tmp/1/buildpack.toml') && readFileSync('/tmp/1/buildpack.toml', 'utf8') === 'x', false);
  });

  it('-b specs: images and .cnb files are buildpackages; ids, paths and URLs are not', () => {
    for (const s of [
      'bp/hello:1',
      'docker://bp/hello',
      '127.0.0.1:5000/bp/hello',
      'ghcr.io/x/y',
      'x.cnb',
      './dir/x.cnb',
      'bp/hello@sha256:' + 'a'.repeat(64),
    ])
      assert.equal(isBuildpackageSpec(s), true, s);
    for (const s of [
      'slipway/procfile',
      'slipway/procfile@1.0.0',
      './bp',
      '/abs/bp',
      'bp.tgz',
      'https://example.com/bp.tgz',
      'https://example.com/bp.cnb',
    ])
      assert.equal(isBuildpackageSpec(s), false, s);
  });

  it('io.buildpacks.buildpack.layers names the layers to extract', () => {
    assert.deepEqual(
      [
        ...layersOf({
          'io.buildpacks.buildpack.layers': JSON.stringify({
            a: { '1': { api: '0.10', layerDiffID: 'sha256:aa' } },
            b: { '2': { layerDiffID: 'sha256:bb' } },
          }),
        })!,
      ],
      ['sha256:aa', 'sha256:bb'],
    );
    assert.equal(layersOf({}), undefined);
  });
});
