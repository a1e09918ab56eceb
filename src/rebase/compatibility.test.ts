import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageConfig } from '../oci/types.js';
import { compatibilityRefusals } from './compatibility.js';

const config = (labels: Record<string, string>, platform: Partial<ImageConfig> = {}): ImageConfig => ({
  os: 'linux',
  architecture: 'amd64',
  ...platform,
  config: { Labels: labels },
  rootfs: { type: 'layers', diff_ids: [] },
});
const base = {
  'io.buildpacks.stack.id': 'io.example.s',
  'io.buildpacks.base.distro.name': 'debian',
  'io.buildpacks.base.distro.version': '12',
};
const recorded = { image: 'registry.example/stacks/run:latest', mirrors: ['mirror.example/stacks/run'] };

describe("compatibility checks (the CNB rebaser's)", () => {
  test('the same stack, target and a recorded name pass', () => {
    assert.deepEqual(
      compatibilityRefusals({
        app: config(base),
        base: config(base),
        recorded,
        newName: 'registry.example/stacks/run:7',
      }),
      [],
    );
  });

  test('a mirror passes, by repository (tags move)', () => {
    assert.deepEqual(
      compatibilityRefusals({
        app: config(base),
        base: config(base),
        recorded,
        newName: 'mirror.example/stacks/run@sha256:' + 'a'.repeat(64),
      }),
      [],
    );
  });

  test('each difference is named', () => {
    const refusals = compatibilityRefusals({
      app: config(
        { ...base, 'io.buildpacks.rebasable': 'false', 'io.buildpacks.stack.mixins': '["run:libgmp","build:gcc"]' },
        { variant: 'v8' },
      ),
      base: config(
        {
          'io.buildpacks.stack.id': 'io.example.t',
          'io.buildpacks.base.distro.name': 'ubuntu',
          'io.buildpacks.base.distro.version': '24.04',
        },
        { architecture: 'arm64', variant: 'v7', os: 'windows' },
      ),
      recorded,
      newName: 'other.example/run:1',
    });
    assert.deepEqual(
      refusals.map((r) => r.check),
      ['rebasable', 'stack-id', 'mixins', 'os', 'arch', 'variant', 'distro', 'distro', 'run-image'],
    );
    assert.match(refusals[2]!.message, /lacks the mixins libgmp/);
    assert.match(refusals[7]!.message, /distro version is 24\.04, the image's 12/);
  });

  test('empty values match anything (the lifecycle treats them as wildcards)', () => {
    assert.deepEqual(
      compatibilityRefusals({ app: config({}), base: config(base, { variant: 'v8' }), newName: 'x/run:1' }),
      [],
    );
  });
});
