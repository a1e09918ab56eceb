import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RuntimePaths } from '../src/runtime/paths.js';
import { RuntimeState } from '../src/runtime/state.js';
import { type RawEntry, tarBuffer } from './fixtures/hostile/tar.js';
import { debianRootfs, freePort, podmanEnv, ROOT, run, slipway, slipwayOk, tempDir } from './helpers.js';

/**
 * `slipway run` end to end, as root, with the real runc, overlayfs and a real Debian
 * root filesystem (mmdebstrap minbase). Nothing is mocked.
 */
const isRoot = process.getuid?.() === 0;

describe('slipway run', { skip: !isRoot && 'running containers needs root' }, () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let rootfs: string;
  let layout: string;

  before(async () => {
    work = await tempDir('runtime');
    home = join(work.path, 'home');
    layout = join(work.path, 'layout');
    rootfs = await debianRootfs();
    await slipwayOk(home, ['import', '--rootfs', rootfs, 'debian:bookworm', '--cmd', '/bin/bash']);
    await slipwayOk(home, ['copy', 'debian:bookworm', `oci:${layout}:base`]);
  });
  after(async () => {
    // Containers left by a failed test must not keep mounts below the temp dir.
    const state = existsSync(new RuntimePaths(home).stateDb)
      ? new RuntimeState(new RuntimePaths(home).stateDb)
      : undefined;
    for (const c of state?.containers() ?? []) await slipway(home, ['container', 'rm', '--force', c.name]);
    state?.close();
    await work.cleanup();
  });

  const state = () => new RuntimeState(new RuntimePaths(home).stateDb);

  /** The Debian image plus a layer that deletes /etc/debian_version and makes /usr/share/doc opaque with one file. */
  const whiteoutImage = () =>
    extendLayout(layout, 'base', 'whiteouts', [
      [
        { name: 'etc', type: 'directory' },
        { name: 'etc/.wh.debian_version' },
        { name: 'usr', type: 'directory' },
        { name: 'usr/share', type: 'directory' },
        { name: 'usr/share/doc', type: 'directory' },
        { name: 'usr/share/doc/.wh..wh..opq' },
        { name: 'usr/share/doc/only-me', content: 'new\n' },
      ],
    ]);

  test('runs a command of a Debian image and passes its exit code on', async () => {
    const out = await slipway(home, ['run', '--rm', 'debian:bookworm', '--', 'cat', '/etc/debian_version']);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, readFileSync(join(rootfs, 'etc/debian_version'), 'utf8'));
    const failing = await slipway(home, [
      'run',
      '--rm',
      'debian:bookworm',
      '--',
      'sh',
      '-c',
      'echo to stderr >&2; exit 7',
    ]);
    assert.equal(failing.code, 7);
    assert.match(failing.stderr, /to stderr/);
    const missing = await slipway(home, ['run', '--rm', 'debian:bookworm', '--', 'no-such-command']);
    assert.equal(missing.code, 127, 'a command that is not there exits 127, as in docker and a shell');
    assert.match(missing.stderr, /no-such-command.*not found/);
    assert.equal(
      (await slipway(home, ['run', '--rm', 'debian:bookworm', '--', '/etc/passwd'])).code,
      126,
      'one that cannot be executed exits 126',
    );
    // --timings: every phase of a cached start, in order, and a total that is their sum.
    const timed = await slipway(home, ['run', '--rm', '--timings', 'debian:bookworm', '--', 'true']);
    assert.equal(timed.code, 0, timed.stderr);
    const line = /^timings: (.*)$/m.exec(timed.stderr)?.[1] ?? '';
    const phases = [...line.matchAll(/([a-z ,()]+?) (\d+\.\d) ms/g)].map((m) => [
      m[1]!.replace(/^, /, ''),
      Number(m[2]),
    ]);
    assert.deepEqual(
      phases.map(([name]) => name),
      [
        'cli start',
        'image (layers cached)',
        'overlay mount and spec',
        'runc create and start',
        'process, to its exit',
        'unmount and cleanup',
        'total',
      ],
      timed.stderr,
    );
    const sum = phases.slice(0, -1).reduce((n, [, ms]) => n + (ms as number), 0);
    assert.ok(Math.abs(sum - (phases.at(-1)![1] as number)) < 0.5, line);
  });

  test("the image config decides the process: Cmd, Env, WorkingDir, User from the image's /etc/passwd", async () => {
    await slipwayOk(home, [
      'import',
      '--rootfs',
      rootfs,
      'debian:configured',
      '--cmd',
      '["sh","-c","echo $GREETING; id -un; id -G; pwd; echo $HOME"]',
      '--env',
      'GREETING=hello',
      '--workdir',
      '/var/tmp/app',
      '--user',
      'nobody',
    ]);
    const out = await slipwayOk(home, ['run', '--rm', 'debian:configured']);
    const nogroup = /^nogroup:x:(\d+):/m.exec(readFileSync(join(rootfs, 'etc/group'), 'utf8'))![1];
    assert.deepEqual(out.trim().split('\n'), ['hello', 'nobody', nogroup, '/var/tmp/app', '/nonexistent']);
    const override = await slipwayOk(home, [
      'run',
      '--rm',
      '-e',
      'GREETING=bye',
      '--port',
      '8123',
      '--user',
      'root',
      '--entrypoint',
      '/bin/sh',
      'debian:configured',
      '--',
      '-c',
      'echo $GREETING $PORT; id -u',
    ]);
    assert.deepEqual(override.trim().split('\n'), ['bye 8123', '0']);
  });

  test('SIGTERM to `slipway run` stops a sleeping container promptly', async () => {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin/slipway.js'), 'run', '--name', 'sleeper', 'debian:bookworm', '--', 'sleep', '600'],
      {
        env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: home },
        stdio: 'ignore',
      },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor(() => {
      const s = state();
      try {
        return s.container('sleeper')?.status === 'running';
      } finally {
        s.close();
      }
    }, 'the container to run');
    const sent = Date.now();
    child.kill('SIGTERM');
    const code = await exited;
    assert.ok(Date.now() - sent < 5000, `stopped after ${Date.now() - sent} ms`);
    assert.equal(code, 128 + 15, 'sleep, under the init (not PID 1), dies of SIGTERM as it would outside a container');
    const s = state();
    assert.equal(s.container('sleeper')?.status, 'exited');
    s.close();
    assert.equal(
      existsSync(join(new RuntimePaths(home).container('sleeper'), 'rootfs/etc')),
      false,
      'its root filesystem is unmounted',
    );
    await slipwayOk(home, ['container', 'rm', 'sleeper']);
  });

  test('a whiteout in an upper layer hides the file; an opaque directory hides the lower content', async () => {
    await whiteoutImage();
    assert.ok(readdirSync(join(rootfs, 'usr/share/doc')).length > 10, 'the lower layer has docs to hide');
    const script = 'test -e /etc/debian_version && echo visible || echo hidden; ls /usr/share/doc';
    const out = await slipwayOk(home, ['run', '--rm', `oci:${layout}:whiteouts`, '--', 'sh', '-c', script]);
    assert.deepEqual(out.trim().split('\n'), ['hidden', 'only-me']);
  });

  test('the same image started twice unpacks each layer once', async () => {
    await extendLayout(layout, 'base', 'twice', [[{ name: 'twice.txt', content: 'twice\n' }]]);
    await slipwayOk(home, ['import', `oci:${layout}:twice`, 'debian:twice']);
    const diffIds: string[] = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'debian:twice'])).layers.map(
      (l: { diffID: string }) => l.diffID,
    );
    assert.equal(diffIds.length, 2);
    assert.equal(await slipwayOk(home, ['run', '--rm', 'debian:twice', '--', 'cat', '/twice.txt']), 'twice\n');
    const paths = new RuntimePaths(home);
    const inodes = diffIds.map((d) => statSync(paths.layer(d.slice(7))).ino);
    assert.equal(await slipwayOk(home, ['run', '--rm', 'debian:twice', '--', 'cat', '/twice.txt']), 'twice\n');
    assert.deepEqual(
      diffIds.map((d) => statSync(paths.layer(d.slice(7))).ino),
      inodes,
      'the cached directories were not replaced',
    );
    const s = state();
    assert.deepEqual(
      diffIds.map((d) => s.layer(d)?.unpacks),
      [1, 1],
    );
    s.close();
  });

  test('an image of 150 layers runs (more lowerdirs than absolute paths fit in the mount options)', async () => {
    const layers: RawEntry[][] = [];
    for (let i = 0; i < 150; i++)
      layers.push([
        { name: 'layers', type: 'directory' },
        { name: `layers/file-${i}`, content: `${i}\n` },
        { name: 'layers/top', content: `${i}\n` },
      ]);
    await extendLayout(layout, 'base', 'many', layers);
    const out = await slipwayOk(home, [
      'run',
      '--rm',
      `oci:${layout}:many`,
      '--',
      'sh',
      '-c',
      'cat /layers/top /layers/file-0 /layers/file-149; ls /layers | wc -l',
    ]);
    assert.deepEqual(out.trim().split('\n'), ['149', '0', '149', '151']);
  });

  test("a container's writes reach neither the layer cache nor another container", async () => {
    await slipwayOk(home, [
      'run',
      '--name',
      'writer',
      'debian:bookworm',
      '--',
      'sh',
      '-c',
      'echo changed > /etc/debian_version; echo mine > /etc/new-file',
    ]);
    const reader = await slipwayOk(home, [
      'run',
      '--rm',
      'debian:bookworm',
      '--',
      'sh',
      '-c',
      'cat /etc/debian_version; test -e /etc/new-file && echo leaked || echo clean',
    ]);
    assert.deepEqual(reader.trim().split('\n'), [
      readFileSync(join(rootfs, 'etc/debian_version'), 'utf8').trim(),
      'clean',
    ]);
    const paths = new RuntimePaths(home);
    const base = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'debian:bookworm'])).layers[0].diffID as string;
    assert.equal(
      readFileSync(join(paths.layer(base.slice(7)), 'etc/debian_version'), 'utf8'),
      readFileSync(join(rootfs, 'etc/debian_version'), 'utf8'),
    );
    assert.equal(
      readFileSync(join(paths.container('writer'), 'upper/etc/debian_version'), 'utf8'),
      'changed\n',
      "the writes are in the container's upper directory",
    );
    await slipwayOk(home, ['container', 'rm', 'writer']);
    assert.equal(existsSync(paths.container('writer')), false);
  });

  test('a detached HTTP server answers on its PORT; logs shows its output; stop stops it; rm and gc clean up', async () => {
    const port = await freePort();
    const server = `require('http').createServer((q, s) => s.end('hello on ' + process.env.PORT)).listen(+process.env.PORT, () => console.log('listening on ' + process.env.PORT))`;
    const name = (
      await slipwayOk(home, [
        'run',
        '-d',
        '--name',
        'web',
        '--port',
        String(port),
        '-v',
        '/usr/bin/node:/usr/bin/node:ro',
        'debian:bookworm',
        '--',
        'node',
        '-e',
        server,
      ])
    ).trim();
    assert.equal(name, 'web');
    let body = '';
    await waitFor(
      async () =>
        (body = await fetch(`http://127.0.0.1:${port}/`).then(
          (r) => r.text(),
          () => '',
        )) !== '',
      'the server to answer',
    );
    assert.equal(body, `hello on ${port}`);
    const ps = JSON.parse(await slipwayOk(home, ['ps', '--json'])) as {
      name: string;
      status: string;
      initPid: number;
      command: string[];
    }[];
    const web = ps.find((c) => c.name === 'web');
    assert.equal(web?.status, 'running');
    assert.deepEqual(web?.command, ['node', '-e', server]);
    await waitFor(
      async () => (await slipwayOk(home, ['logs', 'web'])).includes(`listening on ${port}`),
      'the log line',
    );
    const stopped = JSON.parse(await slipwayOk(home, ['--json', 'stop', 'web']));
    assert.equal(stopped[0].status, 'exited');
    assert.equal(
      await fetch(`http://127.0.0.1:${port}/`).then(
        () => 'up',
        () => 'down',
      ),
      'down',
    );
    assert.equal(existsSync(`/proc/${web!.initPid}`), false);
    assert.match(
      await slipwayOk(home, ['logs', '--follow', 'web']),
      /listening on/,
      'logs -f ends once the container has',
    );
    await slipwayOk(home, ['rm', 'web']);
    assert.ok(
      !(JSON.parse(await slipwayOk(home, ['ps', '--json'])) as { name: string }[]).some((c) => c.name === 'web'),
      'rm removed the container',
    );
    const gc = JSON.parse(await slipwayOk(home, ['--json', 'gc']));
    assert.ok(gc.layersRemoved >= 1, 'no container uses the cached layers any more');
    const s = state();
    assert.deepEqual(s.layers(), []);
    s.close();
  });

  test('--process runs a buildpack process type through the CNB launcher; -- CMD goes through the launcher too', async () => {
    const launcher = '#!/bin/sh\necho "launcher as $0 type=${CNB_PROCESS_TYPE:-} args=$*"\n';
    const metadata = JSON.stringify({
      processes: [
        { type: 'web', command: ['web-server'], args: [], direct: true },
        { type: 'worker', command: ['work'], args: [], direct: true },
      ],
    });
    await extendLayout(
      layout,
      'base',
      'cnb',
      [
        [
          { name: 'cnb', type: 'directory' },
          { name: 'cnb/lifecycle', type: 'directory' },
          { name: 'cnb/lifecycle/launcher', content: launcher, mode: 0o755 },
          { name: 'cnb/process', type: 'directory' },
          { name: 'cnb/process/web', type: 'symlink', linkname: '../lifecycle/launcher' },
        ],
      ],
      { Entrypoint: ['/cnb/process/web'], Cmd: null, Labels: { 'io.buildpacks.build.metadata': metadata } },
    );
    const image = `oci:${layout}:cnb`;
    assert.equal((await slipwayOk(home, ['run', '--rm', image])).trim(), 'launcher as /cnb/process/web type= args=');
    assert.equal(
      (await slipwayOk(home, ['run', '--rm', '--process', 'worker', image])).trim(),
      'launcher as /cnb/lifecycle/launcher type=worker args=',
    );
    assert.equal(
      (await slipwayOk(home, ['run', '--rm', image, '--', 'echo', 'hi'])).trim(),
      'launcher as /cnb/lifecycle/launcher type= args=-- echo hi',
    );
    const unknown = await slipway(home, ['run', '--rm', '--process', 'cron', image]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no process type "cron"; it has: web, worker/);
    const plain = await slipway(home, ['run', '--rm', '--process', 'web', 'debian:bookworm']);
    assert.match(plain.stderr, /no buildpack process types/);
  });

  test('podman runs the same image with the same result', async () => {
    await whiteoutImage();
    const script =
      'test -e /etc/debian_version && echo visible || echo hidden; ls /usr/share/doc; id; cat /etc/os-release';
    const mine = await slipwayOk(home, ['run', '--rm', `oci:${layout}:whiteouts`, '--', 'sh', '-c', script]);
    // podman names an image pulled from a layout after its path, which must then be lowercase.
    const lower = join('/tmp', `slipway-podman-${randomBytes(6).toString('hex')}`);
    try {
      await slipwayOk(home, ['copy', `oci:${layout}:whiteouts`, `oci:${lower}:whiteouts`]);
      const podman = await podmanEnv(join(work.path, 'podman'));
      const theirs = await run(
        'podman',
        [...podman.args, 'run', '--rm', '--quiet', `oci:${lower}:whiteouts`, 'sh', '-c', script],
        podman.env,
      );
      assert.equal(theirs, mine);
    } finally {
      rmSync(lower, { recursive: true, force: true });
    }
    assert.match(mine, /hidden\nonly-me\nuid=0\(root\)/);
  });

  test('a clear error when runc is missing says what to install', async () => {
    const out = await slipway(home, ['run', '--rm', 'debian:bookworm', '--', 'true'], {
      PATH: join(work.path, 'empty-path'),
    });
    assert.equal(out.code, 1);
    assert.match(out.stderr, /runc.*not installed.*apt-get install -y runc/);
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Adds image `ref` to an OCI layout: the image `baseRef` plus uncompressed tar layers
 * built from `layers`, with `config` merged into its container config.
 */
async function extendLayout(
  layout: string,
  baseRef: string,
  ref: string,
  layers: RawEntry[][],
  config: Record<string, unknown> = {},
): Promise<void> {
  const blob = (digest: string) => join(layout, 'blobs/sha256', digest.slice(7));
  const put = (bytes: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    writeFileSync(blob(digest), bytes);
    return { digest, size: bytes.length };
  };
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const baseDesc = index.manifests.find(
    (m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name'] === baseRef,
  );
  const manifest = JSON.parse(readFileSync(blob(baseDesc.digest), 'utf8'));
  const imageConfig = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8'));
  for (const entries of layers) {
    const layer = put(await tarBuffer(entries));
    manifest.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer });
    imageConfig.rootfs.diff_ids.push(layer.digest);
    imageConfig.history = [...(imageConfig.history ?? []), { created_by: 'test layer' }];
  }
  imageConfig.config = { ...imageConfig.config, ...config };
  manifest.config = { ...manifest.config, ...put(Buffer.from(JSON.stringify(imageConfig))) };
  const desc = {
    mediaType: manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json',
    ...put(Buffer.from(JSON.stringify(manifest))),
    annotations: { 'org.opencontainers.image.ref.name': ref },
  };
  index.manifests = [
    ...index.manifests.filter(
      (m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name'] !== ref,
    ),
    desc,
  ];
  writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
}
