import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSlipwayError } from '../errors.js';
import { dropletTrees } from './droplet-dir.js';
import { processTypesFrom } from './process-types.js';
import { readStagingInfo, stagingInfoText } from './staging-info.js';

describe('droplet files', () => {
  it('staging_info.yml is JSON as CF writes it, and reads back (YAML too)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'droplet-'));
    try {
      const text = stagingInfoText({ detected_buildpack: 'Always Matching', start_command: 'the start command' });
      assert.equal(text, '{"detected_buildpack":"Always Matching","start_command":"the start command"}');
      writeFileSync(join(dir, 'a.yml'), text);
      assert.deepEqual(readStagingInfo(join(dir, 'a.yml')), {
        detected_buildpack: 'Always Matching',
        start_command: 'the start command',
      });
      writeFileSync(join(dir, 'b.yml'), 'start_command: ./run\nconfig:\n  entrypoint_prefix: dumb-init\n');
      assert.deepEqual(readStagingInfo(join(dir, 'b.yml')), {
        start_command: './run',
        config: { entrypoint_prefix: 'dumb-init' },
      });
      assert.deepEqual(readStagingInfo(join(dir, 'missing.yml')), {});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('staging_info.yml is read with no-follow: a symlink or a FIFO is refused by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'droplet-'));
    try {
      writeFileSync(join(dir, 'host.yml'), 'start_command: host secret\n');
      symlinkSync(join(dir, 'host.yml'), join(dir, 'link.yml'));
      execFileSync('mkfifo', [join(dir, 'fifo.yml')]);
      const refused = (name: string, why: RegExp) => (err: unknown) =>
        isSlipwayError(err, 'UNSAFE_PATH') && err.message.includes(join(dir, name)) && why.test(err.message);
      assert.throws(() => readStagingInfo(join(dir, 'link.yml')), refused('link.yml', /symlink/));
      assert.throws(() => readStagingInfo(join(dir, 'fifo.yml')), refused('fifo.yml', /not a regular file/));
      writeFileSync(join(dir, 'big.yml'), `start_command: ${'x'.repeat(1 << 20)}\n`);
      assert.throws(
        () => readStagingInfo(join(dir, 'big.yml')),
        (err) => isSlipwayError(err, 'TOO_LARGE'),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the app and deps/IDX trees of a droplet dir: directories only, a symlinked one refused by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'droplet-'));
    try {
      assert.deepEqual(dropletTrees(dir), { deps: [], app: false });
      for (const d of ['app', 'deps/1', 'deps/0']) mkdirSync(join(dir, d), { recursive: true });
      writeFileSync(join(dir, 'deps/README'), "a file in deps/ is no buildpack's\n");
      assert.deepEqual(dropletTrees(dir), { deps: ['0', '1'], app: true });
      const refused = (name: string) => (err: unknown) =>
        isSlipwayError(err, 'UNSAFE_PATH') &&
        err.message.includes(`"${join(dir, name)}"`) &&
        /symlink/.test(err.message);
      symlinkSync('/etc', join(dir, 'deps/2'));
      assert.throws(() => dropletTrees(dir), refused('deps/2'));
      rmSync(join(dir, 'deps'), { recursive: true });
      symlinkSync('/etc', join(dir, 'deps'));
      assert.throws(() => dropletTrees(dir), refused('deps'));
      rmSync(join(dir, 'deps'));
      rmSync(join(dir, 'app'), { recursive: true });
      symlinkSync('/root', join(dir, 'app'));
      assert.throws(() => dropletTrees(dir), refused('app'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('process types from a map, release output, or CF result.json', () => {
    assert.deepEqual(processTypesFrom({ web: 'a', worker: 'b' }, 'x'), { web: 'a', worker: 'b' });
    assert.deepEqual(processTypesFrom({ default_process_types: { web: 'a' } }, 'x'), { web: 'a' });
    assert.deepEqual(processTypesFrom({ process_types: { web: 'a' }, processes: [] }, 'x'), { web: 'a' });
    assert.deepEqual(
      processTypesFrom(
        {
          processes: [
            { type: 'web', command: 'a' },
            { type: 'clock', command: 'c' },
          ],
        },
        'x',
      ),
      { web: 'a', clock: 'c' },
    );
    assert.throws(() => processTypesFrom({ '../evil': 'x' }, 'x'), /not a valid process type name/);
  });
});
