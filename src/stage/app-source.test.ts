import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathFilter } from '../buildpack/cnb/project-descriptor.js';
import { appSourceEntries, copyAppSource, dockerignoreAsGitignore } from './app-source.js';

function scratch(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-app-source-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

function tree(root: string, files: Record<string, string>): void {
  for (const [p, body] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), body);
  }
}

function listAll(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const d of readdirSync(join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${d.name}` : d.name;
    out.push(p);
    if (d.isDirectory()) out.push(...listAll(root, p));
  }
  return out.sort();
}

describe('the app source a build copies', () => {
  test('a build in a directory holding the store (cwd ~ with ~/.slipway) leaves the store out', async () => {
    const { dir, done } = scratch();
    try {
      const app = join(dir, 'home');
      const store = join(app, '.slipway');
      tree(app, { 'server.js': 'x', '.slipway/metadata.sqlite': '', '.slipway/blobs/sha256/ab': 'blob' });
      // The workspace lives below the store, as a build volume's does.
      const ws = join(store, 'volumes', 'stage-1');
      mkdirSync(ws, { recursive: true });
      const r = await copyAppSource(app, ws, { skip: [store] });
      assert.deepEqual(listAll(ws), ['server.js']);
      assert.deepEqual(r.storesLeftOut, ['.slipway']);
    } finally {
      done();
    }
  });

  test('another Slipway store in the app (metadata.sqlite and blobs/) is left out too', () => {
    const { dir, done } = scratch();
    try {
      tree(dir, { 'a.txt': 'x', 'old-home/metadata.sqlite': '', 'old-home/blobs/x': '', 'lib/blobs/y': '' });
      const r = appSourceEntries(dir, { skip: [] });
      assert.deepEqual(r.entries, ['a.txt', 'lib', 'lib/blobs', 'lib/blobs/y']);
      assert.deepEqual(r.storesLeftOut, ['old-home']);
    } finally {
      done();
    }
  });

  test('.slipwayignore and .cfignore (.gitignore syntax) and .dockerignore (anchored) are honoured', async () => {
    const { dir, done } = scratch();
    try {
      const app = join(dir, 'app');
      tree(app, {
        '.slipwayignore': 'node_modules/\n*.log\n!keep.log\n',
        '.cfignore': 'secrets\n',
        '.dockerignore': 'build\n# a comment\n',
        'index.js': 'x',
        'node_modules/a/index.js': 'x',
        'sub/node_modules/b.js': 'x',
        'debug.log': 'x',
        'keep.log': 'x',
        'secrets/key': 'x',
        'build/out': 'x',
        'sub/build/kept': 'x',
      });
      const ws = join(dir, 'ws');
      mkdirSync(ws);
      const r = await copyAppSource(app, ws, { skip: [] });
      assert.deepEqual(listAll(ws), [
        '.cfignore',
        '.dockerignore',
        '.slipwayignore',
        'index.js',
        'keep.log',
        'sub',
        'sub/build',
        'sub/build/kept',
      ]);
      assert.deepEqual(r.ignoreFiles, ['.slipwayignore', '.cfignore', '.dockerignore']);
    } finally {
      done();
    }
  });

  test("project.toml's exclude applies while copying (nothing excluded is written)", async () => {
    const { dir, done } = scratch();
    try {
      const app = join(dir, 'app');
      tree(app, { 'kept.txt': 'x', 'secret/key': 'x' });
      const ws = join(dir, 'ws');
      mkdirSync(ws);
      await copyAppSource(app, ws, { skip: [], filter: pathFilter(undefined, ['secret/']) });
      assert.deepEqual(listAll(ws), ['kept.txt']);
    } finally {
      done();
    }
  });

  test('modes and hardlinks survive the copy', async () => {
    const { dir, done } = scratch();
    try {
      const app = join(dir, 'app');
      tree(app, { 'run.sh': '#!/bin/sh\n' });
      const { chmodSync, linkSync } = await import('node:fs');
      chmodSync(join(app, 'run.sh'), 0o750);
      linkSync(join(app, 'run.sh'), join(app, 'again.sh'));
      const ws = join(dir, 'ws');
      mkdirSync(ws);
      await copyAppSource(app, ws, { skip: [] });
      assert.equal(statSync(join(ws, 'run.sh')).mode & 0o777, 0o750);
      assert.equal(statSync(join(ws, 'run.sh')).ino, statSync(join(ws, 'again.sh')).ino);
    } finally {
      done();
    }
  });

  test('an app directory that is itself a store is refused with a hint', () => {
    const { dir, done } = scratch();
    try {
      tree(dir, { 'metadata.sqlite': '', 'blobs/x': '' });
      assert.throws(
        () => appSourceEntries(dir, { skip: [] }),
        /is a Slipway store; give the app's directory with --path/,
      );
    } finally {
      done();
    }
  });

  test('.dockerignore patterns become anchored .gitignore patterns', () => {
    assert.equal(dockerignoreAsGitignore('build\n!build/keep\n./dist\n# c\n'), '/build\n!/build/keep\n/dist\n\n');
  });
});
