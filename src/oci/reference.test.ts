import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSlipwayError } from '../errors.js';
import {
  formatLocalName,
  hasRegistryHost,
  makeReference,
  parseLocalName,
  parseReference,
  parseRepositoryName,
} from './reference.js';

const H64 = 'f'.repeat(64);
const D256 = `sha256:${H64}`;
const D512 = `sha512:${'f'.repeat(128)}`;

/** Expected results of ParseNormalizedNamed + TagNameOnly, as distribution/reference behaves. */
const valid: Array<[input: string, canonical: string, familiar: string, domain: string, path: string]> = [
  ['alpine', 'docker.io/library/alpine:latest', 'alpine:latest', 'docker.io', 'library/alpine'],
  ['alpine:3.20', 'docker.io/library/alpine:3.20', 'alpine:3.20', 'docker.io', 'library/alpine'],
  ['user/app', 'docker.io/user/app:latest', 'user/app:latest', 'docker.io', 'user/app'],
  ['library/ubuntu', 'docker.io/library/ubuntu:latest', 'ubuntu:latest', 'docker.io', 'library/ubuntu'],
  ['docker.io/ubuntu', 'docker.io/library/ubuntu:latest', 'ubuntu:latest', 'docker.io', 'library/ubuntu'],
  ['index.docker.io/fooo/bar', 'docker.io/fooo/bar:latest', 'fooo/bar:latest', 'docker.io', 'fooo/bar'],
  ['index.docker.io/debian', 'docker.io/library/debian:latest', 'debian:latest', 'docker.io', 'library/debian'],
  ['library/foo/bar', 'docker.io/library/foo/bar:latest', 'library/foo/bar:latest', 'docker.io', 'library/foo/bar'],
  ['other/library', 'docker.io/other/library:latest', 'other/library:latest', 'docker.io', 'other/library'],
  ['store/foo/bar', 'docker.io/store/foo/bar:latest', 'store/foo/bar:latest', 'docker.io', 'store/foo/bar'],
  ['test_com/foo', 'docker.io/test_com/foo:latest', 'test_com/foo:latest', 'docker.io', 'test_com/foo'],
  ['test.com/foo', 'test.com/foo:latest', 'test.com/foo:latest', 'test.com', 'foo'],
  ['test:5000/repo', 'test:5000/repo:latest', 'test:5000/repo:latest', 'test:5000', 'repo'],
  ['test-com:8080/foo', 'test-com:8080/foo:latest', 'test-com:8080/foo:latest', 'test-com:8080', 'foo'],
  ['xn--n3h.com:18080/foo', 'xn--n3h.com:18080/foo:latest', 'xn--n3h.com:18080/foo:latest', 'xn--n3h.com:18080', 'foo'],
  ['localhost/app', 'localhost/app:latest', 'localhost/app:latest', 'localhost', 'app'],
  ['localhost:5000/a/b:tag', 'localhost:5000/a/b:tag', 'localhost:5000/a/b:tag', 'localhost:5000', 'a/b'],
  [
    '127.0.0.1:8000/private/moonbase',
    '127.0.0.1:8000/private/moonbase:latest',
    '127.0.0.1:8000/private/moonbase:latest',
    '127.0.0.1:8000',
    'private/moonbase',
  ],
  ['192.168.1.1/repo', '192.168.1.1/repo:latest', '192.168.1.1/repo:latest', '192.168.1.1', 'repo'],
  [
    '192.168.1.1:5000/repo:5050',
    '192.168.1.1:5000/repo:5050',
    '192.168.1.1:5000/repo:5050',
    '192.168.1.1:5000',
    'repo',
  ],
  // without "/" a dotted or host:port-looking name is a repository on docker.io, and ":5000" a tag
  ['192.168.1.1', 'docker.io/library/192.168.1.1:latest', '192.168.1.1:latest', 'docker.io', 'library/192.168.1.1'],
  ['192.168.1.1:5000', 'docker.io/library/192.168.1.1:5000', '192.168.1.1:5000', 'docker.io', 'library/192.168.1.1'],
  ['test.com:5000', 'docker.io/library/test.com:5000', 'test.com:5000', 'docker.io', 'library/test.com'],
  ['localhost:5000', 'docker.io/library/localhost:5000', 'localhost:5000', 'docker.io', 'library/localhost'],
  ['foo_bar.com:8080', 'docker.io/library/foo_bar.com:8080', 'foo_bar.com:8080', 'docker.io', 'library/foo_bar.com'],
  ['foo/foo_bar.com:8080', 'docker.io/foo/foo_bar.com:8080', 'foo/foo_bar.com:8080', 'docker.io', 'foo/foo_bar.com'],
  [
    'b.gcr.io/test.example.com/my-app:test.example.com',
    'b.gcr.io/test.example.com/my-app:test.example.com',
    'b.gcr.io/test.example.com/my-app:test.example.com',
    'b.gcr.io',
    'test.example.com/my-app',
  ],
  [
    'sub-dom1.foo.com/bar/baz/quux:some-long-tag',
    'sub-dom1.foo.com/bar/baz/quux:some-long-tag',
    'sub-dom1.foo.com/bar/baz/quux:some-long-tag',
    'sub-dom1.foo.com',
    'bar/baz/quux',
  ],
  // IPv6 hosts in brackets
  ['[2001:db8::1]/repo', '[2001:db8::1]/repo:latest', '[2001:db8::1]/repo:latest', '[2001:db8::1]', 'repo'],
  [
    '[2001:db8::1]:5000/repo:tag',
    '[2001:db8::1]:5000/repo:tag',
    '[2001:db8::1]:5000/repo:tag',
    '[2001:db8::1]:5000',
    'repo',
  ],
  [
    '[fc00:1:2:3:4:5:6:7]:5000/library/debian',
    '[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest',
    '[fc00:1:2:3:4:5:6:7]:5000/library/debian:latest',
    '[fc00:1:2:3:4:5:6:7]:5000',
    'library/debian',
  ],
  ['[::1]:5000/repo', '[::1]:5000/repo:latest', '[::1]:5000/repo:latest', '[::1]:5000', 'repo'],
  // separators
  [
    'docker---rules/docker',
    'docker.io/docker---rules/docker:latest',
    'docker---rules/docker:latest',
    'docker.io',
    'docker---rules/docker',
  ],
  ['dock__er/docker', 'docker.io/dock__er/docker:latest', 'dock__er/docker:latest', 'docker.io', 'dock__er/docker'],
  ['d/docker', 'docker.io/d/docker:latest', 'd/docker:latest', 'docker.io', 'd/docker'],
  // tags may be uppercase; only the name must be lowercase
  [
    'lowercase:Uppercase',
    'docker.io/library/lowercase:Uppercase',
    'lowercase:Uppercase',
    'docker.io',
    'library/lowercase',
  ],
  // a 64-character name that is not hex is a name; with a host, even a hex one is
  [
    'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
    'docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest',
    'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest',
    'docker.io',
    'library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
  ],
  [
    `docker.io/${'1a3f'.repeat(16)}`,
    `docker.io/library/${'1a3f'.repeat(16)}:latest`,
    `${'1a3f'.repeat(16)}:latest`,
    'docker.io',
    `library/${'1a3f'.repeat(16)}`,
  ],
  ['dbcc1', 'docker.io/library/dbcc1:latest', 'dbcc1:latest', 'docker.io', 'library/dbcc1'],
  // digests: no default tag is added; tag and digest are both kept
  [`redis@${D256}`, `docker.io/library/redis@${D256}`, `redis@${D256}`, 'docker.io', 'library/redis'],
  [
    `busybox:latest@${D256}`,
    `docker.io/library/busybox:latest@${D256}`,
    `busybox:latest@${D256}`,
    'docker.io',
    'library/busybox',
  ],
  [`test:5000/repo:tag@${D256}`, `test:5000/repo:tag@${D256}`, `test:5000/repo:tag@${D256}`, 'test:5000', 'repo'],
  [
    `xn--7o8h.com/myimage:xn--7o8h.com@${D512}`,
    `xn--7o8h.com/myimage:xn--7o8h.com@${D512}`,
    `xn--7o8h.com/myimage:xn--7o8h.com@${D512}`,
    'xn--7o8h.com',
    'myimage',
  ],
  // the 255-character limit is on the whole name, domain included (as skopeo); the tag does not count
  [
    `${'a/'.repeat(122)}a:tag-puts-this-over-max`,
    `docker.io/${'a/'.repeat(122)}a:tag-puts-this-over-max`,
    `${'a/'.repeat(122)}a:tag-puts-this-over-max`,
    'docker.io',
    `${'a/'.repeat(122)}a`,
  ],
];

/** Inputs docker rejects, each with a fragment the error must contain. */
const invalid: Array<[input: string, says: string]> = [
  ['', 'empty'],
  [':justtag', 'name before ":" is missing'],
  [`@${D256}`, 'name before "@" is missing'],
  ['Uppercase:tag', 'must be lowercase'],
  ['docker/Docker', 'must be lowercase'],
  ['docker.io/docker/Docker', 'must be lowercase'],
  ['test:5000/Uppercase/lowercase:tag', 'must be lowercase'],
  // docker 28 reads an uppercase first element as a host; skopeo (and Slipway) do not
  ['Foo/bar', 'repository name "Foo/bar" must be lowercase'],
  ['DOCKER/docker', 'must be lowercase'],
  ['https://github.com/docker/docker', 'registry host "https:"'],
  ['-docker', 'path component "-docker"'],
  ['-docker/docker', 'path component "-docker"'],
  ['docker-/docker', 'path component "docker-"'],
  ['-docker.io/docker/docker', 'registry host "-docker.io"'],
  ['docker///docker', 'empty path component'],
  ['docker.io/docker///docker', 'empty path component'],
  ['docker/', 'empty path component'],
  ['____/____', 'path component "____"'],
  ['_docker/_docker', 'path component "_docker"'],
  // a first element with "." is taken for a host, and these are no host names
  ['dock..er/docker', 'registry host "dock..er"'],
  ['dock_.er/docker', 'registry host "dock_.er"'],
  ['dock-.er/docker', 'registry host "dock-.er"'],
  ['a/dock..er', 'path component "dock..er"'],
  ['a/dock_.er', 'path component "dock_.er"'],
  ['aa/asdf$$^/aa', 'path component "asdf$$^"'],
  ['[fc00::1]', 'tag ":1]" is invalid'],
  ['[fc00::1]:5000', 'tag'],
  ['[2001:db8::1]:tag', 'tag'],
  ['fc00::1:5000/debian', 'registry host "fc00::1:5000"'],
  ['[fe80::1%eth0]:5000/debian', 'registry host'],
  ['[2001:db8:3:4::192.0.2.33]:5000/debian', 'registry host'],
  ['1a3f'.repeat(16), 'image ID'],
  [`${'a/'.repeat(128)}a:tag`, 'at most 255'],
  [`${'a/'.repeat(127)}a:tag`, 'the name is 265 characters long, at most 255'],
  [`${'a/'.repeat(122)}ab`, 'the name is 256 characters long'],
  [`example.com/${'a/'.repeat(121)}ab`, 'the name is 256 characters long'],
  [`this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_${'x'.repeat(200)}/docker`, 'at most 255'],
  ['repo@sha256:ffffffffffffffffffffffffffffffffff', 'a sha256 digest has 64 hex characters'],
  [`validname@invaliddigest:${H64}`, 'algorithm "invaliddigest" is not supported'],
  [`repo@sha256:${'F'.repeat(64)}`, 'lowercase hex'],
  ['repo:', 'tag after ":" is empty'],
  ['repo@', 'digest after "@" is empty'],
  ['repo:.hidden', 'tag ".hidden" is invalid'],
  [`repo:${'t'.repeat(129)}`, 'is invalid'],
  ['repo:a:b', 'tag "a:b" is invalid'],
];

describe('parseReference: valid references (distribution/reference behaviour)', () => {
  for (const [input, canonical, familiar, domain, path] of valid) {
    it(input.length > 60 ? `${input.slice(0, 60)}…` : input, () => {
      const ref = parseReference(input);
      assert.equal(ref.toString(), canonical);
      assert.equal(String(ref), canonical);
      assert.equal(ref.familiar, familiar);
      assert.equal(ref.domain, domain);
      assert.equal(ref.path, path);
      assert.equal(ref.name, `${domain}/${path}`);
      // canonical and familiar forms parse back to the same reference
      assert.deepEqual(parseReference(canonical), ref);
      assert.deepEqual(parseReference(familiar), ref);
    });
  }
});

describe('parseReference: invalid references', () => {
  for (const [input, says] of invalid) {
    it(JSON.stringify(input.length > 60 ? `${input.slice(0, 60)}…` : input), () => {
      assert.throws(
        () => parseReference(input),
        (err: unknown) => {
          assert.ok(isSlipwayError(err, 'INVALID_REFERENCE'), String(err));
          assert.ok(err.message.includes(says), `"${err.message}" should mention ${says}`);
          assert.ok(err.message.includes('a valid example: docker.io/library/alpine:3.20'), err.message);
          return true;
        },
      );
    });
  }
});

describe('parseReference: fields', () => {
  it('keeps tag and digest apart', () => {
    const ref = parseReference(`ghcr.io/org/app:v1@${D256}`);
    assert.equal(ref.tag, 'v1');
    assert.equal(ref.digest, D256);
  });
  it('adds no tag to a digest reference (TagNameOnly)', () => {
    const ref = parseReference(`alpine@${D256}`);
    assert.equal(ref.tag, undefined);
    assert.equal('tag' in ref, false);
  });
  it('says what is wrong with an uppercase path, naming the normalised path', () => {
    assert.throws(() => parseReference('MyApp'), /repository name "library\/MyApp" must be lowercase/);
  });
});

describe('makeReference', () => {
  it('builds from parts without defaults', () => {
    const ref = makeReference({ domain: 'localhost:5000', path: 'team/app' });
    assert.equal(ref.toString(), 'localhost:5000/team/app');
    assert.equal(ref.tag, undefined);
  });
  it('keeps docker.io names as given but familiarises them', () => {
    const ref = makeReference({ domain: 'docker.io', path: 'library/alpine', tag: '3' });
    assert.equal(ref.familiar, 'alpine:3');
  });
  it('validates each part', () => {
    assert.throws(() => makeReference({ domain: '', path: 'a' }), /registry host is empty/);
    assert.throws(() => makeReference({ domain: 'x.io', path: 'A' }), /must be lowercase/);
    assert.throws(() => makeReference({ domain: 'x.io', path: 'a', tag: '-x' }), /tag "-x" is invalid/);
    assert.throws(() => makeReference({ domain: 'x.io', path: 'a', digest: 'sha256:1' }), /64 hex/);
  });
});

describe('parseRepositoryName', () => {
  for (const name of ['app', 'org/space/app', 'a/b/c/d', 'my-app.v2/x__y']) {
    it(`accepts ${name}`, () => assert.equal(parseRepositoryName(name), name));
  }
  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['App', /must be lowercase/],
    ['org//app', /empty path component/],
    ['/app', /empty path component/],
    ['app:v1', /no tag or digest/],
    [`app@${D256}`, /no tag or digest/],
    ['a'.repeat(256), /at most 255/],
    ['-app', /path component "-app"/],
  ];
  for (const [name, says] of bad) {
    it(`rejects ${JSON.stringify(name.slice(0, 40))}`, () => {
      assert.throws(
        () => parseRepositoryName(name),
        (err: unknown) => {
          assert.ok(isSlipwayError(err, 'INVALID_REFERENCE'));
          assert.match(err.message, says);
          assert.match(err.message, /a valid example: org\/space\/app/);
          return true;
        },
      );
    });
  }
});

describe('parseLocalName', () => {
  it('defaults the tag to latest', () => assert.deepEqual(parseLocalName('myapp'), { name: 'myapp', tag: 'latest' }));
  it('reads name and tag', () => assert.deepEqual(parseLocalName('team/web:v2'), { name: 'team/web', tag: 'v2' }));
  it('reads a digest without adding a tag', () =>
    assert.deepEqual(parseLocalName(`app@${D256}`), { name: 'app', digest: D256 }));
  it('reads tag and digest', () =>
    assert.deepEqual(parseLocalName(`app:v1@${D256}`), { name: 'app', tag: 'v1', digest: D256 }));
  it('takes a dotted single name as a name, not a host', () =>
    assert.deepEqual(parseLocalName('my.app:1.0'), { name: 'my.app', tag: '1.0' }));
  it('rejects a registry host and points to docker://', () => {
    assert.throws(
      () => parseLocalName('ghcr.io/org/app'),
      /"ghcr.io" is a registry host.*docker:\/\/ghcr.io\/org\/app/,
    );
    assert.throws(() => parseLocalName('localhost/app'), /"localhost" is a registry host/);
    assert.throws(() => parseLocalName('host:5000/app'), /"host:5000" is a registry host/);
  });
  it('rejects bad grammar', () => {
    assert.throws(() => parseLocalName('App'), /must be lowercase/);
    assert.throws(() => parseLocalName('app:'), /tag after ":" is empty/);
    assert.throws(() => parseLocalName(''), /empty/);
    assert.throws(() => parseLocalName('a'.repeat(64).replace(/a/g, 'b')), /image ID/);
  });
  it('formats back', () => {
    assert.equal(formatLocalName(parseLocalName(`app:v1@${D256}`)), `app:v1@${D256}`);
    assert.equal(formatLocalName({ name: 'x' }), 'x');
  });
});

describe('hasRegistryHost', () => {
  const cases: Array<[string, boolean]> = [
    ['ghcr.io/a', true],
    ['localhost/a', true],
    ['host:5000/a', true],
    ['[::1]:5000/a', true],
    ['org/app', false],
    ['app', false],
    ['localhost:5000', false],
    ['my.app', false],
  ];
  for (const [name, expected] of cases)
    it(`${name} -> ${expected}`, () => assert.equal(hasRegistryHost(name), expected));
});
