import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BuildpackDescriptor } from './buildpack-descriptor.js';
import { expandOrder } from './order.js';

const bp = (id: string, order?: BuildpackDescriptor['order']): BuildpackDescriptor => ({
  api: '0.10',
  id,
  version: '1',
  dir: `/bp/${id}`,
  clearEnv: false,
  ...(order ? { order } : {}),
});

test('a composite in a group expands into each of its groups, depth first, optional passed down', () => {
  const all = new Map(
    [
      bp('E'),
      bp('F'),
      bp('A'),
      bp('B'),
      bp('C'),
      bp('D'),
      bp('O', [
        [{ id: 'A' }, { id: 'B' }],
        [{ id: 'C' }, { id: 'D' }],
      ]),
    ].map((b) => [b.id, b]),
  );
  const groups = expandOrder([[{ id: 'E' }, { id: 'O', optional: true }, { id: 'F' }]], (e) => all.get(e.id)!);
  assert.deepEqual(
    groups.map((g) => g.map((m) => `${m.buildpack.id}${m.optional ? '?' : ''}`)),
    [
      ['E', 'A?', 'B?', 'F'],
      ['E', 'C?', 'D?', 'F'],
    ],
  );
});

test('an id already in the group is skipped, as the lifecycle does: -b A -b B -b B, a composite and its member', () => {
  const all = new Map([bp('A'), bp('B'), bp('M', [[{ id: 'A' }, { id: 'B' }]])].map((b) => [b.id, b]));
  const ids = (order: BuildpackDescriptor['order']) =>
    expandOrder(order!, (e) => all.get(e.id)!).map((g) => g.map((m) => m.buildpack.id));
  assert.deepEqual(ids([[{ id: 'A' }, { id: 'B' }, { id: 'B' }]]), [['A', 'B']]);
  assert.deepEqual(ids([[{ id: 'M' }, { id: 'B' }]]), [['A', 'B']]);
  assert.deepEqual(ids([[{ id: 'B' }, { id: 'M' }]]), [['B', 'A']]);
});
