import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classifySbomFiles } from './sbom.js';

const CDX = 'application/vnd.cyclonedx+json';
const types = (l: string) =>
  (
    ({
      web: { launch: true, cache: false },
      deps: { launch: false, cache: true },
      both: { launch: true, cache: true },
    }) as Record<string, { launch: boolean; cache: boolean }>
  )[l];

test('SBOM files are sorted by layer type as the lifecycle builder does', () => {
  const files = classifySbomFiles(
    [
      'launch.sbom.cdx.json',
      'build.sbom.cdx.json',
      'web.sbom.cdx.json',
      'deps.sbom.cdx.json',
      'both.sbom.spdx.json',
      'gone.sbom.cdx.json',
      'web.toml',
      'web',
    ],
    types,
    [CDX, 'application/spdx+json'],
    'test/bp',
  );
  assert.deepEqual(
    files.map((f) => [f.file, f.layer ?? '-', f.kind, f.name]),
    [
      ['both.sbom.spdx.json', 'both', 'launch', 'sbom.spdx.json'],
      ['both.sbom.spdx.json', 'both', 'cache', 'sbom.spdx.json'],
      ['build.sbom.cdx.json', '-', 'build', 'sbom.cdx.json'],
      ['deps.sbom.cdx.json', 'deps', 'build', 'sbom.cdx.json'],
      ['deps.sbom.cdx.json', 'deps', 'cache', 'sbom.cdx.json'],
      ['launch.sbom.cdx.json', '-', 'launch', 'sbom.cdx.json'],
      ['web.sbom.cdx.json', 'web', 'launch', 'sbom.cdx.json'],
    ],
  );
});

test('an undeclared or unsupported SBOM format is an error naming the file and the buildpack', () => {
  assert.throws(
    () => classifySbomFiles(['web.sbom.spdx.json'], types, [CDX], 'test/bp'),
    /test\/bp: SBOM file "web.sbom.spdx.json" is application\/spdx\+json, which its buildpack.toml does not declare in sbom-formats \(declared: application\/vnd.cyclonedx\+json\)/,
  );
  assert.throws(() => classifySbomFiles(['launch.sbom.cdx.json'], types, [], 'test/bp'), /declared: none/);
  assert.throws(
    () => classifySbomFiles(['launch.sbom.xml.json'], types, [CDX], 'test/bp'),
    /unsupported SBOM file format: "launch.sbom.xml.json"/,
  );
  assert.deepEqual(
    classifySbomFiles(['launch.sbom.cdx.json'], types, ['application/vnd.cyclonedx+json; version=1.4'], 'x').length,
    1,
    'media type parameters are ignored',
  );
});
