import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeSmallFileAtomic } from './fs-util.js';

test('writeSmallFileAtomic: concurrent writers of one file all succeed, and one whole write wins', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-fs-util-'));
  const file = join(dir, 'meta.json');
  const writes = Array.from({ length: 16 }, (_, i) => JSON.stringify({ writer: i, pad: 'x'.repeat(64 * 1024) }));
  await Promise.all(writes.map((w) => writeSmallFileAtomic(file, w)));
  assert.ok(writes.includes(await readFile(file, 'utf8')), 'the file holds one writer’s whole content');
  assert.deepEqual(await readdir(dir), ['meta.json'], 'no temp file is left behind');
  await rm(dir, { recursive: true });
});
