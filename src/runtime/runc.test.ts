import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isSlipwayError } from '../errors.js';
import { Runc, findExecutable, lastRuncError, startFailureStatus } from './runc.js';

describe('runc driver', () => {
  it("reads the last error of runc's JSON log", () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-runc-'));
    try {
      const log = join(dir, 'runc.log');
      writeFileSync(
        log,
        '{"level":"warning","msg":"w"}\n{"level":"error","msg":"first"}\nnot json\n{"level":"error","msg":"runc run failed: exec: \\"x\\": executable file not found in $PATH"}\n',
      );
      assert.equal(lastRuncError(log), 'runc run failed: exec: "x": executable file not found in $PATH');
      assert.equal(lastRuncError(join(dir, 'absent.log')), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('maps start failures to the exit statuses docker and shells use', () => {
    assert.equal(
      startFailureStatus('unable to start container process: exec: "x": executable file not found in $PATH'),
      127,
    );
    assert.equal(
      startFailureStatus('unable to start container process: exec: "/nope": stat /nope: no such file or directory'),
      127,
    );
    assert.equal(startFailureStatus('unable to start container process: exec: "/etc/passwd": permission denied'), 126);
    assert.equal(startFailureStatus('unable to apply cgroup configuration'), undefined);
  });

  it('says what to install when runc is missing', () => {
    assert.equal(findExecutable('surely-not-a-command-here'), undefined);
    assert.throws(
      () => new Runc('/tmp/x', 'surely-not-a-command-here').checkUsable(),
      (err) => isSlipwayError(err, 'TOOL_MISSING') && err.message.includes('apt-get install -y runc'),
    );
  });
});
