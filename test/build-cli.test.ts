import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildStore, writeBuildpacks } from './build-fixtures.js';
import { slipway, tempDir } from './helpers.js';

/** `slipway build` as a command: project.toml, flags over it, --json, exit codes. */
describe('slipway build (CLI)', () => {
  let home: string;
  let cleanup: () => Promise<void>;
  let work: string;

  before(async () => {
    ({ home, cleanup } = await buildStore());
    work = (await tempDir('slipway-build-cli')).path;
  });
  after(async () => cleanup());

  test('project.toml pins buildpacks and env and excludes files; --json reports digest, layers and processes', async () => {
    const app = join(work, 'app');
    mkdirSync(join(app, 'secret'), { recursive: true });
    writeFileSync(join(app, 'secret', 'key'), 'x');
    writeFileSync(join(app, 'kept.txt'), 'x');
    writeBuildpacks(join(app, 'bp'), [{
      id: 'test/project',
      build: 'echo "MODE=$MODE"; ls; printf "[[processes]]\\ntype = \\"web\\"\\ncommand = [\\"ls\\"]\\ndefault = true\\n" > "$CNB_LAYERS_DIR/launch.toml"',
    }]);
    writeFileSync(join(app, 'project.toml'), `
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
`);
    const r = await slipway(home, ['--json', 'build', '--path', app, '-e', 'MODE=flag']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.image, 'from-project:latest');
    assert.match(report.digest, /^sha256:/);
    assert.deepEqual(report.group, [{ id: 'test/project', version: '1.0.0' }]);
    assert.deepEqual(report.processes.map((p: { type: string }) => p.type), ['web']);
    const run = await slipway(home, ['run', '--rm', 'from-project']);
    assert.equal(run.stdout.split('\n').filter(Boolean).sort().join(','), 'kept.txt,project.toml');
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
});
