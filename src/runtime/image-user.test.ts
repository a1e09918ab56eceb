import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSlipwayError } from '../errors.js';
import { resolveUser } from './image-user.js';
import { resolveInRoot } from './root-file.js';

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'slipway-user-'));
  mkdirSync(join(root, 'etc'));
  writeFileSync(
    join(root, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n# comment\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n',
  );
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nsudo:x:27:app\napp:x:1001:\nstaff:x:50:other,app\nusers:x:100:\n');
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('resolveUser', () => {
  it('defaults to root with its home', () => {
    assert.deepEqual(resolveUser(root, undefined), { uid: 0, gid: 0, additionalGids: [], home: '/root' });
  });

  it('resolves a name to its uid, primary gid, and the groups listing it', () => {
    assert.deepEqual(resolveUser(root, 'app'), { uid: 1000, gid: 1001, additionalGids: [27, 50], home: '/home/app' });
  });

  it('takes an explicit group (by name or number) without supplementary groups', () => {
    assert.deepEqual(resolveUser(root, 'app:users'), { uid: 1000, gid: 100, additionalGids: [], home: '/home/app' });
    assert.deepEqual(resolveUser(root, '1000:4242'), { uid: 1000, gid: 4242, additionalGids: [], home: '/home/app' });
  });

  it('accepts a uid the image does not know, with gid 0', () => {
    assert.deepEqual(resolveUser(root, '4321'), { uid: 4321, gid: 0, additionalGids: [] });
  });

  it('refuses unknown names', () => {
    assert.throws(
      () => resolveUser(root, 'ghost'),
      (err) => isSlipwayError(err, 'NOT_FOUND') && err.message.includes('ghost'),
    );
    assert.throws(
      () => resolveUser(root, 'app:ghosts'),
      (err) => isSlipwayError(err, 'NOT_FOUND') && err.message.includes('ghosts'),
    );
  });
});

describe('resolveInRoot', () => {
  it('follows links as if the root were /, never out of it', () => {
    mkdirSync(join(root, 'data'));
    symlinkSync('/etc', join(root, 'data/abs'));
    symlinkSync('../../../../etc/passwd', join(root, 'data/up'));
    assert.equal(resolveInRoot(root, '/data/abs/passwd'), join(root, 'etc/passwd'));
    assert.equal(resolveInRoot(root, '/data/up'), join(root, 'etc/passwd'));
    assert.equal(resolveInRoot(root, '/../../etc/group'), join(root, 'etc/group'));
  });
});
