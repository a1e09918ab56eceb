import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfinedDir } from '../../fs/confined-dir.js';
import { BuildEnv } from './env-files.js';

const made: string[] = [];
/** A fresh directory, removed when the file's tests end. */
function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

test('env files: override, default, prepend, append with a delim; no suffix overrides', () => {
  const dir = scratch('env-files-');
  writeFileSync(join(dir, 'A'), 'new');
  writeFileSync(join(dir, 'B.default'), 'ignored');
  writeFileSync(join(dir, 'C.default'), 'set');
  writeFileSync(join(dir, 'D.prepend'), 'front');
  writeFileSync(join(dir, 'D.delim'), ' ');
  writeFileSync(join(dir, 'E.append'), 'tail');
  const env = new BuildEnv({ A: 'old', B: 'kept', D: 'x', E: 'y' });
  ConfinedDir.with(dir, (tree) => env.applyDir(tree, '.'));
  assert.deepEqual(Object.fromEntries(env.vars), { A: 'new', B: 'kept', C: 'set', D: 'front x', E: 'y:tail' });
});

test('layer bin/ lib/ include/ pkgconfig/ go first on the search paths; user path values are prepended', () => {
  const layer = scratch('env-layer-');
  for (const d of ['bin', 'lib', 'include']) mkdirSync(join(layer, d));
  const env = new BuildEnv({ PATH: '/usr/bin' });
  ConfinedDir.with(layer, (tree) => env.addLayerPaths(tree, '.', '/layers/bp/l'));
  assert.equal(env.vars.get('PATH'), '/layers/bp/l/bin:/usr/bin');
  assert.equal(env.vars.get('LD_LIBRARY_PATH'), '/layers/bp/l/lib');
  assert.equal(env.vars.get('LIBRARY_PATH'), '/layers/bp/l/lib');
  assert.equal(env.vars.get('CPATH'), '/layers/bp/l/include');
  const platform = scratch('env-platform-');
  writeFileSync(join(platform, 'PATH'), '/user/bin');
  writeFileSync(join(platform, 'MODE'), 'debug');
  ConfinedDir.with(platform, (tree) => env.applyPlatformEnv(tree, '.'));
  assert.equal(env.vars.get('PATH'), '/user/bin:/layers/bp/l/bin:/usr/bin');
  assert.equal(env.vars.get('MODE'), 'debug');
});
