import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Digest } from '../src/oci/digest.js';
import { toSpdx } from '../src/sbom/spdx.js';
import type { ImageInventory } from '../src/sbom/types.js';
import { ROOT } from './helpers.js';

// ajv-formats is CommonJS: under NodeNext its default import is module.exports, whose `default` is the plugin.
const addFormats = addFormatsModule.default;

/** Our own SPDX 2.3 schema (see its $comment for why it is not the official file), compiled once. */
function spdxValidator(): (doc: unknown) => ErrorObject[] {
  // Strict about keywords, so a misspelt one in the schema fails instead of checking nothing; not about
  // types, which the if/then branches leave to the property's own schema.
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
  addFormats(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(join(ROOT, 'test/schemas/spdx-2.3.schema.json'), 'utf8')));
  return (doc) => (validate(doc) ? [] : (validate.errors ?? []));
}

/**
 * The SPDX 2.3 schema of test/schemas on a document toSpdx makes from a hand-made
 * inventory (no image needed): the generator's output passes, and the schema rejects
 * what the specification rejects, each for the reason meant, so it can fail at all.
 */
describe('SPDX 2.3 schema', () => {
  const errorsOf = spdxValidator();
  const layer = `sha256:${'a'.repeat(64)}` as Digest;
  const inventory: ImageInventory = {
    image: `sha256:${'b'.repeat(64)}` as Digest,
    name: 'apps/web:latest',
    // A config time with nanoseconds and an offset, as OCI allows: SPDX wants whole seconds in UTC.
    created: '2024-05-01T12:00:00.123456789+02:00',
    layers: [{ diffId: layer, index: 0, origin: 'base' }],
    components: [
      {
        ecosystem: 'deb',
        name: 'libc6',
        version: '2.36-9+deb12u7',
        purl: 'pkg:deb/debian/libc6@2.36-9%2Bdeb12u7?arch=amd64&distro=debian-12',
        arch: 'amd64',
        source: 'glibc',
        sourceVersion: '2.36-9+deb12u7',
        layer,
        foundIn: 'var/lib/dpkg/status',
      },
      // No version and no purl: a binary found by name only.
      { ecosystem: 'other', name: 'mystery', version: '', purl: '', layer, foundIn: 'usr/bin/mystery' },
      {
        ecosystem: 'npm',
        name: '@scope/pkg',
        version: '1.0.0',
        purl: 'pkg:npm/%40scope/pkg@1.0.0',
        layer,
        foundIn: 'workspace/node_modules/@scope/pkg/package.json',
      },
    ],
  };
  const good = () => JSON.parse(toSpdx(inventory));
  const rejected = (doc: unknown) =>
    errorsOf(doc).map((e) => `${e.instancePath} ${e.keyword} ${JSON.stringify(e.params)}`);

  test("toSpdx's document is valid SPDX 2.3 by the schema", () => {
    const doc = good();
    assert.deepEqual(rejected(doc), []);
    assert.equal(doc.creationInfo.created, '2024-05-01T10:00:00Z');
    assert.equal(doc.packages.length, inventory.components.length + 1);
  });

  test('the schema rejects a broken document, each for its reason', () => {
    const cases: [string, (d: any) => void, RegExp][] = [
      ['no spdxVersion', (d) => delete d.spdxVersion, /^ required .*"spdxVersion"/],
      ['another spdxVersion', (d) => (d.spdxVersion = 'SPDX-2.2'), /^\/spdxVersion const/],
      ['another dataLicense', (d) => (d.dataLicense = 'MIT'), /^\/dataLicense const/],
      ['a namespace with #', (d) => (d.documentNamespace += '#x'), /^\/documentNamespace pattern/],
      ['a namespace that is no URI', (d) => (d.documentNamespace = 'slipway web'), /^\/documentNamespace format/],
      ['no creators', (d) => (d.creationInfo.creators = []), /^\/creationInfo\/creators minItems/],
      ['a creator of no kind', (d) => (d.creationInfo.creators = ['slipway']), /^\/creationInfo\/creators\/0 pattern/],
      [
        'a created time with a fraction',
        (d) => (d.creationInfo.created = '2024-05-01T10:00:00.5Z'),
        /^\/creationInfo\/created pattern/,
      ],
      ['a package without downloadLocation', (d) => delete d.packages[1].downloadLocation, /^\/packages\/1 required/],
      ['a downloadLocation of neither kind', (d) => (d.packages[1].downloadLocation = 'somewhere'), /downloadLocation/],
      ['an SPDXID with a space', (d) => (d.packages[1].SPDXID = 'SPDXRef-Package 1'), /^\/packages\/1\/SPDXID pattern/],
      ['an SPDXID without SPDXRef-', (d) => (d.packages[1].SPDXID = 'Package-1'), /^\/packages\/1\/SPDXID pattern/],
      [
        'an unknown relationshipType',
        (d) => (d.relationships[1].relationshipType = 'CONTAINED_IN'),
        /^\/relationships\/1\/relationshipType enum/,
      ],
      [
        'a relationship without its element',
        (d) => delete d.relationships[1].spdxElementId,
        /^\/relationships\/1 required/,
      ],
      [
        'a misspelt package field',
        (d) => {
          d.packages[1].versionInf = d.packages[1].versionInfo;
          delete d.packages[1].versionInfo;
        },
        /^\/packages\/1 additionalProperties .*"versionInf"/,
      ],
      [
        'a misspelt document field',
        (d) => (d.relationship = d.relationships),
        /^ additionalProperties .*"relationship"/,
      ],
      ['a boolean as a string', (d) => (d.packages[0].filesAnalyzed = 'false'), /^\/packages\/0\/filesAnalyzed type/],
      ['an unknown purpose', (d) => (d.packages[0].primaryPackagePurpose = 'IMAGE'), /primaryPackagePurpose enum/],
      [
        'an unknown reference category',
        (d) => (d.packages[1].externalRefs[0].referenceCategory = 'PACKAGE MANAGER'),
        /^\/packages\/1\/externalRefs\/0\/referenceCategory enum/,
      ],
      [
        'a purl that is no purl',
        (d) => (d.packages[1].externalRefs[0].referenceLocator = 'libc6@2.36'),
        /^\/packages\/1\/externalRefs\/0\/referenceLocator pattern/,
      ],
      [
        'an externalRef without a locator',
        (d) => delete d.packages[1].externalRefs[0].referenceLocator,
        /^\/packages\/1\/externalRefs\/0 required/,
      ],
      [
        'a checksum of an unknown algorithm',
        (d) => (d.packages[1].checksums = [{ algorithm: 'SHA-256', checksumValue: 'ab' }]),
        /checksums\/0\/algorithm enum/,
      ],
      [
        'a SHA256 of the wrong length',
        (d) => (d.packages[1].checksums = [{ algorithm: 'SHA256', checksumValue: 'ab' }]),
        /checksums\/0\/checksumValue minLength/,
      ],
      ['a supplier of no kind', (d) => (d.packages[1].supplier = 'Debian'), /^\/packages\/1\/supplier pattern/],
      [
        'files in a package whose files were not analysed',
        (d) => (d.packages[1].hasFiles = ['SPDXRef-File-1']),
        /^\/packages\/1 not/,
      ],
    ];
    assert.ok(rejected(good()).length === 0);
    for (const [what, breakIt, why] of cases) {
      const doc = good();
      breakIt(doc);
      const errors = rejected(doc);
      assert.ok(
        errors.some((e) => why.test(e)),
        `${what}: expected an error matching ${why}, got ${JSON.stringify(errors)}`,
      );
    }
  });
});
