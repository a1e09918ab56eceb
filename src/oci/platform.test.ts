import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSlipwayError } from '../errors.js';
import { digestOf } from './digest.js';
import { MediaType } from './media-types.js';
import {
  compatiblePlatforms,
  formatPlatform,
  hostPlatform,
  nodePlatform,
  normalizePlatform,
  parsePlatform,
  platformMatches,
  selectManifest,
} from './platform.js';
import type { Descriptor, ImageIndex, Platform } from './types.js';

const AMD64_HOST: Platform = { os: 'linux', architecture: 'amd64' };
const ARM_V6_HOST: Platform = { os: 'linux', architecture: 'arm', variant: 'v6' };
const p = (s: string) => parsePlatform(s, AMD64_HOST);

describe('parsePlatform (containerd specifiers)', () => {
  const cases: Array<[string, Platform]> = [
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }],
    ['linux/amd64/v1', { os: 'linux', architecture: 'amd64' }],
    ['linux/amd64/v3', { os: 'linux', architecture: 'amd64', variant: 'v3' }],
    ['linux/x86_64', { os: 'linux', architecture: 'amd64' }],
    ['linux/x86-64', { os: 'linux', architecture: 'amd64' }],
    ['linux/i386', { os: 'linux', architecture: '386' }],
    ['linux/arm64', { os: 'linux', architecture: 'arm64' }],
    ['linux/aarch64', { os: 'linux', architecture: 'arm64' }],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['linux/arm64/8', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['linux/arm64/v8.2', { os: 'linux', architecture: 'arm64', variant: 'v8.2' }],
    ['linux/arm', { os: 'linux', architecture: 'arm' }],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['linux/arm/6', { os: 'linux', architecture: 'arm', variant: 'v6' }],
    ['linux/armhf', { os: 'linux', architecture: 'arm' }],
    ['linux/armel', { os: 'linux', architecture: 'arm', variant: 'v6' }],
    ['Linux/AMD64', { os: 'linux', architecture: 'amd64' }],
    ['macos/arm64', { os: 'darwin', architecture: 'arm64' }],
    ['linux/s390x', { os: 'linux', architecture: 's390x' }],
    ['linux/riscv64', { os: 'linux', architecture: 'riscv64' }],
    ['linux', { os: 'linux', architecture: 'amd64' }],
    ['windows', { os: 'windows', architecture: 'amd64' }],
    ['arm64', { os: 'linux', architecture: 'arm64' }],
    ['aarch64', { os: 'linux', architecture: 'arm64' }],
    ['armel', { os: 'linux', architecture: 'arm', variant: 'v6' }],
    ['windows(10.0.17763)/amd64', { os: 'windows', 'os.version': '10.0.17763', architecture: 'amd64' }],
    [
      'windows(10.0.17763+win32k)/amd64',
      { os: 'windows', 'os.version': '10.0.17763', 'os.features': ['win32k'], architecture: 'amd64' },
    ],
    ['linux(+a+b)/amd64', { os: 'linux', 'os.features': ['a', 'b'], architecture: 'amd64' }],
    ['linux(1%2B2)/amd64', { os: 'linux', 'os.version': '1+2', architecture: 'amd64' }],
  ];
  for (const [spec, expected] of cases) it(spec, () => assert.deepEqual(p(spec), expected));

  it('takes a lone OS with the host architecture, and a 32-bit ARM host its variant', () => {
    assert.deepEqual(parsePlatform('linux', ARM_V6_HOST), { os: 'linux', architecture: 'arm', variant: 'v6' });
    assert.deepEqual(parsePlatform('linux', { os: 'linux', architecture: 'arm64', variant: 'v8' }), {
      os: 'linux',
      architecture: 'arm64',
    });
  });
  it('uses this machine by default', () =>
    assert.equal(parsePlatform('linux').architecture, hostPlatform().architecture));

  const bad: Array<[string, RegExp]> = [
    ['linux/*', /wildcards/],
    ['linux/amd64/v1/x', /at most two "\/"/],
    ['', /"" is not an OS/],
    ['linux/', /"" may only hold/],
    ['linux/am d64', /"am d64" may only hold/],
    ['lunix', /neither a known operating system nor a known architecture/],
    ['linux(10%zz)/amd64', /malformed %-escape/],
  ];
  for (const [spec, says] of bad) {
    it(`rejects ${JSON.stringify(spec)}`, () => {
      assert.throws(
        () => p(spec),
        (err: unknown) => {
          assert.ok(isSlipwayError(err, 'INVALID_ARGUMENT'));
          assert.match(err.message, says);
          assert.match(err.message, /a valid example: linux\/arm64\/v8/);
          return true;
        },
      );
    });
  }
});

describe('formatPlatform', () => {
  const cases: Array<[Platform, string]> = [
    [{ os: 'linux', architecture: 'amd64' }, 'linux/amd64'],
    [{ os: 'linux', architecture: 'arm', variant: 'v7' }, 'linux/arm/v7'],
    [{ os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' }, 'windows(10.0.17763.1)/amd64'],
    [{ os: 'windows', architecture: 'amd64', 'os.features': ['z', 'a+b'] }, 'windows(+a%2Bb+z)/amd64'],
    [{ os: '', architecture: 'amd64' }, 'unknown'],
  ];
  for (const [platform, text] of cases) {
    it(text, () => {
      assert.equal(formatPlatform(platform), text);
      if (platform.os) assert.deepEqual(normalizePlatform(p(text)), normalizePlatform(platform));
    });
  }
});

describe('normalizePlatform', () => {
  it('resolves aliases and default variants', () => {
    assert.deepEqual(normalizePlatform({ os: 'Linux', architecture: 'aarch64', variant: 'v8' }), {
      os: 'linux',
      architecture: 'arm64',
    });
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'amd64', variant: 'v1' }), {
      os: 'linux',
      architecture: 'amd64',
    });
    assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'arm' }), {
      os: 'linux',
      architecture: 'arm',
      variant: 'v7',
    });
  });
  it('sorts and de-duplicates os.features, keeps other fields', () => {
    assert.deepEqual(
      normalizePlatform({ os: 'windows', architecture: 'amd64', 'os.features': ['b', 'a', 'b'], features: ['sse4'] }),
      {
        os: 'windows',
        architecture: 'amd64',
        'os.features': ['a', 'b'],
        features: ['sse4'],
      },
    );
  });
});

describe('platformMatches', () => {
  const cases: Array<[want: string, have: Platform, expected: boolean]> = [
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }, true],
    ['linux/amd64', { os: 'linux', architecture: 'amd64', variant: 'v1' }, true],
    ['linux/amd64/v1', { os: 'linux', architecture: 'amd64' }, true],
    ['linux/amd64', { os: 'linux', architecture: 'amd64', variant: 'v3' }, false],
    ['linux/amd64', { os: 'linux', architecture: '386' }, false],
    ['linux/amd64', { os: 'windows', architecture: 'amd64' }, false],
    ['linux/arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' }, true],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64' }, true],
    ['linux/arm64', { os: 'linux', architecture: 'aarch64' }, true],
    ['linux/arm64', { os: 'linux', architecture: 'arm64', variant: 'v8.2' }, false],
    ['linux/arm', { os: 'linux', architecture: 'arm', variant: 'v7' }, true],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm' }, true],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v6' }, false],
    ['linux/arm/v6', { os: 'linux', architecture: 'arm', variant: 'v7' }, false],
    ['linux/amd64', { os: 'Linux', architecture: 'x86_64' }, true],
    ['unknown/unknown', { os: 'linux', architecture: 'amd64' }, false],
  ];
  for (const [want, have, expected] of cases) {
    it(`${want} ${expected ? 'matches' : 'does not match'} ${formatPlatform(have)}`, () => {
      assert.equal(platformMatches(p(want), have), expected);
    });
  }
  it('wants the image os.features to be offered', () => {
    const want: Platform = { os: 'windows', architecture: 'amd64', 'os.features': ['win32k'] };
    assert.equal(platformMatches(want, { os: 'windows', architecture: 'amd64', 'os.features': ['win32k'] }), true);
    assert.equal(platformMatches(want, { os: 'windows', architecture: 'amd64' }), true);
    assert.equal(
      platformMatches(
        { os: 'windows', architecture: 'amd64' },
        { os: 'windows', architecture: 'amd64', 'os.features': ['win32k'] },
      ),
      false,
    );
  });
  it('compares the Windows build when one is asked for', () => {
    const want: Platform = { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.2000' };
    assert.equal(platformMatches(want, { ...want, 'os.version': '10.0.17763.1' }), true);
    assert.equal(platformMatches(want, { ...want, 'os.version': '10.0.20348.1' }), false);
    assert.equal(
      platformMatches({ os: 'windows', architecture: 'amd64' }, { ...want, 'os.version': '10.0.20348.1' }),
      true,
    );
  });
});

describe('compatiblePlatforms (containerd platformVector)', () => {
  const cases: Array<[string, string[]]> = [
    ['linux/amd64', ['linux/amd64', 'linux/386']],
    ['linux/amd64/v3', ['linux/amd64/v3', 'linux/amd64/v2', 'linux/amd64', 'linux/386']],
    ['linux/386', ['linux/386']],
    ['linux/arm/v7', ['linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5']],
    ['linux/arm/v5', ['linux/arm/v5']],
    ['linux/arm64', ['linux/arm64', 'linux/arm/v8', 'linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5']],
    [
      'linux/arm64/v8.2',
      [
        'linux/arm64/v8.2',
        'linux/arm64/v8.1',
        'linux/arm64/v8',
        'linux/arm/v8',
        'linux/arm/v7',
        'linux/arm/v6',
        'linux/arm/v5',
      ],
    ],
    [
      'linux/arm64/v9',
      [
        'linux/arm64/v9',
        'linux/arm64/v8.5',
        'linux/arm64/v8.4',
        'linux/arm64/v8.3',
        'linux/arm64/v8.2',
        'linux/arm64/v8.1',
        'linux/arm64/v8',
        'linux/arm/v9',
        'linux/arm/v8',
        'linux/arm/v7',
        'linux/arm/v6',
        'linux/arm/v5',
      ],
    ],
    ['linux/s390x', ['linux/s390x']],
  ];
  for (const [spec, expected] of cases) {
    const canonical = (x: Platform) => formatPlatform(normalizePlatform(x));
    it(spec, () =>
      assert.deepEqual(
        compatiblePlatforms(p(spec)).map(canonical),
        expected.map((s) => canonical(p(s))),
      ),
    );
  }
});

describe('selectManifest', () => {
  const entry = (name: string, platform?: Platform, mediaType: string = MediaType.OciManifest): Descriptor => ({
    mediaType,
    digest: digestOf(name),
    size: 100,
    ...(platform ? { platform } : {}),
  });
  const amd64 = entry('amd64', { os: 'linux', architecture: 'amd64' });
  const arm64 = entry('arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' });
  const armv7 = entry('armv7', { os: 'linux', architecture: 'arm', variant: 'v7' });
  const armv6 = entry('armv6', { os: 'linux', architecture: 'arm', variant: 'v6' });
  const i386 = entry('386', { os: 'linux', architecture: '386' });
  const attestation = entry('att', { os: 'unknown', architecture: 'unknown' });
  const sbom = entry('sbom', { os: 'linux', architecture: 'amd64' }, 'application/vnd.example.sbom+json');
  const index = (...manifests: Descriptor[]): ImageIndex => ({
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests,
  });

  it('picks the exact platform', () => {
    const idx = index(attestation, i386, armv6, armv7, arm64, amd64);
    assert.equal(selectManifest(idx, p('linux/amd64')), amd64);
    assert.equal(selectManifest(idx, p('linux/arm64')), arm64);
    assert.equal(selectManifest(idx, p('linux/arm64/v8')), arm64);
    assert.equal(selectManifest(idx, p('linux/arm/v7')), armv7);
    assert.equal(selectManifest(idx, p('linux/arm')), armv7);
  });
  it('falls back to the best compatible platform', () => {
    assert.equal(selectManifest(index(armv6, armv7), p('linux/arm64')), armv7);
    assert.equal(selectManifest(index(armv6), p('linux/arm/v7')), armv6);
    assert.equal(selectManifest(index(i386, arm64), p('linux/amd64')), i386);
  });
  it('does not fall back when strict', () => {
    assert.equal(selectManifest(index(i386, arm64), p('linux/amd64'), { strict: true }), undefined);
    assert.equal(selectManifest(index(i386, amd64), p('linux/amd64'), { strict: true }), amd64);
  });
  it('takes a manifest without platform last, and ignores non-manifest entries', () => {
    const bare = entry('bare');
    assert.equal(selectManifest(index(bare, amd64), p('linux/amd64')), amd64);
    assert.equal(selectManifest(index(bare, arm64), p('linux/amd64')), bare);
    assert.equal(selectManifest(index(sbom), p('linux/amd64')), undefined);
  });
  it('prefers the first of equal matches, and may pick a nested index', () => {
    const second = entry('amd64-again', { os: 'linux', architecture: 'amd64' });
    assert.equal(selectManifest(index(amd64, second), p('linux/amd64')), amd64);
    const nested = entry('nested', { os: 'linux', architecture: 's390x' }, MediaType.DockerManifestList);
    assert.equal(selectManifest(index(nested), p('linux/s390x')), nested);
  });
  it('finds nothing for a platform the index lacks', () => {
    assert.equal(selectManifest(index(amd64, arm64, attestation), p('linux/s390x')), undefined);
    assert.equal(selectManifest(index(), p('linux/amd64')), undefined);
  });
});

describe('hostPlatform and nodePlatform', () => {
  const cases: Array<[Parameters<typeof nodePlatform>[0], Platform]> = [
    [
      { arch: 'x64', platform: 'linux', endianness: 'LE' },
      { os: 'linux', architecture: 'amd64' },
    ],
    [
      { arch: 'arm64', platform: 'linux', endianness: 'LE' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ],
    [
      { arch: 'arm', platform: 'linux', endianness: 'LE', armVersion: '7' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
    ],
    [
      { arch: 'arm', platform: 'linux', endianness: 'LE', armVersion: 6 },
      { os: 'linux', architecture: 'arm', variant: 'v6' },
    ],
    [
      { arch: 'arm', platform: 'linux', endianness: 'LE' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
    ],
    [
      { arch: 'ia32', platform: 'win32', endianness: 'LE' },
      { os: 'windows', architecture: '386' },
    ],
    [
      { arch: 'ppc64', platform: 'linux', endianness: 'LE' },
      { os: 'linux', architecture: 'ppc64le' },
    ],
    [
      { arch: 'ppc64', platform: 'aix', endianness: 'BE' },
      { os: 'aix', architecture: 'ppc64' },
    ],
    [
      { arch: 's390x', platform: 'linux', endianness: 'BE' },
      { os: 'linux', architecture: 's390x' },
    ],
    [
      { arch: 'riscv64', platform: 'linux', endianness: 'LE' },
      { os: 'linux', architecture: 'riscv64' },
    ],
    [
      { arch: 'mipsel', platform: 'linux', endianness: 'LE' },
      { os: 'linux', architecture: 'mipsle' },
    ],
    [
      { arch: 'x64', platform: 'darwin', endianness: 'LE' },
      { os: 'darwin', architecture: 'amd64' },
    ],
    [
      { arch: 'x64', platform: 'sunos', endianness: 'LE' },
      { os: 'solaris', architecture: 'amd64' },
    ],
  ];
  for (const [info, expected] of cases)
    it(`${info.platform}/${info.arch}`, () => assert.deepEqual(nodePlatform(info), expected));

  it('describes this machine in OCI terms', () => {
    const host = hostPlatform();
    const expectedArch: Record<string, string> = {
      x64: 'amd64',
      arm64: 'arm64',
      arm: 'arm',
      ia32: '386',
      s390x: 's390x',
    };
    assert.equal(host.architecture, expectedArch[process.arch] ?? host.architecture);
    assert.equal(host.os, process.platform === 'win32' ? 'windows' : process.platform);
    assert.ok(platformMatches(host, host));
  });
});
