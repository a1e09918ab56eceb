import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { processCommand } from './build.js';

describe("build summary's processes line", () => {
  test('a shell form shows its script quoted, without the type name the shell gets as $0', () => {
    assert.equal(
      processCommand({ type: 'web', command: ['/bin/sh', '-c', 'node server.js', 'web'], args: [] }),
      "/bin/sh -c 'node server.js'",
    );
  });

  test('arguments after $0, and the process args, are kept; a plain command is shown as it is', () => {
    assert.equal(
      processCommand({ type: 'worker', command: ['bash', '-c', 'echo "$1"', 'worker', 'x y'], args: ['--z'] }),
      `bash -c 'echo "$1"' 'x y' --z`,
    );
    assert.equal(processCommand({ type: 'web', command: ['node', 'server.js'], args: [] }), 'node server.js');
    assert.equal(processCommand({ type: 'web', command: ['sh', '-c', "echo 'hi'"] }), `sh -c 'echo '\\''hi'\\'''`);
  });
});
