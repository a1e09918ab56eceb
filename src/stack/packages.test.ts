import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { diffPackages, formatDiff, isEmptyDiff, parseDpkgStatus } from './packages.js';
import { parseOsRelease } from './os-release.js';

const STATUS = `Package: jq
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 1.6-2.1
Description: lightweight and flexible command-line JSON processor
 jq is like sed for JSON data.
 .
 Version: not a field

Package: removed-one
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: libc6
Status: install ok installed
Architecture: i386
Multi-Arch: same
Version: 2.36-9+deb12u4

Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 2.36-9+deb12u4

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1
`;

describe('parseDpkgStatus', () => {
  it('records installed packages only, keyed name (or name:arch for a foreign architecture)', () => {
    assert.deepEqual(parseDpkgStatus(STATUS, 'amd64'), {
      jq: '1.6-2.1',
      libc6: '2.36-9+deb12u4',
      'libc6:i386': '2.36-9+deb12u4',
      tzdata: '2024a-0+deb12u1',
    });
  });

  const rootfs = '/var/cache/slipway/test-rootfs-bookworm-minbase';
  it('agrees with dpkg-query on a real Debian rootfs', {
    skip: !existsSync(`${rootfs}/var/lib/dpkg/status`) && 'no cached test rootfs',
  }, () => {
    const ours = parseDpkgStatus(readFileSync(`${rootfs}/var/lib/dpkg/status`, 'utf8'), 'amd64');
    const theirs = execFileSync(
      'dpkg-query',
      [`--admindir=${rootfs}/var/lib/dpkg`, '-W', '-f', '${db:Status-Abbrev}|${Package}|${Version}\n'],
      { encoding: 'utf8' },
    );
    const expected = Object.fromEntries(
      theirs
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('ii'))
        .map((l) => l.split('|').slice(1) as [string, string]),
    );
    assert.ok(Object.keys(expected).length > 50, 'a minbase rootfs has dozens of packages');
    assert.deepEqual(ours, expected);
  });
});

describe('diffPackages', () => {
  it('lists added, removed and changed packages by name', () => {
    const d = diffPackages({ a: '1', b: '1', c: '1' }, { b: '1', c: '2', d: '1' });
    assert.deepEqual(d, {
      added: [{ name: 'd', to: '1' }],
      removed: [{ name: 'a', from: '1' }],
      changed: [{ name: 'c', from: '1', to: '2' }],
    });
    assert.deepEqual(formatDiff(d), ['+ d 1', '- a 1', '~ c 1 -> 2']);
    assert.equal(isEmptyDiff(d), false);
    assert.equal(isEmptyDiff(diffPackages({ a: '1' }, { a: '1' })), true);
  });
});

describe('parseOsRelease', () => {
  it('reads ID and VERSION_ID, quoted or not', () => {
    const os = parseOsRelease(
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n',
    );
    assert.deepEqual(os, {
      id: 'debian',
      versionId: '12',
      prettyName: 'Debian GNU/Linux 12 (bookworm)',
      versionCodename: 'bookworm',
    });
  });
});
