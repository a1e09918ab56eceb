import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processTypesFrom } from './process-types.js';
import { readStagingInfo, stagingInfoText } from './staging-info.js';

describe('droplet files', () => {
  it('staging_info.yml is JSON as CF writes it, and reads back (YAML too)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'droplet-'));
    try {
      const text = stagingInfoText({ detected_buildpack: 'Always Matching', start_command: 'the start command' });
      assert.equal(text, '{"detected_buildpack":"Always Matching","start_command":"the start command"}');
      writeFileSync(join(dir, 'a.yml'), text);
      assert.deepEqual(readStagingInfo(join(dir, 'a.yml')), { detected_buildpack: 'Always Matching', start_command: 'the start command' });
      writeFileSync(join(dir, 'b.yml'), 'start_command: ./run\nconfig:\n  entrypoint_prefix: dumb-init\n');
      assert.deepEqual(readStagingInfo(join(dir, 'b.yml')), { start_command: './run', config: { entrypoint_prefix: 'dumb-init' } });
      assert.deepEqual(readStagingInfo(join(dir, 'missing.yml')), {});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('process types from a map, release output, or CF result.json', () => {
    assert.deepEqual(processTypesFrom({ web: 'a', worker: 'b' }, 'x'), { web: 'a', worker: 'b' });
    assert.deepEqual(processTypesFrom({ default_process_types: { web: 'a' } }, 'x'), { web: 'a' });
    assert.deepEqual(processTypesFrom({ process_types: { web: 'a' }, processes: [] }, 'x'), { web: 'a' });
    assert.deepEqual(processTypesFrom({ processes: [{ type: 'web', command: 'a' }, { type: 'clock', command: 'c' }] }, 'x'), { web: 'a', clock: 'c' });
    assert.throws(() => processTypesFrom({ '../evil': 'x' }, 'x'), /not a valid process type name/);
  });
});
