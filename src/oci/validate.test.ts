import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSlipwayError } from '../errors.js';
import { digestOf } from './digest.js';
import { MediaType } from './media-types.js';
import {
  isRfc3339,
  parseConfig,
  parseIndex,
  parseManifest,
  parseManifestOrIndex,
  validateDescriptor,
} from './validate.js';

const configBytes = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
const layerDigest = digestOf('layer');
const desc = (mediaType: string, data: string) => ({
  mediaType,
  digest: digestOf(data),
  size: Buffer.byteLength(data),
});

/** A manifest as skopeo writes it, with an unknown field that must be kept. */
function goodManifest(): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: digestOf(configBytes), size: configBytes.length },
    layers: [
      { mediaType: MediaType.OciLayerGzip, digest: layerDigest, size: 5 },
      {
        mediaType: MediaType.OciLayerZstd,
        digest: digestOf('b'),
        size: 1,
        urls: ['https://example.com/b'],
        annotations: { 'org.opencontainers.image.title': 'b' },
      },
    ],
    annotations: { 'org.opencontainers.image.created': '2024-05-01T12:00:00Z' },
    'x-unknown-field': { kept: true },
  };
}

function goodIndex(): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [
      { ...desc(MediaType.OciManifest, 'm1'), platform: { architecture: 'amd64', os: 'linux' } },
      { ...desc(MediaType.OciManifest, 'm2'), platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
    ],
  };
}

function goodConfig(): Record<string, unknown> {
  return {
    created: '2024-05-01T12:00:00.123456789Z',
    author: 'slipway',
    architecture: 'arm64',
    variant: 'v8',
    os: 'linux',
    config: {
      User: '1000:1000',
      ExposedPorts: { '8080/tcp': {} },
      Env: ['PATH=/usr/bin', 'PORT=8080'],
      Entrypoint: ['/cnb/lifecycle/launcher'],
      Cmd: null,
      Volumes: { '/data': {} },
      WorkingDir: '/workspace',
      Labels: { 'io.buildpacks.stack.id': 'io.slipway.stacks.bookworm' },
      StopSignal: 'SIGTERM',
      ArgsEscaped: false,
      Healthcheck: { Test: ['CMD', 'true'] },
    },
    rootfs: { type: 'layers', diff_ids: [digestOf('l1'), digestOf('l2')] },
    history: [
      { created: '2024-05-01T12:00:00Z', created_by: 'slipway stage', empty_layer: false },
      { created: '2024-05-01T12:00:00+02:00', comment: 'app' },
    ],
  };
}

const bytes = (doc: unknown) => Buffer.from(JSON.stringify(doc));

/** Asserts an INVALID_DOCUMENT error whose message contains every fragment. */
function rejects(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isSlipwayError(err, 'INVALID_DOCUMENT'), String(err));
    for (const f of fragments) assert.ok(err.message.includes(f), `"${err.message}"\n  should contain: ${f}`);
    return true;
  });
}

describe('parseManifest', () => {
  it('accepts an OCI manifest and keeps unknown fields', () => {
    const m = parseManifest(bytes(goodManifest()));
    assert.equal(m.layers.length, 2);
    assert.deepEqual((m as unknown as Record<string, unknown>)['x-unknown-field'], { kept: true });
  });
  it('accepts a string, and a Docker schema 2 manifest', () => {
    const m = goodManifest();
    m.mediaType = MediaType.DockerManifest;
    assert.equal(parseManifest(JSON.stringify(m)).mediaType, MediaType.DockerManifest);
  });
  it('accepts a manifest without mediaType, and one with an empty layers list (artifacts)', () => {
    const m = goodManifest();
    delete m.mediaType;
    m.layers = [];
    m.artifactType = 'application/vnd.example.sbom+json';
    m.subject = desc(MediaType.OciManifest, 'subject');
    assert.deepEqual(parseManifest(bytes(m)).layers, []);
  });
  it('does not touch the bytes it is given', () => {
    const raw = Buffer.from(
      `{ "schemaVersion": 2,\n  "config": ${JSON.stringify(desc(MediaType.OciConfig, 'c'))}, "layers": [] }`,
    );
    const copy = Buffer.from(raw);
    parseManifest(raw);
    assert.deepEqual(raw, copy);
  });

  const bad: Array<[string, (m: Record<string, unknown>) => void, string[]]> = [
    ['schemaVersion 3', (m) => (m.schemaVersion = 3), ['schemaVersion: must be 2, not 3']],
    ['missing schemaVersion', (m) => delete m.schemaVersion, ['schemaVersion: is required and must be 2']],
    [
      'an index media type',
      (m) => (m.mediaType = MediaType.OciIndex),
      ['mediaType: "application/vnd.oci.image.index.v1+json" is not an image manifest media type'],
    ],
    ['missing config', (m) => delete m.config, ['config: is required (an object)']],
    ['layers not an array', (m) => (m.layers = {}), ['layers: must be an array, not an object']],
    [
      'a bad layer digest',
      (m) => ((m.layers as Array<Record<string, unknown>>)[1]!.digest = 'sha256:xyz'),
      ['layers[1].digest: invalid digest "sha256:xyz": the encoded part must be lowercase hex'],
    ],
    [
      'a short layer digest',
      (m) => ((m.layers as Array<Record<string, unknown>>)[0]!.digest = 'sha256:abc'),
      ['layers[0].digest: invalid digest "sha256:abc": a sha256 digest has 64 hex characters'],
    ],
    [
      'an unknown digest algorithm',
      (m) => ((m.config as Record<string, unknown>).digest = `md5:${'a'.repeat(32)}`),
      ['config.digest:', 'algorithm "md5" is not supported'],
    ],
    [
      'a negative size',
      (m) => ((m.config as Record<string, unknown>).size = -1),
      ['config.size: must be a non-negative integer, not -1'],
    ],
    [
      'a fractional size',
      (m) => ((m.config as Record<string, unknown>).size = 1.5),
      ['config.size: must be a non-negative integer, not 1.5'],
    ],
    [
      'a size as a string',
      (m) => ((m.config as Record<string, unknown>).size = '12'),
      ['config.size: must be a number, not the string "12"'],
    ],
    [
      'a malformed media type',
      (m) => ((m.layers as Array<Record<string, unknown>>)[0]!.mediaType = 'tar+gzip'),
      ['layers[0].mediaType: "tar+gzip" is not a media type of the form type/subtype'],
    ],
    [
      'a bad url',
      (m) => ((m.layers as Array<Record<string, unknown>>)[1]!.urls = ['not a url']),
      ['layers[1].urls[0]: "not a url" is not a URL'],
    ],
    [
      'a non-string annotation',
      (m) => (m.annotations = { 'org.example.n': 1 }),
      ['annotations["org.example.n"]: must be a string, not a number (1)'],
    ],
    [
      'a bad subject',
      (m) => (m.subject = { mediaType: MediaType.OciManifest, size: 1 }),
      ['subject.digest: is required (a string)'],
    ],
    [
      'a bad platform in a descriptor',
      (m) => ((m.config as Record<string, unknown>).platform = { os: 'linux' }),
      ['config.platform.architecture: is required (a string)'],
    ],
  ];
  for (const [what, mutate, says] of bad) {
    it(`rejects ${what}, naming the field`, () => {
      const m = goodManifest();
      mutate(m);
      rejects(() => parseManifest(bytes(m)), 'invalid image manifest: ', ...says);
    });
  }

  it('lists at most three issues and counts the rest', () => {
    rejects(() => parseManifest('{}'), 'schemaVersion: is required', 'config: is required', 'layers: is required');
    rejects(() => parseManifest('{"mediaType":"x","artifactType":"y","annotations":[]}'), '(and 3 more)');
  });
  it('rejects a document that is not an object', () =>
    rejects(() => parseManifest('[]'), 'the document must be an object, not an array'));
  it('says so when the bytes are not JSON', () =>
    rejects(() => parseManifest('{"schemaVersion":'), 'manifest is not valid JSON: '));
  it('says so when the bytes are not UTF-8', () =>
    rejects(() => parseManifest(Buffer.from([0x7b, 0xff, 0x7d])), 'manifest is not valid UTF-8'));
  it('refuses Docker schema 1 with a way out', () => {
    assert.throws(
      () => parseManifest('{"schemaVersion":1,"name":"x","fsLayers":[]}'),
      (err: unknown) => {
        assert.ok(isSlipwayError(err, 'UNSUPPORTED'));
        assert.match(err.message, /schema 1 .* not supported.*skopeo copy --format v2s2/);
        return true;
      },
    );
  });
});

describe('descriptors with embedded data', () => {
  const data = '{"hello":"world"}';
  const withData = (over: Record<string, unknown> = {}) => ({
    ...desc('application/json', data),
    data: Buffer.from(data).toString('base64'),
    ...over,
  });
  it('accepts data that matches digest and size', () => assert.equal(validateDescriptor(withData()).size, data.length));
  it('rejects data that is not base64', () =>
    rejects(() => validateDescriptor(withData({ data: 'not base64!' })), 'data: data is not standard base64'));
  it('rejects data whose size differs', () =>
    rejects(
      () => validateDescriptor(withData({ size: 3 })),
      `data: data decodes to ${data.length} bytes but size is 3`,
    ));
  it('rejects data whose digest differs', () =>
    rejects(
      () => validateDescriptor(withData({ digest: digestOf('other'), size: data.length })),
      'data: data hashes to sha256:',
      "not to the descriptor's digest",
    ));
  it('checks sha512 digests with sha512', () =>
    assert.ok(validateDescriptor(withData({ digest: digestOf(data, 'sha512') }))));
  it('rejects a bad artifactType', () =>
    rejects(() => validateDescriptor(withData({ artifactType: 'sbom' })), 'artifactType: "sbom" is not a media type'));
});

describe('parseIndex', () => {
  it('accepts an OCI index', () => assert.equal(parseIndex(bytes(goodIndex())).manifests.length, 2));
  it('accepts a Docker manifest list', () => {
    const i = goodIndex();
    i.mediaType = MediaType.DockerManifestList;
    for (const m of i.manifests as Array<Record<string, unknown>>) m.mediaType = MediaType.DockerManifest;
    assert.equal(parseIndex(bytes(i)).mediaType, MediaType.DockerManifestList);
  });
  it('accepts an OCI layout index.json (no mediaType, ref.name annotations)', () => {
    const i = {
      schemaVersion: 2,
      manifests: [{ ...desc(MediaType.OciManifest, 'm'), annotations: { 'org.opencontainers.image.ref.name': 'v1' } }],
    };
    assert.equal(parseIndex(JSON.stringify(i)).manifests[0]?.annotations?.['org.opencontainers.image.ref.name'], 'v1');
  });
  it('accepts an empty index', () => assert.deepEqual(parseIndex('{"schemaVersion":2,"manifests":[]}').manifests, []));
  it('rejects a manifest media type', () => {
    const i = goodIndex();
    i.mediaType = MediaType.OciManifest;
    rejects(
      () => parseIndex(bytes(i)),
      'invalid image index: mediaType: "application/vnd.oci.image.manifest.v1+json" is not an image index media type',
    );
  });
  it('rejects a descriptor without size, naming it', () => {
    const i = goodIndex();
    delete (i.manifests as Array<Record<string, unknown>>)[1]!.size;
    rejects(() => parseIndex(bytes(i)), 'manifests[1].size: is required (a number)');
  });
  it('rejects a missing manifests list', () =>
    rejects(() => parseIndex('{"schemaVersion":2}'), 'manifests: is required (an array)'));
  it('says so when the bytes are not JSON', () => rejects(() => parseIndex(''), 'index is not valid JSON'));
});

describe('parseConfig', () => {
  it('accepts a full config and keeps unknown fields', () => {
    const c = parseConfig(bytes(goodConfig()));
    assert.equal(c.architecture, 'arm64');
    assert.equal(c.config?.Cmd, null);
    assert.deepEqual(c.config?.Healthcheck, { Test: ['CMD', 'true'] });
    assert.equal(c.rootfs.diff_ids.length, 2);
  });
  it('accepts the minimal config', () => assert.equal(parseConfig(configBytes).os, 'linux'));
  it("drops docker's nulls for empty maps and lists", () => {
    const c = goodConfig();
    Object.assign(c.config as object, { Env: null, Labels: null, Volumes: null, ExposedPorts: null });
    const parsed = parseConfig(bytes(c));
    for (const key of ['Env', 'Labels', 'Volumes', 'ExposedPorts'])
      assert.equal(key in (parsed.config ?? {}), false, key);
    const noConfig = goodConfig();
    noConfig.config = null;
    assert.equal('config' in parseConfig(bytes(noConfig)), false);
  });

  const bad: Array<[string, (c: Record<string, unknown>) => void, string]> = [
    ['missing architecture', (c) => delete c.architecture, 'architecture: is required (a string)'],
    ['missing os', (c) => delete c.os, 'os: is required (a string)'],
    [
      'rootfs type other than layers',
      (c) => ((c.rootfs as Record<string, unknown>).type = 'tar'),
      'rootfs.type: rootfs.type must be "layers", not "tar"',
    ],
    [
      'a bad diff_id',
      (c) => ((c.rootfs as Record<string, unknown>).diff_ids = [digestOf('x'), 'sha256:nope']),
      'rootfs.diff_ids[1]: invalid digest "sha256:nope"',
    ],
    ['missing rootfs', (c) => delete c.rootfs, 'rootfs: is required (an object)'],
    [
      'a bad created',
      (c) => (c.created = '2024-13-01T00:00:00Z'),
      'created: "2024-13-01T00:00:00Z" is not an RFC 3339 date-time',
    ],
    [
      'a created without zone',
      (c) => (c.created = '2024-05-01T12:00:00'),
      'created: "2024-05-01T12:00:00" is not an RFC 3339',
    ],
    [
      'a bad history date',
      (c) => ((c.history as Array<Record<string, unknown>>)[1]!.created = 'yesterday'),
      'history[1].created: "yesterday" is not an RFC 3339',
    ],
    [
      'a non-boolean empty_layer',
      (c) => ((c.history as Array<Record<string, unknown>>)[0]!.empty_layer = 'yes'),
      'history[0].empty_layer: must be a boolean',
    ],
    [
      'Env as a string',
      (c) => ((c.config as Record<string, unknown>).Env = 'PATH=/bin'),
      'config.Env: must be an array',
    ],
    [
      'a non-string Env entry',
      (c) => ((c.config as Record<string, unknown>).Env = ['A=1', 2]),
      'config.Env[1]: must be a string',
    ],
    ['Cmd as a string', (c) => ((c.config as Record<string, unknown>).Cmd = 'run'), 'config.Cmd: must be an array'],
    [
      'a non-string label',
      (c) => ((c.config as Record<string, unknown>).Labels = { a: true }),
      'config.Labels.a: must be a string, not a boolean (true)',
    ],
    [
      'ExposedPorts values that are not objects',
      (c) => ((c.config as Record<string, unknown>).ExposedPorts = { '80/tcp': true }),
      'config.ExposedPorts["80/tcp"]: must be an object',
    ],
    [
      'User as a number',
      (c) => ((c.config as Record<string, unknown>).User = 0),
      'config.User: must be a string, not a number (0)',
    ],
    [
      'ArgsEscaped as a string',
      (c) => ((c.config as Record<string, unknown>).ArgsEscaped = 'true'),
      'config.ArgsEscaped: must be a boolean',
    ],
  ];
  for (const [what, mutate, says] of bad) {
    it(`rejects ${what}, naming the field`, () => {
      const c = goodConfig();
      mutate(c);
      rejects(() => parseConfig(bytes(c)), 'invalid image config: ', says);
    });
  }
  it('says so when the bytes are not JSON', () => rejects(() => parseConfig('nope'), 'image config is not valid JSON'));
});

describe('parseManifestOrIndex', () => {
  const manifestNoType = () => {
    const m = goodManifest();
    delete m.mediaType;
    return m;
  };
  const indexNoType = () => {
    const i = goodIndex();
    delete i.mediaType;
    return i;
  };
  it('goes by the mediaType field', () => {
    const r = parseManifestOrIndex(bytes(goodIndex()));
    assert.equal(r.kind, 'index');
    assert.equal(r.mediaType, MediaType.OciIndex);
  });
  it('goes by the hint when the field is absent', () => {
    const r = parseManifestOrIndex(bytes(manifestNoType()), MediaType.DockerManifest);
    assert.equal(r.kind, 'manifest');
    assert.equal(r.mediaType, MediaType.DockerManifest);
  });
  it('goes by the shape when there is neither', () => {
    assert.equal(parseManifestOrIndex(bytes(indexNoType())).kind, 'index');
    const r = parseManifestOrIndex(bytes(manifestNoType()), 'application/octet-stream');
    assert.equal(r.kind, 'manifest');
    assert.equal(r.mediaType, MediaType.OciManifest);
    if (r.kind === 'manifest') assert.equal(r.document.layers.length, 2);
  });
  it('rejects a field that disagrees with the hint', () => {
    rejects(
      () => parseManifestOrIndex(bytes(goodManifest()), MediaType.OciIndex),
      `mediaType "${MediaType.OciManifest}" differs from the expected "${MediaType.OciIndex}"`,
    );
  });
  it('validates with the detected kind', () => {
    const i = indexNoType();
    (i.manifests as Array<Record<string, unknown>>)[0]!.digest = 'sha256:0';
    rejects(() => parseManifestOrIndex(bytes(i)), 'invalid image index: manifests[0].digest: invalid digest');
    rejects(
      () => parseManifestOrIndex(bytes(manifestNoType()), MediaType.OciIndex),
      'invalid image index: manifests: is required',
    );
  });
  it('says when it cannot tell', () =>
    rejects(
      () => parseManifestOrIndex('{"schemaVersion":2,"mediaType":"application/vnd.example+json"}'),
      'cannot tell whether',
      '"application/vnd.example+json"',
    ));
  it('refuses schema 1 by hint too', () => {
    assert.throws(
      () => parseManifestOrIndex('{}', 'application/vnd.docker.distribution.manifest.v1+prettyjws'),
      (e: unknown) => isSlipwayError(e, 'UNSUPPORTED'),
    );
  });
  it('says so when the bytes are not JSON', () =>
    rejects(() => parseManifestOrIndex('<html>'), 'manifest is not valid JSON'));
});

describe('isRfc3339', () => {
  const cases: Array<[string, boolean]> = [
    ['2024-05-01T12:00:00Z', true],
    ['2024-05-01t12:00:00z', true],
    ['2024-05-01T12:00:00.5+05:30', true],
    ['0001-01-01T00:00:00Z', true],
    ['2024-02-29T23:59:60Z', true],
    ['2023-02-29T00:00:00Z', false],
    ['2024-04-31T00:00:00Z', false],
    ['2024-05-01T24:00:00Z', false],
    ['2024-05-01 12:00:00Z', false],
    ['2024-05-01T12:00Z', false],
    ['2024-05-01', false],
    ['', false],
  ];
  for (const [value, expected] of cases)
    it(`${JSON.stringify(value)} -> ${expected}`, () => assert.equal(isRfc3339(value), expected));
});
