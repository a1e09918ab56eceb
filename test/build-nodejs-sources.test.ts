import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { LocalStore } from '../src/index.js';
import { StageError } from '../src/stage/cnb/stage-error.js';
import { stage } from '../src/stage/cnb/stage.js';
import { buildStore, runImage } from './build-fixtures.js';
import { run } from './helpers.js';
import { remoteHttpServer, type RemoteServer } from './remote-host.js';

/**
 * slipway/nodejs's other Node.js sources: a nodejs.org-style mirror (versions from its
 * index.json, tarballs checked against SHASUMS256.txt) and Debian's nodejs package
 * (unpacked without root with the libraries a minbase run image lacks). The npm
 * registry source is what the examples test (build-examples.test.ts).
 */
describe('slipway build: slipway/nodejs from a mirror and from Debian', () => {
  let store: LocalStore;
  let cleanup: () => Promise<void>;
  let work: string;
  let mirror: RemoteServer;
  let mirrorUrl: string;
  let requests: string[];
  // A stand-in node binary per release (the mirror test checks where Node.js came from,
  // not Node.js itself; Debian's real one is run below).
  const files = new Map<string, Buffer>();

  before(async () => {
    ({ store, work, cleanup } = await buildStore());
    const index: { version: string; files: string[] }[] = [];
    for (const [version, platforms] of [
      ['21.0.0', ['osx-arm64-tar']],
      ['20.9.3', ['linux-x64', 'osx-arm64-tar']],
      ['20.1.0', ['linux-x64']],
      ['18.20.0', ['linux-x64']],
    ] as const) {
      index.push({ version: `v${version}`, files: [...platforms] });
      const dir = join(work, 'dist', `node-v${version}-linux-x64`);
      mkdirSync(join(dir, 'bin'), { recursive: true });
      writeFileSync(join(dir, 'bin', 'node'), `#!/bin/sh\necho "mirror node v${version}: $*"\n`, { mode: 0o755 });
      const tgz = join(work, 'dist', `node-v${version}.tgz`);
      await run('tar', ['-czf', tgz, '-C', join(work, 'dist'), `node-v${version}-linux-x64`]);
      const bytes = readFileSync(tgz);
      const name = `node-v${version}-linux-x64.tar.gz`;
      files.set(`/v${version}/${name}`, bytes);
      files.set(
        `/v${version}/SHASUMS256.txt`,
        Buffer.from(
          `${'0'.repeat(64)}  node-v${version}-darwin-arm64.tar.gz\n${createHash('sha256').update(bytes).digest('hex')}  ${name}\n`,
        ),
      );
      // The same tarball under a mirror whose sums say something else.
      files.set(`/bad/v${version}/${name}`, bytes);
      files.set(`/bad/v${version}/SHASUMS256.txt`, Buffer.from(`${'ab'.repeat(32)}  ${name}\n`));
    }
    files.set('/index.json', Buffer.from(JSON.stringify(index)));
    files.set('/bad/index.json', Buffer.from(JSON.stringify(index)));
    // The mirror is another host: builds reach the internet, never this host's loopback.
    const served = join(work, 'served');
    for (const [path, body] of files) {
      mkdirSync(dirname(join(served, path)), { recursive: true });
      writeFileSync(join(served, path), body);
    }
    mirror = await remoteHttpServer(served);
    mirrorUrl = mirror.url;
    requests = mirror.requests;
  });
  after(async () => {
    await mirror.close();
    await cleanup();
  });

  function app(name: string, pkg: object, files: Record<string, string> = {}): string {
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    return dir;
  }

  async function build(path: string, repository: string, env: string[]): Promise<{ output: string; digest: string }> {
    let output = '';
    try {
      const r = await stage(store, {
        path,
        repository,
        tag: 'latest',
        created: 315532801,
        env,
        buildpacks: ['slipway/nodejs'],
        output: (t) => (output += t),
      });
      return { output, digest: r.digest };
    } catch (err) {
      if (err instanceof StageError) err.message += `\n${output}`;
      throw err;
    }
  }

  test('mirror: the newest linux-x64 release in the range from index.json, checked against SHASUMS256.txt; no npm registry needed', async () => {
    const dir = app(
      'mirror-app',
      { name: 'm', engines: { node: '^20.1' }, main: 'server.js' },
      { 'server.js': '// app\n' },
    );
    // An unreachable npm registry: the mirror must be the only source used.
    const env = [`BP_NODE_MIRROR=${mirrorUrl}/`, 'BP_NODE_REGISTRY=http://127.0.0.1:9'];
    requests.length = 0;
    const first = await build(dir, 'nodesrc/mirror', env);
    assert.match(first.output, /Node.js 20.9.3 from mirror \(engines.node: \^20.1\)/);
    assert.deepEqual(requests, ['/index.json', '/v20.9.3/SHASUMS256.txt', '/v20.9.3/node-v20.9.3-linux-x64.tar.gz']);
    assert.equal((await runImage(store, 'nodesrc/mirror')).output, 'mirror node v20.9.3: server.js\n');

    // A source change: the version is remembered and Node.js reused, nothing is fetched again.
    writeFileSync(join(dir, 'server.js'), '// app, changed\n');
    requests.length = 0;
    const second = await build(dir, 'nodesrc/mirror', env);
    assert.deepEqual(requests, []);
    assert.notEqual(second.digest, first.digest);
    assert.match(second.output, /Reusing Node.js 20.9.3/);

    // BP_NODE_VERSION wins over engines.node.
    requests.length = 0;
    const pinned = await build(dir, 'nodesrc/mirror-pinned', [...env, 'BP_NODE_VERSION=~20.1']);
    assert.match(pinned.output, /Node.js 20.1.0 from mirror/);
    assert.equal(
      (await runImage(store, 'nodesrc/mirror-pinned', { args: ['node', '--version'] })).output,
      'mirror node v20.1.0: --version\n',
    );
  });

  test('mirror: a tarball whose sha256 differs from SHASUMS256.txt fails the build; a range nothing satisfies names the range', async () => {
    const dir = app('mirror-bad', { name: 'b', engines: { node: '20.9.x' } }, { 'index.js': '' });
    await assert.rejects(
      build(dir, 'nodesrc/bad', [`BP_NODE_MIRROR=${mirrorUrl}/bad`]),
      (err: unknown) =>
        err instanceof StageError &&
        err.exitCode === 51 &&
        /sha256 is [0-9a-f]{64}, but the source publishes (ab){32}/.test(err.message),
    );
    const none = app('mirror-none', { name: 'n', engines: { node: '>=21' } }, { 'index.js': '' });
    await assert.rejects(
      build(none, 'nodesrc/none', [`BP_NODE_MIRROR=${mirrorUrl}`]),
      (err: unknown) =>
        err instanceof StageError &&
        err.exitCode === 51 &&
        /no Node.js release from mirror satisfies ">=21"/.test(err.message),
    );
    await assert.rejects(
      build(none, 'nodesrc/bogus', ['BP_NODE_SOURCE=nodesource']),
      (err: unknown) =>
        err instanceof StageError &&
        /BP_NODE_SOURCE="nodesource" is not a Node.js source: use npm, mirror or debian/.test(err.message),
    );
  });

  test("debian: Debian's nodejs and its libraries unpacked without root; npm installs a dependency with it; it runs on the minbase run image", async () => {
    const dir = app(
      'debian-app',
      { name: 'd', engines: { node: '>=18' }, dependencies: { ms: '2.1.3' } },
      {
        'index.js':
          'fetch("http://127.0.0.1:59999").catch((e) => console.log(process.version, require("ms")(60000), e.cause?.code));\n',
      },
    );
    const r = await build(dir, 'nodesrc/debian', ['BP_NODE_SOURCE=debian']);
    assert.match(r.output, /Node.js 18\.\d+\.\d+ from debian/);
    assert.match(r.output, /unpacking libnode\d+_/);
    const out = await runImage(store, 'nodesrc/debian');
    assert.match(out.output, /^v18\.\d+\.\d+ 1m ECONNREFUSED\n$/);
    // A source change: Node.js and node_modules come from the previous image, and still run.
    writeFileSync(join(dir, 'index.js'), 'console.log("again", process.version, require("ms")(120000));\n');
    const again = await build(dir, 'nodesrc/debian', ['BP_NODE_SOURCE=debian']);
    assert.match(again.output, /Reusing Node.js 18/);
    assert.doesNotMatch(again.output, /apt-get download/);
    assert.match((await runImage(store, 'nodesrc/debian')).output, /^again v18\.\d+\.\d+ 2m\n$/);

    const tooNew = app('debian-22', { name: 'd', engines: { node: '22' } }, { 'index.js': '' });
    await assert.rejects(
      build(tooNew, 'nodesrc/debian-22', ['BP_NODE_SOURCE=debian']),
      (err: unknown) =>
        err instanceof StageError && /Debian's nodejs is \S+, which does not satisfy "22"/.test(err.message),
    );
  });
});
