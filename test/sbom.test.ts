import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as CDX from '@cyclonedx/cyclonedx-library';
import type { LocalStore } from '../src/index.js';
import { parseTransport } from '../src/oci/transport.js';
import { generateSbom } from '../src/sbom/sbom.js';
import { buildStore, runImage, stageApp } from './build-fixtures.js';
import { ROOT, slipway } from './helpers.js';

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

    // SPDX 2.3: the document's required fields, every package with an SPDXID, a purl, and a relationship to the image.
    const spdx = await generateSbom(parseTransport('default/run:latest'), async () => store, { format: 'spdx' });
    const doc = JSON.parse(spdx.document.toString('utf8'));
    assert.equal(doc.spdxVersion, 'SPDX-2.3');
    assert.equal(doc.dataLicense, 'CC0-1.0');
    assert.equal(doc.SPDXID, 'SPDXRef-DOCUMENT');
    assert.match(doc.documentNamespace, /^https:\/\/\S+$/);
    assert.match(doc.creationInfo.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(doc.packages.length, debs.length + 1);
    const ids = new Set(doc.packages.map((p: { SPDXID: string }) => p.SPDXID));
    assert.equal(ids.size, doc.packages.length);
    for (const p of doc.packages.slice(1)) {
      assert.match(p.SPDXID, /^SPDXRef-[A-Za-z0-9.-]+$/);
      assert.equal(p.externalRefs[0].referenceType, 'purl');
    }
    assert.equal(doc.relationships.length, doc.packages.length);
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
  });
});
