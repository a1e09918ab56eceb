import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../oci/digest.js';
import { MediaType } from '../../oci/media-types.js';
import type { ImageIndex } from '../../oci/types.js';
import { errorCode, harness, randomLayer, type Harness, type PushedImage } from './testdata/client.js';

let h: Harness;
let image: PushedImage;

before(async () => {
  h = await harness();
  image = await h.client.pushImage('list/app', 'a', [randomLayer()]);
  for (const tag of ['b', 'c', 'd', 'e', 'B', '1.0']) await h.store.meta.setTag('list/app', tag, image.digest);
});
after(() => h.dispose());

async function getJson<T>(path: string): Promise<{ res: Response; body: T }> {
  const res = await h.client.req('GET', path);
  return { res, body: (await res.json()) as T };
}

describe('tags list', () => {
  it('lists every tag in lexical (ASCII) order without n', async () => {
    const { res, body } = await getJson<{ name: string; tags: string[] }>('/v2/list/app/tags/list');
    assert.equal(res.status, 200);
    assert.deepEqual(body, { name: 'list/app', tags: ['1.0', 'B', 'a', 'b', 'c', 'd', 'e'] });
    assert.equal(res.headers.get('link'), null);
  });

  it('pages with n and last, with a Link to the next page while more remain', async () => {
    const seen: string[] = [];
    let path: string | undefined = '/v2/list/app/tags/list?n=3';
    let pages = 0;
    while (path !== undefined) {
      const { res, body }: { res: Response; body: { tags: string[] } } = await getJson(path);
      seen.push(...body.tags);
      pages++;
      const link = res.headers.get('link');
      path = link === null ? undefined : /^<([^>]+)>; rel="next"$/.exec(link)![1];
    }
    assert.deepEqual(seen, ['1.0', 'B', 'a', 'b', 'c', 'd', 'e']);
    assert.equal(pages, 3);
    const { res, body } = await getJson<{ tags: string[] }>('/v2/list/app/tags/list?n=3');
    assert.equal(res.headers.get('link'), '</v2/list/app/tags/list?n=3&last=a>; rel="next"');
    assert.deepEqual(body.tags, ['1.0', 'B', 'a']);
  });

  it('answers an empty list and no Link for n=0, and starts after last without n', async () => {
    const zero = await getJson<{ tags: string[] }>('/v2/list/app/tags/list?n=0');
    assert.deepEqual(zero.body.tags, []);
    assert.equal(zero.res.headers.get('link'), null);
    const rest = await getJson<{ tags: string[] }>('/v2/list/app/tags/list?last=c');
    assert.deepEqual(rest.body.tags, ['d', 'e']);
    const exact = await getJson<{ tags: string[] }>('/v2/list/app/tags/list?n=7');
    assert.equal(exact.res.headers.get('link'), null, 'no next page when exactly n remain');
  });

  it('answers NAME_UNKNOWN for a repository never seen, and refuses an n that is no count', async () => {
    const res = await h.client.req('GET', '/v2/never/seen/tags/list');
    assert.equal(res.status, 404);
    assert.equal(await errorCode(res), 'NAME_UNKNOWN');
    const bad = await h.client.req('GET', '/v2/list/app/tags/list?n=-1');
    assert.equal(bad.status, 400);
    assert.equal(await errorCode(bad), 'PAGINATION_NUMBER_INVALID');
  });
});

describe('catalog', () => {
  it('lists repositories in order, paged with n, last and Link', async () => {
    for (const repo of ['cat/z', 'cat/m', 'cat/a']) await h.client.pushBlob(repo, randomLayer(10));
    const all = await getJson<{ repositories: string[] }>('/v2/_catalog');
    assert.deepEqual(all.body.repositories, ['cat/a', 'cat/m', 'cat/z', 'list/app']);
    const first = await getJson<{ repositories: string[] }>('/v2/_catalog?n=2');
    assert.deepEqual(first.body.repositories, ['cat/a', 'cat/m']);
    assert.equal(first.res.headers.get('link'), '</v2/_catalog?n=2&last=cat%2Fm>; rel="next"');
    const second = await getJson<{ repositories: string[] }>('/v2/_catalog?n=2&last=cat%2Fm');
    assert.deepEqual(second.body.repositories, ['cat/z', 'list/app']);
    assert.equal(second.res.headers.get('link'), null);
  });
});

describe('referrers', () => {
  it('lists the manifests whose subject is a digest, with artifactType and annotations, and filters by artifactType', async () => {
    const subject = { mediaType: MediaType.OciManifest, digest: image.digest, size: image.manifest.length };
    const sbom = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: 'application/vnd.example.sbom',
      config: { mediaType: MediaType.OciEmpty, digest: digestOf('{}'), size: 2 },
      layers: image.layers,
      subject,
      annotations: { 'org.example.kind': 'sbom' },
    };
    await h.client.pushBlob('list/app', Buffer.from('{}'));
    const sig = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { ...image.config, mediaType: 'application/vnd.example.sig.config' },
      layers: [],
      subject,
    };
    const idx = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [], subject };
    const pushed = [];
    for (const [doc, type] of [
      [sbom, MediaType.OciManifest],
      [sig, MediaType.OciManifest],
      [idx, MediaType.OciIndex],
    ] as const) {
      const bytes = Buffer.from(JSON.stringify(doc));
      const res = await h.client.putManifest('list/app', digestOf(bytes), bytes, type);
      assert.equal(res.status, 201, await res.text());
      pushed.push({ digest: digestOf(bytes), size: bytes.length });
    }
    const { res, body } = await getJson<ImageIndex>(`/v2/list/app/referrers/${image.digest}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), MediaType.OciIndex);
    assert.equal(res.headers.get('oci-filters-applied'), null);
    assert.equal(body.schemaVersion, 2);
    assert.equal(body.mediaType, MediaType.OciIndex);
    const byDigest = new Map(body.manifests.map((m) => [m.digest, m]));
    assert.deepEqual(byDigest.get(pushed[0]!.digest), {
      mediaType: MediaType.OciManifest,
      ...pushed[0],
      artifactType: 'application/vnd.example.sbom',
      annotations: { 'org.example.kind': 'sbom' },
    });
    assert.deepEqual(byDigest.get(pushed[1]!.digest), {
      mediaType: MediaType.OciManifest,
      ...pushed[1],
      artifactType: 'application/vnd.example.sig.config',
    });
    assert.deepEqual(
      byDigest.get(pushed[2]!.digest),
      { mediaType: MediaType.OciIndex, ...pushed[2] },
      'an index without artifactType has none',
    );

    const filtered = await getJson<ImageIndex>(
      `/v2/list/app/referrers/${image.digest}?artifactType=application/vnd.example.sbom`,
    );
    assert.equal(filtered.res.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual(
      filtered.body.manifests.map((m) => m.digest),
      [pushed[0]!.digest],
    );
  });

  it('answers an empty index (200), never 404, for a digest without referrers or an unknown repository', async () => {
    for (const path of [
      `/v2/list/app/referrers/${digestOf('alone')}`,
      `/v2/no/such/repo/referrers/${digestOf('alone')}`,
    ]) {
      const { res, body } = await getJson<ImageIndex>(path);
      assert.equal(res.status, 200, path);
      assert.deepEqual(body, { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] });
    }
    const bad = await h.client.req('GET', '/v2/list/app/referrers/sha256:nope');
    assert.equal(bad.status, 400);
    assert.equal(await errorCode(bad), 'DIGEST_INVALID');
  });
});

describe('the API root and unknown endpoints', () => {
  it('answers GET /v2/ with 200 and the Docker API version header', async () => {
    for (const path of ['/v2/', '/v2']) {
      const res = await h.client.req('GET', path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    }
  });

  it('answers 404 for a path that is no endpoint, and 405 UNSUPPORTED for a method an endpoint lacks', async () => {
    const res = await h.client.req('GET', '/v2/list/app/whatever');
    assert.equal(res.status, 404);
    assert.equal(await errorCode(res), 'UNSUPPORTED');
    const method = await h.client.req('POST', '/v2/list/app/tags/list');
    assert.equal(method.status, 405);
    assert.equal(await errorCode(method), 'UNSUPPORTED');
    assert.equal((await h.client.req('PATCH', '/v2/list/app/manifests/a')).status, 405);
  });
});
