import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import * as oci from './index.js';

describe('oci barrel', () => {
  it('re-exports every module of oci/', () => {
    const names = [
      'Annotation',
      'parseDigest',
      'digestOf',
      'MediaType',
      'isManifestMediaType',
      'parsePlatform',
      'selectManifest',
      'hostPlatform',
      'parseReference',
      'parseLocalName',
      'parseRepositoryName',
      'parseTransport',
      'formatTransport',
      'parseManifest',
      'parseIndex',
      'parseConfig',
      'parseManifestOrIndex',
    ];
    for (const name of names) assert.notEqual((oci as Record<string, unknown>)[name], undefined, name);
  });
  it('lists each non-test module of the folder', async () => {
    const dir = new URL('.', import.meta.url);
    const modules = (await readdir(dir)).filter(
      (f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'index.ts',
    );
    const barrel = await readFile(new URL('index.ts', dir), 'utf8');
    for (const m of modules)
      assert.ok(barrel.includes(`'./${m.replace(/\.ts$/, '.js')}'`), `index.ts should re-export ${m}`);
  });
  it('imports nothing of ours but errors.ts', async () => {
    const dir = new URL('.', import.meta.url);
    for (const f of await readdir(dir)) {
      if (!f.endsWith('.ts')) continue;
      const text = await readFile(new URL(f, dir), 'utf8');
      for (const [, spec] of text.matchAll(/^(?:import|export)\b[^\n]*from '(\.\.[^']*)'/gm))
        assert.equal(spec, '../errors.js', `${f} imports ${spec}`);
    }
  });
});
