import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { gatherAppFiles } from './app-files.js';
import { interpolate, locateManifest, pushManifest, readVars } from './manifest.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slipway-cf-manifest-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('push manifests (the cf CLI manifestparser and flag overrides)', () => {
  it('makes a manifest from the flags: path absolute, default-route, the flags as keys', async () => {
    const m = await pushManifest({
      cwd: dir,
      appName: 'web',
      vars: {},
      flags: { buildpacks: ['nodejs_buildpack'], instances: 2, memory: '256M', disk: '1G', command: 'node x.js' },
    });
    assert.equal(m.file, undefined);
    const doc = parse(m.yaml) as { applications: Record<string, unknown>[] };
    assert.deepEqual(doc.applications, [
      {
        name: 'web',
        buildpacks: ['nodejs_buildpack'],
        instances: 2,
        memory: '256M',
        disk_quota: '1G',
        command: 'node x.js',
        path: m.apps[0]!.path,
        'default-route': true,
      },
    ]);
  });

  it('lays flags over the file: the web process gets the scale, other spellings of a key give way, no default route with no-route', async () => {
    const file = join(dir, 'manifest.yml');
    await writeFile(
      file,
      [
        'applications:',
        '- name: one',
        '  diskQuota: 512M',
        '  routes: [{route: one.example.com}]',
        '  processes:',
        '  - type: web',
        '    instances: 1',
        '  - type: worker',
        '    instances: 1',
        '- name: two',
        '  path: sub',
        '',
      ].join('\n'),
    );
    await mkdir(join(dir, 'sub'), { recursive: true });
    const m = await pushManifest({
      cwd: dir,
      file,
      appName: 'one',
      vars: {},
      flags: { instances: 3, disk: '2G', noRoute: true },
    });
    const [one] = (parse(m.yaml) as { applications: Record<string, unknown>[] }).applications;
    assert.deepEqual(one, {
      name: 'one',
      processes: [
        { type: 'web', instances: 3, disk_quota: '2G' },
        { type: 'worker', instances: 1 },
      ],
      diskQuota: '512M',
      'no-route': true,
      path: m.apps[0]!.path,
    });
    // Both apps without a name on the command line; paths are relative to the manifest.
    const both = await pushManifest({ cwd: '/', file, vars: {}, flags: {} });
    assert.deepEqual(
      both.apps.map((a) => a.name),
      ['one', 'two'],
    );
    assert.equal(both.apps[1]!.path, join(dir, 'sub'));
    await assert.rejects(
      pushManifest({ cwd: '/', file, vars: {}, flags: { instances: 2 } }),
      /cannot be applied when pushing multiple apps/,
    );
    await assert.rejects(
      pushManifest({ cwd: '/', file, appName: 'three', vars: {}, flags: {} }),
      /Could not find app named 'three'/,
    );
  });

  it('a lone app of the manifest takes the name given; ((vars)) are filled, typed when whole', async () => {
    const file = join(dir, 'vars.yml');
    await writeFile(file, 'applications:\n- name: ((name))\n  instances: ((n))\n  env: {URL: "https://((host))/x"}\n');
    const vars = await readVars([], ['name=api', 'n=2', 'host=example.com']);
    const m = await pushManifest({ cwd: dir, file, appName: 'renamed', vars, flags: {} });
    const [app] = (parse(m.yaml) as { applications: Record<string, unknown>[] }).applications;
    assert.equal(app!.name, 'renamed');
    assert.equal(app!.instances, 2);
    assert.deepEqual(app!.env, { URL: 'https://example.com/x' });
    assert.throws(
      () => interpolate({ a: '((missing))', b: '((also))' }, {}),
      /Expected to find variables: also, missing/,
    );
  });

  it('finds manifest.yml in a directory, and says when a given path is missing', async () => {
    assert.equal(await locateManifest(undefined, join(dir, 'sub')), undefined);
    assert.equal(await locateManifest(undefined, dir), join(dir, 'manifest.yml'));
    assert.equal(await locateManifest('.', dir), join(dir, 'manifest.yml'));
    await assert.rejects(locateManifest('nope.yml', dir), /The specified path 'nope.yml' does not exist/);
  });
});

describe('app files (the cf CLI GatherDirectoryResources)', () => {
  it('walks the directory: .cfignore and the default ignores leave files out; sha1, size and octal mode', async () => {
    const app = join(dir, 'app');
    await mkdir(join(app, '.git'), { recursive: true });
    await mkdir(join(app, 'node_modules/x'), { recursive: true });
    await mkdir(join(app, 'src'), { recursive: true });
    await writeFile(join(app, '.git/HEAD'), 'x');
    await writeFile(join(app, '.gitignore'), 'x');
    await writeFile(join(app, 'manifest.yml'), 'x');
    await writeFile(join(app, 'node_modules/x/index.js'), 'x');
    await writeFile(join(app, 'src/a.js'), 'hello');
    await writeFile(join(app, 'src/a.log'), 'log');
    await writeFile(join(app, 'run'), '#!/bin/sh\n', { mode: 0o755 });
    await writeFile(join(app, 'empty'), '');
    await symlink('src/a.js', join(app, 'link'));
    await writeFile(join(app, '.cfignore'), 'node_modules/\n*.log\n');
    const { files } = await gatherAppFiles(app);
    assert.deepEqual(
      files.map((f) => [f.path, f.kind, f.mode, f.size]),
      [
        ['empty', 'file', '644', 0],
        ['link', 'symlink', '777', 0],
        ['run', 'file', '755', 10],
        ['src', 'dir', '755', 0],
        ['src/a.js', 'file', '644', 5],
      ],
    );
    assert.equal(files.find((f) => f.path === 'src/a.js')?.sha1, 'aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d');
    assert.equal(files.find((f) => f.path === 'link')?.target, 'src/a.js');
    await assert.rejects(gatherAppFiles(join(dir, 'absent')), /does not exist/);
  });
});
