import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSlipwayError } from '../../errors.js';
import { csv, include, listMessage, splitList } from './list-query.js';

const Message = listMessage({
  params: { guids: csv('guids'), names: csv('names'), include: include(['user', 'space']) },
  orderBy: ['created_at', 'updated_at', 'name'],
});

function failure(query: string): { message: string; cf: unknown } {
  try {
    Message.parse(new URLSearchParams(query));
  } catch (err) {
    assert.ok(isSlipwayError(err));
    return { message: err.message, cf: err.detail?.cf };
  }
  assert.fail(`${query} parsed`);
}

describe('list queries as Cloud Controller parses them', () => {
  it('splits comma lists as to_array!: decoded once, split on commas and spaces, each element decoded again', () => {
    assert.deepEqual(splitList('a,b'), ['a', 'b']);
    assert.deepEqual(splitList('a, b,  c'), ['a', 'b', 'c']);
    assert.deepEqual(splitList(''), ['']);
    assert.deepEqual(splitList('a%2Cb,c'), ['a,b', 'c']);
    assert.deepEqual(splitList('100%'), ['100%']);
    // What arrives after URLSearchParams decoded the cf CLI's names=a%252Cb once.
    assert.deepEqual(Message.parse(new URLSearchParams('names=a%252Cb')).values.names, ['a,b']);
  });

  it('defaults: page 1, 50 per page, created_at; links keep per_page, an asked order_by and the filters re-joined', () => {
    const plain = Message.parse(new URLSearchParams(''));
    assert.deepEqual(plain.page, { page: 1, perPage: 50, orderBy: 'created_at' });
    assert.deepEqual(plain.linkParams, { per_page: '50' });
    const asked = Message.parse(new URLSearchParams('order_by=%2Bname&names=a, b&page=3&per_page=7'));
    assert.deepEqual(asked.page, { page: 3, perPage: 7, orderBy: 'name' });
    assert.deepEqual(asked.linkParams, { per_page: '7', order_by: '+name', names: 'a,b' });
    assert.deepEqual(Message.parse(new URLSearchParams('names=a%252Cb')).linkParams.names, 'a%2Cb');
  });

  it("refuses what CC refuses, with CC's texts, as 400 BadQueryParameter", () => {
    assert.deepEqual(failure('per_page=0&page=-1'), {
      message: 'Page must be a positive integer, Per page must be a positive integer',
      cf: 'BadQueryParameter',
    });
    assert.equal(failure('order_by=-size').message, "Order by can only be: 'created_at', 'updated_at', 'name'");
    assert.equal(
      failure('x=1&y=2').message,
      "Unknown query parameter(s): 'x', 'y'. Valid parameters are: 'page', 'per_page', 'order_by', 'guids', 'names', 'include'",
    );
    assert.equal(failure('include=user,user').message, "Duplicate included resource: 'user'");
    assert.equal(
      failure('include=org').message,
      "Invalid included resource: 'org'. Valid included resources are: 'user', 'space'",
    );
  });
});
