import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalStore } from '../src/index.js';
import { buildStore, writeBuildpacks } from './build-fixtures.js';
import { commandExists, run, slipway, startDistribution } from './helpers.js';

/** `slipway build` as a command: project.toml, flags over it, --json, exit codes. */
describe('slipway build (CLI)', () => {
  let home: string;
  let store: LocalStore;
  let cleanup: () => Promise<void>;
  let work: string;

  before(async () => {
    ({ home, store, work, cleanup } = await buildStore());
  });
  after(async () => cleanup());

  test('project.toml pins buildpacks and env and excludes files; --json reports digest, layers and processes', async () => {
    const app = join(work, 'app');
    mkdirSync(join(app, 'secret'), { recursive: true });
    writeFileSync(join(app, 'secret', 'key'), 'x');
    writeFileSync(join(app, 'kept.txt'), 'x');
    writeBuildpacks(join(app, 'bp'), [
      {
        id: 'test/project',
        build:
          'echo "MODE=$MODE"; ls; printf "[[processes]]\\ntype = \\"web\\"\\ncommand = [\\"ls\\"]\\ndefault = true\\n" > "$CNB_LAYERS_DIR/launch.toml"',
      },
    ]);
    writeFileSync(
      join(app, 'project.toml'),
      `
[_]
schema-version = "0.2"
name = "from-project"
[io.buildpacks]
exclude = ["secret/", "bp/"]
[[io.buildpacks.group]]
uri = "bp/test_project"
[[io.buildpacks.build.env]]
name = "MODE"
value = "project"
`,
    );
    const r = await slipway(home, ['--json', 'build', '--path', app, '-e', 'MODE=flag']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.image, 'from-project:latest');
    assert.match(report.digest, /^sha256:/);
    assert.deepEqual(report.group, [{ id: 'test/project', version: '1.0.0' }]);
    assert.deepEqual(
      report.processes.map((p: { type: string }) => p.type),
      ['web'],
    );
    // The build attached its SBOM as a CycloneDX referrer and recorded it for scan.
    assert.match(report.sbom.digest, /^sha256:/);
    assert.ok(report.sbom.components > 50, "the base image's Debian packages");
    assert.deepEqual(
      (await store.meta.referrers('from-project', report.digest)).map((m) => m.artifactType),
      ['application/vnd.cyclonedx+json'],
    );
    const run = await slipway(home, ['run', '--rm', 'from-project']);
    assert.equal(run.stdout.split('\n').filter(Boolean).sort().join(','), 'kept.txt,project.toml');
    const unrecorded = await slipway(home, ['--json', 'build', 'no-sbom', '--path', app, '--no-sbom']);
    assert.equal(unrecorded.code, 0, unrecorded.stderr);
    assert.equal(JSON.parse(unrecorded.stdout).sbom, undefined);
  });

  test('nothing detected exits 20; an unavailable pinned version names the versions there are', async () => {
    const app = join(work, 'empty');
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'README'), 'nothing to build');
    const none = await slipway(home, ['build', 'nothing', '--path', app]);
    assert.equal(none.code, 20, none.stderr);
    assert.match(none.stderr, /detect: no buildpack group passed detection/);
    const pinned = await slipway(home, ['build', 'nothing', '--path', app, '-b', 'slipway/procfile@9.9.9']);
    assert.equal(pinned.code, 1);
    assert.match(pinned.stderr, /buildpack slipway\/procfile@9.9.9 is not available \(versions here: 0.1.0\)/);
  });

  test('HOST/NAME builds here and pushes there (a rebuild sends only the new layers); --env-file under -e; --creation-time', {
    skip: !commandExists('docker-registry') && !process.env['CI'],
  }, async () => {
    const dist = await startDistribution(join(work, 'dist'));
    try {
      const app = join(work, 'pushed');
      writeBuildpacks(join(work, 'push-bp'), [
        {
          id: 'test/greet',
          build:
            'printf "%s|%s|%s\\n" "$(cat "$CNB_PLATFORM_DIR/env/GREETING")" "$(cat "$CNB_PLATFORM_DIR/env/FROM_HOST")" "$(cat "$CNB_PLATFORM_DIR/env/LOUD")" > greeting.txt; printf "[[processes]]\\ntype = \\"web\\"\\ncommand = [\\"cat\\", \\"greeting.txt\\", \\"app.txt\\"]\\ndefault = true\\n" > "$CNB_LAYERS_DIR/launch.toml"',
        },
      ]);
      mkdirSync(app, { recursive: true });
      writeFileSync(join(app, 'app.txt'), 'v1\n');
      const envFile = join(work, 'build.env');
      writeFileSync(envFile, '# build env\nGREETING=hello from the file\n\nFROM_HOST\nLOUD=no\n');
      const image = `${dist.host}/team/greet:v1`;
      const args = [
        '--json',
        'build',
        image,
        '--path',
        app,
        '-b',
        join(work, 'push-bp', 'test_greet'),
        '--env-file',
        envFile,
        '-e',
        'LOUD=yes',
      ];
      const first = await slipway(home, args, { FROM_HOST: 'from the host' });
      assert.equal(first.code, 0, first.stderr);
      const r1 = JSON.parse(first.stdout);
      assert.equal(r1.image, image);
      assert.equal(r1.pushed.destination, image);
      // What the registry serves is the image built, digest for digest.
      const remote = JSON.parse(await run('skopeo', ['inspect', '--tls-verify=false', `docker://${image}`]));
      assert.equal(remote.Digest, r1.digest);
      assert.equal(remote.Created, '1980-01-01T00:00:01Z');
      const ran = await slipway(home, ['run', '--rm', 'team/greet:v1']);
      assert.equal(ran.stdout, 'hello from the file|from the host|yes\nv1\n', ran.stderr);

      writeFileSync(join(app, 'app.txt'), 'v2\n');
      const second = await slipway(home, [...args.slice(0, 2), `${dist.host}/team/greet:v2`, ...args.slice(3)]);
      assert.equal(second.code, 0, second.stderr);
      const r2 = JSON.parse(second.stdout);
      // The app layer and the config are new; the run image's and the launcher's layers are already there.
      assert.equal(r2.pushed.report.blobsSent, 2, JSON.stringify(r2.pushed.report));
      assert.ok(r2.pushed.report.blobsSkipped >= 3, JSON.stringify(r2.pushed.report));
      const remote2 = JSON.parse(
        await run('skopeo', ['inspect', '--tls-verify=false', `docker://${dist.host}/team/greet:v2`]),
      );
      assert.equal(remote2.Digest, r2.digest);

      // An epoch sets `created` and every file time, so all but the run image's layers change.
      const epoch = await slipway(home, [
        ...args.slice(0, 2),
        `${dist.host}/team/greet:v3`,
        ...args.slice(3),
        '--creation-time',
        '1700000000',
      ]);
      assert.equal(epoch.code, 0, epoch.stderr);
      const remote3 = JSON.parse(
        await run('skopeo', ['inspect', '--tls-verify=false', `docker://${dist.host}/team/greet:v3`]),
      );
      assert.equal(remote3.Created, '2023-11-14T22:13:20Z');

      const before = Date.now();
      const now = await slipway(home, [
        '--json',
        'build',
        'local/greet',
        '--path',
        app,
        '-b',
        join(work, 'push-bp', 'test_greet'),
        '--creation-time',
        'now',
      ]);
      assert.equal(now.code, 0, now.stderr);
      const created = JSON.parse(await slipway(home, ['--json', 'inspect', 'local/greet']).then((x) => x.stdout));
      const at = Date.parse(JSON.stringify(created).match(/"created":"([^"]+)"/)![1]!);
      assert.ok(
        at >= Math.floor(before / 1000) * 1000 - 1000 && at <= Date.now(),
        `created ${new Date(at).toISOString()}`,
      );
      const bad = await slipway(home, ['build', 'local/greet', '--path', app, '--creation-time', 'yesterday']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /--creation-time "yesterday" must be "now" or seconds since the epoch/);
      const missing = await slipway(home, [
        'build',
        'local/greet',
        '--path',
        app,
        '--env-file',
        join(work, 'nope.env'),
      ]);
      assert.match(missing.stderr, /env file .*nope.env does not exist/);
    } finally {
      await dist.stop();
    }
  });
});
