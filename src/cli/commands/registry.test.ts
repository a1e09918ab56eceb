import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT, commandExists, podmanEnv, run, slipway, slipwayOk, tempDir } from '../../../test/helpers.js';

/**
 * `slipway registry serve` over a real socket, with real clients: skopeo and podman
 * log in, push and pull through token auth and basic auth, as on any registry.
 */

interface Server {
  url: string;
  host: string;
  child: ChildProcess;
  stderr: () => string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop: () => Promise<number | null>;
}

/** Starts the CLI's server on a free port and waits for the URL it prints. */
function serve(home: string, args: string[]): Promise<Server> {
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin/slipway.js'), '--json', 'registry', 'serve', '--addr', '127.0.0.1:0', ...args],
    {
      env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      stdout += d;
      try {
        const info = JSON.parse(stdout) as { url: string };
        resolve({
          url: info.url,
          host: new URL(info.url).host,
          child,
          stderr: () => stderr,
          stop: () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
      } catch {
        // Not the whole JSON document yet.
      }
    });
    void exited.then((code) => reject(new Error(`the server exited (${code}) before serving:\n${stderr}`)));
  });
}

const haveSkopeo = commandExists('skopeo');
const havePodman = commandExists('podman') && commandExists('runc');

describe('slipway registry serve with real clients', {
  skip: !process.env.CI && !haveSkopeo && 'skopeo is not installed',
}, () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;
  let layout: string;
  let digest: string;
  const password = 'correct horse battery staple';

  before(async () => {
    work = await tempDir('registry-serve');
    home = join(work.path, 'home');
    const rootfs = join(work.path, 'rootfs');
    await mkdir(join(rootfs, 'bin'), { recursive: true });
    await writeFile(join(rootfs, 'bin/hello'), '#!/bin/sh\necho hello from the registry\n', { mode: 0o755 });
    // One small image: imported into the served store (pullable at once) and exported as a layout to push.
    await slipwayOk(home, ['import', '--rootfs', rootfs, 'team/local:v1']);
    layout = join(work.path, 'layout');
    await slipwayOk(home, ['copy', 'team/local:v1', `oci:${layout}:v1`]);
    digest = JSON.parse(await slipwayOk(home, ['inspect', '--json', 'team/local:v1'])).digest;
    await addUser('alice', password, ['--grant', 'team/:pull,push,delete', '--catalog']);
    await addUser('bob', 'bob-password', ['--grant', 'team/:pull']);
    await slipwayOk(home, ['registry', 'anonymous', '--grant', 'public/:pull']);
  });
  after(() => work.cleanup());

  async function addUser(name: string, pass: string, args: string[]): Promise<void> {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'bin/slipway.js'), 'registry', 'user', 'add', name, '--password-stdin', ...args],
      {
        env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: home },
        stdio: ['pipe', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdin!.end(`${pass}\n`);
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, stderr);
  }

  const skopeo = (...args: string[]) => run('skopeo', args);
  const remoteDigest = async (ref: string, creds: string[]) =>
    JSON.parse(await skopeo('inspect', '--tls-verify=false', ...creds, `docker://${ref}`)).Digest as string;

  test('refuses a non-loopback address without --auth, and says how to fix it', async () => {
    const r = await slipway(home, ['registry', 'serve', '--addr', '0.0.0.0:0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refusing to serve 0\.0\.0\.0 without authentication.*--auth token.*--auth none/s);
  });

  test('token auth: skopeo pushes and pulls with credentials; identical digests; anonymous may not push', async () => {
    const server = await serve(home, ['--auth', 'token']);
    try {
      const ref = `${server.host}/team/app:v1`;
      await skopeo(
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        `alice:${password}`,
        `oci:${layout}:v1`,
        `docker://${ref}`,
      );
      assert.equal(await remoteDigest(ref, ['--creds', `alice:${password}`]), digest);
      await skopeo(
        'copy',
        '--src-tls-verify=false',
        '--src-creds',
        `bob:bob-password`,
        `docker://${ref}`,
        `oci:${join(work.path, 'pulled-token')}:v1`,
      );
      const pulled = JSON.parse(await skopeo('inspect', `oci:${join(work.path, 'pulled-token')}:v1`)).Digest;
      assert.equal(pulled, digest);
      await assert.rejects(
        skopeo('copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${server.host}/team/anon:v1`),
        /denied|unauthorized/i,
      );
      await assert.rejects(
        skopeo(
          'copy',
          '--dest-tls-verify=false',
          '--dest-creds',
          'bob:bob-password',
          `oci:${layout}:v1`,
          `docker://${server.host}/team/bob:v1`,
        ),
        /denied|unauthorized/i,
      );
      await assert.rejects(
        skopeo(
          'copy',
          '--dest-tls-verify=false',
          '--dest-creds',
          'alice:wrong',
          `oci:${layout}:v1`,
          `docker://${server.host}/team/x:v1`,
        ),
        /unauthorized|invalid/i,
      );
    } finally {
      assert.equal(await server.stop(), 0, server.stderr());
    }
  });

  test('token auth: an image imported locally is pullable at once; public/ pulls anonymously', async () => {
    const server = await serve(home, ['--auth', 'token']);
    try {
      assert.equal(await remoteDigest(`${server.host}/team/local:v1`, ['--creds', `alice:${password}`]), digest);
      await skopeo(
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        `alice:${password}`,
        `oci:${layout}:v1`,
        `docker://${server.host}/team/tmp:v1`,
      );
      await assert.rejects(
        remoteDigest(`${server.host}/team/local:v1`, []),
        /unauthorized|denied|authentication required/i,
      );
      await slipwayOk(home, ['tag', 'team/local:v1', 'public/base:v1']);
      assert.equal(await remoteDigest(`${server.host}/public/base:v1`, []), digest);
    } finally {
      assert.equal(await server.stop(), 0, server.stderr());
    }
  });

  test('basic auth: skopeo pushes and pulls; the catalog needs the catalog grant', async () => {
    const server = await serve(home, ['--auth', 'basic']);
    try {
      const ref = `${server.host}/team/basic:v1`;
      await skopeo(
        'copy',
        '--dest-tls-verify=false',
        '--dest-creds',
        `alice:${password}`,
        `oci:${layout}:v1`,
        `docker://${ref}`,
      );
      await skopeo(
        'copy',
        '--src-tls-verify=false',
        '--src-creds',
        `alice:${password}`,
        `docker://${ref}`,
        `oci:${join(work.path, 'pulled-basic')}:v1`,
      );
      assert.equal(JSON.parse(await skopeo('inspect', `oci:${join(work.path, 'pulled-basic')}:v1`)).Digest, digest);
      await assert.rejects(
        skopeo(
          'copy',
          '--dest-tls-verify=false',
          '--dest-creds',
          'bob:bob-password',
          `oci:${layout}:v1`,
          `docker://${server.host}/team/bob:v1`,
        ),
        /denied/i,
      );
      const auth = (user: string, pass: string) => ({
        headers: { Authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` },
      });
      const catalog = await fetch(`${server.url}/v2/_catalog`, auth('alice', password));
      assert.equal(catalog.status, 200);
      assert.ok(((await catalog.json()) as { repositories: string[] }).repositories.includes('team/basic'));
      assert.equal((await fetch(`${server.url}/v2/_catalog`, auth('bob', 'bob-password'))).status, 403);
    } finally {
      assert.equal(await server.stop(), 0, server.stderr());
    }
  });

  test('/healthz and /metrics answer, and requests move the counters', async () => {
    const server = await serve(home, ['--auth', 'token']);
    try {
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${server.url}/v2/`)).status, 401);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /^slipway_registry_http_requests_total\{method="GET",route="base",status="401"\} 1$/m);
      assert.match(metrics, /^slipway_registry_http_requests_total\{method="GET",route="healthz",status="200"\} 1$/m);
    } finally {
      assert.equal(await server.stop(), 0, server.stderr());
    }
  });

  test('podman logs in, pushes and pulls through token auth', {
    skip: !process.env.CI && !havePodman && 'podman or runc is not installed',
  }, async () => {
    const server = await serve(home, ['--auth', 'token']);
    const podman = await privatePodman(join(work.path, 'podman'));
    try {
      const local = `${server.host}/team/local:v1`;
      const ref = `${server.host}/team/podman:v1`;
      await assert.rejects(
        podman('pull', '--tls-verify=false', local),
        /unauthorized|authentication required|denied/i,
        'no login, no pull',
      );
      await podman('login', '--tls-verify=false', '-u', 'alice', '-p', password, server.host);
      await podman('pull', '--tls-verify=false', local);
      await podman('tag', local, ref);
      await podman('push', '--tls-verify=false', ref);
      await podman('rmi', ref, local);
      await podman('pull', '--tls-verify=false', ref);
      assert.match(
        await podman('images', '--format', '{{.Repository}}:{{.Tag}}'),
        new RegExp(`${server.host}/team/podman:v1`),
      );
      assert.equal(
        await remoteDigest(ref, ['--creds', `alice:${password}`]),
        JSON.parse(await podman('inspect', '--format', '{{json .Digest}}', ref)),
      );
      await podman('logout', server.host);
      await assert.rejects(
        podman('pull', '--tls-verify=false', ref),
        /unauthorized|authentication required|denied/i,
        'logged out, no pull',
      );
    } finally {
      assert.equal(await server.stop(), 0, server.stderr());
    }
  });

  test('podman pushes and pulls through basic auth', {
    skip: !process.env.CI && !havePodman && 'podman or runc is not installed',
  }, async () => {
    const server = await serve(home, ['--auth', 'basic']);
    const podman = await privatePodman(join(work.path, 'podman-basic'));
    try {
      const local = `${server.host}/team/local:v1`;
      const ref = `${server.host}/team/podman-basic:v1`;
      await podman('login', '--tls-verify=false', '-u', 'alice', '-p', password, server.host);
      await podman('pull', '--tls-verify=false', local);
      await podman('tag', local, ref);
      await podman('push', '--tls-verify=false', ref);
      await podman('rmi', ref, local);
      await podman('pull', '--tls-verify=false', ref);
    } finally {
      assert.equal(await server.stop(), 0, server.stderr());
    }
  });
});

describe('slipway registry user and anonymous', () => {
  let work: { path: string; cleanup: () => Promise<void> };
  let home: string;

  before(async () => {
    work = await tempDir('registry-users');
    home = join(work.path, 'home');
  });
  after(() => work.cleanup());

  /** Runs a registry subcommand with `input` on stdin. */
  function withStdin(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [join(ROOT, 'bin/slipway.js'), ...args], {
      env: { ...process.env, SLIPWAY_FROM_SOURCE: '1', SLIPWAY_HOME: home },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdin!.end(input);
    return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
  }

  test('add hashes the password from stdin into a 0600 file; list never shows hashes', async () => {
    const added = await withStdin(
      ['--json', 'registry', 'user', 'add', 'carol', '--password-stdin', '--grant', 'team/:pull,push', '--catalog'],
      's3cret\n',
    );
    assert.equal(added.code, 0, added.stderr);
    const out = JSON.parse(added.stdout);
    assert.deepEqual(
      { user: out.user, created: out.created, catalog: out.catalog },
      { user: 'carol', created: true, catalog: true },
    );
    const file = join(home, 'registry', 'users.json');
    const { readFile, stat } = await import('node:fs/promises');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const stored = JSON.parse(await readFile(file, 'utf8'));
    const { verify } = await import('@node-rs/argon2');
    assert.match(stored.users.carol.passwordHash, /^\$argon2id\$v=19\$/);
    assert.ok(
      await verify(stored.users.carol.passwordHash, 's3cret'),
      'the trailing newline of echo is not part of the password',
    );
    const listed = await slipwayOk(home, ['--json', 'registry', 'user', 'list']);
    assert.doesNotMatch(listed, /passwordHash|\$argon2id\$/);
    assert.deepEqual(JSON.parse(listed).users, [
      { user: 'carol', grants: [{ prefix: 'team/', actions: ['pull', 'push'] }], catalog: true },
    ]);
  });

  test('changing grants keeps the password; rm removes the user', async () => {
    const { readFile } = await import('node:fs/promises');
    const file = join(home, 'registry', 'users.json');
    const before = JSON.parse(await readFile(file, 'utf8')).users.carol.passwordHash;
    await slipwayOk(home, ['registry', 'user', 'add', 'carol', '--grant', 'team/:pull']);
    const after = JSON.parse(await readFile(file, 'utf8')).users.carol;
    assert.equal(after.passwordHash, before);
    assert.deepEqual(after.grants, [{ prefix: 'team/', actions: ['pull'] }]);
    assert.equal(after.catalog, true, 'what is not given is kept');
    await slipwayOk(home, ['registry', 'user', 'rm', 'carol']);
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')).users, {});
  });

  test('anonymous grants are set and cleared', async () => {
    await slipwayOk(home, ['registry', 'anonymous', '--grant', 'public/:pull']);
    assert.deepEqual(JSON.parse(await slipwayOk(home, ['--json', 'registry', 'user', 'list'])).anonymous, {
      grants: [{ prefix: 'public/', actions: ['pull'] }],
      catalog: false,
    });
    await slipwayOk(home, ['registry', 'anonymous', '--none']);
    assert.deepEqual(JSON.parse(await slipwayOk(home, ['--json', 'registry', 'user', 'list'])).anonymous, {
      grants: [],
      catalog: false,
    });
  });

  test('mistakes are refused with a message that says what to do', async () => {
    const cases: [string[], RegExp][] = [
      [['registry', 'user', 'add', 'dave', '--grant', 'team/:pull'], /new user and needs a password.*--password-stdin/],
      [['registry', 'user', 'add', 'dave', '--password-stdin', '--grant', 'team/'], /PREFIX:ACTIONS/],
      [['registry', 'user', 'add', 'da:ve', '--password-stdin'], /not a valid user name/],
      [['registry', 'user', 'rm', 'nobody'], /there is no user nobody/],
      [['registry', 'anonymous'], /--grant PREFIX:ACTIONS.*--none/],
      [['registry', 'serve', '--auth', 'basic', '--users', join(work.path, 'missing.json')], /no users file at/],
      [['registry', 'serve', '--tls-cert', 'x.pem'], /both --tls-cert FILE and --tls-key FILE/],
      [['registry', 'serve', '--token-expiry', 'soon'], /--token-expiry must be a whole number/],
    ];
    for (const [args, message] of cases) {
      const r = await withStdin(args, 'pw\n');
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.stderr, message, args.join(' '));
    }
    const empty = await withStdin(['registry', 'user', 'add', 'dave', '--password-stdin'], '\n');
    assert.match(empty.stderr, /the password is empty/);
  });

  test('--tls-cert/--tls-key serve HTTPS, and the token realm follows', {
    skip: !process.env.CI && (!haveSkopeo || !commandExists('openssl')) && 'skopeo or openssl is not installed',
  }, async () => {
    const cert = join(work.path, 'cert.pem');
    const key = join(work.path, 'key.pem');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
    ]);
    await withStdin(['registry', 'user', 'add', 'erin', '--password-stdin', '--grant', 'team/:*'], 'erin-pw');
    const server = await serve(home, ['--auth', 'token', '--tls-cert', cert, '--tls-key', key]);
    try {
      assert.match(server.url, /^https:\/\//);
      const { request } = await import('node:https');
      const challenge = await new Promise<string>((resolve, reject) => {
        request(`${server.url}/v2/`, { rejectUnauthorized: false }, (res) => {
          res.resume();
          resolve(String(res.headers['www-authenticate']));
        })
          .on('error', reject)
          .end();
      });
      assert.equal(challenge, `Bearer realm="${server.url}/token",service="slipway"`);
      const rootfs = join(work.path, 'rootfs');
      await mkdir(rootfs, { recursive: true });
      await writeFile(join(rootfs, 'file'), 'tls\n');
      await slipwayOk(home, ['import', '--rootfs', rootfs, 'team/tls:v1']);
      const inspected = JSON.parse(
        await run('skopeo', [
          'inspect',
          '--tls-verify=false',
          '--creds',
          'erin:erin-pw',
          `docker://${server.host}/team/tls:v1`,
        ]),
      );
      assert.match(inspected.Digest, /^sha256:/);
    } finally {
      assert.equal(await server.stop(), 0, server.stderr());
    }
  });
});

/** podman with its own storage and its own (empty) auth file under `dir`, so logins stay in the test. */
async function privatePodman(dir: string): Promise<(...args: string[]) => Promise<string>> {
  const pm = await podmanEnv(dir);
  const env = { ...pm.env, REGISTRY_AUTH_FILE: join(dir, 'auth.json') };
  await writeFile(env.REGISTRY_AUTH_FILE, '{}');
  return (...args: string[]) => run('podman', [...pm.args, ...args], env);
}
