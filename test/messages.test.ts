import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildStore } from './build-fixtures.js';
import { slipway, slipwayOk, tempDir } from './helpers.js';

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

  test("rebase --help gives the base boundary in the README's order; build --help says what --publish and --run-image do", async () => {
    const rebase = (await slipway(home, ['rebase', '--help'])).stdout.replace(/\s+/g, ' ');
    assert.match(
      rebase,
      /in this order: --old-base REF .*, else the run image's top layer .*, else the org\.opencontainers\.image\.base\.name\/\.digest annotations/,
    );
    assert.match(rebase, /--json reports status "would-rebase"/);
    const build = (await slipway(home, ['build', '--help'])).stdout.replace(/\s+/g, ' ');
    assert.match(
      build,
      /--publish push the image to a registry: IMAGE read as a registry reference even without a host \(docker\.io\); HOST\/NAME pushes without it/,
    );
    assert.match(build, /--run-image <image> the run image to build on instead of the stack's/);
  });

  test('stack inspect of a stack that does not exist names it and points to stack ls', async () => {
    const r = await slipway(home, ['stack', 'inspect', 'nosuchstack']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /slipway: error: no stack named nosuchstack; see slipway stack ls/);
    assert.doesNotMatch(r.stderr, /repository nosuchstack\/run/);
  });

  test('a droplet import of a file that is no tarball names the file', async () => {
    const file = join(work, 'notes.txt');
    writeFileSync(file, 'not a droplet\n');
    const r = await slipway(home, ['droplet', 'import', file, 'apps/x:1']);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`${file} is not a droplet tarball (a gzip tar of ./app, ./staging_info.yml`), r.stderr);
  });

  /** Messages of builds and rebases: a store with the default stack. */
  describe('with a stack', () => {
    let store: { home: string; cleanup: () => Promise<void> };
    let stackId: string;

    before(async () => {
      const { home: h, cleanup: c } = await buildStore();
      store = { home: h, cleanup: c };
      const inspect = JSON.parse(await slipwayOk(h, ['--json', 'stack', 'inspect', 'default']));
      stackId = inspect.stackId;
    });
    after(async () => store.cleanup());

    /** A one-file root filesystem imported as `name`, labelled with `stack`'s id. */
    async function runImage(name: string, marker: string, id = stackId): Promise<void> {
      const dir = join(work, `rootfs-${marker}`);
      mkdirSync(join(dir, 'etc'), { recursive: true });
      writeFileSync(join(dir, 'etc', 'marker'), marker);
      await slipwayOk(store.home, ['import', '--rootfs', dir, name, '--label', `io.buildpacks.stack.id=${id}`]);
    }

    test('a detect failure says what each buildpack looks for', async () => {
      const app = join(work, 'nothing');
      mkdirSync(app, { recursive: true });
      writeFileSync(join(app, 'README'), 'nothing to build');
      const r = await slipway(store.home, ['build', 'nothing', '--path', app]);
      assert.equal(r.code, 20, r.stderr);
      assert.match(r.stderr, /no buildpack group passed detection; what each looks for: /);
      assert.match(r.stderr, /slipway\/nodejs: no package\.json/);
      assert.match(r.stderr, /slipway\/procfile: no Procfile/);
      assert.match(r.stderr, /slipway\/apt: no Aptfile/);
      assert.match(r.stderr, /slipway\/make: no Makefile/);
    });

    test('build --run-image builds on it; an unknown or unsuited one is refused with the fix', async () => {
      const app = join(work, 'procfile');
      mkdirSync(app, { recursive: true });
      writeFileSync(join(app, 'Procfile'), 'web: true\n');
      await runImage('patched/run', 'one');
      const r = await slipway(store.home, [
        '--json',
        'build',
        'on-patched',
        '--path',
        app,
        '--run-image',
        'patched/run',
      ]);
      assert.equal(r.code, 0, r.stderr);
      const patched = JSON.parse(await slipwayOk(store.home, ['--json', 'inspect', 'patched/run']));
      const built = JSON.parse(await slipwayOk(store.home, ['--json', 'inspect', 'on-patched']));
      const meta = JSON.parse(built.config.Labels['io.buildpacks.lifecycle.metadata']);
      assert.equal(meta.runImage.image, 'patched/run');
      assert.equal(meta.runImage.reference, `patched/run@${patched.digest}`);

      const missing = await slipway(store.home, ['build', 'x', '--path', app, '--run-image', 'nosuch/run:1']);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /run image nosuch\/run:1 is not in the store: pull it/);
      await runImage('other/run', 'other', 'io.example.other');
      const other = await slipway(store.home, ['build', 'x', '--path', app, '--run-image', 'other/run']);
      assert.equal(other.code, 1);
      assert.match(
        other.stderr,
        /run image other\/run has stack id io\.example\.other and the build image .*: give a run image of the same stack/,
      );
    });

    test('rebase --dry-run --json says would-rebase and writes nothing', async () => {
      const before = JSON.parse(await slipwayOk(store.home, ['--json', 'inspect', 'on-patched'])).digest;
      await runImage('patched/run', 'two');
      const r = await slipway(store.home, ['--json', 'rebase', 'on-patched', '--dry-run']);
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout);
      assert.equal(report.dryRun, true);
      assert.equal(report.status, 'would-rebase');
      assert.notEqual(report.status, 'rebased');
      assert.equal(report.previousDigest, before);
      const after = JSON.parse(await slipwayOk(store.home, ['--json', 'inspect', 'on-patched'])).digest;
      assert.equal(after, before, 'nothing was rebased');
    });
  });
});
