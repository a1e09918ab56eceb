import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSlipwayError } from '../../errors.js';
import {
  credentialFiles,
  findCredentials,
  loginFile,
  normalizeAuthKey,
  removeCredentials,
  saveCredentials,
} from './credentials.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('registry credentials from auth files', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-creds-'));
    env = { HOME: dir, XDG_RUNTIME_DIR: join(dir, 'run'), PATH: `${join(dir, 'bin')}:${process.env.PATH}` };
    await mkdir(join(dir, 'bin'), { recursive: true });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('auth keys are normalized as docker writes them', () => {
    assert.equal(normalizeAuthKey('https://index.docker.io/v1/'), 'docker.io');
    assert.equal(normalizeAuthKey('https://registry.example:5000/'), 'registry.example:5000');
    assert.equal(normalizeAuthKey('http://127.0.0.1:5000'), '127.0.0.1:5000');
    assert.equal(normalizeAuthKey('quay.io/team'), 'quay.io/team');
  });

  test('files are read in containers/image order: $REGISTRY_AUTH_FILE, podman, docker', () => {
    const files = credentialFiles({ env: { ...env, REGISTRY_AUTH_FILE: '/x/auth.json' } });
    assert.deepEqual(files, [
      '/x/auth.json',
      join(dir, 'run/containers/auth.json'),
      join(dir, '.config/containers/auth.json'),
      join(dir, '.docker/config.json'),
    ]);
    assert.deepEqual(credentialFiles({ authFile: '/only.json', env }), ['/only.json']);
    assert.equal(loginFile({ env }), join(dir, '.docker/config.json'));
    assert.equal(loginFile({ env: { ...env, DOCKER_CONFIG: '/d' } }), '/d/config.json');
  });

  test('the longest repository-scoped key wins, then the host; the first file that knows the host answers', async () => {
    const podman = join(dir, 'run/containers/auth.json');
    await mkdir(join(dir, 'run/containers'), { recursive: true });
    await writeFile(
      podman,
      JSON.stringify({
        auths: {
          'reg.example/team': { auth: b64('team:t') },
          'reg.example/team/app': { auth: b64('app:a') },
          'reg.example': { auth: b64('host:h') },
        },
      }),
    );
    await mkdir(join(dir, '.docker'), { recursive: true });
    await writeFile(
      join(dir, '.docker/config.json'),
      JSON.stringify({ auths: { 'https://other.example/': { auth: b64('docker:d:with:colons') } } }),
    );
    assert.deepEqual(await findCredentials('reg.example', 'team/app/web', { env }), { username: 'app', password: 'a' });
    assert.deepEqual(await findCredentials('reg.example', 'team/lib', { env }), { username: 'team', password: 't' });
    assert.deepEqual(await findCredentials('reg.example', 'elsewhere', { env }), { username: 'host', password: 'h' });
    assert.deepEqual(await findCredentials('other.example', undefined, { env }), {
      username: 'docker',
      password: 'd:with:colons',
    });
    assert.equal(await findCredentials('unknown.example', undefined, { env }), undefined);
    await rm(podman);
  });

  test('credHelpers and credsStore programs are asked, "not found" is no credentials', async () => {
    await writeFile(
      join(dir, 'bin', 'docker-credential-fake'),
      '#!/bin/sh\nread host\ncase "$host" in\n  helped.example) echo \'{"Username":"helper","Secret":"s3"}\';;\n  https://index.docker.io/v1/) echo \'{"Username":"hub","Secret":"h"}\';;\n  *) echo "credentials not found in native keychain"; exit 1;;\nesac\n',
    );
    await chmod(join(dir, 'bin', 'docker-credential-fake'), 0o755);
    await writeFile(
      join(dir, '.docker/config.json'),
      JSON.stringify({ credsStore: 'fake', auths: { 'plain.example': { auth: b64('plain:p') } } }),
    );
    assert.deepEqual(await findCredentials('helped.example', undefined, { env }), {
      username: 'helper',
      password: 's3',
    });
    assert.deepEqual(await findCredentials('docker.io', 'library/debian', { env }), { username: 'hub', password: 'h' });
    assert.deepEqual(await findCredentials('plain.example', undefined, { env }), { username: 'plain', password: 'p' });
    assert.equal(await findCredentials('nowhere.example', undefined, { env }), undefined);
    await writeFile(join(dir, '.docker/config.json'), JSON.stringify({ credHelpers: { 'gone.example': 'missing' } }));
    await assert.rejects(
      findCredentials('gone.example', undefined, { env }),
      (err: unknown) => isSlipwayError(err, 'TOOL_MISSING') && /docker-credential-missing/.test((err as Error).message),
    );
  });

  test('login saves base64 "user:password" in a 0600 file, keeping what else it holds; logout removes it', async () => {
    const file = join(dir, 'login', 'config.json');
    await mkdir(join(dir, 'login'), { recursive: true });
    await writeFile(file, JSON.stringify({ auths: { 'keep.example': { auth: b64('k:k') } }, psFormat: 'table' }));
    await saveCredentials('reg.example:5000', { username: 'ci', password: 'p:w' }, { authFile: file });
    const saved = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(Buffer.from(saved.auths['reg.example:5000'].auth, 'base64').toString(), 'ci:p:w');
    assert.equal(saved.psFormat, 'table');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await findCredentials('reg.example:5000', undefined, { authFile: file }), {
      username: 'ci',
      password: 'p:w',
    });
    assert.equal(await removeCredentials('reg.example:5000', { authFile: file }), true);
    assert.equal(await removeCredentials('reg.example:5000', { authFile: file }), false);
    assert.deepEqual(Object.keys(JSON.parse(await readFile(file, 'utf8')).auths), ['keep.example']);
  });

  test('a broken auth file is a clear error naming it', async () => {
    const file = join(dir, 'broken.json');
    await writeFile(file, '{"auths": ');
    await assert.rejects(
      findCredentials('x.example', undefined, { authFile: file }),
      (err: unknown) => isSlipwayError(err, 'INVALID_DOCUMENT') && (err as Error).message.includes(file),
    );
  });
});
