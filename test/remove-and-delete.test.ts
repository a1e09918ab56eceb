import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import {
  freePort,
  makeFixtureTree,
  slipway,
  slipwayOk,
  startSlipwayRegistry,
  tempDir,
  type RegistryProcess,
} from './helpers.js';

/**
 * Issue 24's destructive defaults and messages, in the local store: `rm` removes
 * containers only, `rmi` says what it really untagged and deleted, a destination that
 * is only a registry host is refused with the full form, `ps -a` works.
 */
describe('rm, rmi and destinations that point the way', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let digest: string;

  before(async () => {
    work = await tempDir('remove');
    home = join(work.path, 'home');
    const rootfs = join(work.path, 'rootfs');
    await makeFixtureTree(rootfs);
    await slipwayOk(home, ['import', '--rootfs', rootfs, 'foo/bar:baz']);
    await slipwayOk(home, ['tag', 'foo/bar:baz', 'foo/bar:other']);
    await slipwayOk(home, ['tag', 'foo/bar:baz', 'foo/x:y']);
    digest = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'foo/bar:baz'])).digest;
  });
  after(() => work.cleanup());

  test('rm of an image name refuses, points to rmi, and removes nothing', async () => {
    const r = await slipway(home, ['rm', 'foo/bar:baz']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /foo\/bar:baz is an image, not a container/);
    assert.match(r.stderr, /slipway rmi foo\/bar:baz/);
    await slipwayOk(home, ['inspect', 'foo/bar:baz']);
    const none = await slipway(home, ['rm', 'no-such-thing']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no container named no-such-thing \(`slipway ps` lists them\)/);
  });

  test('rmi NAME:TAG untags only while another tag names the image, as docker rmi says it', async () => {
    assert.equal((await slipwayOk(home, ['rmi', 'foo/bar:baz'])).trim(), 'Untagged: foo/bar:baz');
    await slipwayOk(home, ['inspect', 'foo/bar:other']);
    // The last tag of foo/bar: the manifest leaves foo/bar, but foo/x:y still names the image.
    assert.equal((await slipwayOk(home, ['rmi', 'foo/bar:other'])).trim(), 'Untagged: foo/bar:other');
    assert.equal(JSON.parse(await slipwayOk(home, ['inspect', '--json', 'foo/x:y'])).digest, digest);
    const last = JSON.parse(await slipwayOk(home, ['--json', 'rmi', 'foo/x:y']));
    assert.deepEqual(last, [{ image: 'foo/x:y', untagged: ['foo/x:y'], deleted: [digest] }]);
  });

  test('push or copy to HOST:PORT or a bare host name is refused with the full form', async () => {
    await slipwayOk(home, ['import', '--rootfs', join(work.path, 'rootfs'), 'procfile-app']);
    for (const [args, shown] of [
      [['push', 'procfile-app', '127.0.0.1:5000'], '127.0.0.1:5000/procfile-app:latest'],
      [['push', 'procfile-app', 'registry.example.com'], 'registry.example.com/procfile-app:latest'],
      [['push', 'procfile-app', 'localhost:5000'], 'localhost:5000/procfile-app:latest'],
      [['copy', 'procfile-app', '127.0.0.1:5000'], '127.0.0.1:5000/procfile-app:latest'],
      [['copy', 'procfile-app', 'docker://registry.example.com'], 'registry.example.com/procfile-app:latest'],
    ] as const) {
      const r = await slipway(home, [...args]);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, /names a registry but no repository/, args.join(' '));
      assert.ok(r.stderr.includes(`e.g. ${shown}`), `${args.join(' ')}: ${r.stderr}`);
    }
    // A local name is still a local name.
    await slipwayOk(home, ['copy', 'procfile-app', 'procfile-app:2']);
  });

  test('ps -a and ps --all are accepted', async () => {
    assert.deepEqual(JSON.parse(await slipwayOk(home, ['--json', 'ps', '-a'])), []);
    assert.deepEqual(JSON.parse(await slipwayOk(home, ['--json', 'ps', '--all'])), []);
  });
});

/** `slipway delete` through a registry that serves the CLI's own store (issue 24 item 3). */
describe('slipway delete NAME:TAG removes that tag only', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let registry: RegistryProcess;
  let digest: string;

  before(async () => {
    work = await tempDir('delete-tag');
    home = join(work.path, 'home');
    const rootfs = join(work.path, 'rootfs');
    await makeFixtureTree(rootfs);
    await slipwayOk(home, ['import', '--rootfs', rootfs, 'base/debian:bookworm']);
    for (const tag of ['old', 'x', 'y']) await slipwayOk(home, ['tag', 'base/debian:bookworm', `base/debian:${tag}`]);
    digest = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'base/debian:bookworm'])).digest;
    registry = await startSlipwayRegistry(home);
  });
  after(async () => {
    await registry?.stop();
    await work.cleanup();
  });

  const localTags = async () =>
    (JSON.parse(await slipwayOk(home, ['--json', 'images'])) as { name: string; tag: string }[])
      .filter((i) => i.name === 'base/debian')
      .map((i) => i.tag)
      .sort();

  test('the other tags of the manifest stay, in the registry and in the local store it serves', async () => {
    const out = await slipwayOk(home, ['delete', `${registry.host}/base/debian:old`]);
    assert.match(out, new RegExp(`^Untagged: ${registry.host}/base/debian:old\n`));
    assert.doesNotMatch(out, /Deleted/);
    assert.deepEqual(JSON.parse(await slipwayOk(home, ['--json', 'tags', `${registry.host}/base/debian`])).sort(), [
      'bookworm',
      'x',
      'y',
    ]);
    assert.deepEqual(await localTags(), ['bookworm', 'x', 'y']);
    assert.equal((await slipwayOk(home, ['digest', `${registry.host}/base/debian:bookworm`])).trim(), digest);
    const json = JSON.parse(await slipwayOk(home, ['--json', 'delete', `${registry.host}/base/debian:y`]));
    assert.deepEqual(json, { digest, untagged: ['y'], deleted: [], method: 'tag' });
  });

  test('by digest, or --all-tags, the manifest goes and the tags that went with it are named', async () => {
    await slipwayOk(home, ['tag', 'base/debian:bookworm', 'base/debian:z']);
    const out = await slipwayOk(home, ['delete', '--all-tags', `${registry.host}/base/debian:x`]);
    assert.equal(
      out.trim(),
      [
        `Untagged: ${registry.host}/base/debian:bookworm`,
        `Untagged: ${registry.host}/base/debian:x`,
        `Untagged: ${registry.host}/base/debian:z`,
        `Deleted: ${registry.host}/base/debian@${digest}`,
      ].join('\n'),
    );
    assert.deepEqual(await localTags(), []);
    const gone = await slipway(home, ['delete', `${registry.host}/base/debian@${digest}`]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /MANIFEST_UNKNOWN/);
  });
});

/** Issue 24 item 8: valid credentials outside the grant are DENIED (403), and the CLI says what was refused. */
describe('a push outside the grant with valid credentials', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let registry: RegistryProcess;
  const env = (dir: string, creds: string): NodeJS.ProcessEnv => ({
    HOME: dir,
    DOCKER_CONFIG: join(dir, '.docker'),
    XDG_RUNTIME_DIR: join(dir, 'run'),
    XDG_CONFIG_HOME: join(dir, '.config'),
    REGISTRY_AUTH_FILE: join(dir, 'auth.json'),
    SLIPWAY_CREDS: creds,
  });

  before(async () => {
    work = await tempDir('denied');
    home = join(work.path, 'home');
    const rootfs = join(work.path, 'rootfs');
    await makeFixtureTree(rootfs);
    await slipwayOk(home, ['import', '--rootfs', rootfs, 'app:1']);
    await slipwayOk(
      home,
      ['registry', 'user', 'add', 'bob', '--password-stdin', '--grant', 'team/:pull'],
      {},
      'bob-pw',
    );
    registry = await startSlipwayRegistry(home, ['--auth', 'token']);
  });
  after(async () => {
    await registry?.stop();
    await work.cleanup();
  });

  test('is 403 DENIED naming the user, the action and the repository, not a hint to log in', async () => {
    const r = await slipway(home, ['push', 'app:1', `${registry.host}/team/app:1`], env(work.path, 'bob:bob-pw'));
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /DENIED: user bob may not push on repository team\/app at /);
    assert.match(r.stderr, /lack this permission/);
    assert.doesNotMatch(r.stderr, /slipway login/);
    // A build checks the destination before building: refused at once, with nothing built.
    const build = await slipway(
      home,
      ['build', `${registry.host}/team/app:1`, '--path', join(work.path, 'rootfs')],
      env(work.path, 'bob:bob-pw'),
    );
    assert.equal(build.code, 1);
    assert.match(build.stderr, /cannot be pushed to \(checked before starting\): DENIED: user bob may not push/);
    assert.doesNotMatch(build.stderr, /DETECTING/);
    // Without credentials it is still a matter of logging in.
    const anonymous = await slipway(home, ['push', 'app:1', `${registry.host}/team/app:1`], env(work.path, ''));
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr, /UNAUTHORIZED.*slipway login/);
  });
});

describe('a build to an unreachable registry', () => {
  test('fails at once, before building, saying the registry cannot be reached', async () => {
    const work = await tempDir('unreachable');
    try {
      const app = join(work.path, 'app');
      await makeFixtureTree(app);
      const port = await freePort(); // nothing listens there
      const started = Date.now();
      // No stack exists in this home: had the build started, it would fail on that instead.
      const r = await slipway(join(work.path, 'home'), ['build', `127.0.0.1:${port}/team/app:1`, '--path', app]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /cannot be pushed to \(checked before starting\): cannot reach the registry 127\.0\.0\.1:/,
      );
      assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
    } finally {
      await work.cleanup();
    }
  });

  test('fails at once too when the image name comes from project.toml', async () => {
    const work = await tempDir('unreachable-project');
    try {
      const app = join(work.path, 'app');
      await makeFixtureTree(app);
      const port = await freePort();
      await writeFile(
        join(app, 'project.toml'),
        `[_]\nschema-version = "0.2"\nname = "127.0.0.1:${port}/team/app:1"\n`,
      );
      const r = await slipway(join(work.path, 'home'), ['build', '--path', app]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(`127\\.0\\.0\\.1:${port}/team/app:1 cannot be pushed to \\(checked before starting\\)`),
      );
      assert.doesNotMatch(r.stderr, /DETECTING|stack/);
    } finally {
      await work.cleanup();
    }
  });
});
