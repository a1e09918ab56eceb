import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { depsIndex } from './deps-index.js';
import { ConfinedDir } from '../../fs/confined-dir.js';
import { parseRelease, readDepsConfig, readLaunchYml, readProcfile } from './process-files.js';
import { ClassicStageError } from './classic-error.js';
import { isClassicBuildpackDir } from './buildpack-source.js';

describe('CF v2 buildpack contract pieces', () => {
  it('IDX is zero-padded to the digits of the buildpack count (DepsIndex)', () => {
    assert.equal(depsIndex(0, 1), '0');
    assert.equal(depsIndex(8, 9), '8');
    assert.equal(depsIndex(3, 12), '03');
    assert.equal(depsIndex(99, 100), '099');
  });

  it('release output: default_process_types only; --- {} is valid; bad YAML is 224', () => {
    assert.deepEqual(
      parseRelease(
        '---\naddons: []\nconfig_vars: {A: b}\ndefault_process_types:\n  web: bundle exec rackup\n  worker: rake\n',
      ),
      { web: 'bundle exec rackup', worker: 'rake' },
    );
    assert.deepEqual(parseRelease('--- {}\n'), {});
    assert.throws(
      () => parseRelease('web: [unclosed'),
      (e: unknown) => e instanceof ClassicStageError && e.exitCode === 224,
    );
  });

  it('Procfile, launch.yml (sidecars skipped) and config.yml', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfv2-'));
    try {
      writeFileSync(join(dir, 'Procfile'), 'web: node server.js\nworker: node w.js\n');
      assert.deepEqual(
        ConfinedDir.with(dir, (t) => readProcfile(t, 'Procfile')),
        { web: 'node server.js', worker: 'node w.js' },
      );
      writeFileSync(join(dir, 'bad'), 'web: [x');
      assert.throws(
        () => ConfinedDir.with(dir, (t) => readProcfile(t, 'bad')),
        (e: unknown) => e instanceof ClassicStageError && e.exitCode === 1 && /invalid YAML/.test(e.message),
      );
      writeFileSync(
        join(dir, 'launch.yml'),
        'processes:\n- type: web\n  command: ./run\n- type: envoy\n  command: envoy\n  platforms: {cloudfoundry: {sidecar_for: [web]}}\n',
      );
      assert.deepEqual(
        ConfinedDir.with(dir, (t) => readLaunchYml(t, 'launch.yml')),
        { web: './run' },
      );
      assert.equal(
        ConfinedDir.with(dir, (t) => readLaunchYml(t, 'none.yml')),
        undefined,
      );
      writeFileSync(join(dir, 'config.yml'), 'name: nodejs\nversion: 1.8.0\nconfig: {entrypoint_prefix: x}\n');
      assert.deepEqual(
        ConfinedDir.with(dir, (t) => readDepsConfig(t, 'config.yml')),
        { name: 'nodejs', version: '1.8.0', config: { entrypoint_prefix: 'x' } },
      );
      mkdirSync(join(dir, 'bp/bin'), { recursive: true });
      writeFileSync(join(dir, 'bp/bin/supply'), '');
      assert.equal(isClassicBuildpackDir(join(dir, 'bp')), true);
      // Heroku's registry buildpack.toml (no api, no id) leaves it classic; a CNB one with an api does not.
      writeFileSync(
        join(dir, 'bp/buildpack.toml'),
        '[buildpack]\nname = "Apt"\n\n[publish.Ignore]\nfiles = ["test/"]\n',
      );
      assert.equal(isClassicBuildpackDir(join(dir, 'bp')), true, "Heroku's buildpack.toml is no CNB one");
      writeFileSync(join(dir, 'bp/buildpack.toml'), 'api = "0.10"\n[buildpack]\nid = "x/y"\nversion = "1"\n');
      assert.equal(isClassicBuildpackDir(join(dir, 'bp')), false, 'a CNB buildpack is not classic');
      writeFileSync(join(dir, 'bp/buildpack.toml'), '');
      writeFileSync(join(dir, 'bp/bin/build'), '');
      assert.equal(isClassicBuildpackDir(join(dir, 'bp')), false, 'bin/build makes it a CNB buildpack');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
