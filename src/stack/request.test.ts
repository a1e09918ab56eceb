import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSlipwayError } from '../errors.js';
import { stackRequest } from './create.js';
import { mmdebstrapArgs, mmdebstrapError } from './mmdebstrap.js';
import {
  BUILD_BASE_PACKAGES,
  RUN_BASE_PACKAGES,
  buildIncludes,
  checkStackName,
  parsePackageList,
  parseUser,
  runIncludes,
} from './request.js';

describe('stack requests', () => {
  it('normalises package lists: commas or spaces, sorted, unique', () => {
    assert.deepEqual(parsePackageList('less,file  file'), ['file', 'less']);
    assert.deepEqual(parsePackageList(['libc6:amd64=2.36-9', 'hello']), ['hello', 'libc6:amd64=2.36-9']);
    assert.throws(
      () => parsePackageList('Bad_Name'),
      (e) => isSlipwayError(e, 'INVALID_ARGUMENT') && /Bad_Name/.test(e.message),
    );
    assert.throws(
      () => parsePackageList('x;rm -rf /'),
      (e) => isSlipwayError(e, 'INVALID_ARGUMENT'),
    );
  });

  it('parses NAME:UID:GID and refuses root or a bad name', () => {
    assert.deepEqual(parseUser('app:2000:3000'), { name: 'app', uid: 2000, gid: 3000 });
    assert.throws(
      () => parseUser('app:0:0'),
      (e) => isSlipwayError(e, 'INVALID_ARGUMENT') && /non-root/.test(e.message),
    );
    assert.throws(
      () => parseUser('app'),
      (e) => isSlipwayError(e, 'INVALID_ARGUMENT') && /NAME:UID:GID/.test(e.message),
    );
    assert.throws(
      () => parseUser("a'b:1000:1000"),
      (e) => isSlipwayError(e, 'INVALID_ARGUMENT'),
    );
  });

  it('accepts stack names that make valid repositories only', () => {
    assert.equal(checkStackName('bookworm-2026'), 'bookworm-2026');
    for (const bad of ['Default', 'a/b', '-x', ''])
      assert.throws(
        () => checkStackName(bad),
        (e) => isSlipwayError(e, 'INVALID_ARGUMENT'),
        bad,
      );
  });

  it('gives equal requests for the same ask in any order, with the defaults filled in', () => {
    const a = stackRequest('s', { source: { kind: 'debian', runPackages: ['less,file'] } });
    const b = stackRequest('s', {
      source: { kind: 'debian', runPackages: ['file', 'less', 'file'], suite: 'bookworm' },
    });
    assert.deepEqual(a, b);
    assert.equal(a.stackId, 'io.slipway.stacks.s');
    assert.deepEqual(a.user, { name: 'cnb', uid: 1000, gid: 1000 });
    assert.equal(a.source === 'debian' && a.mirror.endsWith('/'), false);
  });

  it('installs into the build image everything the run image has, plus the build tools', () => {
    const req = stackRequest('s', {
      source: { kind: 'debian', runPackages: ['libgmp10'], buildPackages: ['libgmp-dev'] },
    });
    assert.equal(req.source, 'debian');
    if (req.source !== 'debian') return;
    const run = runIncludes(req);
    const build = buildIncludes(req);
    for (const p of [...RUN_BASE_PACKAGES, 'libgmp10']) assert.ok(run.includes(p), p);
    for (const p of [...run, ...BUILD_BASE_PACKAGES, 'libgmp-dev']) assert.ok(build.includes(p), p);
    assert.ok(!run.includes('build-essential'));
  });
});

describe('mmdebstrap', () => {
  it('adds the stack user with the asked uid and gid, and keeps host files out', () => {
    const args = mmdebstrapArgs({
      suite: 'bookworm',
      mirror: 'http://m/debian',
      include: ['jq'],
      user: { name: 'app', uid: 2000, gid: 3000 },
      target: '/t',
    });
    assert.ok(args.includes('--variant=minbase') && args.includes('--include=jq'));
    assert.ok(args.some((a) => a.includes('useradd') && a.includes('--uid 2000 --gid 3000') && a.endsWith(" app'")));
    assert.ok(args.some((a) => a.includes('etc/resolv.conf')));
    assert.deepEqual(args.slice(-3), ['bookworm', '/t', 'http://m/debian']);
  });

  const o = { suite: 'bookworm', mirror: 'http://deb.debian.org/debian' };
  it('names every package apt could not find', () => {
    const err = mmdebstrapError(
      [
        'I: installing remaining packages inside the chroot...',
        'E: Unable to locate package nosuch-a',
        'E: Unable to locate package nosuch-b',
        'E: setup failed: ...',
      ],
      o,
      25,
    );
    assert.equal(err.code, 'PACKAGE_UNKNOWN');
    assert.match(err.message, /"nosuch-a", "nosuch-b"/);
    assert.deepEqual(err.detail?.packages, ['nosuch-a', 'nosuch-b']);
  });

  it('tells an unknown suite from an unreachable mirror', () => {
    assert.equal(
      mmdebstrapError(
        ["E: The repository 'http://deb.debian.org/debian nosuch Release' does not have a Release file."],
        { ...o, suite: 'nosuch' },
        25,
      ).code,
      'SUITE_UNKNOWN',
    );
    assert.equal(
      mmdebstrapError(
        ['E: Failed to fetch http://127.0.0.1:9/debian/dists/bookworm/InRelease  Could not connect to 127.0.0.1:9'],
        o,
        25,
      ).code,
      'MIRROR_UNREACHABLE',
    );
    const other = mmdebstrapError(['E: something else broke'], o, 1);
    assert.equal(other.code, 'TOOL_FAILED');
    assert.match(other.message, /something else broke/);
  });
});
