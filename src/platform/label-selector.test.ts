import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSlipwayError } from '../errors.js';
import { keyError, parseLabelSelector, valueError } from './label-selector.js';

function refused(text: string, message: string): void {
  assert.throws(
    () => parseLabelSelector(text),
    (err: unknown) => {
      assert.ok(isSlipwayError(err, 'INVALID_ARGUMENT'), String(err));
      assert.equal(err.message, message);
      assert.deepEqual(err.detail, { field: 'label_selector' });
      return true;
    },
  );
}

describe('parseLabelSelector', () => {
  it('parses every operator', () => {
    assert.deepEqual(parseLabelSelector('env=prod'), [{ key: 'env', op: 'in', values: ['prod'] }]);
    assert.deepEqual(parseLabelSelector('env==prod'), [{ key: 'env', op: 'in', values: ['prod'] }]);
    assert.deepEqual(parseLabelSelector('env!=prod'), [{ key: 'env', op: 'notin', values: ['prod'] }]);
    assert.deepEqual(parseLabelSelector('env in (prod,staging)'), [
      { key: 'env', op: 'in', values: ['prod', 'staging'] },
    ]);
    assert.deepEqual(parseLabelSelector('env notin (prod)'), [{ key: 'env', op: 'notin', values: ['prod'] }]);
    assert.deepEqual(parseLabelSelector('env'), [{ key: 'env', op: 'exists', values: [] }]);
    assert.deepEqual(parseLabelSelector('!env'), [{ key: 'env', op: 'notexists', values: [] }]);
  });

  it('parses comma-separated requirements, spaces and DNS prefixes', () => {
    assert.deepEqual(parseLabelSelector(' example.com/tier = web , env in ( a , b ),!old,ready'), [
      { key: 'example.com/tier', op: 'in', values: ['web'] },
      { key: 'env', op: 'in', values: ['a', 'b'] },
      { key: 'old', op: 'notexists', values: [] },
      { key: 'ready', op: 'exists', values: [] },
    ]);
    assert.deepEqual(parseLabelSelector('a.b-c_d=x.y-z_1'), [{ key: 'a.b-c_d', op: 'in', values: ['x.y-z_1'] }]);
  });

  it('refuses bad syntax with Cloud Controller messages', () => {
    refused('', 'empty label selector not allowed');
    refused('env=pr@d', 'disallowed character(s), got "env=pr<<@>>d"');
    refused('env=', 'expecting a value, got "env=<<>>"');
    refused('env in prod', `expecting a '(', got "env in <<prod>>"`);
    refused('env in (a,b', `expecting a ',' or ')', got "env in (a,b<<>>"`);
    refused('env in (a,)', 'expecting a value, got "env in (a,<<)>>"');
    refused('env foo', `expecting a ',', operator, or end, got "env <<foo>>"`);
    refused('env=a b', `expecting a ',' or end, got "env=a <<b>>"`);
    refused('=a', `expecting a key or '!', got "<<=>>a"`);
    refused('!=a', `expecting a key or '!' not followed by '=', got "<<!=>>a"`);
    refused('!(a)', 'expecting a key, got "!<<(>>a)"');
    refused('a,', `expecting a key or '!', got "a,<<>>"`);
    refused('aaaaaaaaaabbbbbbbbbbcccccccccc1=x y', `expecting a ',' or end, got "...aaabbbbbbbbbbcccccccccc1=x <<y>>"`);
    refused(
      'a=b c234567890123456789012345678901234567890',
      `expecting a ',' or end, got "a=b <<c234567890123456789012345678901234567890>>"`,
    );
    refused(
      'a in (b c,1234567890123456789012345678901234567890)',
      `expecting a ',' or ')', got "a in (b <<c>>,123456789012345678901234567..."`,
    );
  });

  it('refuses keys and values CF would refuse as labels', () => {
    refused('-env=a', "'-env' starts or ends with invalid characters");
    refused('env=a-', "'a-' starts or ends with invalid characters");
    refused('bad..prefix-/env', "prefix 'bad..prefix-' must be in valid dns format");
    refused('cloudfoundry.org/env', "prefix 'cloudfoundry.org' is reserved");
    refused(`${'k'.repeat(64)}`, `'kkkkkkkk...' is greater than 63 characters`);
    refused(`env in (a,${'v'.repeat(64)})`, `'vvvvvvvv...' is greater than 63 characters`);
    refused('env=a/b', "'a/b' contains invalid characters");
  });

  it('checks keys and values as CF metadata', () => {
    assert.equal(keyError('example.com/app'), undefined);
    assert.equal(keyError(''), 'key cannot be empty string');
    assert.equal(keyError('a/b/c'), "key has more than one '/'");
    assert.equal(keyError('example.com/'), 'key cannot be empty string');
    assert.equal(keyError(`${'a'.repeat(250)}.com/x`), `prefix 'aaaaaaaa...' is greater than 253 characters`);
    assert.equal(keyError('x y'), "'x y' contains invalid characters");
    assert.equal(valueError(''), undefined);
    assert.equal(valueError('v'), undefined);
    assert.equal(valueError('_v'), "'_v' starts or ends with invalid characters");
  });
});
