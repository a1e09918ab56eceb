import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { arrayOf, mapOf, nullable, number, object, optional, shapeIssues, string } from './shape.js';

const messages = (shape: Parameters<typeof shapeIssues>[0], value: unknown) =>
  shapeIssues(shape, value).map((i) => `${i.path.join('/')} ${i.kind}: ${i.message}`);

describe('shape', () => {
  const point = object(
    { x: number(), y: number((v) => (v >= 0 ? undefined : 'must not be negative')), label: optional(string()) },
    { at: 'x', rule: (p) => (p.x === p.y ? 'x and y must differ' : undefined) },
  );
  it('accepts a conforming value and leaves unknown fields alone', () =>
    assert.deepEqual(messages(point, { x: 1, y: 2, extra: [] }), []));
  it('names every field that is missing, of the wrong type or against its rule, in order', () =>
    assert.deepEqual(messages(point, { y: -1, label: 3 }), [
      'x type: is required (a number)',
      'y rule: must not be negative',
      'label type: must be a string, not a number (3)',
    ]));
  it('runs the object rule only when its fields conform, at the field it names', () => {
    assert.deepEqual(messages(point, { x: 2, y: 2 }), ['x rule: x and y must differ']);
    assert.deepEqual(messages(point, { x: 'a', y: 'a' }).length, 2);
  });
  it('walks arrays and maps by index and key', () =>
    assert.deepEqual(
      messages(object({ list: arrayOf(string()), map: mapOf(string()) }), { list: ['a', 1], map: { k: null } }),
      ['list/1 type: must be a string, not a number (1)', 'map/k type: must be a string, not null'],
    ));
  it('tells optional (absent only) from nullable (absent or null)', () => {
    assert.equal(messages(object({ a: optional(string()) }), { a: null }).length, 1);
    assert.deepEqual(messages(object({ a: nullable(string()) }), { a: null }), []);
  });
  it('refuses non-finite numbers and non-objects', () => {
    assert.deepEqual(messages(number(), Number.POSITIVE_INFINITY), [' type: must be a number, not Infinity']);
    assert.deepEqual(messages(point, []), [' type: must be an object, not an array']);
  });
});
