import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSlipwayError } from '../errors.js';
import { checkContainerName, generateContainerName } from './container-names.js';
import { mergeEnv, parseBind, parseMemory } from './run-options.js';

describe('run options', () => {
  it('parses -v SRC:DST[:ro|rw]', () => {
    assert.deepEqual(parseBind('/usr/bin/node:/usr/bin/node:ro'), {
      source: '/usr/bin/node',
      destination: '/usr/bin/node',
      readonly: true,
    });
    assert.deepEqual(parseBind('/srv:/data'), { source: '/srv', destination: '/data', readonly: false });
    assert.equal(parseBind('rel/dir:/data:rw').source, `${process.cwd()}/rel/dir`);
    for (const bad of ['/srv', '/srv:data', '/srv:/data:rx', ':/data']) {
      assert.throws(
        () => parseBind(bad),
        (err) => isSlipwayError(err, 'INVALID_ARGUMENT'),
        bad,
      );
    }
  });

  it('parses memory sizes as docker does', () => {
    assert.equal(parseMemory('256m'), 256 * 1024 * 1024);
    assert.equal(parseMemory('1g'), 1024 ** 3);
    assert.equal(parseMemory('1000'), 1000);
    assert.throws(
      () => parseMemory('lots'),
      (err) => isSlipwayError(err, 'INVALID_ARGUMENT'),
    );
  });

  it('merges environments, later values winning, first positions kept', () => {
    assert.deepEqual(mergeEnv(['PATH=/bin', 'A=1'], ['A=2', 'B=3'], ['PATH=/usr/bin']), [
      'PATH=/usr/bin',
      'A=2',
      'B=3',
    ]);
  });

  it('validates and generates container names', () => {
    assert.equal(checkContainerName('web-1.blue_x'), 'web-1.blue_x');
    for (const bad of ['-web', 'a/b', 'x'.repeat(64), '', 'sp ace'])
      assert.throws(
        () => checkContainerName(bad),
        (err) => isSlipwayError(err, 'INVALID_ARGUMENT'),
        bad,
      );
    const name = generateContainerName('registry.example/team/app:v1');
    assert.match(name, /^app-[0-9a-f]{6}$/);
    assert.doesNotThrow(() => checkContainerName(generateContainerName('oci:/tmp/lay out:v1')));
    assert.notEqual(generateContainerName('app'), generateContainerName('app'));
  });
});
