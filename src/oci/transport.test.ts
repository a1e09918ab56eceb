import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSlipwayError } from '../errors.js';
import { dockerArchiveSourceIndex, formatTransport, parseTransport, type TransportRef } from './transport.js';

const D256 = `sha256:${'a'.repeat(64)}`;

/** A plain description of a parse result, so docker references compare by their string. */
function plain(t: TransportRef): Record<string, unknown> {
  return t.transport === 'docker' ? { transport: 'docker', reference: t.reference.toString() } : { ...t };
}

const cases: Array<[input: string, expected: Record<string, unknown>, formatted?: string]> = [
  // local store: no registry host
  ['myapp', { transport: 'local', name: 'myapp', tag: 'latest' }, 'myapp:latest'],
  ['team/web:v2', { transport: 'local', name: 'team/web', tag: 'v2' }],
  [`app@${D256}`, { transport: 'local', name: 'app', digest: D256 }],
  [`app:v1@${D256}`, { transport: 'local', name: 'app', tag: 'v1', digest: D256 }],
  ['localhost:5000', { transport: 'local', name: 'localhost', tag: '5000' }],
  ['docker:24-dind', { transport: 'local', name: 'docker', tag: '24-dind' }],
  // registry: a name with a registry host, or docker://
  ['ghcr.io/org/app:v1', { transport: 'docker', reference: 'ghcr.io/org/app:v1' }, 'docker://ghcr.io/org/app:v1'],
  [
    'localhost:5000/a/b',
    { transport: 'docker', reference: 'localhost:5000/a/b:latest' },
    'docker://localhost:5000/a/b:latest',
  ],
  ['localhost/app', { transport: 'docker', reference: 'localhost/app:latest' }, 'docker://localhost/app:latest'],
  ['[::1]:5000/app', { transport: 'docker', reference: '[::1]:5000/app:latest' }, 'docker://[::1]:5000/app:latest'],
  [
    'docker://alpine',
    { transport: 'docker', reference: 'docker.io/library/alpine:latest' },
    'docker://docker.io/library/alpine:latest',
  ],
  [
    'docker://index.docker.io/user/app:1',
    { transport: 'docker', reference: 'docker.io/user/app:1' },
    'docker://docker.io/user/app:1',
  ],
  [`docker://quay.io/a/b:t@${D256}`, { transport: 'docker', reference: `quay.io/a/b:t@${D256}` }],
  // oci layouts: the DIR ends at the first ":"
  ['oci:out', { transport: 'oci', dir: 'out' }],
  ['oci:./out:v1', { transport: 'oci', dir: './out', ref: 'v1' }],
  ['oci:/tmp/layout:', { transport: 'oci', dir: '/tmp/layout' }, 'oci:/tmp/layout'],
  ['oci:/tmp/my:dir', { transport: 'oci', dir: '/tmp/my', ref: 'dir' }],
  ['oci:/tmp/l:example.com/app:v1.2', { transport: 'oci', dir: '/tmp/l', ref: 'example.com/app:v1.2' }],
  ['oci:l:a--b+c@d', { transport: 'oci', dir: 'l', ref: 'a--b+c@d' }],
  ['oci-archive:img.tar', { transport: 'oci-archive', file: 'img.tar' }],
  ['oci-archive:/tmp/img.tar:latest', { transport: 'oci-archive', file: '/tmp/img.tar', ref: 'latest' }],
  // docker archives: a docker reference (canonical, tag defaulted, as skopeo writes RepoTags) or @N
  ['docker-archive:a.tar', { transport: 'docker-archive', file: 'a.tar' }],
  [
    'docker-archive:a.tar:alpine',
    { transport: 'docker-archive', file: 'a.tar', ref: 'docker.io/library/alpine:latest' },
  ],
  ['docker-archive:a.tar:foo/bar:1', { transport: 'docker-archive', file: 'a.tar', ref: 'docker.io/foo/bar:1' }],
  [
    'docker-archive:a.tar:busybox:1.36',
    { transport: 'docker-archive', file: 'a.tar', ref: 'docker.io/library/busybox:1.36' },
  ],
  [
    'docker-archive:a.tar:localhost:5000/app:v1',
    { transport: 'docker-archive', file: 'a.tar', ref: 'localhost:5000/app:v1' },
  ],
  ['docker-archive:a.tar:@0', { transport: 'docker-archive', file: 'a.tar', ref: '@0' }],
  ['docker-archive:a.tar:@12', { transport: 'docker-archive', file: 'a.tar', ref: '@12' }],
];

describe('parseTransport', () => {
  for (const [input, expected] of cases) {
    it(input, () => assert.deepEqual(plain(parseTransport(input)), expected));
  }
});

describe('formatTransport', () => {
  for (const [input, , formatted] of cases) {
    it(`${input} round-trips`, () => {
      const parsed = parseTransport(input);
      const text = formatTransport(parsed);
      if (formatted !== undefined) assert.equal(text, formatted);
      assert.deepEqual(plain(parseTransport(text)), plain(parsed));
    });
  }
});

describe('parseTransport errors', () => {
  const bad: Array<[input: string, code: string, says: RegExp]> = [
    ['oci:', 'INVALID_REFERENCE', /the DIR after "oci:" is empty.*oci:\.\/layout:v1/],
    ['oci::v1', 'INVALID_REFERENCE', /DIR after "oci:" is empty/],
    ['oci-archive:', 'INVALID_REFERENCE', /the FILE after "oci-archive:" is empty/],
    ['docker-archive:', 'INVALID_REFERENCE', /the FILE after "docker-archive:" is empty/],
    ['oci:dir:bad ref', 'INVALID_REFERENCE', /"bad ref" is not an OCI ref name/],
    ['oci:dir:-v1', 'INVALID_REFERENCE', /"-v1" is not an OCI ref name/],
    ['oci:dir:a//b', 'INVALID_REFERENCE', /not an OCI ref name/],
    ['docker-archive:a.tar:@x', 'INVALID_REFERENCE', /source index "@x" must be "@" followed by a number/],
    ['docker-archive:a.tar:@-1', 'INVALID_REFERENCE', /source index/],
    [`docker-archive:a.tar:app@${D256}`, 'INVALID_REFERENCE', /by tag, not by digest/],
    [`docker-archive:a.tar:app:v1@${D256}`, 'INVALID_REFERENCE', /by tag, not by digest/],
    ['docker-archive:a.tar:App', 'INVALID_REFERENCE', /must be lowercase/],
    ['docker://', 'INVALID_REFERENCE', /it is empty/],
    ['docker://Alpine', 'INVALID_REFERENCE', /must be lowercase/],
    ['docker:alpine:3', 'INVALID_REFERENCE', /registry references are written docker:\/\/NAME/],
    ['docker:/alpine', 'INVALID_REFERENCE', /docker:\/\/NAME/],
    ['MyApp', 'INVALID_REFERENCE', /must be lowercase/],
    ['ghcr.io/Org/app', 'INVALID_REFERENCE', /must be lowercase/],
    ['', 'INVALID_REFERENCE', /empty/],
    [
      'dir:/tmp/x',
      'UNSUPPORTED',
      /the dir: transport is not supported.*skopeo copy dir:\/tmp\/x oci-archive:image\.tar/,
    ],
    ['containers-storage:docker.io/library/alpine', 'UNSUPPORTED', /containers-storage: transport is not supported/],
    ['docker-daemon:alpine:latest', 'UNSUPPORTED', /docker-daemon: transport/],
  ];
  for (const [input, code, says] of bad) {
    it(JSON.stringify(input), () => {
      assert.throws(
        () => parseTransport(input),
        (err: unknown) => {
          assert.ok(isSlipwayError(err), String(err));
          assert.equal(err.code, code, err.message);
          assert.match(err.message, says);
          return true;
        },
      );
    });
  }
});

describe('dockerArchiveSourceIndex', () => {
  it('reads @N', () => assert.equal(dockerArchiveSourceIndex('@3'), 3));
  it('is undefined for a name', () => assert.equal(dockerArchiveSourceIndex('app:v1'), undefined));
});
