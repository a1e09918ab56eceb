import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { digestOf } from '../../oci/digest.js';
import { MediaType } from '../../oci/media-types.js';
import type { Descriptor } from '../../oci/types.js';
import { errorCode, harness, randomLayer, type Harness, type PushedImage } from './testdata/client.js';

let h: Harness;
let image: PushedImage;

before(async () => {
  h = await harness();
  image = await h.client.pushImage('team/app', 'v1', [randomLayer(), randomLayer()]);
});
after(() => h.dispose());

const manifestDesc = (img: PushedImage): Descriptor => ({
  mediaType: MediaType.OciManifest,
  digest: img.digest,
  size: img.manifest.length,
});

/** A manifest document over the blobs of `image` (already linked in team/app), as bytes. */
function manifestOver(extra: Record<string, unknown> = {}, mediaType: string = MediaType.OciManifest): Buffer {
  return Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType, config: image.config, layers: image.layers, ...extra }),
  );
}

describe('manifest pulls', () => {
  it('serves a manifest by tag and by digest: the exact bytes, Content-Type, Docker-Content-Digest, Content-Length, ETag', async () => {
    for (const reference of ['v1', image.digest]) {
      const res = await h.client.req('GET', `/v2/team/app/manifests/${reference}`, {
        headers: { Accept: MediaType.OciManifest },
      });
      assert.equal(res.status, 200, reference);
      assert.equal(res.headers.get('content-type'), MediaType.OciManifest);
      assert.equal(res.headers.get('docker-content-digest'), image.digest);
      assert.equal(res.headers.get('content-length'), String(image.manifest.length));
      assert.equal(res.headers.get('etag'), `"${image.digest}"`);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), image.manifest);
    }
  });

  it('answers HEAD with the headers only, and 304 to a matching If-None-Match', async () => {
    const head = await h.client.req('HEAD', '/v2/team/app/manifests/v1');
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(image.manifest.length));
    assert.equal(head.headers.get('docker-content-digest'), image.digest);
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    const cached = await h.client.req('GET', '/v2/team/app/manifests/v1', {
      headers: { 'If-None-Match': `"${image.digest}"` },
    });
    assert.equal(cached.status, 304);
  });

  it('serves an OCI manifest unless Accept lists manifest types without it (as Distribution)', async () => {
    const path = '/v2/team/app/manifests/v1';
    for (const accept of [
      undefined,
      '*/*',
      'application/json',
      `${MediaType.DockerManifest}, ${MediaType.OciManifest}`,
    ]) {
      const res = await h.client.req('GET', path, { headers: accept ? { Accept: accept } : {} });
      assert.equal(res.status, 200, String(accept));
    }
    const res = await h.client.req('GET', path, {
      headers: { Accept: `${MediaType.DockerManifest}, ${MediaType.DockerManifestList}` },
    });
    assert.equal(res.status, 404);
    assert.equal(await errorCode(res), 'MANIFEST_UNKNOWN');
  });

  it('answers MANIFEST_UNKNOWN for an unknown tag or digest, and validates names, tags and digests', async () => {
    const cases: [string, number, string][] = [
      ['/v2/team/app/manifests/nope', 404, 'MANIFEST_UNKNOWN'],
      [`/v2/team/app/manifests/${digestOf('nope')}`, 404, 'MANIFEST_UNKNOWN'],
      [`/v2/other/manifests/${image.digest}`, 404, 'MANIFEST_UNKNOWN'],
      ['/v2/team/app/manifests/sha256:baddigeststring', 400, 'DIGEST_INVALID'],
      // A tag that cannot exist is unknown (the conformance suite pulls `.INVALID_MANIFEST_NAME` and wants 404).
      ['/v2/team/app/manifests/-bad', 404, 'MANIFEST_UNKNOWN'],
      ['/v2/team/app/manifests/.INVALID_MANIFEST_NAME', 404, 'MANIFEST_UNKNOWN'],
      [`/v2/team/app/manifests/${'t'.repeat(129)}`, 404, 'MANIFEST_UNKNOWN'],
      ['/v2/Team/App/manifests/v1', 400, 'NAME_INVALID'],
      ['/v2/team//app/manifests/v1', 400, 'NAME_INVALID'],
      ['/v2/team/app-/manifests/v1', 400, 'NAME_INVALID'],
    ];
    for (const [path, status, code] of cases) {
      const res = await h.client.req('GET', path);
      assert.equal(res.status, status, path);
      assert.equal(await errorCode(res), code, path);
    }
  });
});

describe('manifest pushes', () => {
  it('stores the exact bytes pushed (whitespace and key order kept): the digest is of those bytes', async () => {
    const bytes = Buffer.from(
      `{\n  "schemaVersion": 2,\n  "layers": ${JSON.stringify(image.layers)},\n  "config": ${JSON.stringify(image.config)},\n  "mediaType": "${MediaType.OciManifest}"\n}\n`,
    );
    const res = await h.client.putManifest('team/app', 'pretty', bytes);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('docker-content-digest'), digestOf(bytes));
    assert.equal(res.headers.get('location'), `/v2/team/app/manifests/${digestOf(bytes)}`);
    const back = await h.client.req('GET', '/v2/team/app/manifests/pretty');
    assert.deepEqual(Buffer.from(await back.arrayBuffer()), bytes);
  });

  it('takes a push by digest, and refuses one whose bytes have another digest (DIGEST_INVALID), storing nothing', async () => {
    const bytes = manifestOver({ annotations: { by: 'digest' } });
    const ok = await h.client.putManifest('team/app', digestOf(bytes), bytes);
    assert.equal(ok.status, 201);
    const other = manifestOver({ annotations: { by: 'liar' } });
    const res = await h.client.putManifest(
      'team/app',
      digestOf(bytes).replace(/.$/, (c) => (c === '0' ? '1' : '0')),
      other,
    );
    assert.equal(res.status, 400);
    assert.equal(await errorCode(res), 'DIGEST_INVALID');
    assert.equal(await h.store.blobs.stat(digestOf(other)), undefined);
    assert.equal((await h.client.req('HEAD', `/v2/team/app/manifests/${digestOf(other)}`)).status, 404);
  });

  it('takes sha512 manifest digests', async () => {
    const bytes = manifestOver({ annotations: { alg: 'sha512' } });
    const digest = digestOf(bytes, 'sha512');
    assert.equal((await h.client.putManifest('team/app', digest, bytes)).status, 201);
    const res = await h.client.req('GET', `/v2/team/app/manifests/${digest}`);
    assert.equal(res.headers.get('docker-content-digest'), digest);
  });

  it('refuses invalid documents with MANIFEST_INVALID, and stores nothing', async () => {
    const cases: [string, Buffer | string, string | undefined][] = [
      ['not JSON', '{"schemaVersion": 2,', MediaType.OciManifest],
      [
        'no config',
        JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, layers: [] }),
        MediaType.OciManifest,
      ],
      ['schemaVersion 3', manifestOver({ schemaVersion: 3 }), MediaType.OciManifest],
      ['Content-Type differs from mediaType', manifestOver(), MediaType.DockerManifest],
      ['no Content-Type', manifestOver(), undefined],
      ['unsupported media type', manifestOver(), 'application/vnd.example.thing+json'],
      [
        'docker schema 1',
        JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }),
        'application/vnd.docker.distribution.manifest.v1+prettyjws',
      ],
    ];
    for (const [what, body, contentType] of cases) {
      const res = await h.client.req('PUT', '/v2/team/app/manifests/invalid', {
        body,
        headers: contentType ? { 'Content-Type': contentType } : {},
      });
      assert.equal(res.status, 400, what);
      assert.equal(await errorCode(res), 'MANIFEST_INVALID', what);
    }
    assert.equal((await h.client.req('HEAD', '/v2/team/app/manifests/invalid')).status, 404);
  });

  it('ignores Content-Type parameters', async () => {
    const res = await h.client.putManifest(
      'team/app',
      'params',
      manifestOver({ annotations: { p: '1' } }),
      `${MediaType.OciManifest}; charset=utf-8`,
    );
    assert.equal(res.status, 201);
  });

  it('refuses manifests naming blobs the repository does not have (MANIFEST_BLOB_UNKNOWN), even when another repository has them', async () => {
    const unknown = { mediaType: MediaType.OciLayerGzip, digest: digestOf('never pushed'), size: 12 };
    const res = await h.client.putManifest('team/app', 'dangling', manifestOver({ layers: [unknown] }));
    assert.equal(res.status, 400);
    assert.equal(await errorCode(res), 'MANIFEST_BLOB_UNKNOWN');
    const elsewhere = await h.client.putManifest('team/other', 'borrowed', manifestOver());
    assert.equal(elsewhere.status, 400, 'team/other never had these blobs pushed or mounted');
    assert.equal(await errorCode(elsewhere), 'MANIFEST_BLOB_UNKNOWN');
  });

  it('accepts a non-distributable layer with urls that was never pushed', async () => {
    const foreign = {
      mediaType: MediaType.OciLayerNondistributableGzip,
      digest: digestOf('foreign'),
      size: 7,
      urls: ['https://example.com/layer'],
    };
    const res = await h.client.putManifest('team/app', 'foreign', manifestOver({ layers: [...image.layers, foreign] }));
    assert.equal(res.status, 201);
  });

  it('refuses a manifest over the size limit with 413, and stores nothing', async () => {
    const small = await harness({ limits: { maxManifestBytes: 1024 } });
    try {
      const img = await small.client.pushImage('big', 'ok', [randomLayer()]);
      const bytes = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.OciManifest,
          config: img.config,
          layers: img.layers,
          annotations: { pad: 'x'.repeat(2000) },
        }),
      );
      const res = await small.client.putManifest('big', 'huge', bytes);
      assert.equal(res.status, 413);
      assert.equal(await errorCode(res), 'MANIFEST_INVALID');
      assert.equal(await small.store.blobs.stat(digestOf(bytes)), undefined);
    } finally {
      await small.dispose();
    }
  });

  it('stores an index only when its children are in the repository (MANIFEST_BLOB_UNKNOWN before)', async () => {
    const arm = await h.client.pushImage('multi/app', 'arm64', [randomLayer()]);
    const missing = {
      mediaType: MediaType.OciManifest,
      digest: digestOf('no such child'),
      size: 10,
      platform: { architecture: 'amd64', os: 'linux' },
    };
    const index = (children: Descriptor[]) =>
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: children }));
    const refused = await h.client.putManifest(
      'multi/app',
      'latest',
      index([manifestDesc(arm), missing]),
      MediaType.OciIndex,
    );
    assert.equal(refused.status, 400);
    assert.equal(await errorCode(refused), 'MANIFEST_BLOB_UNKNOWN');
    const amd = await h.client.pushImage('multi/app', 'amd64', [randomLayer()]);
    const bytes = index([manifestDesc(arm), manifestDesc(amd)]);
    const res = await h.client.putManifest('multi/app', 'latest', bytes, MediaType.OciIndex);
    assert.equal(res.status, 201);
    const back = await h.client.req('GET', '/v2/multi/app/manifests/latest', {
      headers: { Accept: MediaType.OciIndex },
    });
    assert.equal(back.headers.get('content-type'), MediaType.OciIndex);
    assert.deepEqual(Buffer.from(await back.arrayBuffer()), bytes);
  });

  it('stores Docker schema 2 manifests and manifest lists under their own media types', async () => {
    const docker = manifestOver(
      { config: { ...image.config, mediaType: MediaType.DockerConfig } },
      MediaType.DockerManifest,
    );
    assert.equal((await h.client.putManifest('team/app', 'docker', docker, MediaType.DockerManifest)).status, 201);
    const list = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.DockerManifestList,
        manifests: [
          {
            mediaType: MediaType.DockerManifest,
            digest: digestOf(docker),
            size: docker.length,
            platform: { architecture: 'amd64', os: 'linux' },
          },
        ],
      }),
    );
    assert.equal(
      (await h.client.putManifest('team/app', 'dockerlist', list, MediaType.DockerManifestList)).status,
      201,
    );
    for (const [tag, type] of [
      ['docker', MediaType.DockerManifest],
      ['dockerlist', MediaType.DockerManifestList],
    ] as const) {
      const res = await h.client.req('GET', `/v2/team/app/manifests/${tag}`, { headers: { Accept: type } });
      assert.equal(res.headers.get('content-type'), type);
    }
  });

  it('answers OCI-Subject for a manifest with a subject, even one not pushed yet', async () => {
    const subject = { mediaType: MediaType.OciManifest, digest: digestOf('subject pushed later'), size: 99 };
    const res = await h.client.putManifest(
      'team/app',
      'sig',
      manifestOver({ subject, artifactType: 'application/vnd.example.sig' }),
    );
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('oci-subject'), subject.digest);
    const plain = await h.client.putManifest('team/app', 'nosubject', manifestOver({ annotations: { s: 'none' } }));
    assert.equal(plain.headers.get('oci-subject'), null);
  });

  it('sets several tags with ?tag= on a push by digest, answering OCI-Tag', async () => {
    const bytes = manifestOver({ annotations: { tags: 'many' } });
    const res = await h.client.req('PUT', `/v2/tagged/app/manifests/${digestOf(bytes)}?tag=1.2.3&tag=1.2&tag=latest`, {
      body: bytes,
      headers: { 'Content-Type': MediaType.OciManifest },
    });
    assert.equal(res.status, 400, 'the blobs are not in tagged/app yet');
    for (const blob of [image.config, ...image.layers]) {
      assert.equal(
        (await h.client.req('POST', `/v2/tagged/app/blobs/uploads/?mount=${blob.digest}&from=team/app`)).status,
        201,
      );
    }
    const ok = await h.client.req('PUT', `/v2/tagged/app/manifests/${digestOf(bytes)}?tag=1.2.3&tag=1.2&tag=latest`, {
      body: bytes,
      headers: { 'Content-Type': MediaType.OciManifest },
    });
    assert.equal(ok.status, 201);
    assert.equal(ok.headers.get('oci-tag'), '1.2.3, 1.2, latest');
    const tags = (await (await h.client.req('GET', '/v2/tagged/app/tags/list')).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['1.2', '1.2.3', 'latest']);
    const bad = await h.client.req('PUT', `/v2/tagged/app/manifests/${digestOf(bytes)}?tag=.bad`, {
      body: bytes,
      headers: { 'Content-Type': MediaType.OciManifest },
    });
    assert.equal(await errorCode(bad), 'TAG_INVALID');
  });
});

describe('manifest deletes', () => {
  it('deletes by digest (202): the manifest and its tags are gone', async () => {
    const img = await h.client.pushImage('del/app', 'v1', [randomLayer()]);
    assert.equal((await h.client.req('DELETE', `/v2/del/app/manifests/${img.digest}`)).status, 202);
    for (const ref of [img.digest, 'v1']) {
      const res = await h.client.req('HEAD', `/v2/del/app/manifests/${ref}`);
      assert.equal(res.status, 404, ref);
    }
    const again = await h.client.req('DELETE', `/v2/del/app/manifests/${img.digest}`);
    assert.equal(again.status, 404);
    assert.equal(await errorCode(again), 'MANIFEST_UNKNOWN');
  });

  it('deletes a tag (202): the tag is gone, the manifest stays reachable by digest', async () => {
    const img = await h.client.pushImage('del/tag', 'v1', [randomLayer()]);
    assert.equal((await h.client.req('DELETE', '/v2/del/tag/manifests/v1')).status, 202);
    assert.equal((await h.client.req('HEAD', '/v2/del/tag/manifests/v1')).status, 404);
    assert.equal((await h.client.req('HEAD', `/v2/del/tag/manifests/${img.digest}`)).status, 200);
    assert.equal((await h.client.req('DELETE', '/v2/del/tag/manifests/v1')).status, 404);
  });

  it('refuses (409) to delete a manifest an index of the repository still lists', async () => {
    const child = await h.client.pushImage('del/multi', 'child', [randomLayer()]);
    const index = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [manifestDesc(child)] }),
    );
    assert.equal((await h.client.putManifest('del/multi', 'latest', index, MediaType.OciIndex)).status, 201);
    assert.equal((await h.client.req('DELETE', `/v2/del/multi/manifests/${child.digest}`)).status, 409);
    assert.equal((await h.client.req('DELETE', `/v2/del/multi/manifests/${digestOf(index)}`)).status, 202);
    assert.equal((await h.client.req('DELETE', `/v2/del/multi/manifests/${child.digest}`)).status, 202);
  });
});
