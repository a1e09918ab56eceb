import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ConfinedDir } from './confined-dir.js';

const mkfifoSync = (path: string) => execFileSync('mkfifo', [path]);

describe('ConfinedDir: host I/O below a directory a container writes', () => {
  let root: string;
  let outside: string;
  let dir: ConfinedDir;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'confined-'));
    outside = mkdtempSync(join(tmpdir(), 'outside-'));
    writeFileSync(join(outside, 'secret'), 'host secret');
    mkdirSync(join(root, 'a', 'b'), { recursive: true });
    writeFileSync(join(root, 'a', 'b', 'f.toml'), 'x = 1');
    symlinkSync(outside, join(root, 'evil'));
    symlinkSync(join(outside, 'secret'), join(root, 'a', 'link'));
    mkfifoSync(join(root, 'fifo'));
    dir = ConfinedDir.open(root);
  });
  after(() => {
    dir.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('reads files and lists directories below the anchor', () => {
    assert.equal(dir.readText('a/b/f.toml'), 'x = 1');
    assert.deepEqual(dir.readdir('a'), ['b', 'link']);
    assert.equal(dir.readText('a/missing'), undefined);
    assert.equal(dir.readText('nothing/here/x'), undefined);
    assert.equal(dir.readdir('nope'), undefined);
    assert.equal(dir.lstat('a/link')?.isSymbolicLink(), true);
  });

  it('refuses a symlink anywhere on the path, naming it', () => {
    assert.throws(
      () => dir.readText('a/link'),
      (e: Error & { code?: string }) =>
        e.code === 'UNSAFE_PATH' && /a\/link/.test(e.message) && /symlink/.test(e.message),
    );
    assert.throws(
      () => dir.readText('evil/secret'),
      (e: Error & { code?: string }) => e.code === 'UNSAFE_PATH' && /evil/.test(e.message),
    );
    assert.throws(() => dir.readdir('evil'), { code: 'UNSAFE_PATH' });
    assert.throws(() => dir.mkdir('evil/new'), { code: 'UNSAFE_PATH' });
    assert.throws(() => dir.writeFile('evil/planted', 'x'), { code: 'UNSAFE_PATH' });
    assert.equal(existsSync(join(outside, 'new')), false);
    assert.equal(existsSync(join(outside, 'planted')), false);
    assert.throws(() => dir.readText('../x'), { code: 'UNSAFE_PATH' });
    assert.throws(() => dir.readText('/etc/passwd'), { code: 'UNSAFE_PATH' });
  });

  it('does not block on a FIFO where a file was expected, and caps what it reads', () => {
    assert.throws(() => dir.readText('fifo'), { code: 'UNSAFE_PATH' });
    writeFileSync(join(root, 'big'), Buffer.alloc(2048));
    assert.throws(() => dir.readFile('big', 1024), { code: 'TOO_LARGE' });
  });

  it('writes by replacing the name, never through a link that is there', () => {
    symlinkSync(join(outside, 'secret'), join(root, 'a', 'b', 'target'));
    dir.writeFile('a/b/target', 'new', { mode: 0o640, uid: 1234, gid: 4321 });
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'host secret');
    const st = lstatSync(join(root, 'a', 'b', 'target'));
    assert.ok(st.isFile());
    assert.equal(st.mode & 0o777, 0o640);
    assert.equal(st.uid, 1234);
    assert.equal(readFileSync(join(root, 'a', 'b', 'target'), 'utf8'), 'new');
  });

  it('makes directories with owners, renames and removes without following links', () => {
    dir.mkdir('m/n/o', { uid: 1000, gid: 1000 });
    assert.equal(statSync(join(root, 'm', 'n', 'o')).uid, 1000);
    dir.writeFile('m/n/o/file', 'content');
    dir.rename('m/n/o/file', 'a/moved');
    assert.equal(readFileSync(join(root, 'a', 'moved'), 'utf8'), 'content');
    symlinkSync(outside, join(root, 'm', 'n', 'out'));
    dir.remove('m');
    assert.equal(existsSync(join(root, 'm')), false);
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'host secret');
    dir.remove('never-was');
  });

  it('chowns the node itself and refuses a symlink', () => {
    dir.chown('a/b/f.toml', 77, 88);
    assert.equal(statSync(join(root, 'a', 'b', 'f.toml')).uid, 77);
    assert.throws(() => dir.chown('a/link', 77, 88), { code: 'UNSAFE_PATH' });
    assert.notEqual(statSync(join(outside, 'secret')).uid, 77);
  });

  it('creates a file exclusively and keeps the inode it made', () => {
    const fd = dir.createFile('out.log', { uid: 1000, gid: 1000 });
    try {
      assert.throws(() => dir.createFile('out.log'), { code: 'UNSAFE_PATH' });
      writeFileSync(join(root, 'out.log'), 'written by the container');
      rmSync(join(root, 'out.log'));
      symlinkSync(join(outside, 'secret'), join(root, 'out.log'));
      writeSync(fd, 'x'); // the host's own inode, whatever the name now is
      const buf = Buffer.alloc(64);
      const n = readSync(fd, buf, 0, 64, 0);
      assert.match(buf.subarray(0, n).toString(), /^x/);
    } finally {
      closeSync(fd);
    }
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'host secret');
  });

  it('opens a sub-directory as an anchor of its own', () => {
    const sub = dir.openDir('a/b');
    try {
      assert.equal(sub.readText('f.toml'), 'x = 1');
    } finally {
      sub.close();
    }
    assert.throws(() => dir.openDir('evil'), { code: 'UNSAFE_PATH' });
  });
});
