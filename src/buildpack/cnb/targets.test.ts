import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseToml } from './toml.js';
import { effectiveTargets, parseTargets, targetSatisfied, type ImageTarget } from './targets.js';

const debian: ImageTarget = {
  os: 'linux',
  arch: 'amd64',
  distro: { name: 'debian', version: '12' },
  stackId: 'slipway.default',
};
const decl = (toml: string) => parseTargets(parseToml(toml, 'buildpack.toml'), 'buildpack.toml');

test('[[targets]]: os/arch/variant and one of the distros must match; an empty field matches anything', () => {
  assert.equal(targetSatisfied(decl('[[targets]]\nos = "linux"\narch = "amd64"\n'), true, debian), true);
  assert.equal(targetSatisfied(decl('[[targets]]\nos = "linux"\narch = "arm64"\n'), true, debian), false);
  assert.equal(targetSatisfied(decl('[[targets]]\nos = "windows"\n[[targets]]\nos = "linux"\n'), true, debian), true);
  assert.equal(
    targetSatisfied(decl('[[targets]]\nos = "linux"\nvariant = "v8"\n'), true, debian),
    true,
    'the image has no variant: wildcard',
  );
  assert.equal(
    targetSatisfied(decl('[[targets]]\narch = "arm64"\narch-variant = "v8"\n'), true, {
      ...debian,
      arch: 'arm64',
      variant: 'v7',
    }),
    false,
    'the lifecycle spelling arch-variant is read too',
  );
  assert.equal(
    targetSatisfied(
      decl('[[targets]]\n[[targets.distros]]\nname = "ubuntu"\n[[targets.distros]]\nname = "debian"\nversion = "12"\n'),
      true,
      debian,
    ),
    true,
  );
  assert.equal(
    targetSatisfied(decl('[[targets]]\n[[targets.distros]]\nname = "debian"\nversion = "11"\n'), true, debian),
    false,
  );
  assert.equal(
    targetSatisfied(decl('[[targets]]\n[[targets.distros]]\nname = "debian"\n'), true, { os: 'linux', arch: 'amd64' }),
    false,
    'distros listed, image without distro data',
  );
});

test('no targets: inferred os = "linux" from bin/build (lifecycle), or nothing to check', () => {
  assert.deepEqual(effectiveTargets(decl(''), true), [{ os: 'linux' }]);
  assert.equal(targetSatisfied(decl(''), true, debian), true);
  assert.equal(targetSatisfied(decl(''), true, { os: 'windows', arch: 'amd64' }), false);
  assert.equal(targetSatisfied(decl(''), false, { os: 'windows', arch: 'amd64' }), true);
});

test('[[stacks]] (deprecated): "*" matches any image, an id matches io.buildpacks.stack.id, bionic is linux/amd64 ubuntu 18.04', () => {
  assert.equal(targetSatisfied(decl('[[stacks]]\nid = "*"\n'), true, debian), true);
  assert.equal(targetSatisfied(decl('[[stacks]]\nid = "slipway.default"\n'), true, debian), true);
  assert.equal(targetSatisfied(decl('[[stacks]]\nid = "heroku-22"\n'), true, debian), false);
  assert.deepEqual(effectiveTargets(decl('[[stacks]]\nid = "io.buildpacks.stacks.bionic"\n'), true), [
    { os: 'linux', arch: 'amd64', distros: [{ name: 'ubuntu', version: '18.04' }] },
  ]);
  assert.equal(targetSatisfied(decl('[[stacks]]\nid = "io.buildpacks.stacks.bionic"\n'), true, debian), false);
  assert.equal(
    targetSatisfied(decl('[[stacks]]\nid = "io.buildpacks.stacks.bionic"\n'), true, {
      os: 'linux',
      arch: 'amd64',
      distro: { name: 'ubuntu', version: '18.04' },
    }),
    true,
  );
  assert.equal(
    targetSatisfied(decl('[[targets]]\nos = "linux"\n[[stacks]]\nid = "other"\n'), true, debian),
    true,
    'targets win over stacks',
  );
});
