import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SlipwayError } from '../src/errors.js';
import type { LocalStore } from '../src/index.js';
import { buildApp } from '../src/stage/cnb/build-app.js';
import { StageError } from '../src/stage/cnb/stage-error.js';
import { buildStore, imageConfig, runImage, scratchDirs, stageApp, writeBuildpacks } from './build-fixtures.js';

/**
 * More of the CNB contract in `slipway build`: [[targets]] in detect, inline buildpacks
 * from project.toml, buildpacks from a URL (downloaded once, cached), and SBOMs (checked
 * against sbom-formats, exported as the lifecycle's SBOM layer). Real builds with runc.
 */
describe('slipway build: targets, inline and URL buildpacks, SBOMs', () => {
  let store: LocalStore;
  let cleanup: () => Promise<void>;
  let work: string;
  const { app, bps } = scratchDirs(() => work);

  before(async () => {
    ({ store, work, cleanup } = await buildStore());
  });
  after(async () => cleanup());

  test('targets: a required buildpack whose [[targets]] miss the build image errors in detect (exit 21) naming it and the target; a matching one passes', async () => {
    const [arm, here, stacks] = bps([
      { id: 'test/arm-only', toml: '[[targets]]\nos = "linux"\narch = "arm64"\n', build: 'echo arm-built' },
      {
        id: 'test/debian',
        toml: '[[targets]]\nos = "linux"\narch = "amd64"\n[[targets.distros]]\nname = "ubuntu"\n[[targets.distros]]\nname = "debian"\n',
        build: 'echo "debian-built $CNB_TARGET_OS/$CNB_TARGET_ARCH $CNB_TARGET_DISTRO_NAME"',
      },
      { id: 'test/other-stack', api: '0.9', toml: '[[stacks]]\nid = "io.example.other"\n' },
    ]);
    await assert.rejects(
      stageApp(store, app(), 'more/arm', { buildpacks: [arm!] }),
      (err: unknown) =>
        err instanceof StageError &&
        err.exitCode === 21 &&
        /test\/arm-only@1.0.0: unable to satisfy target os\/arch constraints; run image: \{"os":"linux","arch":"amd64"/.test(
          err.message,
        ) &&
        /buildpack: \[\{"os":"linux","arch":"arm64"\}\]/.test(err.message),
    );
    await assert.rejects(
      stageApp(store, app(), 'more/stacks', { buildpacks: [stacks!] }),
      (err: unknown) =>
        err instanceof StageError &&
        err.exitCode === 21 &&
        /test\/other-stack@1.0.0: unable to satisfy/.test(err.message),
    );
    const r = await stageApp(store, app(), 'more/debian', { buildpacks: [here!] });
    assert.match(r.output, /debian-built linux\/amd64 debian/);
  });

  test('SBOM: layer and launch SBOMs become one layer at /layers/sbom/launch, between buildpack and app layers, with the "sbom" label entry; reused and reproducible', async () => {
    const [bp] = bps([
      {
        id: 'test/sbom',
        api: '0.9',
        toml: 'sbom-formats = ["application/vnd.cyclonedx+json", "application/spdx+json"]\n',
        build: `
        L="$CNB_LAYERS_DIR"; mkdir -p "$L/deps"
        if grep -q 'kept = "yes"' "$L/lib.toml" 2>/dev/null; then
          echo "lib kept by metadata"; [ -f "$L/lib.sbom.cdx.json" ] && echo "lib sbom restored from the image"
        else
          mkdir -p "$L/lib"; echo lib > "$L/lib/file"
          echo '{"bomFormat":"CycloneDX","components":[{"name":"lib"}]}' > "$L/lib.sbom.cdx.json"
        fi
        printf '[types]\\nlaunch = true\\n[metadata]\\nkept = "yes"\\n' > "$L/lib.toml"
        echo '{"spdxVersion":"SPDX-2.3"}' > "$L/launch.sbom.spdx.json"
        echo '{"bomFormat":"CycloneDX","components":[{"name":"build-tool"}]}' > "$L/build.sbom.cdx.json"
        echo deps > "$L/deps/file"; printf '[types]\\nbuild = true\\ncache = true\\n' > "$L/deps.toml"
        [ -f "$L/deps.sbom.cdx.json" ] && echo "deps sbom restored"
        echo '{"bomFormat":"CycloneDX"}' > "$L/deps.sbom.cdx.json"
        printf '[[processes]]\\ntype = "show"\\ncommand = ["sh", "-c", "cd /layers/sbom && find . | sort && cat launch/test_sbom/lib/sbom.cdx.json"]\\ndefault = true\\n' > "$L/launch.toml"`,
      },
    ]);
    const dir = app();
    const first = await stageApp(store, dir, 'more/sbom', { buildpacks: [bp!] });
    assert.deepEqual(
      first.layers.map((l) => l.name),
      ['test/sbom:lib', 'sbom', 'app', 'launcher', 'config', 'process-types'],
    );
    const config = await imageConfig(store, 'more/sbom');
    const meta = JSON.parse(config.config!.Labels!['io.buildpacks.lifecycle.metadata']!);
    assert.deepEqual(Object.keys(meta), [
      'app',
      'sbom',
      'buildpacks',
      'config',
      'launcher',
      'process-types',
      'runImage',
      'stack',
    ]);
    const diffIds = config.rootfs.diff_ids;
    const top = diffIds.indexOf(meta.runImage.topLayer);
    assert.equal(meta.buildpacks[0].layers.lib.sha, diffIds[top + 1]);
    assert.deepEqual(meta.sbom, { sha: diffIds[top + 2] });
    assert.equal(first.layers[1]!.diffId, meta.sbom.sha);
    assert.equal(config.history!.at(-5)!.created_by, 'Software Bill-of-Materials');
    const out = (await runImage(store, 'more/sbom')).output;
    assert.equal(
      out,
      '.\n./launch\n./launch/test_sbom\n./launch/test_sbom/lib\n./launch/test_sbom/lib/sbom.cdx.json\n./launch/test_sbom/sbom.spdx.json\n{"bomFormat":"CycloneDX","components":[{"name":"lib"}]}\n',
      'build SBOMs and cache-layer SBOMs are not in the image',
    );

    const second = await stageApp(store, dir, 'more/sbom', { buildpacks: [bp!] });
    assert.match(second.output, /deps sbom restored/, 'a cache layer keeps its SBOM');
    assert.match(
      second.output,
      /lib kept by metadata\nlib sbom restored from the image/,
      'a launch layer kept by metadata gets its SBOM back from the previous image',
    );
    assert.equal(second.digest, first.digest);
    assert.equal(second.layers.find((l) => l.name === 'sbom')!.reused, true);
  });

  test('inline buildpack: project.toml [[io.buildpacks.group]] with a script runs in its place in the group; its layer and process are in the image', async () => {
    const dir = app();
    const [before] = writeBuildpacks(join(dir, 'bps'), [
      {
        id: 'test/before',
        build:
          'echo "before ran"; mkdir -p "$CNB_LAYERS_DIR/b/env"; printf yes > "$CNB_LAYERS_DIR/b/env/FROM_BEFORE"; printf "[types]\\nbuild = true\\n" > "$CNB_LAYERS_DIR/b.toml"',
      },
    ]);
    writeFileSync(
      join(dir, 'project.toml'),
      `
[_]
schema-version = "0.2"
[io.buildpacks]
exclude = ["bps/"]
[[io.buildpacks.group]]
uri = "./bps/${before!.split('/').pop()}"
[[io.buildpacks.group]]
id = "me/inline"
  [io.buildpacks.group.script]
  api = "0.10"
  shell = "/bin/bash"
  inline = '''
set -eu
echo "inline ran with bash \${BASH_VERSION%%.*} in $(pwd), FROM_BEFORE=$FROM_BEFORE, layers $1"
mkdir -p "$CNB_LAYERS_DIR/greeting"
echo "hello from inline" > "$CNB_LAYERS_DIR/greeting/message"
printf '[types]\\nlaunch = true\\n' > "$CNB_LAYERS_DIR/greeting.toml"
printf '[[processes]]\\ntype = "web"\\ncommand = ["cat", "/layers/me_inline/greeting/message"]\\ndefault = true\\n' > "$CNB_LAYERS_DIR/launch.toml"
'''
`,
    );
    let output = '';
    const r = await buildApp(store, { image: 'more/inline', path: dir, output: (t) => (output += t) });
    assert.deepEqual(r.group, [
      { id: 'test/before', version: '1.0.0' },
      { id: 'me/inline', version: '0.0.0' },
    ]);
    assert.match(
      output,
      /before ran\n(.|\n)*inline ran with bash 5 in \/workspace, FROM_BEFORE=yes, layers \/layers\/me_inline/,
    );
    assert.ok(r.layers.some((l) => l.name === 'me/inline:greeting'));
    assert.equal((await runImage(store, 'more/inline')).output, 'hello from inline\n');
    const build = JSON.parse(
      (await imageConfig(store, 'more/inline')).config!.Labels!['io.buildpacks.build.metadata']!,
    );
    assert.deepEqual(
      build.buildpacks.map((b: { id: string; api: string }) => [b.id, b.api]),
      [
        ['test/before', '0.10'],
        ['me/inline', '0.10'],
      ],
    );
  });

  test("a .tgz buildpack by path is unpacked once by its content into the store's buildpack cache, and reused; a bad one is INVALID_ARCHIVE naming it", async () => {
    const [bp] = bps([{ id: 'test/archived', version: '1.0.0', build: 'echo "archived buildpack ran"' }]);
    const tgz = join(work, 'archived.tgz');
    execFileSync('tar', ['-czf', tgz, '-C', bp!, '.']);
    const unpacked = join(store.home, 'buildpacks', 'downloads', 'unpacked');
    const dir = join(unpacked, createHash('sha256').update(readFileSync(tgz)).digest('hex'));

    const first = await stageApp(store, app(), 'more/archived', { buildpacks: [tgz] });
    assert.match(first.output, /archived buildpack ran/);
    assert.equal(readFileSync(join(dir, 'buildpack.toml'), 'utf8').includes('test/archived'), true);
    const { ino } = statSync(dir);
    const before = readdirSync(unpacked).length;
    const second = await stageApp(store, app(), 'more/archived', { buildpacks: [tgz] });
    assert.match(second.output, /archived buildpack ran/);
    assert.equal(statSync(dir).ino, ino, 'the second build takes the same directory, not a new unpack');
    assert.equal(readdirSync(unpacked).length, before);

    const junk = join(work, 'junk.tgz');
    writeFileSync(junk, 'this is not a tarball');
    await assert.rejects(
      stageApp(store, app(), 'more/archived', { buildpacks: [junk] }),
      (err: unknown) =>
        err instanceof SlipwayError &&
        err.code === 'INVALID_ARCHIVE' &&
        err.message.startsWith(`buildpack ${junk}: not a .tgz, .tar.gz or .tar`),
    );
    assert.equal(readdirSync(unpacked).length, before, 'nothing is kept of a bad archive');
  });

  test('URL buildpack: an http:// .tgz is downloaded once and cached (the second build, and project.toml naming it, make no request); bad URLs fail clearly', async () => {
    const [bp] = bps([
      { id: 'test/remote', version: '2.0.0', build: 'echo "remote buildpack ran from $CNB_BUILDPACK_DIR"' },
    ]);
    const tgz = join(work, 'remote.tgz');
    execFileSync('tar', ['-czf', tgz, '-C', bp!, '.']);
    const nested = join(work, 'nested.tar');
    execFileSync('tar', ['-cf', nested, '-C', join(bp!, '..'), bp!.split('/').pop()!]);
    const requests: string[] = [];
    const server: Server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/bp.tgz') res.end(readFileSync(tgz));
      else if (req.url === '/nested.tar') res.end(readFileSync(nested));
      else if (req.url === '/moved.tgz') res.writeHead(302, { location: '/bp.tgz' }).end();
      else if (req.url === '/junk.tgz') res.end('this is not a tarball');
      else res.writeHead(404).end('no');
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const first = await stageApp(store, app(), 'more/remote', { buildpacks: [`${base}/bp.tgz`] });
      assert.match(first.output, /remote buildpack ran from \/cnb\/buildpacks\/test_remote\/2.0.0/);
      assert.deepEqual(requests, ['/bp.tgz']);
      const second = await stageApp(store, app(), 'more/remote', { buildpacks: [`${base}/bp.tgz`] });
      assert.match(second.output, /remote buildpack ran/);
      const dir = app();
      writeFileSync(
        join(dir, 'project.toml'),
        `[_]\nschema-version = "0.2"\n[[io.buildpacks.group]]\nuri = "${base}/bp.tgz"\n`,
      );
      const third = await buildApp(store, { image: 'more/remote-project', path: dir });
      assert.deepEqual(third.group, [{ id: 'test/remote', version: '2.0.0' }]);
      assert.deepEqual(requests, ['/bp.tgz'], 'cached: no second request');

      const nestedBuild = await stageApp(store, app(), 'more/remote', {
        buildpacks: [`${base}/nested.tar`, `file://${tgz}`],
      });
      // Both are read (a bad one would fail the build); the same id twice runs once, as the lifecycle has it.
      assert.deepEqual(
        nestedBuild.group.map((g) => g.id),
        ['test/remote'],
        'a .tar of one folder, and a file:// URL',
      );
      await stageApp(store, app(), 'more/remote', { buildpacks: [`${base}/moved.tgz`] });
      assert.deepEqual(requests.slice(-2), ['/moved.tgz', '/bp.tgz'], 'redirects are followed');

      await assert.rejects(
        stageApp(store, app(), 'more/remote', { buildpacks: [`${base}/missing.tgz`] }),
        (err: unknown) =>
          err instanceof SlipwayError &&
          err.code === 'NOT_FOUND' &&
          err.message === `buildpack ${base}/missing.tgz: the server answered 404 Not Found`,
      );
      await assert.rejects(
        stageApp(store, app(), 'more/remote', { buildpacks: [`${base}/junk.tgz`] }),
        (err: unknown) =>
          err instanceof SlipwayError &&
          err.code === 'INVALID_ARCHIVE' &&
          /junk.tgz: not a .tgz, .tar.gz or .tar/.test(err.message),
      );
      await assert.rejects(stageApp(store, app(), 'more/remote', { buildpacks: [`${base}/junk.tgz`] }), /not a .tgz/);
      assert.equal(
        requests.filter((u) => u === '/junk.tgz').length,
        2,
        'a download that is not a buildpack is not kept',
      );
      await assert.rejects(
        stageApp(store, app(), 'more/remote', { buildpacks: ['http://127.0.0.1:1/bp.tgz'] }),
        (err: unknown) =>
          err instanceof SlipwayError &&
          err.code === 'IO_ERROR' &&
          /cannot download it: connect ECONNREFUSED/.test(err.message),
      );
      await assert.rejects(
        stageApp(store, app(), 'more/remote', { buildpacks: [`file://${join(work, 'nope.tgz')}`] }),
        (err: unknown) =>
          err instanceof SlipwayError && err.code === 'NOT_FOUND' && /nope.tgz does not exist/.test(err.message),
      );
    } finally {
      server.close();
    }
  });

  test('SBOM: a format not in sbom-formats fails the build (exit 51) naming the file, the type and the buildpack', async () => {
    const [bp] = bps([
      {
        id: 'test/undeclared',
        toml: 'sbom-formats = ["application/vnd.cyclonedx+json"]\n',
        build: 'echo "{}" > "$CNB_LAYERS_DIR/launch.sbom.syft.json"',
      },
    ]);
    await assert.rejects(
      stageApp(store, app(), 'more/undeclared', { buildpacks: [bp!] }),
      (err: unknown) =>
        err instanceof StageError &&
        err.exitCode === 51 &&
        err.phase === 'build' &&
        /test\/undeclared@1.0.0: SBOM file "launch.sbom.syft.json" is application\/vnd.syft\+json, which its buildpack.toml does not declare in sbom-formats/.test(
          err.message,
        ),
    );
  });
});
