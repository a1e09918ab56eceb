import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf } from '../oci/digest.js';
import { BlobPlacement } from './write-rebased.js';

describe('BlobPlacement', () => {
  test('a blob is placed once per repository, however many images ask at the same time', async () => {
    const placement = new BlobPlacement();
    const d = digestOf('layer');
    let runs = 0;
    const place = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 10));
    };
    const results = await Promise.all([1, 2, 3].map(() => placement.once('reg', 'team/a', d, place)));
    assert.equal(runs, 1);
    assert.deepEqual(results.sort(), [false, false, true]);
    assert.ok(placement.has('reg', 'team/a', d));
    assert.deepEqual(placement.holders('reg', d), ['team/a']);
    assert.ok(await placement.once('reg', 'team/b', d, place), 'another repository is placed on its own');
    assert.equal(runs, 2);
  });

  test('a failed placement is not remembered', async () => {
    const placement = new BlobPlacement();
    const d = digestOf('x');
    await assert.rejects(
      placement.once('reg', 'r', d, async () => {
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(placement.has('reg', 'r', d), false);
  });
});
