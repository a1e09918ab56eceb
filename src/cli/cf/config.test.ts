import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cfConfigPath, readCfConfig, writeCfConfig } from './config.js';

describe('cf config', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-cf-config-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('is $SLIPWAY_CF_CONFIG, else ~/.slipway/config.json', () => {
    assert.equal(cfConfigPath({ SLIPWAY_CF_CONFIG: '/x/y.json' }), '/x/y.json');
    assert.match(cfConfigPath({}), /\/\.slipway\/config\.json$/);
  });

  it('reads nothing as an empty config', async () => {
    assert.deepEqual(await readCfConfig(join(dir, 'missing.json')), {});
  });

  it('writes mode 0600 in a 0700 folder, atomically, and reads back the known fields only', async () => {
    const path = join(dir, 'sub', 'config.json');
    const config = {
      api: 'https://api.example.com',
      accessToken: 'a.b.c',
      refreshToken: 'r',
      org: { guid: 'g1', name: 'acme' },
      space: { guid: 'g2', name: 'dev' },
      skipSslValidation: true,
    };
    await writeCfConfig(path, config);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'sub'))).mode & 0o777, 0o700);
    assert.deepEqual(await readCfConfig(path), config);
    assert.deepEqual(await readdir(join(dir, 'sub')), ['config.json'], 'no temp file left behind');
    await writeFile(path, JSON.stringify({ ...config, extra: 1, org: { guid: 5 } }), { mode: 0o644 });
    const { org: _dropped, ...rest } = config;
    assert.deepEqual(await readCfConfig(path), rest, 'unknown fields and a malformed org are dropped');
  });

  it('replaces a file that was readable by others with a 0600 one', async () => {
    const path = join(dir, 'wide.json');
    await writeFile(path, '{}', { mode: 0o644 });
    await writeCfConfig(path, { api: 'http://x' });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal(JSON.parse(await readFile(path, 'utf8')).api, 'http://x');
  });

  it('says how to recover from a file that is not JSON', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, '{not json');
    await assert.rejects(readCfConfig(path), /is not valid JSON: delete it and run 'slipway cf login' again/);
  });
});
