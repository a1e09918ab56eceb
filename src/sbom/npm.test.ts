import { test } from 'node:test';
import assert from 'node:assert/strict';
import { installedPackage, isInstalledManifest, isLockFile, lockFilePackages } from './npm.js';

test('package-lock.json v3 and v1: every pinned package with its path; links and the root skipped', () => {
  const v3 = JSON.stringify({
    lockfileVersion: 3,
    packages: {
      '': { name: 'app' },
      'node_modules/@scope/a': { version: '1.0.0' },
      'node_modules/b': { version: '2.0.0', dev: true },
      'node_modules/b/node_modules/c': { version: '3.0.0' },
      'packages/ws': { link: true },
    },
  });
  assert.deepEqual(
    lockFilePackages(v3).map((p) => [p.name, p.version, p.path, p.dev ?? false]),
    [
      ['@scope/a', '1.0.0', 'node_modules/@scope/a', false],
      ['b', '2.0.0', 'node_modules/b', true],
      ['c', '3.0.0', 'node_modules/b/node_modules/c', false],
    ],
  );
  const v1 = JSON.stringify({
    lockfileVersion: 1,
    dependencies: { x: { version: '1.0.0', dependencies: { y: { version: '2.0.0' } } } },
  });
  assert.deepEqual(
    lockFilePackages(v1).map((p) => p.path),
    ['node_modules/x', 'node_modules/x/node_modules/y'],
  );
  assert.deepEqual(lockFilePackages('not json'), []);
});

test('installed package.json files: scoped names, nested node_modules; lock files are not inside node_modules', () => {
  assert.ok(isInstalledManifest('layers/x/node_modules/node_modules/@types/node/package.json'));
  assert.ok(!isInstalledManifest('workspace/package.json'));
  assert.ok(!isInstalledManifest('workspace/node_modules/a/lib/package.json'));
  assert.deepEqual(installedPackage('workspace/node_modules/a/package.json', '{"name":"a","version":"1.2.3"}'), {
    name: 'a',
    version: '1.2.3',
    path: 'workspace/node_modules/a',
  });
  assert.equal(installedPackage('workspace/node_modules/a/package.json', '{"name":"a"}'), undefined);
  assert.ok(isLockFile('workspace/package-lock.json'));
  assert.ok(!isLockFile('workspace/node_modules/a/package-lock.json'));
});
