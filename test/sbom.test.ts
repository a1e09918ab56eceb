import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as CDX from '@cyclonedx/cyclonedx-library';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { LocalStore } from '../src/index.js';
import { parseTransport } from '../src/oci/transport.js';
import { generateSbom } from '../src/sbom/sbom.js';
import { buildStore, runImage, stageApp } from './build-fixtures.js';
import { ROOT, slipway } from './helpers.js';

// ajv-formats is CommonJS: under NodeNext its default import is module.exports, whose `default` is the plugin.
const addFormats = addFormatsModule.default;
const spdxAjv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
addFormats(spdxAjv);
/** Our own SPDX 2.3 schema (its $comment says why not the official file; test/spdx-schema.test.ts shows it rejects). */
const validSpdx = spdxAjv.compile(JSON.parse(readFileSync(join(ROOT, 'test/schemas/spdx-2.3.schema.json'), 'utf8')));

interface SpdxDoc {
  documentDescribes: string[];
  packages: { SPDXID: string; externalRefs?: { referenceType: string; referenceLocator: string }[] }[];
  relationships: { spdxElementId: string; relationshipType: string; relatedSpdxElement: string }[];
}

/**
 * An SPDX document valid by the schema, plus what a schema cannot say: SPDXIDs unique,
 * the document DESCRIBES the image, and every other package is CONTAINED_BY it.
 */
function assertSpdx(document: Buffer): SpdxDoc {
  const doc = JSON.parse(document.toString('utf8')) as SpdxDoc;
  assert.ok(validSpdx(doc), JSON.stringify(validSpdx.errors?.slice(0, 5), null, 2));
  const ids = doc.packages.map((p) => p.SPDXID);
  assert.equal(new Set(ids).size, ids.length, 'unique SPDXIDs');
  const [image, ...rest] = ids;
  assert.deepEqual(doc.documentDescribes, [image]);
  const rel = (r: SpdxDoc['relationships'][number]) =>
    `${r.spdxElementId} ${r.relationshipType} ${r.relatedSpdxElement}`;
  const expected = [`SPDXRef-DOCUMENT DESCRIBES ${image}`, ...rest.map((id) => `${id} CONTAINED_BY ${image}`)];
  assert.deepEqual(doc.relationships.map(rel).sort(), expected.sort());
  return doc;
}

/**
 * `slipway sbom` on real images: the default stack's run image (its Debian packages
 * cross-checked against dpkg-query run inside the image) and the Node.js example built
 * by slipway/nodejs (its npm packages cross-checked against the lock file, Node.js
 * itself from the buildpack's layer); the CycloneDX output validated against the
 * CycloneDX 1.6 schema; the same image gives the same bytes; the SBOM is a referrer.
 */
describe('slipway sbom', () => {
  let store: LocalStore;
  let home: string;
  let cleanup: () => Promise<void>;

  before(async () => {
    ({ store, home, cleanup } = await buildStore());
  });
  after(async () => cleanup());

  test("the run image's Debian packages are dpkg-query's, with source packages, all in the base layer", async () => {
    const r = await generateSbom(parseTransport('default/run:latest'), async () => store);
    const debs = r.inventory.components.filter((c) => c.ecosystem === 'deb');
    const out = await runImage(store, 'default/run:latest', {
      args: ['dpkg-query', '-W', '-f', '${Package}:${Architecture} ${Version} ${source:Package} ${source:Version}\\n'],
    });
    assert.equal(out.exitCode, 0, out.output);
    const expected = out.output.trim().split('\n').sort();
    assert.ok(expected.length > 50, `${expected.length} packages`);
    assert.deepEqual(
      debs.map((c) => `${c.name}:${c.arch} ${c.version} ${c.source} ${c.sourceVersion}`).sort(),
      expected,
    );
    const base = r.inventory.layers.filter((l) => l.origin === 'base').map((l) => l.diffId);
    assert.ok(debs.every((c) => base.includes(c.layer)));
    assert.match(
      debs.find((c) => c.name === 'libc6')!.purl,
      /^pkg:deb\/debian\/libc6@[^?]+\?arch=amd64&distro=debian-12$/,
    );

    // CycloneDX 1.6, valid by its JSON schema; the same bytes each time, with or without the layer cache.
    const validator = new CDX.Validation.JsonStrictValidator(CDX.Spec.Version.v1dot6);
    assert.equal(await validator.validate(r.document.toString('utf8')), null);
    const again = await generateSbom(parseTransport('default/run:latest'), async () => store, { attach: false });
    assert.equal(again.digest, r.digest);
    rmSync(join(home, 'cache', 'sbom-layers'), { recursive: true });
    const uncached = await generateSbom(parseTransport('default/run:latest'), async () => store, { attach: false });
    assert.equal(uncached.digest, r.digest);
    const cli = await slipway(home, ['sbom', '--json', '--no-attach', 'default/run@' + r.image]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(JSON.parse(cli.stdout).digest, r.digest);

    // The SBOM is a referrer of the image in the store: artifactType and subject set.
    const referrers = await store.meta.referrers('default/run', r.image);
    assert.deepEqual(
      referrers.map((m) => [m.digest, m.artifactType]),
      [[r.referrer!.digest, 'application/vnd.cyclonedx+json']],
    );
    const manifest = JSON.parse((await store.blobs.read(r.referrer!.digest)).toString('utf8'));
    assert.equal(manifest.subject.digest, r.image);
    assert.equal(manifest.layers[0].digest, r.digest);

    // SPDX 2.3, valid by the schema; every Debian package a package of the document, with its purl.
    const spdx = await generateSbom(parseTransport('default/run:latest'), async () => store, { format: 'spdx' });
    const doc = assertSpdx(spdx.document);
    assert.equal(doc.packages.length, debs.length + 1);
    assert.deepEqual(
      doc.packages
        .slice(1)
        .map((p) => p.externalRefs?.find((x) => x.referenceType === 'purl')?.referenceLocator)
        .sort(),
      debs.map((c) => c.purl).sort(),
    );
  });

  test("the Node.js example's npm packages are its lock file's, each in the buildpack layer that installed it; Node.js is listed", async () => {
    await stageApp(store, join(ROOT, 'examples/nodejs'), 'ex/node');
    const r = await generateSbom(parseTransport('ex/node:latest'), async () => store);
    const validator = new CDX.Validation.JsonStrictValidator(CDX.Spec.Version.v1dot6);
    assert.equal(await validator.validate(r.document.toString('utf8')), null);
    const lock = JSON.parse(readFileSync(join(ROOT, 'examples/nodejs/package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; dev?: boolean }>;
    };
    const pinned = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && !p.dev)
      .map(([path, p]) => `${path.slice(path.lastIndexOf('node_modules/') + 13)}@${p.version}`);
    const npm = r.inventory.components.filter((c) => c.ecosystem === 'npm');
    const roles = new Map(r.inventory.layers.map((l) => [l.diffId, l]));
    const listed = new Set(npm.map((c) => `${c.name}@${c.version}`));
    assert.deepEqual(
      pinned.filter((p) => !listed.has(p)),
      [],
      'every locked package is listed',
    );
    for (const c of npm.filter((x) => pinned.includes(`${x.name}@${x.version}`))) {
      const role = roles.get(c.layer)!;
      assert.equal(
        `${role.origin} ${role.buildpack} ${role.layerName}`,
        'buildpack slipway/nodejs node_modules',
        c.foundIn,
      );
    }
    const node = r.inventory.components.find((c) => c.ecosystem === 'node');
    assert.match(node?.version ?? '', /^22\.\d+\.\d+$/);
    assert.equal(roles.get(node!.layer)?.layerName, 'node');
    // The base is still the stack's packages, in the base layers.
    assert.ok(r.inventory.components.some((c) => c.ecosystem === 'deb' && roles.get(c.layer)?.origin === 'base'));
    // Its SPDX 2.3 document is valid too: npm names with scopes and versions, Node.js from a binary.
    const spdx = await generateSbom(parseTransport('ex/node:latest'), async () => store, {
      format: 'spdx',
      attach: false,
    });
    assert.equal(assertSpdx(spdx.document).packages.length, r.inventory.components.length + 1);
  });
});
