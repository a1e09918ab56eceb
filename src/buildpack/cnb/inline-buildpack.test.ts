import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBuildpackDescriptor } from './buildpack-descriptor.js';
import { inlineBuildpackFiles, materializeInlineBuildpack, type InlineBuildpack } from './inline-buildpack.js';

const bp: InlineBuildpack = {
  kind: 'inline',
  id: 'me/inline',
  version: '0.0.0',
  api: '0.10',
  shell: '/bin/bash',
  inline: 'echo "hi $1"',
};

test('an inline buildpack is written as pack writes it: detect passes, build is the script under its shell', async () => {
  const files = inlineBuildpackFiles(bp);
  assert.equal(files['bin/detect'], '#!/bin/bash\n\nexit 0\n');
  assert.equal(files['bin/build'], '#!/bin/bash\n\necho "hi $1"\n');
  const root = mkdtempSync(join(tmpdir(), 'slipway-inline-'));
  try {
    const dir = await materializeInlineBuildpack(bp, root);
    assert.equal(await materializeInlineBuildpack(bp, root), dir, 'the same script: the same directory');
    assert.notEqual(await materializeInlineBuildpack({ ...bp, inline: 'echo other' }, root), dir);
    const d = await readBuildpackDescriptor(dir);
    assert.deepEqual([d.id, d.version, d.api, d.binBuild], ['me/inline', '0.0.0', '0.10', true]);
    assert.equal(statSync(join(dir, 'bin', 'build')).mode & 0o777, 0o755);
    assert.equal(readFileSync(join(dir, 'bin', 'build'), 'utf8'), files['bin/build']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
