import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDpkgPackages } from './dpkg.js';

test('dpkg status: source package and version, binNMUs, packages not installed left out', () => {
  const status = [
    'Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.15-1~deb12u1\n',
    'Package: libfoo1\nStatus: install ok installed\nArchitecture: amd64\nSource: foo (1.0-1)\nVersion: 1.0-1+b2\n',
    'Package: bar\nStatus: install ok installed\nArchitecture: all\nVersion: 2.0-1+b1\n',
    'Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1\n',
  ].join('\n');
  assert.deepEqual(
    parseDpkgPackages(status).map((p) => [p.name, p.version, p.architecture, p.source, p.sourceVersion]),
    [
      ['bar', '2.0-1+b1', 'all', 'bar', '2.0-1'],
      ['libfoo1', '1.0-1+b2', 'amd64', 'foo', '1.0-1'],
      ['libssl3', '3.0.15-1~deb12u1', 'amd64', 'openssl', '3.0.15-1~deb12u1'],
    ],
  );
});
