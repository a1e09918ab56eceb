import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestOf } from '../../oci/digest.js';
import { RegistryError } from './errors.js';
import { parseRoute } from './paths.js';
import { blobRange, chunkRange, uploadRangeHeader } from './ranges.js';

const d = digestOf('x');
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof RegistryError ? err.code : String(err);
  }
  return 'no error';
};

describe('parseRoute', () => {
  it('reads endpoints from the end of the path, so names may hold slashes and keywords', () => {
    assert.deepEqual(parseRoute('/v2/'), { kind: 'base' });
    assert.deepEqual(parseRoute('/v2/_catalog'), { kind: 'catalog' });
    assert.deepEqual(parseRoute('/v2/org/space/app/tags/list'), { kind: 'tags', name: 'org/space/app' });
    assert.deepEqual(parseRoute('/v2/a/manifests/b/manifests/v1'), {
      kind: 'manifest',
      name: 'a/manifests/b',
      reference: { tag: 'v1' },
    });
    assert.deepEqual(parseRoute(`/v2/a/manifests/${d}`), { kind: 'manifest', name: 'a', reference: { digest: d } });
    assert.deepEqual(parseRoute(`/v2/blobs/blobs/${d}`), { kind: 'blob', name: 'blobs', digest: d });
    assert.deepEqual(parseRoute('/v2/a/b/blobs/uploads/'), { kind: 'uploads', name: 'a/b' });
    assert.deepEqual(parseRoute('/v2/a/b/blobs/uploads'), { kind: 'uploads', name: 'a/b' });
    assert.deepEqual(parseRoute('/v2/a/b/blobs/uploads/123-abc'), { kind: 'upload', name: 'a/b', id: '123-abc' });
    assert.deepEqual(parseRoute(`/v2/a/referrers/${d}`), { kind: 'referrers', name: 'a', digest: d });
    assert.deepEqual(
      parseRoute(`/v2/a/manifests/${d.replace(':', '%3A')}`),
      { kind: 'manifest', name: 'a', reference: { digest: d } },
      'percent-encoded',
    );
    assert.equal(parseRoute('/v2/a/unknown'), undefined);
    assert.equal(parseRoute('/healthz'), undefined);
  });

  it('validates names with the spec grammar, tags, and digests', () => {
    assert.equal(
      code(() => parseRoute('/v2/UPPER/tags/list')),
      'NAME_INVALID',
    );
    assert.equal(
      code(() => parseRoute('/v2/a__b-c.d/e/tags/list')),
      'no error',
    );
    assert.equal(
      code(() => parseRoute('/v2/a___b/tags/list')),
      'NAME_INVALID',
    );
    assert.equal(
      code(() => parseRoute(`/v2/${'a'.repeat(256)}/tags/list`)),
      'NAME_INVALID',
    );
    assert.equal(parseRoute('/v2/tags/list'), undefined, 'no name: no endpoint');
    assert.deepEqual(
      parseRoute('/v2/a/manifests/.tag'),
      { kind: 'manifest', name: 'a', reference: { tag: '.tag' } },
      'tags are checked by the routes (pull: 404, push: 400)',
    );
    assert.equal(
      code(() => parseRoute('/v2/a/manifests/Tag_1.0-x')),
      'no error',
    );
    assert.equal(
      code(() => parseRoute('/v2/a/blobs/sha256:short')),
      'DIGEST_INVALID',
    );
    assert.equal(
      code(() => parseRoute(`/v2/a/blobs/${d.toUpperCase()}`)),
      'DIGEST_INVALID',
    );
  });
});

describe('ranges', () => {
  it('reads one Range of a blob, clamped, or says it cannot be satisfied', () => {
    assert.deepEqual(blobRange('bytes=0-9', 100), { start: 0, end: 9 });
    assert.deepEqual(blobRange('bytes=90-', 100), { start: 90, end: 99 });
    assert.deepEqual(blobRange('bytes=-10', 100), { start: 90, end: 99 });
    assert.deepEqual(blobRange('bytes=-1000', 100), { start: 0, end: 99 });
    assert.deepEqual(blobRange('bytes=50-1000', 100), { start: 50, end: 99 });
    assert.equal(blobRange('bytes=100-', 100), 'unsatisfiable');
    assert.equal(blobRange('bytes=5-4', 100), 'unsatisfiable');
    assert.equal(blobRange('bytes=0-0', 0), 'unsatisfiable');
    for (const ignored of [null, '', 'bytes=-', 'bytes=0-1,3-4', 'lines=1-2'])
      assert.equal(blobRange(ignored, 100), undefined, String(ignored));
  });

  it('reads an upload chunk Content-Range in the spec and RFC forms', () => {
    const invalid = (reason: string) => new Error(reason);
    assert.deepEqual(chunkRange('0-99', invalid), { start: 0, end: 99 });
    assert.deepEqual(chunkRange('bytes 100-199/*', invalid), { start: 100, end: 199 });
    assert.deepEqual(chunkRange('bytes=100-199', invalid), { start: 100, end: 199 });
    assert.equal(chunkRange(null, invalid), undefined);
    assert.throws(() => chunkRange('100', invalid), /not of the form/);
    assert.equal(uploadRangeHeader(0), '0-0');
    assert.equal(uploadRangeHeader(10), '0-9');
  });
});
