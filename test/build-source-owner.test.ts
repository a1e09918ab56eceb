import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalStore } from '../src/index.js';
import { buildStore, scratchDirs, stageApp } from './build-fixtures.js';

/** The app's copy in the workspace belongs to the stack user as it is written (no chown pass after it). */
describe('slipway build: the workspace copy of the app', () => {
  let store: LocalStore;
  let cleanup: () => Promise<void>;
  let work: string;
  const { app, bps } = scratchDirs(() => work);

  before(async () => {
    ({ store, work, cleanup } = await buildStore());
  });
  after(async () => cleanup());

  test('every entry (dirs, files, hardlinks; links themselves) is the build user’s, and the build can write in it', async () => {
    const dir = app();
    mkdirSync(join(dir, 'sub', 'deep'), { recursive: true });
    writeFileSync(join(dir, 'sub', 'deep', 'f.txt'), 'f\n');
    linkSync(join(dir, 'sub', 'deep', 'f.txt'), join(dir, 'hard.txt'));
    symlinkSync('sub/deep/f.txt', join(dir, 'link'));
    const b = bps([
      {
        id: 'test/owner',
        build: `
        cd /workspace
        find . -mindepth 0 -exec stat -c '%u:%g %h %n' {} + | sort -k3 | sed 's/^/owner /'
        echo more > sub/deep/new.txt && rm hard.txt && echo wrote`,
      },
    ]);
    const r = await stageApp(store, dir, 'owner/app', { buildpacks: b });
    const lines = r.output.split('\n').filter((l) => l.startsWith('owner '));
    assert.ok(lines.length >= 7, r.output);
    for (const l of lines) assert.match(l, /^owner 1000:1000 /, l);
    assert.match(r.output, /owner 1000:1000 2 \.\/hard\.txt/, 'the hardlink is kept');
    assert.match(r.output, /^wrote$/m);
  });
});
