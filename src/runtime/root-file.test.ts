import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSlipwayError } from '../errors.js';
import { lookupInRoot, readRootFile, resolveInRoot } from './root-file.js';

/** An image root beside a host directory holding a secret the root must never reach. */
let base: string;
let root: string;
let host: string;
const secret = randomBytes(16).toString('hex');
const climb = '/..'.repeat(30);

before(() => {
  base = mkdtempSync(join(tmpdir(), 'slipway-root-file-'));
  root = join(base, 'root');
  host = join(base, 'host');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(host);
  writeFileSync(join(host, 'passwd'), `intruder:x:4242:4242:${secret}:/${secret}:/bin/sh\n`);
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
  symlinkSync('loop', join(root, 'loop'));
  // 41 links in a chain, the last to "/": one more than the resolver follows.
  for (let i = 0; i < 41; i++) symlinkSync(i === 40 ? '/' : `c${i + 1}`, join(root, `c${i}`));
});
after(() => rmSync(base, { recursive: true, force: true }));

const eloop = (path: string) => (err: unknown) =>
  isSlipwayError(err, 'UNSAFE_PATH') && err.message.includes(path) && /more than 40 symlinks/.test(err.message);

describe('lookupInRoot', () => {
  it('clamps ".." at the root, in the path and in a link target', () => {
    symlinkSync(`..${climb}${host}/passwd`, join(root, 'etc/up'));
    assert.equal(resolveInRoot(root, `${climb}${host}/passwd`), join(root, host.slice(1), 'passwd'));
    assert.equal(resolveInRoot(root, '/etc/up'), join(root, host.slice(1), 'passwd'));
    assert.equal(lookupInRoot(root, '/etc/up').stat, undefined, 'nothing there inside the root');
    assert.equal(lookupInRoot(root, '/..').rel, '');
  });

  it('a symlink loop is ELOOP naming the path, never the rest joined unresolved', () => {
    const path = `/loop${climb}${host}/made`;
    assert.throws(() => lookupInRoot(root, path), eloop(path));
    assert.throws(() => lookupInRoot(root, '/loop'), eloop('/loop'));
  });

  it('more than 40 links in a chain is ELOOP; 40 are followed', () => {
    assert.throws(() => lookupInRoot(root, `/c0${host}`), eloop(`/c0${host}`));
    const at = lookupInRoot(root, '/c1/etc');
    assert.equal(at.host, join(root, 'etc'));
    assert.ok(at.stat?.isDirectory());
  });

  it('a NUL byte is refused', () => {
    assert.throws(
      () => lookupInRoot(root, '/etc/\0x'),
      (err) => isSlipwayError(err, 'INVALID_ARGUMENT'),
    );
  });
});

describe('readRootFile', () => {
  it("reads the image's file, never one of the host", () => {
    assert.equal(readRootFile(root, '/etc/group'), 'root:x:0:\n');
    symlinkSync(`${host}/passwd`, join(root, 'etc/passwd'));
    assert.equal(
      readRootFile(root, '/etc/passwd'),
      undefined,
      'an absolute link is resolved in the root, where nothing is',
    );
    assert.equal(readRootFile(root, '/etc/up'), undefined);
    assert.throws(() => readRootFile(root, `/loop${climb}${host}/passwd`), eloop('/loop'));
  });

  it('a directory or a missing parent is absent, not an error', () => {
    assert.equal(readRootFile(root, '/etc'), undefined);
    assert.equal(readRootFile(root, '/etc/group/x'), undefined);
    assert.equal(readRootFile(root, '/none/passwd'), undefined);
  });
});
