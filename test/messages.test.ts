import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { slipway, tempDir } from './helpers.js';

/** Messages that point the way (issue 24): each names what was wrong and the command to use. */
describe('messages that point the way', () => {
  let work: string;
  let home: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    const dir = await tempDir('slipway-messages');
    work = dir.path;
    home = join(work, 'home');
    cleanup = dir.cleanup;
  });
  after(async () => cleanup());

  describe('import of an existing file or directory says what it looks like and the command', () => {
    test('a docker archive (podman load habit): docker-archive:', async () => {
      const d = join(work, 'docker');
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'manifest.json'), '[]');
      writeFileSync(join(d, 'config.json'), '{}');
      execFileSync('tar', ['-cf', join(work, 'deb.tar'), '-C', d, 'config.json', 'manifest.json']);
      const r = await slipway(home, ['import', join(work, 'deb.tar'), 'x:1']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /is a docker archive \(docker save, podman save\)/);
      assert.ok(r.stderr.includes(`slipway import docker-archive:${join(work, 'deb.tar')} x:1`), r.stderr);
      assert.doesNotMatch(r.stderr, /empty path component/);
    });

    test('an OCI layout directory: oci:', async () => {
      const layout = join(work, 'layout');
      mkdirSync(layout, { recursive: true });
      writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
      writeFileSync(join(layout, 'index.json'), '{"schemaVersion":2,"manifests":[]}');
      const r = await slipway(home, ['import', layout, 'x:1']);
      assert.equal(r.code, 1);
      assert.ok(
        r.stderr.includes(`is an OCI image layout directory; import it with: slipway import oci:${layout} x:1`),
      );
    });

    test('an OCI archive: oci-archive:', async () => {
      execFileSync('tar', ['-cf', join(work, 'oci.tar'), '-C', join(work, 'layout'), 'oci-layout', 'index.json']);
      const r = await slipway(home, ['import', join(work, 'oci.tar')]);
      assert.ok(r.stderr.includes(`slipway import oci-archive:${join(work, 'oci.tar')}`), r.stderr);
    });

    test('a rootfs tarball and a rootfs directory: --rootfs', async () => {
      const rootfs = join(work, 'rootfs');
      mkdirSync(join(rootfs, 'etc'), { recursive: true });
      writeFileSync(join(rootfs, 'etc', 'os-release'), 'ID=debian\n');
      execFileSync('tar', ['-cf', join(work, 'rootfs.tar'), '-C', rootfs, '.']);
      const tarball = await slipway(home, ['import', join(work, 'rootfs.tar'), 'deb:12']);
      assert.match(tarball.stderr, /is a tarball of files \(a root filesystem\)/);
      assert.ok(tarball.stderr.includes(`slipway import --rootfs ${join(work, 'rootfs.tar')} deb:12`));
      const dir = await slipway(home, ['import', rootfs, 'deb:12']);
      assert.ok(
        dir.stderr.includes(`is a root filesystem directory; import it with: slipway import --rootfs ${rootfs} deb:12`),
      );
    });

    test('a file that is no archive (README.md) names the references import takes', async () => {
      writeFileSync(join(work, 'README.md'), '# hello\n');
      const r = await slipway(home, ['import', join(work, 'README.md'), 'x:1']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /README\.md is a file, but not a tar archive/);
      assert.match(r.stderr, /docker-archive:FILE/);
      assert.match(r.stderr, /slipway import --rootfs DIR\|TARBALL x:1/);
    });
  });

  test("commander's own errors carry the slipway: prefix and the help hint, in subcommands too", async () => {
    const unknownOption = await slipway(home, ['build', '--nope']);
    assert.equal(unknownOption.code, 1);
    assert.match(unknownOption.stderr, /^slipway: error: unknown option '--nope'/);
    assert.match(unknownOption.stderr, /\(add --help for usage and examples\)/);
    const unknownSub = await slipway(home, ['stack', 'frob']);
    assert.match(unknownSub.stderr, /^slipway: error: unknown command 'frob'/);
    const missing = await slipway(home, ['tag']);
    assert.match(missing.stderr, /^slipway: error: missing required argument/);
  });
});
